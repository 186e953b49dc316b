/* Placeholder until cleave profile lands. */
#include <stdio.h>

#include "cli/cli.h"

int cli_profile(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave profile: not built yet\n");
    return CLI_FAIL;
}
