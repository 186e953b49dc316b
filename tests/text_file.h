/*
 * Writing a test's input files and reading its outputs. Shared by
 * test_plan_cli.c and test_plan_problem.c.
 */
#ifndef CLEAVE_TESTS_TEXT_FILE_H
#define CLEAVE_TESTS_TEXT_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes `text` (without its NUL) to the file `path`, replacing it.
 * Returns 0, or -1 when the file cannot be written. */
static inline int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    size_t len = strlen(text);
    if (!f)
        return -1;
    if (fwrite(text, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* The whole file at `path`, NUL-terminated, malloc'd (the caller frees);
 * NULL when it cannot be read. */
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *t = realloc(s, cap = 2 * cap + 4096 + 1);
            if (!t) {
                free(s);
                fclose(f);
                return NULL;
            }
            s = t;
        }
        size_t k = fread(s + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    s[n] = '\0';
    return s;
}

#endif
