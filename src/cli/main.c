/* cleave: the command-line tool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cleave/load.h"
#include "cli/cli.h"

static const char usage[] =
    "usage: cleave COMMAND [ARGS]\n"
    "\n"
    "cleave splits a DNN between an edge device and a cloud server.\n"
    "\n"
    "commands:\n"
    "  info MODEL [--json]        layers, shapes, sizes, FLOPs and valid cut points\n"
    "  zoo [NAME -o FILE.onnx]    list the built-in networks, or write one as ONNX\n"
    "  run MODEL [--input FILE]   run a model on the CPU: output summary, median time\n"
    "  profile MODEL -o FILE      measure every layer's latency on this device\n"
    "  plan ...                   choose where to cut: edge, cloud or the cut between\n"
    "  jalad-table MODEL -o FILE  measure accuracy and bytes of every cut and codec\n"
    "  serve --model M            the cloud server: finishes the edges' frames\n"
    "  edge --model M --server A  the edge agent: runs its layers, ships the cut\n"
    "  demo                       split tiny-yolov2 over loopback: four planners side by side\n"
    "  help [COMMAND]             this text, or a command's own help\n"
    "\n"
    "MODEL is an ONNX file (.onnx), a darknet network (.cfg, with the .weights\n"
    "of the same name beside it if there is one, else seeded random weights),\n"
    "or zoo:NAME for a built-in network (see `cleave zoo`).\n"
    "\n"
    "Run `cleave COMMAND --help` for the options of a command.\n";

clv_graph *cli_load(const char *model, uint64_t seed)
{
    clv_graph *g = NULL;
    clv_error err;
    int rc;

    clv_error_clear(&err);
    if (strncmp(model, "zoo:", 4) == 0)
        rc = clv_zoo_build(model + 4, seed, 0, &g, &err);
    else
        rc = clv_load_model(model, &g, &err);
    if (rc) {
        fprintf(stderr, "cleave: %s\n", clv_error_text(&err, rc));
        return NULL;
    }
    return g;
}

int cli_print_json(cJSON *root)
{
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "cleave: out of memory\n");
        return CLI_FAIL;
    }
    puts(text);
    cJSON_free(text);
    return CLI_OK;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"info", cli_info},   {"zoo", cli_zoo},       {"demo", cli_demo},
    {"plan", cli_plan},   {"run", cli_run},       {"profile", cli_profile},
    {"serve", cli_serve}, {"edge", cli_edge},     {"jalad-table", cli_jalad_table},
};

static int (*command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].fn;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            char *sub[] = {argv[2], "--help", NULL};
            int (*fn)(int, char **) = command(argv[2]);
            if (fn)
                return fn(2, sub);
            fprintf(stderr, "cleave: no command '%s'\n", argv[2]);
            return CLI_USAGE;
        }
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        puts("cleave " CLI_VERSION);
        return CLI_OK;
    }
    int (*fn)(int, char **) = command(cmd);
    if (fn)
        return fn(argc - 1, argv + 1);
    fprintf(stderr, "cleave: unknown command '%s'\n\n%s", cmd, usage);
    return CLI_USAGE;
}
