/*
 * Resize, mode "nearest", any rank and element type. For each output
 * coordinate x of dim d (input extent `in`, scale s, resized extent
 * s * in as a real number), the input coordinate is
 *   half_pixel            (x + 0.5) / s - 0.5
 *   half_pixel_symmetric  c * (1 - floor(s * in) / (s * in)) + (x + 0.5) / s
 *                         - 0.5, with c = in / 2
 *   pytorch_half_pixel    (x + 0.5) / s - 0.5 if s * in > 1, else 0
 *   align_corners         x * (in - 1) / (s * in - 1) if s * in != 1, else 0
 *   asymmetric            x / s
 *   tf_half_pixel_for_nn  (x + 0.5) / s
 * then rounded by nearest_mode (an integer stays; round_prefer_floor takes
 * the floor at .5, round_prefer_ceil the ceiling, floor and ceil as named)
 * and clamped into [0, in - 1], as ONNX's reference does (in double).
 * The per-dim index tables are built at plan time; the kernel is a gather.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

typedef enum ctm {
    CTM_HALF_PIXEL,
    CTM_HALF_PIXEL_SYM,
    CTM_PYTORCH,
    CTM_ALIGN,
    CTM_ASYM,
    CTM_TF_NN
} ctm;

typedef enum nmode { NM_PREFER_FLOOR, NM_PREFER_CEIL, NM_FLOOR, NM_CEIL } nmode;

typedef struct resize_plan {
    int nd;
    int64_t odims[CLV_MAX_DIMS];
    int64_t *tab[CLV_MAX_DIMS]; /* per dim: input offset (elements) of each
                                   output coordinate */
    int64_t numel;
    size_t es;
} resize_plan;

static double source(ctm m, double x, double s, int64_t in)
{
    double len = s * (double)in;
    switch (m) {
    case CTM_HALF_PIXEL:
        return (x + 0.5) / s - 0.5;
    case CTM_HALF_PIXEL_SYM: {
        double adj = floor(len) / len, c = (double)in / 2.0;
        return c * (1.0 - adj) + (x + 0.5) / s - 0.5;
    }
    case CTM_PYTORCH:
        return len > 1.0 ? (x + 0.5) / s - 0.5 : 0.0;
    case CTM_ALIGN:
        return len == 1.0 ? 0.0 : x * (double)(in - 1) / (len - 1.0);
    case CTM_ASYM:
        return x / s;
    case CTM_TF_NN:
        return (x + 0.5) / s;
    }
    return 0.0;
}

static int64_t nearest(nmode m, double v)
{
    double f = floor(v), r = v - f;
    if (r == 0.0)
        return (int64_t)f;
    switch (m) {
    case NM_PREFER_FLOOR:
        return (int64_t)(r <= 0.5 ? f : f + 1.0);
    case NM_PREFER_CEIL:
        return (int64_t)(r < 0.5 ? f : f + 1.0);
    case NM_FLOOR:
        return (int64_t)f;
    case NM_CEIL:
        return (int64_t)f + 1;
    }
    return (int64_t)f;
}

typedef struct resize_ctx {
    const resize_plan *p;
    const char *X;
    char *Y;
} resize_ctx;

/* One output row (all of the last dim). */
static void task_resize(void *arg, int64_t row, int tid)
{
    const resize_ctx *c = arg;
    const resize_plan *p = c->p;
    int last = p->nd - 1;
    int64_t off = 0, rest = row, w = p->odims[last];
    const int64_t *tl = p->tab[last];
    char *y = c->Y + (size_t)(row * w) * p->es;
    (void)tid;
    for (int d = last - 1; d >= 0; d--) {
        off += p->tab[d][rest % p->odims[d]];
        rest /= p->odims[d];
    }
    if (p->es == 4) {
        const float *x = (const float *)(const void *)c->X + off;
        float *yf = (float *)(void *)y;
        for (int64_t i = 0; i < w; i++)
            yf[i] = x[tl[i]];
    } else {
        for (int64_t i = 0; i < w; i++)
            memcpy(y + (size_t)i * p->es, c->X + (size_t)(off + tl[i]) * p->es,
                   p->es);
    }
}

static int run_resize(const clv_engine__step *s, clv_engine__exec *x)
{
    const resize_plan *p = s->plan;
    resize_ctx c;
    int64_t rows = p->odims[p->nd - 1] > 0 ? p->numel / p->odims[p->nd - 1]
                                           : 0;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, rows, task_resize, &c);
    return 0;
}

int clv_engine__plan_resize(clv_engine__planner *pl, clv_engine__step *s)
{
    static const char *const ctm_names[] = {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
        "align_corners", "asymmetric", "tf_half_pixel_for_nn"};
    static const char *const nm_names[] = {"round_prefer_floor",
                                           "round_prefer_ceil", "floor",
                                           "ceil"};
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    const clv_tensor *Y = clv_engine__out_t(pl->g, s);
    const char *mode = clv_node_string(s->n, "mode", "nearest");
    const char *cs = clv_node_string(s->n, "coordinate_transformation_mode",
                                     "half_pixel");
    const char *ns = clv_node_string(s->n, "nearest_mode",
                                     "round_prefer_floor");
    size_t nsc;
    const float *scales = clv_node_floats(s->n, "scales", &nsc);
    resize_plan *p;
    int cm = -1, nm = -1;
    int64_t st[CLV_MAX_DIMS], str = 1;

    for (int i = 0; i < 6; i++)
        if (!strcmp(cs, ctm_names[i]))
            cm = i;
    for (int i = 0; i < 4; i++)
        if (!strcmp(ns, nm_names[i]))
            nm = i;
    if (strcmp(mode, "nearest") != 0 || cm < 0 || nm < 0)
        return clv_engine__node_error(
            pl, s, CLV_EUNSUPPORTED,
            "Resize mode '%s', coordinate_transformation_mode '%s', "
            "nearest_mode '%s' is not supported",
            mode, cs, ns);
    if (!scales || (int)nsc != X->ndim || X->ndim < 1)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Resize lacks canonical scales");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->nd = X->ndim;
    for (int d = X->ndim - 1; d >= 0; d--) {
        st[d] = str;
        str *= X->dims[d];
    }
    for (int d = 0; d < X->ndim; d++) {
        int64_t in = X->dims[d];
        p->odims[d] = Y->dims[d];
        p->tab[d] = clv_engine__keep(
            pl, (size_t)(Y->dims[d] > 0 ? Y->dims[d] : 1) * sizeof(int64_t));
        if (!p->tab[d])
            return CLV_ENOMEM;
        for (int64_t o = 0; o < Y->dims[d]; o++) {
            int64_t i = nearest((nmode)nm, source((ctm)cm, (double)o,
                                                  (double)scales[d], in));
            if (i < 0)
                i = 0;
            if (i > in - 1)
                i = in - 1;
            p->tab[d][o] = i * st[d];
        }
    }
    p->numel = clv_tensor_numel(Y);
    p->es = clv_dtype_size(Y->dtype);
    if (p->numel > 0 && clv_tensor_numel(X) == 0)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Resize of an empty tensor");
    s->plan = p;
    s->run = run_resize;
    return 0;
}
