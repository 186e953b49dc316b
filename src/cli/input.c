/* Model inputs from files, for `cleave run` and `cleave edge`: raw
 * little-endian tensors, and JPEG/PNG images resized and normalised as
 * docs/engine.md says. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

/* Largest input file read (bytes). */
#define CLI_INPUT_MAX_FILE ((uint64_t)1 << 32)

/* JPEG and PNG through Debian's stb_image (libstb-dev), compiled in here,
 * header-only. */
#if defined(__has_include)
#if __has_include(<stb/stb_image.h>)
#define CLI_HAVE_STB 1
#endif
#endif
#ifdef CLI_HAVE_STB
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif


static bool host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

bool cli_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (m > n)
        return false;
    for (size_t i = 0; i < m; i++) {
        char a = s[n - m + i], b = suffix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

bool cli_is_image_name(const char *path)
{
    return cli_ends_with(path, ".jpg") || cli_ends_with(path, ".jpeg") ||
           cli_ends_with(path, ".png");
}

/* Bilinear sample of channel c of an 8-bit interleaved image at (y, x) in
 * source pixel coordinates (centres at integers), clamped at the edges. */
static float sample(const unsigned char *img, int w, int h, int comp, int c,
                    double y, double x)
{
    int y0, x0, y1, x1;
    double fy, fx, v00, v01, v10, v11;
    if (y < 0)
        y = 0;
    if (x < 0)
        x = 0;
    if (y > h - 1)
        y = h - 1;
    if (x > w - 1)
        x = w - 1;
    y0 = (int)floor(y);
    x0 = (int)floor(x);
    y1 = y0 + 1 < h ? y0 + 1 : y0;
    x1 = x0 + 1 < w ? x0 + 1 : x0;
    fy = y - y0;
    fx = x - x0;
    v00 = img[((size_t)y0 * (size_t)w + (size_t)x0) * (size_t)comp + (size_t)c];
    v01 = img[((size_t)y0 * (size_t)w + (size_t)x1) * (size_t)comp + (size_t)c];
    v10 = img[((size_t)y1 * (size_t)w + (size_t)x0) * (size_t)comp + (size_t)c];
    v11 = img[((size_t)y1 * (size_t)w + (size_t)x1) * (size_t)comp + (size_t)c];
    return (float)((v00 * (1 - fx) + v01 * fx) * (1 - fy) +
                   (v10 * (1 - fx) + v11 * fx) * fy);
}

/* Decodes an image and fills the NCHW input t (N = 1, C = 1 or 3) as
 * docs/engine.md says: RGB (or luminance), bilinear resize with pixel
 * centres aligned, values / 255, then for ImageNet-style models (ONNX and
 * zoo) (v - mean) / std per channel. */
static int load_image(const char *path, const char *buf, size_t len,
                      const clv_tensor *t, bool imagenet, float *out,
                      clv_error *err)
{
#ifdef CLI_HAVE_STB
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    int w, h, comp, c, H, W;
    unsigned char *img;
    if (t->ndim != 4 || t->dims[0] != 1 ||
        (t->dims[1] != 1 && t->dims[1] != 3) || t->dtype != CLV_DT_FLOAT) {
        char s[96];
        clv_tensor_shape_str(t, s, sizeof s);
        return clv_error_set(err, CLV_EINVAL,
                             "%s: an image can feed a float32 1xCxHxW input "
                             "with C = 1 or 3, not input '%s' (%s %s)",
                             path, t->name, clv_dtype_name(t->dtype), s);
    }
    if (len > (size_t)0x7fffffff) {
        return clv_error_set(err, CLV_ELIMIT, "%s: image file too large",
                             path);
    }
    c = (int)t->dims[1];
    H = (int)t->dims[2];
    W = (int)t->dims[3];
    img = stbi_load_from_memory((const unsigned char *)buf, (int)len, &w, &h,
                                &comp, c);
    if (!img) {
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: cannot decode the image (%s)", path,
                             stbi_failure_reason());
    }
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double sy = ((double)y + 0.5) * h / H - 0.5;
                double sx = ((double)x + 0.5) * w / W - 0.5;
                float v = sample(img, w, h, c, ch, sy, sx) / 255.0f;
                if (imagenet)
                    v = c == 3 ? (v - mean[ch]) / stdv[ch]
                               : (v - 0.449f) / 0.226f;
                out[((size_t)ch * (size_t)H + (size_t)y) * (size_t)W +
                    (size_t)x] = v;
            }
    stbi_image_free(img);
    return 0;
#else
    (void)buf;
    (void)len;
    (void)t;
    (void)imagenet;
    (void)out;
    return clv_error_set(err, CLV_EUNSUPPORTED,
                         "%s: this cleave was built without image support "
                         "(install libstb-dev and rebuild), give a raw "
                         "float32 file",
                         path);
#endif
}

int cli_input_load(const char *path, const clv_tensor *t, bool imagenet,
                   void *buf, clv_error *err)
{
    char *data = NULL;
    size_t len = 0;
    uint64_t want = clv_tensor_bytes(t);
    int rc = clv_util_read_file(path, CLI_INPUT_MAX_FILE, &data, &len, err);
    if (rc)
        return rc;
    if (cli_is_image_name(path)) {
        rc = load_image(path, data, len, t, imagenet, buf, err);
        free(data);
        return rc;
    }
    if (len != want) {
        char s[96];
        clv_tensor_shape_str(t, s, sizeof s);
        rc = clv_error_set(err, CLV_EINVAL,
                           "%s has %zu bytes, but input '%s' (%s %s) takes "
                           "exactly %llu bytes of raw %s, or give a .jpg, "
                           ".jpeg or .png image",
                           path, len, t->name, clv_dtype_name(t->dtype), s,
                           (unsigned long long)want,
                           clv_dtype_name(t->dtype));
        free(data);
        return rc;
    }
    memcpy(buf, data, len);
    if (!host_little_endian() && clv_dtype_size(t->dtype) > 1) {
        size_t es = clv_dtype_size(t->dtype);
        unsigned char *b = buf;
        for (size_t i = 0; i < len; i += es)
            for (size_t k = 0; k < es / 2; k++) {
                unsigned char tmp = b[i + k];
                b[i + k] = b[i + es - 1 - k];
                b[i + es - 1 - k] = tmp;
            }
    }
    free(data);
    return 0;
}
