/*
 * Debian's darknet as a test peer: where its cfgs and library are, whether
 * darknet.h was there at build time, and what a forked child needs to run
 * libdarknet on a cfg (a batch=1 copy of the cfg, the library dlopen'ed,
 * its functions looked up). Shared by test_darknet.c and
 * test_darknet_peer.c.
 *
 * HAVE_DARKNET_H is 1 when /usr/lib/darknet/include/darknet.h was found;
 * the child helpers exist only then.
 */
#ifndef CLEAVE_TESTS_DARKNET_LIB_H
#define CLEAVE_TESTS_DARKNET_LIB_H

#include <assert.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CFG_DIR "/usr/share/darknet/cfg"
#define DARKNET_LIB "/usr/lib/darknet/libdarknet.so"

#if defined(__has_include)
#if __has_include("/usr/lib/darknet/include/darknet.h")
#include "/usr/lib/darknet/include/darknet.h"
#define HAVE_DARKNET_H 1
#endif
#endif
#ifndef HAVE_DARKNET_H
#define HAVE_DARKNET_H 0
#endif

#if HAVE_DARKNET_H
/* Writes a copy of the cfg `src` to `dst` with batch=1 and subdivisions=1
 * in [net] (darknet allocates every output `batch` times). Returns 0, or
 * -1 when a file cannot be opened or written. */
static inline int darknet_write_batch1(const char *src, const char *dst)
{
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    char line[4096];
    int section = 0;
    if (!in || !out) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return -1;
    }
    while (fgets(line, sizeof line, in)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[')
            section++;
        if (section == 1 && strncmp(p, "batch", 5) == 0 &&
            (p[5] == '=' || p[5] == ' '))
            fputs("batch=1\n", out);
        else if (section == 1 && strncmp(p, "subdivisions", 12) == 0)
            fputs("subdivisions=1\n", out);
        else
            fputs(line, out);
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

/* For a forked child only: arms alarm(`seconds`), sends stdout and stderr
 * to /dev/null (libdarknet prints a lot) and dlopens libdarknet with
 * `flags` (RTLD_LAZY or RTLD_NOW, with RTLD_LOCAL). Returns the handle; on
 * failure it ends the child with _exit(3) (stdio) or _exit(4) (dlopen). */
static inline void *darknet_child_open(unsigned seconds, int flags)
{
    void *h;
    alarm(seconds);
    if (!freopen("/dev/null", "w", stdout) ||
        !freopen("/dev/null", "w", stderr))
        _exit(3);
    h = dlopen(DARKNET_LIB, flags);
    if (!h)
        _exit(4);
    return h;
}

/* Looks `name` up in the library `h` and stores it in the function pointer
 * at `fn` (of `size` bytes: sizeof the pointer), NULL when it is missing.
 * (ISO C has no conversion from dlsym's void * to a function pointer; the
 * bytes are copied instead, as POSIX allows.) */
static inline void darknet_sym(void *h, const char *name, void *fn,
                               size_t size)
{
    void *sym = dlsym(h, name);
    assert(size == sizeof sym);
    memcpy(fn, &sym, size);
}
#endif

#endif
