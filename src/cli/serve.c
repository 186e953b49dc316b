/* Placeholder until cleave serve lands. */
#include <stdio.h>

#include "cli/cli.h"

int cli_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave serve: not built yet\n");
    return CLI_FAIL;
}
