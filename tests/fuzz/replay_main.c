/* replay_main.c: runs a fuzz harness over files and directories given on the command line
 * (the seed corpus and the regressions of tests/fuzz/), so `make test` replays every input
 * that once crashed, with the ordinary compiler and no fuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long replayed;

static void replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "%s: cannot open\n", path); exit(1); }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += r) == cap) buf = realloc(buf, cap *= 2);
    fclose(f);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    replayed++;
}

static void replay(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return; /* an absent regressions folder is fine */
    if (!S_ISDIR(st.st_mode)) { replay_file(path); return; }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        replay(p);
    }
    if (d) closedir(d);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) replay(argv[i]);
    printf("replayed %ld inputs\n", replayed);
    return 0;
}
