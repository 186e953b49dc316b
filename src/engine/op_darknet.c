/*
 * Darknet's layers that ONNX lacks, computed as darknet's CPU code does
 * (pjreddie/darknet, the version Debian packages):
 *
 * Reorg (stride s), reorg_cpu(input, w, h, c, batch, s, forward = 0, out)
 * as forward_reorg_layer calls it, with w, h, c the input's extents: for
 * every input position (b, k, j, i), with oc = c / s^2, c2 = k % oc,
 * o = k / oc, w2 = i*s + o % s, h2 = j*s + o / s,
 *   out[i + w*(j + h*(k + c*b))] = in[w2 + w*s*(h2 + h*s*(c2 + oc*b))]
 * and the result is read as [batch, c*s^2, h/s, w/s].
 *
 * Region (forward_region_layer at inference): per image and anchor, the
 * channels hold x, y, w, h (and any further coords), objectness, classes.
 * x and y go through the logistic, objectness too (unless background=1),
 * and the classes through a softmax along the class channels at each cell
 * (softmax=1, darknet's softmax_cpu: exp(x - max) then divided by the sum)
 * or the logistic (softmax=0). The logistic is darknet's 1/(1 + exp(-x))
 * evaluated in double.
 *
 * Yolo (forward_yolo_layer at inference): per image and masked anchor,
 * x, y, objectness and the classes go through the logistic; w, h stay.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "engine/internal.h"

static inline float dk_logistic(float x)
{
    return (float)(1.0 / (1.0 + exp(-(double)x)));
}

/* darknet's softmax(): n values `stride` apart. */
static void dk_softmax(const float *x, int64_t n, int64_t stride, float *y)
{
    float sum = 0.0f, largest = -FLT_MAX;
    for (int64_t i = 0; i < n; i++)
        if (x[i * stride] > largest)
            largest = x[i * stride];
    for (int64_t i = 0; i < n; i++) {
        float e = (float)exp((double)(x[i * stride] - largest));
        sum += e;
        y[i * stride] = e;
    }
    for (int64_t i = 0; i < n; i++)
        y[i * stride] /= sum;
}

/* ---- Reorg --------------------------------------------------------------- */

typedef struct reorg_plan {
    int64_t N, C, H, W, s;
} reorg_plan;

typedef struct reorg_ctx {
    const reorg_plan *p;
    const float *X;
    float *Y;
} reorg_ctx;

static void task_reorg(void *arg, int64_t t, int tid)
{
    const reorg_ctx *c = arg;
    const reorg_plan *p = c->p;
    int64_t b = t / p->C, k = t % p->C, s = p->s;
    int64_t oc = p->C / (s * s), c2 = k % oc, o = k / oc;
    float *y = c->Y + ((b * p->C + k) * p->H) * p->W;
    (void)tid;
    for (int64_t j = 0; j < p->H; j++) {
        int64_t h2 = j * s + o / s;
        const float *src =
            c->X + p->W * s * (h2 + p->H * s * (c2 + oc * b)) + o % s;
        for (int64_t i = 0; i < p->W; i++)
            y[j * p->W + i] = src[i * s];
    }
}

static int run_reorg(const clv_engine__step *s, clv_engine__exec *x)
{
    const reorg_plan *p = s->plan;
    reorg_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->N * p->C, task_reorg, &c);
    return 0;
}

int clv_engine__plan_reorg(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    reorg_plan *p;
    int64_t st = clv_node_int(s->n, "stride", 1);
    if (X->dtype != CLV_DT_FLOAT || X->ndim != 4)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Reorg runs on float32 NCHW only");
    if (st < 1 || X->dims[1] % (st * st) != 0)
        return clv_engine__node_error(
            pl, s, CLV_EUNSUPPORTED,
            "Reorg stride=%lld needs channels (%lld) divisible by %lld",
            (long long)st, (long long)X->dims[1], (long long)(st * st));
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->N = X->dims[0];
    p->C = X->dims[1];
    p->H = X->dims[2];
    p->W = X->dims[3];
    p->s = st;
    s->plan = p;
    s->run = run_reorg;
    return 0;
}

/* ---- Region and Yolo ----------------------------------------------------- */

typedef struct head_plan {
    bool yolo;
    int64_t N, anchors, coords, classes, HW;
    bool background, softmax;
} head_plan;

typedef struct head_ctx {
    const head_plan *p;
    const float *X;
    float *Y;
} head_ctx;

static void logistic_range(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = dk_logistic(x[i]);
}

/* One (image, anchor) block of channels. */
static void task_head(void *arg, int64_t t, int tid)
{
    const head_ctx *c = arg;
    const head_plan *p = c->p;
    int64_t per = p->coords + 1 + p->classes, hw = p->HW;
    const float *x = c->X + t * per * hw;
    float *y = c->Y + t * per * hw;
    (void)tid;
    memcpy(y, x, (size_t)(per * hw) * sizeof *y);
    logistic_range(x, y, 2 * hw);
    if (p->yolo) {
        logistic_range(x + 4 * hw, y + 4 * hw, (1 + p->classes) * hw);
        return;
    }
    if (!p->background)
        logistic_range(x + p->coords * hw, y + p->coords * hw, hw);
    if (p->softmax) {
        int64_t first = p->coords + (p->background ? 0 : 1);
        int64_t n = p->classes + (p->background ? 1 : 0);
        for (int64_t i = 0; i < hw; i++)
            dk_softmax(x + first * hw + i, n, hw, y + first * hw + i);
    } else {
        logistic_range(x + (p->coords + 1) * hw, y + (p->coords + 1) * hw,
                       p->classes * hw);
    }
}

static int run_head(const clv_engine__step *s, clv_engine__exec *x)
{
    const head_plan *p = s->plan;
    head_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->N * p->anchors, task_head, &c);
    return 0;
}

static int plan_head(clv_engine__planner *pl, clv_engine__step *s,
                     bool yolo)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    head_plan *p;
    int64_t per;
    if (X->dtype != CLV_DT_FLOAT || X->ndim != 4)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "%s runs on float32 NCHW only",
                                      clv_op_name(s->n->op));
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->yolo = yolo;
    p->N = X->dims[0];
    p->HW = X->dims[2] * X->dims[3];
    p->classes = clv_node_int(s->n, "classes", 20);
    if (yolo) {
        size_t nm = 0;
        clv_node_ints(s->n, "mask", &nm);
        p->coords = 4;
        p->anchors = nm > 0 ? (int64_t)nm : clv_node_int(s->n, "num", 1);
    } else {
        p->coords = clv_node_int(s->n, "coords", 4);
        p->anchors = clv_node_int(s->n, "num", 1);
        p->background = clv_node_int(s->n, "background", 0) != 0;
        p->softmax = clv_node_int(s->n, "softmax", 1) != 0;
    }
    per = p->coords + 1 + p->classes;
    if (p->coords < 2 || p->anchors * per != X->dims[1])
        return clv_engine__node_error(
            pl, s, CLV_EUNSUPPORTED,
            "%s with %lld anchors of %lld channels does not fit %lld "
            "input channels",
            clv_op_name(s->n->op), (long long)p->anchors, (long long)per,
            (long long)X->dims[1]);
    s->plan = p;
    s->run = run_head;
    return 0;
}

int clv_engine__plan_region(clv_engine__planner *pl, clv_engine__step *s)
{
    return plan_head(pl, s, false);
}

int clv_engine__plan_yolo(clv_engine__planner *pl, clv_engine__step *s)
{
    return plan_head(pl, s, true);
}
