/* tests/fuzz/replay.c: runs a fuzz target over files, without libFuzzer (any compiler).
 *
 *   replay DIR_OR_FILE...
 *
 * Every file (directories: every file inside, sorted) is passed once to
 * LLVMFuzzerTestOneInput; the target abort()s on a violated invariant, which fails the test.
 * The normal suite runs each target over its seed corpus (tests/fuzz/corpus/TARGET) and its
 * regressions (tests/fuzz/regressions/TARGET: every crash ever found, kept as a test).
 * Output is TAP, one line per file.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("not ok %d - cannot open %s\n", ++count, path);
        exit(1);
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, k;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            if (!buf)
                exit(1);
        }
        k = fread(buf + len, 1, cap - len, f);
        len += k;
    } while (k);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    printf("ok %d - %s (%zu bytes)\n", ++count, path, len);
    fflush(stdout);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0)
            continue; /* an empty regressions directory may not exist in a checkout */
        if (!S_ISDIR(st.st_mode)) {
            run_file(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
            sprintf(names[n++], "%s/%s", argv[i], e->d_name);
        }
        if (d)
            closedir(d);
        qsort(names, n, sizeof(*names), cmp);
        for (size_t j = 0; j < n; j++) {
            run_file(names[j]);
            free(names[j]);
        }
        free(names);
    }
    printf("1..%d\n", count);
    return 0;
}
