/* trainer_open.c: starting and resuming runs without losing or mixing one up.
 *
 * - A run file is NAME.h5 and its checkpoint NAME.ckpt.h5, so no two run names share a
 *   checkpoint (names must end in .h5, and not in .ckpt.h5, which is a checkpoint's).
 * - Overwrite rule (every pamoe command that writes): an existing output is refused with a
 *   message naming it, unless --force is given. A new run's outputs are the run file and the
 *   checkpoint: either existing one is refused.
 * - Identity: each run gets a random run id and the hash of its resolved configuration,
 *   stored in the run file (root attributes) and in every checkpoint (/trainer). Resume reads
 *   both files read-only first and refuses a checkpoint of another run or another
 *   configuration before anything is written.
 * - A run stopped before its first checkpoint is resumed by starting it again from iteration
 *   1 with the configuration and run id its run file holds (the results are the same as a
 *   run never interrupted); one whose run file cannot be read either is started again with
 *   --out NAME.h5 --force. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "h5util.h"
#include "trainer_state.h"

char *trainer_ckpt_path(const char *run_path) {
    size_t n = strlen(run_path);
    char *p = xmalloc(n + 16);
    if (n > 3 && !strcmp(run_path + n - 3, ".h5")) snprintf(p, n + 16, "%.*s.ckpt.h5", (int)(n - 3), run_path);
    else snprintf(p, n + 16, "%s.ckpt.h5", run_path);
    return p;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int trainer_check_run_name(const char *run_path, PmError *err) {
    if (!ends_with(run_path, ".h5") || strlen(run_path) <= 3)
        return pm_error(err, "%s: a run file's name ends in .h5 (its checkpoint is then NAME.ckpt.h5)", run_path);
    if (ends_with(run_path, ".ckpt.h5"))
        return pm_error(err, "%s: names ending in .ckpt.h5 are checkpoints; give the run file NAME.h5", run_path);
    return 0;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void new_run_id(char *out, size_t len) {
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) { /* no entropy source: time and pid */
        uint64_t x = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^ (uint64_t)(now_seconds() * 1e9);
        for (int i = 0; i < 16; i++, x = x * 6364136223846793005ull + 1442695040888963407ull) b[i] = (uint8_t)(x >> 56);
    }
    size_t k = 0;
    for (int i = 0; i < 16 && k + 3 <= len; i++) k += (size_t)snprintf(out + k, len - k, "%02x", b[i]);
}

static void remove_outputs(const char *run_path, const char *ckpt) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", ckpt);
    remove(run_path);
    remove(ckpt);
    remove(tmp);
}

/* setup + the environments' first reset; frees t on failure */
static Trainer *prepare(const TrainConfig *cfg, const char *run_path, const char *device, PmError *err) {
    Trainer *t = xcalloc(1, sizeof *t);
    if (trainer_setup(t, cfg, device, err)) {
        trainer_free(t);
        return NULL;
    }
    t->run_path = xstrdup(run_path);
    t->ckpt_path = trainer_ckpt_path(run_path);
    env_reset_all(t->env);
    return t;
}

/* A new run file (replacing one being restarted), with the run's identity. */
static Trainer *start_fresh(Trainer *t, PmError *err) {
    remove_outputs(t->run_path, t->ckpt_path);
    if (trainer_metrics_open(t, 0, err)) {
        trainer_free(t);
        return NULL;
    }
    return t;
}

Trainer *trainer_create(const TrainConfig *cfg, const char *run_path, const char *device, int force, PmError *err) {
    if (trainer_check_run_name(run_path, err)) return NULL;
    char *ckpt = trainer_ckpt_path(run_path);
    int taken = 0;
    if (!force && exists(run_path))
        taken = pm_error(err, "%s exists: continue that run with --resume %s, or replace it with --force", run_path, run_path);
    else if (!force && exists(ckpt))
        taken = pm_error(err, "%s exists (the checkpoint of a run %s): continue it with --resume %s, or replace it with --force",
                         ckpt, run_path, run_path);
    free(ckpt);
    if (taken) return NULL;
    Trainer *t = prepare(cfg, run_path, device, err);
    if (!t) return NULL;
    new_run_id(t->run_id, sizeof t->run_id);
    return start_fresh(t, err);
}

/* The run file's identity and its row count, read-only (a run killed while writing leaves
 * the SWMR "open for writing" mark; SWMR reading does not mind it). */
static int read_run_file(const char *run_path, RunIdentity *id, long *rows, PmError *err) {
    hid_t f = h5u_open(run_path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT, "run file", err);
    if (f < 0) return -1;
    int rc = trainer_read_identity(f, "run file", run_path, f, id, err);
    *rows = -1;
    /* readers of the run file size its columns by n_runs: it must be the configuration's */
    if (!rc && H5Aexists(f, "n_runs") > 0) {
        long long n = 0;
        rc = h5u_attr_read(f, "n_runs", H5T_NATIVE_LLONG, -1, &n, "run file", err);
        if (!rc && n != id->cfg.runs)
            rc = pm_error(err, "run file %s: attribute n_runs is %lld but its /config has run.runs = %d: the file was edited or is corrupt",
                          run_path, n, id->cfg.runs);
    }
    if (!rc && H5Lexists(f, "metrics", H5P_DEFAULT) > 0 && H5Lexists(f, "metrics/iteration", H5P_DEFAULT) > 0) {
        hsize_t dims[1] = {H5U_ANY};
        hid_t d = h5u_open_checked(f, "metrics/iteration", 1, dims, "run file", err);
        if (d < 0) rc = -1;
        else {
            *rows = (long)dims[0];
            H5Dclose(d);
        }
    }
    H5Fclose(f);
    return rc;
}

/* The first key whose values differ, for the message. */
static void first_difference(const TrainConfig *a, const TrainConfig *b, char *out, size_t len) {
    int i = config_first_difference(a, b);
    if (i < 0) {
        snprintf(out, len, "same values, other hash");
        return;
    }
    char *va = xmalloc(CONFIG_VALUE_LEN), *vb = xmalloc(CONFIG_VALUE_LEN);
    config_value_str(a, i, va, CONFIG_VALUE_LEN);
    config_value_str(b, i, vb, CONFIG_VALUE_LEN);
    snprintf(out, len, "%s = %.200s in the checkpoint, %.200s in the run file", config_key(i), va, vb);
    free(va);
    free(vb);
}

static int same_run(const char *run_path, const RunIdentity *rf, const char *ckpt, const RunIdentity *ck, PmError *err) {
    if (strcmp(rf->hash, ck->hash)) {
        char diff[1400];
        first_difference(&ck->cfg, &rf->cfg, diff, sizeof diff);
        return pm_error(err, "checkpoint %s and run file %s hold different configurations (%s); nothing was changed", ckpt,
                        run_path, diff);
    }
    if (rf->run_id[0] && ck->run_id[0] && strcmp(rf->run_id, ck->run_id))
        return pm_error(err, "checkpoint %s belongs to another run (run id %s) than the run file %s (run id %s); nothing was changed",
                        ckpt, ck->run_id, run_path, rf->run_id);
    if (!!rf->run_id[0] != !!ck->run_id[0])
        return pm_error(err, "checkpoint %s and run file %s: only one of them has a run id, so they are not one run; nothing was changed",
                        ckpt, run_path);
    return 0;
}

Trainer *trainer_resume(const char *run_path, const char *device, TrainerResume *how, PmError *err) {
    char *ckpt = trainer_ckpt_path(run_path);
    RunIdentity *rf = xcalloc(1, sizeof *rf), *ck = xcalloc(1, sizeof *ck);
    Trainer *t = NULL;
    long rows = -1;
    int have_ckpt = exists(ckpt);
    if (trainer_check_run_name(run_path, err)) goto out;
    if (!exists(run_path)) {
        if (have_ckpt) pm_error(err, "no run file %s (its checkpoint %s exists): restore the run file, or start a new run with --out", run_path, ckpt);
        else pm_error(err, "no run file %s to resume: start a run with --out %s", run_path, run_path);
        goto out;
    }
    if (read_run_file(run_path, rf, &rows, err)) {
        struct stat st;
        /* a FIFO, device or directory is no run file cut short: the explanation and the
         * --force advice are for regular files only (h5u_open refuses the rest unopened) */
        if (!have_ckpt && stat(run_path, &st) == 0 && S_ISREG(st.st_mode)) {
            char why[1024];
            snprintf(why, sizeof why, "%s", err->msg);
            pm_error(err, "%s (the run stopped while its file was being created, before any checkpoint): start it again with --out %s --force",
                     why, run_path);
        }
        goto out;
    }
    if (!have_ckpt) { /* stopped before its first checkpoint: the run again, from its own configuration */
        *how = TRAINER_RESUME_RESTART;
        t = prepare(&rf->cfg, run_path, device ? device : config_device_name(rf->cfg.device), err);
        if (!t) goto out;
        snprintf(t->run_id, sizeof t->run_id, "%s", rf->run_id);
        if (!t->run_id[0]) new_run_id(t->run_id, sizeof t->run_id);
        t = start_fresh(t, err);
        goto out;
    }
    if (trainer_ckpt_read_identity(ckpt, ck, err) || same_run(run_path, rf, ckpt, ck, err)) goto out;
    if (rows < ck->iteration) {
        pm_error(err, "run file %s has %ld rows but its checkpoint %s is at iteration %ld: the run file is older than the checkpoint; nothing was changed",
                 run_path, rows < 0 ? 0 : rows, ckpt, ck->iteration);
        goto out;
    }
    t = prepare(&ck->cfg, run_path, device ? device : config_device_name(ck->cfg.device), err);
    if (!t) goto out;
    snprintf(t->run_id, sizeof t->run_id, "%s", ck->run_id);
    /* everything is read and checked before the run file is opened for writing */
    if (trainer_ckpt_load(t, ckpt, err)) goto fail;
    if (t->iteration >= t->n_iterations) {
        *how = TRAINER_RESUME_FINISHED;
        pm_error(err, "%s is finished (%ld of %ld iterations); nothing to do", run_path, t->iteration, t->n_iterations);
        goto fail;
    }
    *how = TRAINER_RESUME_CHECKPOINT;
    if (trainer_metrics_open(t, 1, err)) goto fail;
    goto out;
fail:
    trainer_free(t);
    t = NULL;
out:
    free(rf);
    free(ck);
    free(ckpt);
    return t;
}

int trainer_run_config(const char *run_path, TrainConfig *cfg, PmError *err) {
    char *ckpt = trainer_ckpt_path(run_path);
    RunIdentity *id = xcalloc(1, sizeof *id);
    long rows;
    int rc = exists(ckpt) ? trainer_ckpt_read_identity(ckpt, id, err) : read_run_file(run_path, id, &rows, err);
    if (!rc) *cfg = id->cfg;
    free(id);
    free(ckpt);
    return rc;
}
