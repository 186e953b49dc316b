/*
 * Writing a test's input files. Shared by test_plan_cli.c and
 * test_plan_problem.c.
 */
#ifndef CLEAVE_TESTS_TEXT_FILE_H
#define CLEAVE_TESTS_TEXT_FILE_H

#include <stdio.h>
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

#endif
