/* Labelled data sets in IDX files (MNIST's format, also Fashion-MNIST's):
 * a 4-byte magic (0, 0, type, rank), rank big-endian u32 dimensions, then
 * the values. Only unsigned bytes (type 0x08) are read: images of rank 3
 * (count, rows, cols) and labels of rank 1. Files may be gzip-compressed
 * (zlib reads plain files unchanged). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cleave/load.h"
#include "util/util.h"

#define IDX_MAX_BYTES ((uint64_t)1 << 32)

/* Reads an IDX file of unsigned bytes and rank `rank`: dims into dims[],
 * the values into a malloc'd *data. */
static int read_idx(const char *path, int rank, uint32_t *dims, uint8_t **data,
                    clv_error *err)
{
    *data = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return clv_error_set(err, CLV_EIO, "%s: %s", path,
                             errno ? strerror(errno) : "cannot open");
    int rc = 0;
    uint8_t head[4], d[4 * 4];
    if (gzread(f, head, 4) != 4) {
        rc = clv_error_set(err, CLV_EFORMAT, "%s: shorter than an IDX header", path);
        goto done;
    }
    if (head[0] || head[1] || head[2] != 0x08) {
        rc = clv_error_set(err, CLV_EFORMAT,
                           "%s: not an IDX file of unsigned bytes (magic %02x "
                           "%02x %02x)",
                           path, head[0], head[1], head[2]);
        goto done;
    }
    if (head[3] != rank) {
        rc = clv_error_set(err, CLV_EFORMAT, "%s: rank %u, expected %d (%s)", path,
                           head[3], rank, rank == 3 ? "images" : "labels");
        goto done;
    }
    if (gzread(f, d, (unsigned)(4 * rank)) != 4 * rank) {
        rc = clv_error_set(err, CLV_EFORMAT, "%s: truncated in the dimensions", path);
        goto done;
    }
    uint64_t total = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = (uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 |
                  (uint32_t)d[4 * i + 2] << 8 | d[4 * i + 3];
        if (clv_util_mul_checked(total, dims[i], IDX_MAX_BYTES, &total)) {
            rc = clv_error_set(err, CLV_ELIMIT, "%s: more than 2^32 values", path);
            goto done;
        }
    }
    *data = malloc(total ? (size_t)total : 1);
    if (!*data) {
        rc = clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    uint64_t got = 0;
    while (got < total) {
        uint64_t want = total - got > (1u << 30) ? (1u << 30) : total - got;
        int k = gzread(f, *data + got, (unsigned)want);
        if (k <= 0)
            break;
        got += (uint64_t)k;
    }
    if (got != total) {
        int zerr;
        const char *zmsg = gzerror(f, &zerr);
        rc = clv_error_set(err, CLV_EFORMAT,
                           "%s: truncated: %llu of %llu values%s%s", path,
                           (unsigned long long)got, (unsigned long long)total,
                           zerr < 0 ? ": " : "", zerr < 0 ? zmsg : "");
        goto done;
    }
    uint8_t extra;
    if (gzread(f, &extra, 1) != 0)
        rc = clv_error_set(err, CLV_EFORMAT, "%s: bytes after the values", path);
done:
    gzclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* In directory `dir`, the file `base` or `base`.gz; NULL when neither. */
static char *find_in(const char *dir, const char *base)
{
    size_t n = strlen(dir) + strlen(base) + 8;
    char *p = malloc(n);
    if (!p)
        return NULL;
    snprintf(p, n, "%s/%s.gz", dir, base);
    if (exists(p))
        return p;
    snprintf(p, n, "%s/%s", dir, base);
    if (exists(p))
        return p;
    free(p);
    return NULL;
}

int clv_dataset_load(const char *path, const char *labels, clv_dataset **out,
                     clv_error *err)
{
    *out = NULL;
    char *images = NULL, *lab = NULL;
    int rc = 0;
    clv_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if (!strcmp(path, "fashion-mnist"))
        path = CLV_DATASET_FASHION_MNIST;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        images = find_in(path, "t10k-images-idx3-ubyte");
        if (!images) {
            rc = clv_error_set(err, CLV_EIO,
                               "%s: no t10k-images-idx3-ubyte[.gz] in this "
                               "directory%s",
                               path,
                               !strcmp(path, CLV_DATASET_FASHION_MNIST)
                                   ? " (Debian: apt-get install "
                                     "dataset-fashion-mnist)"
                                   : "");
            goto fail;
        }
        if (!labels)
            lab = find_in(path, "t10k-labels-idx1-ubyte");
    } else {
        images = clv_util_strdup(path);
        if (!labels && images) {
            char *at = strstr(images, "images-idx3");
            if (at) {
                lab = clv_util_strdup(images);
                if (lab)
                    memcpy(lab + (at - images), "labels-idx1", 11);
                if (lab && !exists(lab)) {
                    free(lab);
                    lab = NULL;
                }
            }
        }
    }
    if (labels)
        lab = clv_util_strdup(labels);
    if (!images || (labels && !lab)) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    uint32_t dims[3], ldim[1];
    if ((rc = read_idx(images, 3, dims, &d->pixels, err)))
        goto fail;
    d->count = dims[0];
    d->channels = 1;
    d->rows = dims[1];
    d->cols = dims[2];
    if (lab) {
        if ((rc = read_idx(lab, 1, ldim, &d->labels, err)))
            goto fail;
        if (ldim[0] != dims[0]) {
            rc = clv_error_set(err, CLV_EFORMAT,
                               "%s: %u labels for the %u images of %s", lab,
                               ldim[0], dims[0], images);
            goto fail;
        }
    }
    d->name = images;
    free(lab);
    *out = d;
    return 0;
fail:
    free(images);
    free(lab);
    clv_dataset_free(d);
    return rc;
}

void clv_dataset_free(clv_dataset *d)
{
    if (!d)
        return;
    free(d->pixels);
    free(d->labels);
    free(d->name);
    free(d);
}

void clv_dataset_image(const clv_dataset *d, int64_t i, float *out)
{
    size_t n = (size_t)(d->channels * d->rows * d->cols);
    const uint8_t *p = d->pixels + (size_t)i * n;
    for (size_t k = 0; k < n; k++)
        out[k] = (float)p[k] / 255.0f;
}
