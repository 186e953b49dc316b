/*
 * A minimal test harness: CHECK records a failure and goes on; each test
 * executable ends with check_report(), which prints "N passed, N failed"
 * and returns the exit status.
 */
#ifndef CLEAVE_TESTS_CHECK_H
#define CLEAVE_TESTS_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed_, check_failed_;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (cond) {                                                       \
            check_passed_++;                                              \
        } else {                                                          \
            check_failed_++;                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                     \
        }                                                                 \
    } while (0)

/* CHECK with a printf-style explanation printed on failure. */
#define CHECKF(cond, ...)                                                 \
    do {                                                                  \
        if (cond) {                                                       \
            check_passed_++;                                              \
        } else {                                                          \
            check_failed_++;                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__,        \
                    __LINE__, #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* Timing checks: measured times against predictions. The sanitizers slow
 * code unevenly (and CI runs them on a shared machine), so in a sanitizer
 * build these are printed when they miss, not asserted; the plain build
 * asserts them. */
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_SANITIZED 1
#endif
#endif
#ifndef CHECK_SANITIZED
#define CHECK_SANITIZED 0
#endif

/* True when the test runs under an emulator of another architecture
 * (qemu-user; cmake/aarch64-linux-gnu.cmake sets CLEAVE_TEST_EMULATED):
 * its times mean nothing, its results do, and it runs many times slower,
 * so the largest models are left out. */
static inline bool check_emulated(void)
{
    const char *e = getenv("CLEAVE_TEST_EMULATED");
    return e && *e && *e != '0';
}

#define TIMING_CHECKF(cond, ...)                                          \
    do {                                                                  \
        if (!CHECK_SANITIZED && !check_emulated()) {                      \
            CHECKF(cond, __VA_ARGS__);                                    \
        } else if (!(cond)) {                                             \
            fprintf(stderr, "%s:%d: timing (not asserted under "          \
                    "sanitizers or emulation): %s: ", __FILE__, __LINE__, \
                    #cond);                                               \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

static inline int check_report(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

#endif
