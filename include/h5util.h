/* h5util.h: the HDF5 chores every file writer and reader here shares (run file, network and
 * training checkpoints, evaluation results), written once. Failures are returned as PmError
 * naming the file and the object's absolute path; `what` ("checkpoint", or NULL) starts the
 * message, so a reader says "checkpoint RUN.ckpt.h5: missing dataset /trainer/lr".
 * Every entry point silences HDF5's own error-stack printer (h5u_quiet), so each failure is
 * reported exactly once. */
#ifndef PAMOE_H5UTIL_H
#define PAMOE_H5UTIL_H
#include <hdf5.h>

#include "common.h"

/* A library failure that is not the user's (STYLE.md): print HDF5's stack and die. */
#define H5_CHECK(x) do { if ((x) < 0) { H5Eprint2(H5E_DEFAULT, stderr); \
    check_die(__FILE__, __LINE__, #x, "HDF5 call failed"); } } while (0)

/* h5u_open's return when the file does not exist or is not readable (also < 0) */
#define H5U_MISSING ((hid_t)-2)

enum {
    H5U_CHECKSUM = 1, /* one chunk with a Fletcher-32 checksum: corruption is detected on read */
    H5U_NO_TIMES = 2, /* no modification time: the file is byte-identical for a seed */
    H5U_REPLACE = 4,  /* delete an existing link of that name first */
};

void h5u_quiet(void);
/* Once at program start: h5u_quiet, and no HDF5 clean-up at exit (see h5util.c). */
void h5u_init(void);

/* Opens an existing file: "cannot open (no such file or not readable)" (returns H5U_MISSING),
 * "not an HDF5 file (...)", or "cannot open: file truncated or corrupt (...)". fapl may be
 * H5P_DEFAULT. */
hid_t h5u_open(const char *path, unsigned flags, hid_t fapl, const char *what, PmError *err);

/* The tmp-then-rename write: h5u_create_tmp creates PATH.tmp (fcpl may be H5P_DEFAULT);
 * h5u_commit closes f and, when ok, renames PATH.tmp to PATH, else removes it. A crash at any
 * moment leaves the previous PATH intact. Both return -1 with err set on failure. */
hid_t h5u_create_tmp(const char *path, hid_t fcpl, const char *what, PmError *err);
int h5u_commit(hid_t f, const char *path, int ok, const char *what, PmError *err);

/* Creates dataset `name` of loc (contiguous unless H5U_CHECKSUM; file type = type) and returns
 * it open, for callers that write through their own memory space. */
hid_t h5u_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                 unsigned opts, const char *what, PmError *err);
/* Writes all of dataset d from data through memory space mspace (H5S_ALL: data is the whole
 * dataset); d stays open. */
int h5u_write_from(hid_t d, hid_t type, hid_t mspace, const void *data, const char *what, PmError *err);
/* h5u_create + write the whole dataset from `data` (memory type = type) + close. */
int h5u_write(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
              const void *data, unsigned opts, const char *what, PmError *err);

/* Opens dataset `name` of loc after checking that it exists and has shape dims; the errors
 * are "missing dataset /g/name" and "dataset /g/name has shape (2, 4, 3), expected (2, 3, 4)".
 * A dims entry H5U_ANY accepts any length and is replaced by the length found. */
#define H5U_ANY H5S_UNLIMITED
hid_t h5u_open_checked(hid_t loc, const char *name, int rank, hsize_t *dims,
                       const char *what, PmError *err);
/* Reads dataset d (from h5u_open_checked) through memory space mspace (H5S_ALL: all of it)
 * into data; d stays open. A failed read (checksum, cut file) is "cannot read dataset ...". */
int h5u_read_into(hid_t d, hid_t type, hid_t mspace, void *data, const char *what, PmError *err);
/* h5u_open_checked + h5u_read_into(H5S_ALL) + close. */
int h5u_read(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, void *data,
             const char *what, PmError *err);

/* Attributes, replaced when present. n < 0: a scalar; else a 1-D array of n values. Strings
 * are variable-length UTF-8 (h5py reads them as str); `s` points at n (or one) char pointers. */
int h5u_attr_write(hid_t obj, const char *name, hid_t type, int n, const void *data,
                   const char *what, PmError *err);
int h5u_attr_str(hid_t obj, const char *name, const char *value, const char *what, PmError *err);
int h5u_attr_strs(hid_t obj, const char *name, int n, const char *const *s, const char *what,
                  PmError *err);
/* Reads a numeric attribute holding exactly n values (n < 0: one). */
int h5u_attr_read(hid_t obj, const char *name, hid_t type, int n, void *out, const char *what,
                  PmError *err);
/* A scalar string attribute, variable-length or fixed-size, into out (truncated to out_len). */
int h5u_attr_read_str(hid_t obj, const char *name, char *out, size_t out_len, const char *what,
                      PmError *err);
/* Variable-length UTF-8 string type; the caller closes it. */
hid_t h5u_str_type(void);
#endif
