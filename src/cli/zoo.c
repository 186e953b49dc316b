/* cleave zoo: list the built-in networks or write one as ONNX. */
#include <stdio.h>
#include <string.h>

#include "cleave/load.h"
#include "cli/cli.h"

static const char zoo_usage[] =
    "usage: cleave zoo                      list the networks\n"
    "       cleave zoo NAME -o FILE.onnx [--seed N] [--size HW]\n"
    "\n"
    "Writes network NAME as an ONNX model with seeded random weights (the\n"
    "same seed gives the same weights). The networks are those of the DNN\n"
    "Surgery paper (nin, tiny-yolov2, vgg16, alexnet, resnet18) and\n"
    "mobilenet-v2, googlenet, resnet50 and lenet; docs/zoo.md describes them.\n"
    "\n"
    "  -o FILE     where to write the model (required)\n"
    "  --seed N    weight seed (default 1)\n"
    "  --size HW   input height and width (default: the network's own,\n"
    "              224; 416 for tiny-yolov2; 28 for lenet)\n";

int cli_zoo(int argc, char **argv)
{
    const char *name = NULL, *out = NULL;
    uint64_t seed = 1, size = 0;

    const cli_opt opts[] = {
        {"output", 'o', CLI_STR, &out, NULL},
        {"seed", 0, CLI_U64, &seed, NULL},
        {"size", 0, CLI_U64, &size, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int prc = cli_parse("zoo", CLI_TEXT(zoo_usage), opts, argc, argv, "NAME", &name, 1,
                        NULL);
    if (prc >= 0)
        return prc;
    if (!name) {
        printf("%-14s %s\n", "name", "network");
        for (int i = 0; i < clv_zoo_count(); i++)
            printf("%-14s %s\n", clv_zoo_name(i), clv_zoo_describe(i));
        printf("\nwrite one: cleave zoo NAME -o NAME.onnx\n");
        return CLI_OK;
    }
    if (!out) {
        fprintf(stderr, "cleave zoo: say where to write %s: -o FILE.onnx\n",
                name);
        return CLI_USAGE;
    }
    clv_graph *g = NULL;
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_zoo_build(name, seed, (int64_t)size, &g, &err);
    if (!rc)
        rc = clv_save_onnx(g, out, &err);
    if (rc) {
        fprintf(stderr, "cleave zoo: %s\n", clv_error_text(&err, rc));
        clv_graph_free(g);
        return CLI_FAIL;
    }
    printf("wrote %s: %s, %d nodes, %.3f G multiply-adds, seed %llu\n", out,
           name, clv_graph_n_nodes(g),
           (double)clv_graph_total_flops(g) / 2e9, (unsigned long long)seed);
    clv_graph_free(g);
    return CLI_OK;
}
