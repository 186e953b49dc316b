/*
 * clv_load_model: picks the reader by the file's extension.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/load.h"

/* The seed of the random weights of a darknet .cfg without .weights. */
#define CLV_LOAD_MODEL_SEED 1

static bool file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fclose(f);
    return true;
}

int clv_load_model(const char *path, clv_graph **out, clv_error *err)
{
    const char *base, *ext;

    if (out)
        *out = NULL;
    if (!path || !out)
        return clv_error_set(err, CLV_EINVAL, "clv_load_model: no path");
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    ext = strrchr(base, '.');
    if (!ext || ext == base)
        return clv_error_set(err, CLV_EUNSUPPORTED,
                             "%s: no file extension; cleave reads .onnx "
                             "(ONNX) and .cfg (darknet) models",
                             path);
    if (!strcmp(ext, ".onnx"))
        return clv_load_onnx(path, out, err);
    if (!strcmp(ext, ".cfg")) {
        size_t stem = (size_t)(ext - path);
        char *weights = malloc(stem + sizeof ".weights");
        int rc;
        if (!weights)
            return clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
        memcpy(weights, path, stem);
        memcpy(weights + stem, ".weights", sizeof ".weights");
        rc = clv_load_darknet(path, file_exists(weights) ? weights : NULL,
                              CLV_LOAD_MODEL_SEED, out, err);
        free(weights);
        return rc;
    }
    return clv_error_set(err, CLV_EUNSUPPORTED,
                         "%s: unknown model extension '%s'; cleave reads "
                         ".onnx (ONNX) and .cfg (darknet) models",
                         path, ext);
}
