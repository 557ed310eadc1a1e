/* sweep_run.c: `pamoe sweep run`. Each task is one `pamoe train` worker process (this binary,
 * re-executed) with its own log; at most `jobs` run at once. The task's lock file is held
 * with flock for as long as its worker lives (the worker inherits the descriptor), so two
 * `sweep run` processes, here or on other nodes sharing DIR, never run the same task: a
 * busy task is left to its holder and waited for.
 *
 * Preemption: a task with a checkpoint is resumed with `pamoe train --resume`, which cuts
 * the metrics back to the checkpoint and continues bit-identically; a task killed before its
 * first checkpoint starts again from nothing. The .done marker is written only after the
 * worker exited 0, so a kill at any moment leaves a state that a rerun completes. Workers
 * get SIGTERM when this process dies (PR_SET_PDEATHSIG): they stop with a checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep.h"

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

enum { TODO, RUNNING, DONE, FAILED };

typedef struct {
    int state;
    pid_t pid;
    int lock_fd;
    double started;
    long rows0, rows;   /* rows of the run file at launch and at the last look */
    int merged;         /* sweep.h5 was rebuilt after its run file had rows (its names) */
} Slot;

typedef struct {
    SweepPlan *p;
    const char *dir;
    const SweepRunOptions *opt;
    Slot *slot;
    char exe[SWEEP_PATH_LEN];
    double t0;
    double steps_here;  /* env steps of tasks finished in this invocation */
    int tty;
} Runner;

static int file_exists(const char *path) {
    struct stat st;
    return !stat(path, &st);
}

static void note(const Runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const Runner *r, const char *fmt, ...) {
    if (r->opt->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%ssweep: ", r->tty ? "\r\033[K" : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The task's .ini: written once; a rerun whose plan gives the task another configuration (the
 * base config was edited) is refused, since the task's finished iterations came from the old
 * one. The comparison is of values, not text: a file written by an older pamoe, with older
 * key documentation and without keys added since (config.c, LATE_KEYS), still matches. */
static int write_task_ini(const Runner *r, int t, PmError *err) {
    char path[SWEEP_PATH_LEN], tmp[SWEEP_PATH_LEN + 32];
    sweep_task_path(r->dir, t, "ini", path, sizeof path);
    TrainConfig *c = xmalloc(sizeof *c);
    if (sweep_plan_task_config(r->p, t, c, err)) { free(c); return -1; }
    int rc = 0;
    if (access(path, F_OK) == 0) {
        TrainConfig *old = xmalloc(sizeof *old);
        config_defaults(old);
        PmError e;
        if (config_load_file(old, path, &e))
            rc = pm_error(err, "%s: cannot read this task's configuration (%s); use another --out", path, e.msg);
        else if (config_first_difference(old, c) >= 0)
            rc = pm_error(err, "%s: the configuration of this task changed since it started (was the base config edited?); use another --out", path);
        free(old);
    } else {
        char title[128]; /* no path in it: the same DIR spelled another way is the same sweep */
        snprintf(title, sizeof title, "sweep task t%04d (%d runs)", t, r->p->tasks[t].n_runs);
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        int failed = !f;
        if (f) {
            config_write_ini(f, c, title);
            failed = ferror(f) != 0;
            failed |= fclose(f) != 0;
        }
        if (failed || rename(tmp, path)) rc = pm_error(err, "%s: cannot write: %s", path, strerror(errno));
    }
    free(c);
    return rc;
}

static void write_marker(const Runner *r, int t, const char *ext, const char *text) {
    char path[SWEEP_PATH_LEN];
    sweep_task_path(r->dir, t, ext, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void remove_task_file(const Runner *r, int t, const char *ext) {
    char path[SWEEP_PATH_LEN];
    sweep_task_path(r->dir, t, ext, path, sizeof path);
    unlink(path);
}

/* Takes the task's lock: 1 taken, 0 held by another process, -1 error. */
static int take_lock(Runner *r, int t, PmError *err) {
    char path[SWEEP_PATH_LEN];
    sweep_task_path(r->dir, t, "lock", path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return pm_error(err, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return 0;
    }
    r->slot[t].lock_fd = fd;
    return 1;
}

static int launch(Runner *r, int t, PmError *err) {
    Slot *s = &r->slot[t];
    char ini[SWEEP_PATH_LEN], h5[SWEEP_PATH_LEN], ckpt[SWEEP_PATH_LEN], log[SWEEP_PATH_LEN];
    sweep_task_path(r->dir, t, "ini", ini, sizeof ini);
    sweep_task_path(r->dir, t, "h5", h5, sizeof h5);
    sweep_task_path(r->dir, t, "ckpt.h5", ckpt, sizeof ckpt);
    sweep_task_path(r->dir, t, "log", log, sizeof log);
    if (write_task_ini(r, t, err)) return -1;
    int resume = file_exists(ckpt);
    if (!resume) unlink(h5); /* killed before its first checkpoint: nothing to keep */
    remove_task_file(r, t, "failed");
    int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (log_fd < 0) return pm_error(err, "%s: cannot open: %s", log, strerror(errno));
    time_t now = time(NULL);
    dprintf(log_fd, "== sweep: %s task t%04d (%d runs) at %s", resume ? "resume" : "start", t, r->p->tasks[t].n_runs, ctime(&now));
    s->rows0 = s->rows = resume ? sweep_task_rows(r->dir, t) : 0;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { close(log_fd); return pm_error(err, "fork: %s", strerror(errno)); }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(130);
        signal(SIGINT, SIG_IGN); /* a terminal's ^C reaches the coordinator, which forwards SIGTERM */
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        fcntl(s->lock_fd, F_SETFD, 0); /* the worker holds the lock for its whole life */
        char *args[10] = {"pamoe", "train"};
        int n = 2;
        if (resume) args[n++] = "--resume", args[n++] = h5;
        else args[n++] = "--config", args[n++] = ini, args[n++] = "--out", args[n++] = h5;
        if (r->opt->device) args[n++] = "--device", args[n++] = (char *)r->opt->device;
        args[n++] = "--quiet";
        execv(r->exe, args);
        dprintf(2, "pamoe sweep: cannot run %s: %s\n", r->exe, strerror(errno));
        _exit(127);
    }
    close(log_fd);
    s->pid = pid;
    s->state = RUNNING;
    s->started = now_seconds();
    const SweepTask *task = &r->p->tasks[t];
    note(r, "t%04d %s: %d run(s) %s..%s, iteration %ld of %ld", t, resume ? "resumed" : "started", task->n_runs,
         r->p->runs[task->runs[0]].id, r->p->runs[task->runs[task->n_runs - 1]].id, s->rows0, task->iterations);
    return 0;
}

static void finished(Runner *r, int t, int status) {
    Slot *s = &r->slot[t];
    const SweepTask *task = &r->p->tasks[t];
    char log[SWEEP_PATH_LEN];
    sweep_task_path(r->dir, t, "log", log, sizeof log);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char text[64];
        snprintf(text, sizeof text, "iterations %ld\n", task->iterations);
        write_marker(r, t, "done", text);
        s->state = DONE;
        r->steps_here += (double)(task->iterations - s->rows0) * task->num_steps * task->n_runs;
        note(r, "t%04d done in %.1f s", t, now_seconds() - s->started);
    } else if (g_stop) {
        s->state = TODO; /* interrupted with a checkpoint: the next run resumes it */
        note(r, "t%04d stopped; a rerun resumes it", t);
    } else {
        char why[1200], last[1024] = "";
        FILE *f = fopen(log, "r");
        if (f) {
            char line[1024];
            while (fgets(line, sizeof line, f))
                if (line[0] != '\n' && strncmp(line, "== sweep:", 9)) snprintf(last, sizeof last, "%s", line);
            fclose(f);
        }
        last[strcspn(last, "\n")] = 0;
        if (WIFSIGNALED(status)) snprintf(why, sizeof why, "killed by signal %d%s%s\n", WTERMSIG(status), *last ? "; " : "", last);
        else snprintf(why, sizeof why, "exit %d: %s\n", WEXITSTATUS(status), *last ? last : "(no output)");
        write_marker(r, t, "failed", why);
        s->state = FAILED;
        note(r, "t%04d FAILED (%s); log %s", t, strtok(why, "\n"), log);
    }
    close(s->lock_fd); /* the worker is gone: its copy of the lock is gone too */
    s->lock_fd = -1;
    s->pid = 0;
}

static void progress(Runner *r, int force) {
    static double last = 0;
    double now = now_seconds();
    if (r->opt->quiet || (!force && now - last < (r->tty ? 1.0 : 10.0))) return;
    last = now;
    int runs_done = 0, runs_total = 0, n_run = 0;
    double steps_total = 0, steps_done = 0, steps_new = r->steps_here;
    for (int t = 0; t < r->p->n_tasks; t++) {
        if (r->opt->only_task >= 0 && t != r->opt->only_task) continue;
        Slot *s = &r->slot[t];
        const SweepTask *task = &r->p->tasks[t];
        double per_row = (double)task->num_steps * task->n_runs;
        runs_total += task->n_runs;
        steps_total += per_row * task->iterations;
        if (s->state == DONE) { runs_done += task->n_runs; steps_done += per_row * task->iterations; }
        if (s->state == RUNNING) {
            n_run++;
            s->rows = sweep_task_rows(r->dir, t);
            steps_done += per_row * s->rows;
            if (s->rows > s->rows0) steps_new += per_row * (s->rows - s->rows0);
        }
    }
    double el = now - r->t0, sps = el > 0 ? steps_new / el : 0;
    char eta[32] = "    ?";
    if (sps > 0) snprintf(eta, sizeof eta, "%5.0fs", (steps_total - steps_done) / sps);
    fprintf(stderr, "%ssweep: runs %d/%d done | %d task(s) running | steps/s %9.0f | ETA %s%s", r->tty ? "\r\033[K" : "", runs_done,
            runs_total, n_run, sps, eta, r->tty ? "" : "\n");
    fflush(stderr);
}

/* A task's metric names are known once its run file has a row: rebuild sweep.h5 then, so a
 * live reader sees them (checked about once a second). */
static void remerge_new_files(Runner *r) {
    static double last = 0;
    double now = now_seconds();
    if (now - last < 1.0) return;
    last = now;
    int any = 0;
    for (int t = 0; t < r->p->n_tasks; t++) {
        Slot *s = &r->slot[t];
        if (s->state == RUNNING && !s->merged && sweep_task_rows(r->dir, t) > 0) any = s->merged = 1;
    }
    PmError err;
    if (any && sweep_merge(r->dir, r->p, 0, NULL, &err)) note(r, "warning: %s", err.msg);
}

static int selected(const Runner *r, int t) { return r->opt->only_task < 0 || t == r->opt->only_task; }

int sweep_run(SweepPlan *p, const char *dir, const SweepRunOptions *opt, PmError *err) {
    if (opt->only_task >= p->n_tasks)
        return pm_error(err, "--task %d: the sweep has %d task(s), 0..%d", opt->only_task, p->n_tasks, p->n_tasks - 1);
    if (sweep_dir_prepare(p, dir, err)) return -1;
    Runner r = {p, dir, opt, xcalloc((size_t)p->n_tasks, sizeof(Slot)), "", now_seconds(), 0, isatty(2)};
    ssize_t n = readlink("/proc/self/exe", r.exe, sizeof r.exe - 1);
    if (n <= 0) { free(r.slot); return pm_error(err, "cannot find this program (/proc/self/exe): %s", strerror(errno)); }
    r.exe[n] = 0;
    for (int t = 0; t < p->n_tasks; t++) r.slot[t].lock_fd = -1;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    g_stop = 0;
    PmError merr;
    if (sweep_merge(dir, p, 0, NULL, &merr)) note(&r, "warning: %s", merr.msg);
    int rc = 0, forwarded = 0, waiting_note = 0;
    for (;;) {
        int running = 0, todo = 0, busy = 0;
        for (int t = 0; t < p->n_tasks; t++) {
            if (!selected(&r, t)) continue;
            Slot *s = &r.slot[t];
            if (s->state == RUNNING) { running++; continue; }
            if (s->state != TODO) continue;
            char path[SWEEP_PATH_LEN];
            sweep_task_path(dir, t, "done", path, sizeof path);
            if (file_exists(path)) { s->state = DONE; continue; }
            todo++;
            if (g_stop || running >= opt->jobs) continue;
            int got = take_lock(&r, t, err);
            if (got < 0) { rc = -1; g_stop = 1; break; }
            if (!got) { busy++; continue; }
            if (file_exists(path)) { /* finished by another process while we looked */
                close(s->lock_fd);
                s->lock_fd = -1;
                s->state = DONE;
                todo--;
                continue;
            }
            if (launch(&r, t, err)) { close(s->lock_fd); s->lock_fd = -1; rc = -1; g_stop = 1; break; }
            running++;
            todo--;
        }
        if (g_stop && !forwarded) {
            for (int t = 0; t < p->n_tasks; t++)
                if (r.slot[t].state == RUNNING) kill(r.slot[t].pid, SIGTERM);
            forwarded = 1;
        }
        if (!running && (!todo || g_stop)) break;
        if (!running && busy == todo && !waiting_note) {
            note(&r, "%d task(s) are held by another `sweep run`; waiting for them", busy);
            waiting_note = 1;
        }
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int t = 0; t < p->n_tasks; t++)
                if (r.slot[t].state == RUNNING && r.slot[t].pid == pid) {
                    finished(&r, t, status);
                    if (sweep_merge(dir, p, 0, NULL, &merr)) note(&r, "warning: %s", merr.msg);
                }
            progress(&r, 1);
            continue;
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        progress(&r, 0);
        remerge_new_files(&r);
    }
    int done = 0, failed = 0, total = 0;
    for (int t = 0; t < p->n_tasks; t++) {
        if (!selected(&r, t)) continue;
        total++;
        done += r.slot[t].state == DONE;
        failed += r.slot[t].state == FAILED;
    }
    if (sweep_merge(dir, p, 0, NULL, &merr)) note(&r, "warning: %s", merr.msg);
    if (rc == 0) {
        note(&r, "%d/%d task(s) done, %d failed, %.1f s; results %s/sweep.h5", done, total, failed, now_seconds() - r.t0, dir);
        rc = g_stop ? 130 : failed || done < total ? 1 : 0;
    } else {
        for (int t = 0; t < p->n_tasks; t++)
            if (r.slot[t].state == RUNNING) { int st; waitpid(r.slot[t].pid, &st, 0); }
    }
    for (int t = 0; t < p->n_tasks; t++)
        if (r.slot[t].lock_fd >= 0) close(r.slot[t].lock_fd);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(r.slot);
    return rc;
}
