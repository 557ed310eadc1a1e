/* fuzz_ckpt.c: resuming a run from a damaged run file + checkpoint (trainer_resume, then one
 * more iteration). At start-up the harness trains a tiny run for one iteration (run from the
 * repository root: it reads data/), which leaves
 * RUN.h5 and RUN.ckpt.h5; every input is a list of edits applied to fresh copies of the two:
 *
 *   byte 0, bit 0 = 0  value edits: each edit is [object u16][element u16][value bytes], and
 *                      writes the value into that element of a dataset or attribute of either
 *                      file through HDF5, so the dataset checksums stay valid and only
 *                      resume's own checks stand between the value and the simulator;
 *   byte 0, bit 0 = 1  storage edits: each edit is [object u16][offset u16][xor u8] and flips
 *                      bits in a dataset's stored bytes behind HDF5's back (the checksums
 *                      must catch it).
 *
 *   bytes a5 LO HI     one byte flipped at offset LO HI of every checkpoint dataset in turn,
 *                      each of which must be refused.
 *
 * Objects are numbered checkpoint first, in HDF5's name order (FUZZ_CKPT_LIST=1 prints the
 * numbers; FUZZ_CKPT_VERBOSE=1 what resume answered), all numbers little-endian. Resume must
 * refuse cleanly or run; a crash, an out-of-bounds read or undefined behaviour is a finding.
 * The untouched template must resume, and a single flipped byte must always be refused.
 * File metadata (HDF5's own structures) is left alone: HDF5's robustness
 * against corrupted headers is HDF5's business, and those bytes are not pamoe's to check.
 *
 * fuzz_ckpt.flags raises libFuzzer's per-input timeout to 120 s: an input that resumes trains
 * the template's remaining iterations, 10-20 CPU-seconds under ASan+UBSan (more wall time on
 * a loaded machine), so the default 10 s reports slow inputs, not hangs. */
#include "config.h"
#include "fuzz_util.h"
#include "h5util.h"
#include "trainer.h"

#include <hdf5.h>
#include <stdlib.h>

#define MAX_OBJECTS 1024

typedef struct {
    int file;          /* 0 run file, 1 checkpoint */
    char path[160];    /* dataset path, or the attribute's object path */
    char attr[64];     /* attribute name ("" for a dataset) */
} Target;

static char dir[64], run_path[128], ckpt_path[160];
static uint8_t *tmpl[2];
static size_t tmpl_len[2];
static Target targets[MAX_OBJECTS];
static int n_targets;

static void remove_dir(void) {
    char p[200];
    const char *names[] = {"run.h5", "run.ckpt.h5", "run.ckpt.h5.tmp", "run.h5.tmp"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "fuzz_ckpt: %s missing\n", path); abort(); }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len);
    if (fread(b, 1, *len, f) != *len) abort();
    fclose(f);
    return b;
}

static void spill(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, len, f) != len) abort();
    fclose(f);
}

static int file_no;
static void add_target(const char *path, const char *attr) {
    if (n_targets == MAX_OBJECTS) return;
    Target *t = &targets[n_targets++];
    t->file = file_no;
    snprintf(t->path, sizeof t->path, "%s", path);
    snprintf(t->attr, sizeof t->attr, "%s", attr);
}

static herr_t on_attr(hid_t loc, const char *name, const H5A_info_t *info, void *user) {
    (void)loc; (void)info;
    add_target(user, name);
    return 0;
}

static herr_t on_object(hid_t root, const char *name, const H5O_info_t *info, void *user) {
    (void)user;
    char path[160];
    snprintf(path, sizeof path, "/%s", name[0] == '.' ? "" : name);
    if (info->type == H5O_TYPE_DATASET) add_target(path, "");
    /* the run file's metric columns have only documentation attributes (units, text) */
    if (file_no == 1 || strncmp(path, "/metrics/", 9))
        H5Aiterate_by_name(root, name, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, on_attr, path, H5P_DEFAULT);
    return 0;
}

static void list_targets(const char *path, int file) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) abort();
    file_no = file;
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, on_object, NULL);
    H5Fclose(f);
}

/* A tiny run: two runs of two environments, 32 steps per iteration (10 iterations, one per content phase), a checkpoint after each. */
static void make_template(void) {
    static const char *sets[] = {
        "run.runs=2", "run.envs_per_run=2", "run.device=cpu", "run.threads=1",
        "ppo.total_timesteps=320", "ppo.num_steps=32", "ppo.num_minibatches=2",
        "ppo.update_epochs=1", "net.hidden=4", "checkpoint.checkpoint_every=1",
    };
    TrainConfig cfg;
    PmError err;
    config_defaults(&cfg);
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        if (config_set(&cfg, sets[i], &err)) { fprintf(stderr, "fuzz_ckpt: %s\n", err.msg); abort(); }
    if (config_finalize(&cfg, &err)) { fprintf(stderr, "fuzz_ckpt: %s\n", err.msg); abort(); }
    Trainer *t = trainer_create(&cfg, run_path, "cpu", 0, &err);
    TrainOptions opt = {.quiet = 1, .stop_after = 1};
    if (!t || trainer_run(t, &opt, &err) < 0) { fprintf(stderr, "fuzz_ckpt: %s\n", err.msg); abort(); }
    trainer_free(t);
    tmpl[0] = slurp(run_path, &tmpl_len[0]);
    tmpl[1] = slurp(ckpt_path, &tmpl_len[1]);
    list_targets(ckpt_path, 1);
    list_targets(run_path, 0);
    if (getenv("FUZZ_CKPT_LIST")) /* the object numbers, for writing seed inputs by hand */
        for (int i = 0; i < n_targets; i++)
            fprintf(stderr, "%3d %s %s%s%s\n", i, targets[i].file ? "ckpt" : "run ", targets[i].path,
                    targets[i].attr[0] ? " @" : "", targets[i].attr);
}

static void init(void) {
    snprintf(dir, sizeof dir, "/tmp/pamoe-fuzz-ckpt-XXXXXX");
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
    snprintf(run_path, sizeof run_path, "%s/run.h5", dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/run.ckpt.h5", dir);
    h5u_init();
    make_template();
}

/* Writes `value` (as many bytes as one element holds; missing bytes are zero) into element
 * `elem` (modulo the element count) of the target, through HDF5. */
static void value_edit(hid_t f, const Target *t, unsigned elem, const uint8_t *value, size_t vlen) {
    int is_attr = t->attr[0] != 0;
    /* an attribute through its object: HDF5 1.10 cannot write one opened with H5Aopen_by_name */
    hid_t holder = is_attr ? H5Oopen(f, t->path, H5P_DEFAULT) : -1;
    if (is_attr && holder < 0) return;
    hid_t obj = is_attr ? H5Aopen(holder, t->attr, H5P_DEFAULT) : H5Dopen2(f, t->path, H5P_DEFAULT);
    if (obj < 0) {
        if (holder >= 0) H5Oclose(holder);
        return;
    }
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    size_t es = H5Tget_size(ft);
    int vlen_str = H5Tis_variable_str(ft) > 0;
    if (n > 0 && es > 0 && !vlen_str && (size_t)n * es <= (1u << 24)) {
        uint8_t *buf = calloc((size_t)n, es);
        herr_t rc = is_attr ? H5Aread(obj, ft, buf) : H5Dread(obj, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        if (rc >= 0) {
            uint8_t *e = buf + (size_t)(elem % (unsigned)n) * es;
            memset(e, 0, es);
            memcpy(e, value, vlen < es ? vlen : es);
            if (is_attr) H5Awrite(obj, ft, buf);
            else H5Dwrite(obj, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        }
        free(buf);
    } else if (vlen_str && is_attr && n == 1) { /* a string attribute: the value as text */
        char s[64];
        size_t k = vlen < sizeof s - 1 ? vlen : sizeof s - 1;
        memcpy(s, value, k);
        s[k] = 0;
        const char *p = s;
        H5Awrite(obj, ft, &p);
    }
    H5Sclose(sp);
    H5Tclose(ft);
    if (is_attr) {
        H5Aclose(obj);
        H5Oclose(holder);
    } else {
        H5Dclose(obj);
    }
}

/* Where a dataset's bytes lie in its file (contiguous, or its one checksummed chunk). */
static int storage(hid_t f, const char *path, haddr_t *off, hsize_t *len) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t dcpl = H5Dget_create_plist(d);
    int ok = -1;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t nchunks = 0;
        hid_t sp = H5Dget_space(d);
        unsigned mask;
        hsize_t coord[8];
        if (H5Dget_num_chunks(d, sp, &nchunks) >= 0 && nchunks > 0 &&
            H5Dget_chunk_info(d, sp, 0, coord, &mask, off, len) >= 0)
            ok = 0;
        H5Sclose(sp);
    } else {
        *off = H5Dget_offset(d);
        *len = H5Dget_storage_size(d);
        ok = *off == HADDR_UNDEF ? -1 : 0;
    }
    H5Pclose(dcpl);
    H5Dclose(d);
    return ok;
}

static unsigned u16(const uint8_t *p) { return (unsigned)(p[0] | p[1] << 8); }

/* Returns how many edits were made, and in *ckpt_only whether all were in the checkpoint. */
static int storage_edits(const uint8_t *data, size_t size, int *ckpt_only) {
    int made = 0;
    *ckpt_only = 1;
    for (size_t i = 1; i + 5 <= size; i += 5) {
        const Target *t = &targets[u16(data + i) % (unsigned)n_targets];
        if (t->attr[0]) continue;
        haddr_t off;
        hsize_t len;
        const char *p = t->file ? ckpt_path : run_path;
        hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
        int ok = f >= 0 && storage(f, t->path, &off, &len) == 0 && len > 0;
        if (f >= 0) H5Fclose(f);
        if (!ok) continue;
        unsigned at = u16(data + i + 2) % (unsigned)len;
        FILE *fp = fopen(p, "r+b");
        if (!fp) abort();
        fseek(fp, (long)(off + at), SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, (long)(off + at), SEEK_SET);
        fputc(c ^ (data[i + 4] ? data[i + 4] : 1), fp);
        fclose(fp);
        made++;
        *ckpt_only &= t->file == 1;
    }
    return made;
}

static void value_edits(const uint8_t *data, size_t size) {
    hid_t f[2] = {H5Fopen(run_path, H5F_ACC_RDWR, H5P_DEFAULT), H5Fopen(ckpt_path, H5F_ACC_RDWR, H5P_DEFAULT)};
    if (f[0] < 0 || f[1] < 0) abort();
    size_t i = 1;
    while (i + 4 <= size) {
        const Target *t = &targets[u16(data + i) % (unsigned)n_targets];
        unsigned elem = u16(data + i + 2);
        i += 4;
        /* the value runs to the next 0xff 0xfe pair (or the end), at most 64 bytes */
        size_t start = i;
        while (i < size && i - start < 64 && !(data[i] == 0xff && i + 1 < size && data[i + 1] == 0xfe)) i++;
        value_edit(f[t->file], t, elem, data + start, i - start);
        i += 2;
    }
    H5Fclose(f[0]);
    H5Fclose(f[1]);
}

static void restore_template(void) {
    spill(run_path, tmpl[0], tmpl_len[0]);
    spill(ckpt_path, tmpl[1], tmpl_len[1]);
}

/* The input 0xa5 LO HI: one byte flipped at offset LO HI in each checkpoint dataset in turn;
 * every one must be refused (every dataset is checksummed and read). */
static void flip_every_dataset(const uint8_t *data) {
    for (int i = 0; i < n_targets; i++) {
        if (targets[i].file != 1 || targets[i].attr[0]) continue;
        restore_template();
        uint8_t edit[6] = {1, (uint8_t)(i & 0xff), (uint8_t)(i >> 8), data[1], data[2], 0x10};
        int ckpt_only, flips = storage_edits(edit, sizeof edit, &ckpt_only);
        PmError err;
        TrainerResume how;
        Trainer *t = trainer_resume(run_path, "cpu", &how, &err);
        if (flips && t) fprintf(stderr, "a flipped byte in %s went unnoticed\n", targets[i].path);
        FUZZ_ASSERT(!(flips && t));
        if (t) trainer_free(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) init();
    if (size < 1 || size > 4096) return 0;
    if (size == 3 && data[0] == 0xa5) {
        flip_every_dataset(data);
        return 0;
    }
    restore_template();
    int flips = 0, ckpt_only = 0;
    if (data[0] & 1) flips = storage_edits(data, size, &ckpt_only);
    else value_edits(data, size);
    PmError err;
    TrainerResume how;
    Trainer *t = trainer_resume(run_path, "cpu", &how, &err);
    if (size == 1 && !t) fprintf(stderr, "untouched files do not resume: %s\n", err.msg);
    FUZZ_ASSERT(size > 1 || t); /* the template itself resumes: the harness is not vacuous */
    if (getenv("FUZZ_CKPT_VERBOSE")) fprintf(stderr, "  -> %s\n", t ? "resumed" : err.msg);
    /* One changed byte in a checkpoint dataset: Fletcher-32 sums 16-bit words modulo 65535,
     * and one byte moves its word by less than that, so the checksum must catch it (unless
     * the dataset is never read, which is a finding too). */
    if (flips == 1 && ckpt_only && t) fprintf(stderr, "a flipped byte in the checkpoint went unnoticed\n");
    FUZZ_ASSERT(!(flips == 1 && ckpt_only && t));
    if (t) {
        TrainOptions opt = {.quiet = 1, .stop_after = 1};
        trainer_run(t, &opt, &err);
        trainer_free(t);
    }
    return 0;
}
