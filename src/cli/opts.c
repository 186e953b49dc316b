/* The commands' option parsing: one table per command, read by
 * getopt_long, one clear error per bad option. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_OPTS 64

/* The value of option `o` from `arg`; false after printing why not. */
static bool take(const char *cmd, const cli_opt *o, const char *arg)
{
    char *end = NULL;
    switch (o->kind) {
    case CLI_FLAG:
        *(bool *)o->var = true;
        return true;
    case CLI_UNFLAG:
        *(bool *)o->var = false;
        return true;
    case CLI_STR:
        *(const char **)o->var = arg;
        return true;
    case CLI_LIST: {
        cli_list *l = o->var;
        if (l->n >= CLI_LIST_MAX) {
            fprintf(stderr, "cleave %s: --%s: at most %d of them\n", cmd,
                    o->name, CLI_LIST_MAX);
            return false;
        }
        l->v[l->n++] = arg;
        return true;
    }
    case CLI_U64: {
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (!*arg || *arg == '-' || *arg == '+' || errno || *end) {
            fprintf(stderr,
                    "cleave %s: --%s: '%s' is not a non-negative integer\n",
                    cmd, o->name, arg);
            return false;
        }
        *(uint64_t *)o->var = v;
        return true;
    }
    case CLI_DBL: {
        double v = strtod(arg, &end);
        if (!*arg || *end || !isfinite(v)) {
            fprintf(stderr, "cleave %s: --%s: '%s' is not a number\n", cmd,
                    o->name, arg);
            return false;
        }
        *(double *)o->var = v;
        return true;
    }
    }
    return false;
}

int cli_parse(const char *cmd, const char *const *usage, const cli_opt *opts,
              int argc, char **argv, const char *pos_name, const char **pos,
              int max_pos, int *n_pos)
{
    struct option lo[MAX_OPTS + 3];
    char shorts[3 * MAX_OPTS + 8];
    int n = 0, ns = 0, npos = 0;
    shorts[ns++] = ':'; /* a missing argument returns ':' */
    shorts[ns++] = 'h';
    for (; opts && opts[n].name; n++) {
        const cli_opt *o = &opts[n];
        bool arg = o->kind == CLI_STR || o->kind == CLI_LIST ||
                   o->kind == CLI_U64 || o->kind == CLI_DBL;
        if (n >= MAX_OPTS)
            return CLI_USAGE; /* a programmer's table, never the user's */
        lo[n] = (struct option){o->name, arg ? required_argument : no_argument,
                                NULL, 256 + n};
        if (o->short_name) {
            shorts[ns++] = o->short_name;
            if (arg)
                shorts[ns++] = ':';
        }
    }
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){"version", no_argument, NULL, 'V'};
    lo[n + 2] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = '\0';

    opterr = 0;
    optind = 0; /* a fresh scan (GNU) */
    for (;;) {
        int k = -1;
        int c = getopt_long(argc, argv, shorts, lo, &k);
        if (c == -1)
            break;
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1]
                                                       : "?";
        if (c == 'h') {
            for (int u = 0; usage[u]; u++)
                fputs(usage[u], stdout);
            return CLI_OK;
        }
        if (c == 'V') {
            printf("cleave %s\n", CLI_VERSION);
            return CLI_OK;
        }
        if (c == ':') {
            fprintf(stderr, "cleave %s: %s needs a value (see cleave %s "
                            "--help)\n",
                    cmd, bad, cmd);
            return CLI_USAGE;
        }
        if (c == '?') {
            if (optopt && optopt < 256)
                fprintf(stderr, "cleave %s: unknown option '-%c' (see "
                                "cleave %s --help)\n",
                        cmd, optopt, cmd);
            else
                fprintf(stderr, "cleave %s: unknown option '%s' (see "
                                "cleave %s --help)\n",
                        cmd, bad, cmd);
            return CLI_USAGE;
        }
        const cli_opt *o = NULL;
        if (c >= 256 && c < 256 + n)
            o = &opts[c - 256];
        for (int i = 0; !o && i < n; i++)
            if (opts[i].short_name == c)
                o = &opts[i];
        if (!o)
            return CLI_USAGE;
        if (!take(cmd, o, optarg))
            return CLI_USAGE;
        if (o->seen)
            *o->seen = true;
    }
    for (int i = optind; i < argc; i++) {
        if (npos >= max_pos) {
            if (max_pos == 0)
                fprintf(stderr, "cleave %s: takes no argument like '%s' "
                                "(see cleave %s --help)\n",
                        cmd, argv[i], cmd);
            else if (max_pos == 1)
                fprintf(stderr, "cleave %s: one %s only ('%s' and '%s')\n",
                        cmd, pos_name, pos[0], argv[i]);
            else
                fprintf(stderr, "cleave %s: at most %d %s arguments\n", cmd,
                        max_pos, pos_name);
            return CLI_USAGE;
        }
        pos[npos++] = argv[i];
    }
    if (n_pos)
        *n_pos = npos;
    return -1;
}
