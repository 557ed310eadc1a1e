/* fuzz_util.h: helpers shared by the fuzz harnesses (tests/fuzz/fuzz_*.c). Each harness
 * defines LLVMFuzzerTestOneInput; `make fuzz` links it with libFuzzer (clang, ASan+UBSan)
 * and `make test` links it with replay_main.c to replay the corpus and every regression. */
#ifndef PAMOE_FUZZ_UTIL_H
#define PAMOE_FUZZ_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The input as an anonymous in-memory file, so loaders that take a path read it as they
 * would read a file on disk; *fd is closed by the caller. No temporary files pile up. */
static inline const char *fuzz_memfile(const uint8_t *data, size_t size, int *fd, char *path,
                                       size_t len) {
    *fd = memfd_create("fuzz", 0);
    if (*fd < 0) { perror("memfd_create"); abort(); }
    for (size_t off = 0; off < size;) {
        ssize_t w = write(*fd, data + off, size - off);
        if (w <= 0) { perror("write"); abort(); }
        off += (size_t)w;
    }
    snprintf(path, len, "/proc/self/fd/%d", *fd);
    return path;
}

/* A harness's own invariant failed: a crash libFuzzer records like any other. */
#define FUZZ_ASSERT(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); \
    abort(); } } while (0)
#endif
