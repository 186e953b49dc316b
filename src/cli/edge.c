/* Placeholder until cleave edge lands. */
#include <stdio.h>

#include "cli/cli.h"

int cli_edge(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave edge: not built yet\n");
    return CLI_FAIL;
}
