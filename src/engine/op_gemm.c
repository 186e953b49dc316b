/*
 * Gemm (Y = alpha * op(A) op(B) + beta * C, C broadcast to Y) and MatMul
 * (numpy semantics: 1-D operands, broadcast batch dims), float32, through
 * OpenBLAS: sgemv when A has one row, sgemm otherwise.
 *
 * The product is cut into pieces of rows and columns that depend on the
 * shapes only; each piece is one BLAS call with OpenBLAS single-threaded,
 * so values do not depend on the thread count. Gemm applies beta * C and a
 * fused activation to each piece right after its product.
 */
#include <limits.h>

#include <cblas.h>

#include "engine/internal.h"

/* One matrix product Y[M,N] = alpha * op(A) op(B), cut into pieces. */
typedef struct mm {
    int64_t M, N, K;
    bool ta, tb;
    float alpha;
    int64_t mr, nmr; /* rows per piece, row pieces */
    int64_t nc, nnc; /* columns per piece, column pieces */
} mm;

static void mm_tiles(mm *m)
{
    if (m->M == 1) {
        m->nnc = clv_engine__pieces(m->N, 256, 8, &m->nc);
        m->nmr = 1;
        m->mr = 1;
        return;
    }
    m->nnc = clv_engine__pieces(m->N, 128, 8, &m->nc);
    m->nmr = clv_engine__pieces(m->M, 128, 8 / m->nnc > 1 ? 8 / m->nnc : 1,
                                &m->mr);
}

/* Piece t of the product; returns the piece's rows and columns. */
static void mm_piece(const mm *m, const float *A, const float *B, float *Y,
                     int64_t t, int64_t *m0, int64_t *rows, int64_t *n0,
                     int64_t *cols)
{
    int64_t rp = t / m->nnc, cp = t % m->nnc;
    *m0 = rp * m->mr;
    *n0 = cp * m->nc;
    *rows = m->M - *m0 < m->mr ? m->M - *m0 : m->mr;
    *cols = m->N - *n0 < m->nc ? m->N - *n0 : m->nc;
    if (*rows <= 0 || *cols <= 0)
        return;
    if (m->K == 0) {
        for (int64_t i = 0; i < *rows; i++)
            for (int64_t j = 0; j < *cols; j++)
                Y[(*m0 + i) * m->N + *n0 + j] = 0.0f;
        return;
    }
    if (m->M == 1) {
        /* A is one row of K values, contiguous whether transposed or not */
        if (m->tb)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)*cols,
                        (blasint)m->K, m->alpha, B + *n0 * m->K,
                        (blasint)m->K, A, 1, 0.0f, Y + *n0, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)m->K,
                        (blasint)*cols, m->alpha, B + *n0, (blasint)m->N, A,
                        1, 0.0f, Y + *n0, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, m->ta ? CblasTrans : CblasNoTrans,
                m->tb ? CblasTrans : CblasNoTrans, (blasint)*rows,
                (blasint)*cols, (blasint)m->K, m->alpha,
                m->ta ? A + *m0 : A + *m0 * m->K,
                (blasint)(m->ta ? m->M : m->K),
                m->tb ? B + *n0 * m->K : B + *n0,
                (blasint)(m->tb ? m->K : m->N), 0.0f,
                Y + *m0 * m->N + *n0, (blasint)m->N);
}

static bool too_large(int64_t M, int64_t N, int64_t K)
{
    return M > INT_MAX || N > INT_MAX || K > INT_MAX;
}

/* ---- Gemm ---------------------------------------------------------------- */

typedef struct gemm_plan {
    mm m;
    float beta;
    bool has_c;
    int64_t csm, csn; /* element strides of C along rows and columns */
} gemm_plan;

typedef struct gemm_ctx {
    const clv_engine__step *s;
    const gemm_plan *p;
    const float *A, *B, *C;
    float *Y;
} gemm_ctx;

static void task_gemm(void *arg, int64_t t, int tid)
{
    const gemm_ctx *c = arg;
    const gemm_plan *p = c->p;
    int64_t m0, rows, n0, cols;
    (void)tid;
    mm_piece(&p->m, c->A, c->B, c->Y, t, &m0, &rows, &n0, &cols);
    for (int64_t i = 0; i < rows; i++) {
        float *y = c->Y + (m0 + i) * p->m.N + n0;
        if (p->has_c) {
            const float *cr = c->C + (m0 + i) * p->csm + n0 * p->csn;
            for (int64_t j = 0; j < cols; j++)
                y[j] = y[j] + p->beta * cr[j * p->csn];
        }
        if (c->s->epi.act.kind != CLV_ACT_NONE)
            clv_engine__act_map(&c->s->epi.act, y, y, (size_t)cols);
    }
}

static int run_gemm(const clv_engine__step *s, clv_engine__exec *x)
{
    const gemm_plan *p = s->plan;
    gemm_ctx c;
    c.s = s;
    c.p = p;
    c.A = clv_engine__in(x, s, 0);
    c.B = clv_engine__in(x, s, 1);
    c.C = p->has_c ? clv_engine__in(x, s, 2) : NULL;
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->m.nmr * p->m.nnc, task_gemm, &c);
    return 0;
}

int clv_engine__plan_gemm(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_graph *g = pl->g;
    const clv_node *n = s->n;
    const clv_tensor *A = clv_engine__in_t(g, s, 0);
    const clv_tensor *B = clv_engine__in_t(g, s, 1);
    const clv_tensor *C = clv_engine__in_t(g, s, 2);
    const clv_tensor *Y = clv_engine__out_t(g, s);
    gemm_plan *p;

    if (A->dtype != CLV_DT_FLOAT || B->dtype != CLV_DT_FLOAT ||
        (C && C->dtype != CLV_DT_FLOAT))
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Gemm runs on float32 only");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->m.ta = clv_node_int(n, "transA", 0) != 0;
    p->m.tb = clv_node_int(n, "transB", 0) != 0;
    p->m.alpha = clv_node_float(n, "alpha", 1.0f);
    p->beta = clv_node_float(n, "beta", 1.0f);
    p->m.M = Y->dims[0];
    p->m.N = Y->dims[1];
    p->m.K = p->m.ta ? A->dims[0] : A->dims[1];
    if (too_large(p->m.M, p->m.N, p->m.K))
        return clv_engine__node_error(pl, s, CLV_ELIMIT,
                                      "Gemm is too large for sgemm");
    mm_tiles(&p->m);
    if (C && clv_tensor_numel(C) > 0) {
        /* C broadcasts to [M, N]: align its dims to the right */
        int64_t d0 = C->ndim >= 2 ? C->dims[C->ndim - 2] : 1;
        int64_t d1 = C->ndim >= 1 ? C->dims[C->ndim - 1] : 1;
        p->has_c = true;
        p->csn = d1 == 1 ? 0 : 1;
        p->csm = d0 == 1 ? 0 : d1;
    }
    s->plan = p;
    s->run = run_gemm;
    return 0;
}

/* ---- MatMul -------------------------------------------------------------- */

typedef struct matmul_plan {
    mm m;           /* one product (per batch, or collapsed) */
    int64_t nbatch; /* products; 1 when collapsed */
    int nb;         /* batch rank */
    int64_t bdims[CLV_MAX_DIMS];
    int64_t sa[CLV_MAX_DIMS], sb[CLV_MAX_DIMS]; /* batch strides in mats */
} matmul_plan;

typedef struct matmul_ctx {
    const matmul_plan *p;
    const float *A, *B;
    float *Y;
} matmul_ctx;

static void task_matmul(void *arg, int64_t t, int tid)
{
    const matmul_ctx *c = arg;
    const matmul_plan *p = c->p;
    int64_t pieces = p->m.nmr * p->m.nnc;
    int64_t b = t / pieces, oa = 0, ob = 0, rest = b;
    int64_t m0, rows, n0, cols;
    (void)tid;
    for (int d = p->nb - 1; d >= 0; d--) {
        int64_t i = rest % p->bdims[d];
        rest /= p->bdims[d];
        oa += i * p->sa[d];
        ob += i * p->sb[d];
    }
    mm_piece(&p->m, c->A + oa * p->m.M * p->m.K, c->B + ob * p->m.K * p->m.N,
             c->Y + b * p->m.M * p->m.N, t % pieces, &m0, &rows, &n0,
             &cols);
}

static int run_matmul(const clv_engine__step *s, clv_engine__exec *x)
{
    const matmul_plan *p = s->plan;
    matmul_ctx c;
    c.p = p;
    c.A = clv_engine__in(x, s, 0);
    c.B = clv_engine__in(x, s, 1);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->nbatch * p->m.nmr * p->m.nnc, task_matmul,
                         &c);
    return 0;
}

int clv_engine__plan_matmul(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_graph *g = pl->g;
    const clv_tensor *A = clv_engine__in_t(g, s, 0);
    const clv_tensor *B = clv_engine__in_t(g, s, 1);
    matmul_plan *p;
    int an, bn, nb;
    int64_t ad[CLV_MAX_DIMS + 1] = {0}, bd[CLV_MAX_DIMS + 1] = {0};
    int64_t ab = 1, bb = 1;

    if (A->dtype != CLV_DT_FLOAT || B->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "MatMul runs on float32 only");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    an = A->ndim;
    for (int i = 0; i < an; i++)
        ad[i] = A->dims[i];
    if (an == 1) {
        ad[1] = ad[0];
        ad[0] = 1;
        an = 2;
    }
    bn = B->ndim;
    for (int i = 0; i < bn; i++)
        bd[i] = B->dims[i];
    if (bn == 1) {
        bd[1] = 1;
        bn = 2;
    }
    p->m.M = ad[an - 2];
    p->m.K = ad[an - 1];
    p->m.N = bd[bn - 1];
    p->m.alpha = 1.0f;
    if (too_large(p->m.M, p->m.N, p->m.K))
        return clv_engine__node_error(pl, s, CLV_ELIMIT,
                                      "MatMul is too large for sgemm");
    nb = an - 2 > bn - 2 ? an - 2 : bn - 2;
    p->nb = nb;
    for (int i = 0; i < an - 2; i++)
        ab *= ad[i];
    for (int i = 0; i < bn - 2; i++)
        bb *= bd[i];
    if (bb == 1) {
        /* B is one matrix: A's batch rows stack into one product */
        p->m.M *= ab;
        p->nbatch = 1;
        p->nb = 0;
    } else {
        int64_t sa = 1, sb = 1;
        p->nbatch = 1;
        for (int d = nb - 1; d >= 0; d--) {
            int ka = d - (nb - (an - 2)), kb = d - (nb - (bn - 2));
            int64_t da = ka >= 0 ? ad[ka] : 1, db = kb >= 0 ? bd[kb] : 1;
            p->bdims[d] = da > db ? da : db;
            p->sa[d] = da == 1 ? 0 : sa;
            p->sb[d] = db == 1 ? 0 : sb;
            sa *= da;
            sb *= db;
            p->nbatch *= p->bdims[d];
        }
    }
    mm_tiles(&p->m);
    s->plan = p;
    s->run = run_matmul;
    return 0;
}
