/*
 * The convolution's plan and task contexts (op_conv.c), shared with the
 * architecture-specific kernels (x86/conv_avx2.c; generic/none.c stands in
 * elsewhere). Private to the engine.
 */
#ifndef CLEAVE_ENGINE_OP_CONV_H
#define CLEAVE_ENGINE_OP_CONV_H

#include "engine/internal.h"

#define NR CLV_GEMM_NR
#define MR CLV_GEMM_MR

typedef enum conv_kind {
    CONV_GEMM,
    CONV_1X1,
    CONV_DW,
    CONV_WIDE,
    CONV_PACK,
    CONV_TRANS
} conv_kind;

/* The engine's products: K blocks of at most KC_MAX rows (the weights'
 * panel of a tile stays in L1), WIDE/PACK output rows in chunks of
 * MC_ROWS (their weights stay in L2). */
#define KC_MAX 256
#define MC_ROWS 96
/* TRANS on a 1x1, unit-stride, unpadded convolution interleaves its input
 * from this many output channels per group up; below, it reads the input
 * in place (measured on GoogLeNet's shapes: with 16 to 48 channels the
 * in-place product takes 0.52-0.92 of the time, at 64 about the same, from
 * 96 up 1.04-1.26 times as long) */
#define IL8_MIN_1X1 64
typedef enum conv_tiling { TILE_COLS, TILE_ROWS } conv_tiling;

/* A convolution of a joined product (clv_engine__conv_joinable): output
 * channels [m0, m1) of the product are channels [0, m1 - m0) of step st's
 * output, with st's epilogue. */
typedef struct conv_member {
    int64_t m0, m1;
    const clv_engine__step *st;
} conv_member;

typedef struct conv_plan {
    conv_kind kind;
    conv_tiling tiling;
    int64_t N, C, M, G, Cg, Mg;
    int64_t K; /* Cg * prod(kernel): rows of the column matrix */
    int64_t P; /* prod(output spatial): columns */
    int64_t S; /* prod(input spatial) */
    int64_t in[3], o[3], k[3], st[3], dl[3], pd[3]; /* depth, height, width */
    int64_t cw, ncb; /* TILE_COLS: piece width and count */
    int64_t mr, nmr; /* TILE_ROWS: channels per piece and count */
    int64_t kr, nkr; /* TILE_ROWS: im2col rows per piece and count */
    int64_t pe[3];   /* end pads */
    /* WIDE and PACK: pieces of cw columns (ncb of them) and of mcw rows
     * (nmc); K blocks of kc; packed weights, group g at A + g * Mp * K */
    int64_t kc, Mp, mcw, nmc;
    const float *A;
    bool unit1; /* PACK: 1x1, stride 1, unpadded */
    /* WIDE, TRANS, DW (AVX2): padded input Hp x Wp, phase planes Hq x Wq
     * (PL floats each, sh * sw per channel), wide columns Pw = OH * Wq,
     * floats of the split copy XF (slack included), row offsets per k
     * (DW: per tap) */
    int64_t Hp, Wp, Hq, Wq, PL, Pw, XF;
    const int32_t *off;
    bool direct; /* Wq == OW: wide columns are the output's */
    /* TRANS: weights transposed in panels of NR channels (group g at Wt +
     * g * Mq * K), each pixel's offset in the split copy; pieces of cp
     * pixels (ncp) and of chq channel panels (ncq) */
    const float *Wt;
    const int32_t *pix;
    int64_t Mq, cp, ncp, chq, ncq;
    bool nosplit; /* TRANS, stride 1, unpadded, not il8: read the input
                     in place */
    bool dw8;     /* DW (AVX2): 8 channels interleaved, up to 25 taps */
    bool il8;     /* TRANS: the split copy interleaves 8 channels, K runs
                     (channel block, ky, kx, channel in block) */
    /* TRANS of joined convolutions (the step's own first): n_mem > 0 */
    const conv_member *mem;
    int n_mem;
} conv_plan;

typedef struct conv_ctx {
    const clv_engine__step *s;
    const clv_engine__exec *x;
    const conv_plan *p;
    const float *X, *W, *bias;
    float *Y;
    float *col; /* TILE_ROWS: the shared column matrix */
} conv_ctx;

typedef struct gconv_ctx {
    const clv_engine__step *s;
    const clv_engine__exec *x;
    const conv_plan *p;
    const float *X, *bias;
    float *Y;
    float *xq;     /* WIDE: the split copy of one image; PACK: shared B */
    int64_t n, g;  /* the image (WIDE, shared PACK), the group */
    int64_t j0, w; /* shared PACK: the piece's columns */
} gconv_ctx;

/* Smallest q with q * s >= a, for s > 0 and any a. */
static inline int64_t ceil_div(int64_t a, int64_t s)
{
    return a >= 0 ? (a + s - 1) / s : -((-a) / s);
}


/* The range [lo, hi) of output positions o in [0, n) whose input
 * position o * s + off lies in [0, in). */
static inline void valid_range(int64_t n, int64_t s, int64_t off, int64_t in,
                        int64_t *lo, int64_t *hi)
{
    int64_t l = ceil_div(-off, s), h = ceil_div(in - off, s);
    if (l < 0)
        l = 0;
    if (h > n)
        h = n;
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}


/* ---- kernels of one architecture (x86/conv_avx2.c), for plans made with
 * pl->simd; the portable build has stand-ins that are never called ---- */

/* TRANS, phase 1, 8 interleaved channels: the split copy of channels 8t
 * to 8t + 7 of image c->n (a gconv_ctx). */
void clv_engine__conv_split8_task(void *arg, int64_t t, int tid);
/* Depthwise on the split plane of channel t (a conv_ctx, p->off set). */
void clv_engine__conv_dw_task(void *arg, int64_t t, int tid);
/* Depthwise, 8 channels interleaved (p->dw8). */
void clv_engine__conv_dw8_task(void *arg, int64_t t, int tid);

#endif
