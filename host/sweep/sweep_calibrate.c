/* sweep_calibrate.c: the measured estimates of `pamoe sweep plan`. The measurement runs in a
 * child process so that its peak memory is the task's own and nothing of it (threads,
 * backend, signal handlers) stays in the planner; its files live in a temporary directory
 * that is removed, so the plan writes nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sweep.h"
#include "trainer.h"

static double peak_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = strtod(line + 6, NULL);
    if (f) fclose(f);
    return kib / 1024;
}

static void child(const SweepPlan *p, int task, const char *dir, int fd) {
    SweepCalibration cal = {0};
    PmError err = {""};
    TrainConfig *c = xmalloc(sizeof *c);
    char path[SWEEP_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/cal.h5", dir);
    int ok = 0;
    double t0 = now_seconds();
    if (!sweep_plan_task_config(p, task, c, &err)) {
        c->checkpoint_every = 0;
        Trainer *t = trainer_create(c, path, config_device_name(c->device), 1, &err);
        TrainOptions first = {1, 1}, timed = {1, 2};
        if (t && trainer_run(t, &first, &err) >= 0) {
            double t1 = now_seconds();
            if (trainer_run(t, &timed, &err) >= 0) {
                cal.iteration_seconds = (now_seconds() - t1) / 2;
                cal.setup_seconds = (t1 - t0) - cal.iteration_seconds;
                cal.peak_mib = peak_mib();
                ok = 1;
            }
        }
        trainer_free(t);
    }
    if (write(fd, &ok, sizeof ok) < 0 || write(fd, ok ? (void *)&cal : (void *)&err, ok ? sizeof cal : sizeof err) < 0) _exit(1);
    _exit(0);
}

int sweep_calibrate(const SweepPlan *p, int task, SweepCalibration *out, PmError *err) {
    char dir[] = "/tmp/pamoe-plan-XXXXXX";
    if (!mkdtemp(dir)) return pm_error(err, "cannot create a temporary directory: %s", strerror(errno));
    int fds[2];
    if (pipe(fds)) return pm_error(err, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return pm_error(err, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        child(p, task, dir, fds[1]);
    }
    close(fds[1]);
    int ok = 0, rc = 0;
    PmError child_err;
    if (read(fds[0], &ok, sizeof ok) != sizeof ok) rc = pm_error(err, "the calibration process died");
    else if (ok) { if (read(fds[0], out, sizeof *out) != sizeof *out) rc = pm_error(err, "the calibration process died"); }
    else {
        if (read(fds[0], &child_err, sizeof child_err) == sizeof child_err) rc = pm_error(err, "%s", child_err.msg);
        else rc = pm_error(err, "the calibration process died");
    }
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    char cmd[SWEEP_PATH_LEN];
    const char *files[] = {"cal.h5", "cal.ckpt.h5", "cal.ckpt.h5.tmp"};
    for (int i = 0; i < 3; i++) { snprintf(cmd, sizeof cmd, "%s/%s", dir, files[i]); unlink(cmd); }
    rmdir(dir);
    return rc;
}
