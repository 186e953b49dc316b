/*
 * libFuzzer harness of the ONNX reader: any bytes must give a graph or an
 * error with a message, never a crash, a leak or undefined behaviour.
 * Seeds: fuzz/corpus/onnx (small valid models written by
 * scripts/gen_onnx_cases.py --corpus).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cleave/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clv_graph *g = NULL;
    clv_error err;

    clv_error_clear(&err);
    int rc = clv_load_onnx_mem(data, size, "fuzz", NULL, &g, &err);
    if (rc != 0) {
        /* Every failure names the model and says something. */
        if (g != NULL || strncmp(err.msg, "fuzz: ", 6) != 0 ||
            err.code != rc)
            __builtin_trap();
    } else if (g == NULL || !clv_graph_is_finalized(g)) {
        __builtin_trap();
    }
    clv_graph_free(g);
    return 0;
}
