/* cleave demo: the main job on built-in defaults. */
#include <stdio.h>
#include <string.h>

#include "cleave/load.h"
#include "cli/cli.h"

static const char demo_usage[] =
    "usage: cleave demo [--model MODEL]\n"
    "\n"
    "Runs cleave's main job on built-in defaults. Today it loads a network\n"
    "(zoo:tiny-yolov2 unless --model says otherwise) and prints its layers,\n"
    "sizes, FLOPs and the single cut points where the network may be split\n"
    "between edge and cloud. The split run over a real socket comes with the\n"
    "runtime.\n";

int cli_demo(int argc, char **argv)
{
    const char *model = "zoo:tiny-yolov2";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(demo_usage, stdout);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else {
            fprintf(stderr, "cleave demo: unknown argument '%s'\n\n%s",
                    argv[i], demo_usage);
            return CLI_USAGE;
        }
    }
    clv_graph *g = cli_load(model, 1);
    if (!g)
        return CLI_FAIL;
    cli_print_summary(model, g);
    clv_graph_free(g);
    return CLI_OK;
}
