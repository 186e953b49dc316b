/* Placeholder until cleave run lands. */
#include <stdio.h>

#include "cli/cli.h"

int cli_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave run: not built yet\n");
    return CLI_FAIL;
}
