/* Placeholder until cleave plan lands. */
#include <stdio.h>

#include "cli/cli.h"

int cli_plan(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave plan: not built yet\n");
    return CLI_FAIL;
}
