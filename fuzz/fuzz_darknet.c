/*
 * libFuzzer harness for the darknet reader. The input is .cfg text, then
 * optionally a NUL byte and a .weights image:
 *     <cfg text> [ '\0' <weights bytes> ]
 * Without a NUL the weights are seeded random. The weights budget is kept
 * small (4 Mi values) so that hostile cfgs are refused with CLV_ELIMIT
 * before they can allocate much.
 *
 * Invariants checked beyond "no crash, no leak": a success returns a
 * finalized graph and a failure returns none, with a message that names
 * the input ("fuzz.cfg..." or "fuzz.weights...").
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cleave/graph.h"
#include "load/darknet_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t cfg_len = nul ? (size_t)(nul - data) : size;
    const void *weights = nul ? (const void *)(nul + 1) : NULL;
    size_t weights_len = nul ? size - cfg_len - 1 : 0;
    clv_graph *g = NULL;
    clv_error err;

    clv_error_clear(&err);
    int rc = clv_load__darknet((const char *)data, cfg_len, "fuzz.cfg",
                               weights, weights_len, "fuzz.weights", 1,
                               (uint64_t)1 << 22, &g, &err);
    if (rc == 0 && (!g || !clv_graph_is_finalized(g)))
        __builtin_trap();
    if (rc != 0 && (g || err.code != rc || strncmp(err.msg, "fuzz.", 5)))
        __builtin_trap();
    clv_graph_free(g);
    return 0;
}
