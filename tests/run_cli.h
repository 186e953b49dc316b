/*
 * Running the cleave command as a user would. Shared by the tests of the
 * command line (test_cli.c, test_plan_cli.c, test_profile.c).
 *
 * CLEAVE_CLI (set by tests/CMakeLists.txt) is the path of the command.
 * popen() is POSIX: the test defines _POSIX_C_SOURCE before its first
 * #include.
 */
#ifndef CLEAVE_TESTS_RUN_CLI_H
#define CLEAVE_TESTS_RUN_CLI_H

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#error "run_cli.h: #define _POSIX_C_SOURCE 200809L before any #include"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs `cleave ARGS` through the shell (ARGS is shell text: quote what
 * needs it) with stdout and stderr captured together into *out, a
 * NUL-terminated string to free(); *out is "" when nothing could be read
 * and NULL only when even that could not be allocated. Returns the exit
 * status, or -1 when the command could not be run or was killed. */
static inline int cleave(const char *args, char **out)
{
    char cmd[4096];
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    FILE *p = NULL;
    int n, st;

    *out = buf;
    if (!buf)
        return -1;
    buf[0] = '\0';
    n = snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", CLEAVE_CLI, args);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        fprintf(stderr, "cleave: command line too long: %s\n", args);
        return -1;
    }
    p = popen(cmd, "r");
    if (!p)
        return -1;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    *out = buf;
    st = pclose(p);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
