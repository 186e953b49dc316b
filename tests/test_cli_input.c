/* Image and raw inputs of `cleave run` and `cleave edge` (src/cli/input.c):
 * a PNG written here (stored deflate blocks, no library) goes through the
 * documented preprocessing (docs/engine.md, "Image preprocessing"): at its
 * own size the model's output equals that of the raw file the test
 * computes by hand; at twice the size, that of the 2x2 averages (bilinear
 * with centres aligned). The edge reads images and raw files from a
 * directory and stops on a bad one, naming it. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "run_cli.h"

/* ---- a minimal PNG writer (8-bit grey) ----------------------------------- */

static uint32_t crc32_of(const unsigned char *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void chunk(FILE *f, const char *type, const unsigned char *data,
                  size_t n)
{
    unsigned char hdr[8];
    put32(hdr, (uint32_t)n);
    memcpy(hdr + 4, type, 4);
    fwrite(hdr, 1, 8, f);
    if (n)
        fwrite(data, 1, n, f);
    uint32_t crc = crc32_of(hdr + 4, 4, 0);
    crc = crc32_of(data, n, crc);
    unsigned char c[4];
    put32(c, crc);
    fwrite(c, 1, 4, f);
}

/* Writes a w x h 8-bit greyscale PNG of pix (row-major). */
static int write_png(const char *path, const unsigned char *pix, int w,
                     int h)
{
    size_t raw_n = (size_t)h * (size_t)(w + 1);
    unsigned char *raw = malloc(raw_n);
    size_t blocks = raw_n / 65535 + 1;
    unsigned char *z = malloc(2 + raw_n + 5 * blocks + 4);
    FILE *f = fopen(path, "wb");
    if (!raw || !z || !f) {
        free(raw);
        free(z);
        if (f)
            fclose(f);
        return -1;
    }
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (size_t)(w + 1)] = 0; /* filter: none */
        memcpy(raw + (size_t)y * (size_t)(w + 1) + 1, pix + (size_t)y * w,
               (size_t)w);
    }
    size_t zn = 0, off = 0;
    z[zn++] = 0x78;
    z[zn++] = 0x01;
    do {
        size_t len = raw_n - off > 65535 ? 65535 : raw_n - off;
        z[zn++] = off + len == raw_n; /* BFINAL, BTYPE 00 (stored) */
        z[zn++] = (unsigned char)len;
        z[zn++] = (unsigned char)(len >> 8);
        z[zn++] = (unsigned char)~len;
        z[zn++] = (unsigned char)(~len >> 8);
        memcpy(z + zn, raw + off, len);
        zn += len;
        off += len;
    } while (off < raw_n);
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw_n; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    put32(z + zn, (b << 16) | a);
    zn += 4;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G',
                                         '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13];
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 0;  /* greyscale */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    fwrite(sig, 1, 8, f);
    chunk(f, "IHDR", ihdr, sizeof ihdr);
    chunk(f, "IDAT", z, zn);
    chunk(f, "IEND", NULL, 0);
    int rc = fclose(f) ? -1 : 0;
    free(raw);
    free(z);
    return rc;
}

/* ---- helpers -------------------------------------------------------------- */

static int write_floats(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(v, sizeof *v, n, f);
    return (fclose(f) || w != n) ? -1 : 0;
}

/* Reads the n floats of `path` into v; 0 on success. */
static int read_floats(const char *path, float *v, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t r = fread(v, sizeof *v, n, f);
    int extra = fgetc(f);
    fclose(f);
    return r == n && extra == EOF ? 0 : -1;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

/* ImageNet-style luminance normalisation of a grey byte (docs/engine.md) */
static float norm_grey(double v255)
{
    float v = (float)v255 / 255.0f;
    return (v - 0.449f) / 0.226f;
}

/* `cleave run zoo:lenet --input IN --output OUT`; 0 on success. */
static int run_lenet(const char *in, const char *out)
{
    char args[2048], *text;
    snprintf(args, sizeof args, "run zoo:lenet --input '%s' --output '%s'",
             in, out);
    int rc = cleave(args, &text);
    if (rc)
        fprintf(stderr, "cleave %s: exit %d: %s\n", args, rc, text);
    free(text);
    return rc;
}

#define LENET_OUT 10

int main(void)
{
    char dir[1024], p[1200], q[1200], r[1200], args[4096];
    snprintf(dir, sizeof dir, "%s/cli-input", CLEAVE_BINARY_DIR);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/zz-short.f32", dir); /* from an earlier run */
    remove(p);
    enum { W = 28 };
    unsigned char pix[W * W], big[2 * W * 2 * W];
    float raw[W * W], half[W * W];
    uint32_t s = 12345;
    for (int i = 0; i < W * W; i++) {
        s = s * 1664525u + 1013904223u;
        pix[i] = (unsigned char)(s >> 24);
        raw[i] = norm_grey(pix[i]);
    }
    /* the 56x56 image whose bilinear 28x28 resize samples at 2y + 0.5:
     * the mean of each 2x2 block */
    for (int y = 0; y < 2 * W; y++)
        for (int x = 0; x < 2 * W; x++) {
            s = s * 1664525u + 1013904223u;
            big[y * 2 * W + x] = (unsigned char)(s >> 24);
        }
    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++) {
            double m = (big[(2 * y) * 2 * W + 2 * x] +
                        big[(2 * y) * 2 * W + 2 * x + 1] +
                        big[(2 * y + 1) * 2 * W + 2 * x] +
                        big[(2 * y + 1) * 2 * W + 2 * x + 1]) /
                       4.0;
            half[y * W + x] = norm_grey(m);
        }

    float o_img[LENET_OUT], o_raw[LENET_OUT];
    /* same size: exactly the raw file's output */
    snprintf(p, sizeof p, "%s/a.png", dir);
    snprintf(q, sizeof q, "%s/a.f32", dir);
    snprintf(r, sizeof r, "%s/out", dir);
    CHECK(write_png(p, pix, W, W) == 0);
    CHECK(write_floats(q, raw, W * W) == 0);
    CHECK(run_lenet(p, r) == 0 && read_floats(r, o_img, LENET_OUT) == 0);
    CHECK(run_lenet(q, r) == 0 && read_floats(r, o_raw, LENET_OUT) == 0);
    CHECKF(memcmp(o_img, o_raw, sizeof o_img) == 0,
           "image and raw outputs differ by %g",
           max_abs_diff(o_img, o_raw, LENET_OUT));

    /* twice the size: the 2x2 means (float rounding of the bilinear
     * weights aside) */
    snprintf(p, sizeof p, "%s/b.png", dir);
    snprintf(q, sizeof q, "%s/b.f32", dir);
    CHECK(write_png(p, big, 2 * W, 2 * W) == 0);
    CHECK(write_floats(q, half, W * W) == 0);
    CHECK(run_lenet(p, r) == 0 && read_floats(r, o_img, LENET_OUT) == 0);
    CHECK(run_lenet(q, r) == 0 && read_floats(r, o_raw, LENET_OUT) == 0);
    CHECKF(max_abs_diff(o_img, o_raw, LENET_OUT) < 1e-3,
           "resized image: outputs differ by %g",
           max_abs_diff(o_img, o_raw, LENET_OUT));

    /* a corrupt image and a raw file of the wrong size: clear errors */
    char *out;
    snprintf(p, sizeof p, "%s/c.png", dir);
    FILE *f = fopen(p, "wb");
    CHECK(f && fputs("\x89PNG not really", f) >= 0 && fclose(f) == 0);
    snprintf(args, sizeof args, "run zoo:lenet --input '%s'", p);
    CHECK(cleave(args, &out) != 0);
    CHECKF(strstr(out, "c.png: cannot decode the image"), "%s", out);
    free(out);
    remove(p);

    /* the edge: a directory with a PNG and a raw file, a server that is
     * not there (every frame runs on the edge) */
    snprintf(args, sizeof args,
             "edge --model zoo:lenet --server 127.0.0.1:1 --input '%s' "
             "--frames 4 --planner edge --json --quiet",
             dir);
    remove(r);
    int rc = cleave(args, &out);
    CHECKF(rc == 0 && strstr(out, "\"ok\":\t4"), "exit %d: %s", rc, out);
    free(out);
    snprintf(p, sizeof p, "%s/zz-short.f32", dir);
    CHECK(write_floats(p, raw, 5) == 0);
    rc = cleave(args, &out);
    CHECKF(rc == 2 && strstr(out, "zz-short.f32 has 20 bytes"), "exit %d: %s",
           rc, out);
    free(out);
    remove(p);
    return check_report("cli_input");
}
