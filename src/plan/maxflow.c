/*
 * Max-flow by the Boykov-Kolmogorov method (Y. Boykov, V. Kolmogorov, "An
 * Experimental Comparison of Min-Cut/Max-Flow Algorithms for Energy
 * Minimization in Vision", 2004): a search tree S grows from the source and
 * a tree T from the sink along arcs with residual capacity; when they touch,
 * the path through both trees is augmented; vertices cut off from their
 * tree by saturated arcs (orphans) look for a new parent in the same tree or
 * become free. Terminal arcs are kept per vertex as one signed residual
 * (positive: capacity left from the source; negative: to the sink).
 *
 * Written for cleave from the paper's description.
 */
#include "plan/maxflow.h"

#include <stdlib.h>
#include <string.h>

enum { FREE = 0, TREE_S = 1, TREE_T = 2 };
#define PARENT_NONE (-1)
#define PARENT_TERMINAL (-2)
#define PARENT_ORPHAN (-3)
#define DIST_INF 0x3fffffff

struct clv_mf {
    int n, cap_n;
    int n_pairs, max_pairs, cap_pairs;
    bool csr_ok;

    /* arcs: 2k is the k-th pair's u->v, 2k+1 its v->u */
    int *head;
    int64_t *cap0; /* capacity as set */
    int64_t *rc;   /* residual capacity during a solve */
    int64_t *capu; /* capacities the last solve used (for warm starts) */
    int64_t *excess; /* per vertex scratch: net inner outflow */
    bool has_flow;   /* rc holds a flow of the same topology */
    bool trees_ok;   /* the trees are those of a finished solve of it */
    int *adj;      /* arc ids grouped by tail: adj[first[v] .. first[v+1]) */
    int *first;

    /* per vertex */
    int64_t *s0, *t0; /* terminal capacities as set */
    int64_t *tr;      /* signed terminal residual */
    int *parent;      /* arc from the vertex to its parent, or PARENT_* */
    unsigned char *tree;
    unsigned char *queued;
    int *ts, *dist;
    int *queue; /* ring of active vertices, each at most once */
    int q_head, q_count;
    int *orphans; /* ring of orphans, each at most once */
    int *path;    /* augment: the arcs of both halves of a path (2n) */
    int o_head, o_count;

    int time;
    long augs;
};

clv_mf *clv_mf_create(void)
{
    return calloc(1, sizeof(clv_mf));
}

/* Frees the arrays sized by the vertex count (cap_n). */
static void free_vertex_arrays(clv_mf *m)
{
    free(m->first);
    free(m->s0);
    free(m->t0);
    free(m->tr);
    free(m->parent);
    free(m->tree);
    free(m->queued);
    free(m->ts);
    free(m->dist);
    free(m->queue);
    free(m->orphans);
    free(m->excess);
    free(m->path);
}

/* Frees the arrays sized by the pair count (cap_pairs). */
static void free_pair_arrays(clv_mf *m)
{
    free(m->head);
    free(m->cap0);
    free(m->rc);
    free(m->capu);
    free(m->adj);
}

static void release(clv_mf *m)
{
    free_pair_arrays(m);
    free_vertex_arrays(m);
}

void clv_mf_free(clv_mf *m)
{
    if (!m)
        return;
    release(m);
    free(m);
}

int clv_mf_reset(clv_mf *m, int n, int max_pairs)
{
    if (n < 0 || max_pairs < 0)
        return -1;
    if (n > m->cap_n || !m->first) {
        size_t k = n > 0 ? (size_t)n : 1;
        free_vertex_arrays(m);
        m->first = malloc((k + 1) * sizeof *m->first);
        m->s0 = malloc(k * sizeof *m->s0);
        m->t0 = malloc(k * sizeof *m->t0);
        m->tr = malloc(k * sizeof *m->tr);
        m->parent = malloc(k * sizeof *m->parent);
        m->tree = malloc(k);
        m->queued = malloc(k);
        m->ts = malloc(k * sizeof *m->ts);
        m->dist = malloc(k * sizeof *m->dist);
        m->queue = malloc(k * sizeof *m->queue);
        m->orphans = malloc(k * sizeof *m->orphans);
        m->excess = malloc(k * sizeof *m->excess);
        m->path = malloc(2 * k * sizeof *m->path);
        if (!m->excess || !m->path ||
            !m->first || !m->s0 || !m->t0 || !m->tr || !m->parent ||
            !m->tree || !m->queued || !m->ts || !m->dist || !m->queue ||
            !m->orphans)
            goto fail;
        m->cap_n = n;
    }
    if (max_pairs > m->cap_pairs) {
        size_t k = 2 * (size_t)max_pairs;
        free_pair_arrays(m);
        m->head = malloc(k * sizeof *m->head);
        m->cap0 = malloc(k * sizeof *m->cap0);
        m->rc = malloc(k * sizeof *m->rc);
        m->capu = malloc(k * sizeof *m->capu);
        m->adj = malloc(k * sizeof *m->adj);
        if (!m->head || !m->cap0 || !m->rc || !m->capu || !m->adj)
            goto fail;
        m->cap_pairs = max_pairs;
    }
    m->n = n;
    m->n_pairs = 0;
    m->max_pairs = max_pairs;
    m->csr_ok = false;
    m->has_flow = false;
    m->trees_ok = false;
    if (n > 0) {
        memset(m->s0, 0, (size_t)n * sizeof *m->s0);
        memset(m->t0, 0, (size_t)n * sizeof *m->t0);
        memset(m->tree, 0, (size_t)n);
    }
    return 0;

fail:
    release(m);
    memset(m, 0, sizeof *m);
    return -1;
}

int clv_mf_add_pair(clv_mf *m, int u, int v, int64_t cap, int64_t rcap)
{
    if (m->n_pairs >= m->max_pairs || u < 0 || v < 0 || u >= m->n ||
        v >= m->n || u == v)
        return -1;
    int k = m->n_pairs++;
    m->head[2 * k] = v;
    m->head[2 * k + 1] = u;
    m->cap0[2 * k] = cap;
    m->cap0[2 * k + 1] = rcap;
    m->csr_ok = false;
    m->has_flow = false;
    m->trees_ok = false;
    return k;
}

void clv_mf_set_pair(clv_mf *m, int pair, int64_t cap, int64_t rcap)
{
    m->cap0[2 * pair] = cap;
    m->cap0[2 * pair + 1] = rcap;
}

void clv_mf_add_terminal(clv_mf *m, int v, int64_t s_cap, int64_t t_cap)
{
    m->s0[v] += s_cap;
    m->t0[v] += t_cap;
}

void clv_mf_set_terminal(clv_mf *m, int v, int64_t s_cap, int64_t t_cap)
{
    m->s0[v] = s_cap;
    m->t0[v] = t_cap;
}

/* Groups the arcs by tail (a counting sort); done once per topology. */
static void build_csr(clv_mf *m)
{
    int n = m->n, na = 2 * m->n_pairs;
    memset(m->first, 0, ((size_t)n + 1) * sizeof *m->first);
    for (int a = 0; a < na; a++)
        m->first[m->head[a ^ 1] + 1]++;
    for (int v = 0; v < n; v++)
        m->first[v + 1] += m->first[v];
    /* use dist as a fill cursor */
    for (int v = 0; v < n; v++)
        m->dist[v] = m->first[v];
    for (int a = 0; a < na; a++)
        m->adj[m->dist[m->head[a ^ 1]]++] = a;
    m->csr_ok = true;
}

static void activate(clv_mf *m, int v)
{
    if (m->queued[v])
        return;
    m->queued[v] = 1;
    int pos = m->q_head + m->q_count;
    if (pos >= m->n)
        pos -= m->n;
    m->queue[pos] = v;
    m->q_count++;
}

/* The next active vertex still in a tree, or -1. */
static int next_active(clv_mf *m)
{
    while (m->q_count > 0) {
        int v = m->queue[m->q_head];
        if (++m->q_head == m->n)
            m->q_head = 0;
        m->q_count--;
        m->queued[v] = 0;
        if (m->tree[v] != FREE)
            return v;
    }
    return -1;
}

static void make_orphan(clv_mf *m, int v)
{
    m->parent[v] = PARENT_ORPHAN;
    int pos = m->o_head + m->o_count;
    if (pos >= m->n)
        pos -= m->n;
    m->orphans[pos] = v;
    m->o_count++;
}

/* Pushes flow along source..x -> y..sink, where `mid` is the arc x->y;
 * vertices whose parent arc saturates become orphans. The first walk up
 * each tree records the arcs in `path`, so the update does not chase the
 * parents again. */
static int64_t augment(clv_mf *m, int mid)
{
    int x = m->head[mid ^ 1], y = m->head[mid];
    int64_t bn = m->rc[mid];
    int *ps = m->path, ns = 0, nt = 0;
    int rs, rt; /* the roots */
    int v = x;
    for (int a; (a = m->parent[v]) != PARENT_TERMINAL; v = m->head[a]) {
        if (m->rc[a ^ 1] < bn)
            bn = m->rc[a ^ 1];
        ps[ns++] = a;
    }
    rs = v;
    if (m->tr[rs] < bn)
        bn = m->tr[rs];
    int *pt = ps + ns;
    v = y;
    for (int a; (a = m->parent[v]) != PARENT_TERMINAL; v = m->head[a]) {
        if (m->rc[a] < bn)
            bn = m->rc[a];
        pt[nt++] = a;
    }
    rt = v;
    if (-m->tr[rt] < bn)
        bn = -m->tr[rt];
    m->rc[mid] -= bn;
    m->rc[mid ^ 1] += bn;
    for (int k = 0; k < ns; k++) {
        int a = ps[k];
        m->rc[a ^ 1] -= bn;
        m->rc[a] += bn;
        if (m->rc[a ^ 1] == 0)
            make_orphan(m, m->head[a ^ 1]);
    }
    m->tr[rs] -= bn;
    if (m->tr[rs] == 0)
        make_orphan(m, rs);
    for (int k = 0; k < nt; k++) {
        int a = pt[k];
        m->rc[a] -= bn;
        m->rc[a ^ 1] += bn;
        if (m->rc[a] == 0)
            make_orphan(m, m->head[a ^ 1]);
    }
    m->tr[rt] += bn;
    if (m->tr[rt] == 0)
        make_orphan(m, rt);
    m->augs++;
    return bn;
}

/* Whether the arc a (from v to w, both in `tree`) can carry flow towards
 * the tree's terminal direction: in S, flow runs w -> v (arc a^1); in T,
 * v -> w (arc a). */
static inline bool tree_arc_ok(const clv_mf *m, unsigned char tree, int a)
{
    return tree == TREE_S ? m->rc[a ^ 1] > 0 : m->rc[a] > 0;
}

static void adopt(clv_mf *m)
{
    while (m->o_count > 0) {
        int v = m->orphans[m->o_head];
        if (++m->o_head == m->n)
            m->o_head = 0;
        m->o_count--;
        unsigned char t = m->tree[v];
        int best_a = PARENT_NONE, best_d = DIST_INF;

        for (int k = m->first[v]; k < m->first[v + 1]; k++) {
            int a = m->adj[k], w = m->head[a];
            if (m->tree[w] != t || !tree_arc_ok(m, t, a))
                continue;
            /* does w still hang from a terminal? count the steps */
            int d = 0, u = w;
            for (;;) {
                if (m->ts[u] == m->time) {
                    d += m->dist[u];
                    break;
                }
                int pa = m->parent[u];
                d++;
                if (pa == PARENT_TERMINAL) {
                    m->ts[u] = m->time;
                    m->dist[u] = 1;
                    break;
                }
                if (pa < 0) { /* orphan (or none) */
                    d = DIST_INF;
                    break;
                }
                u = m->head[pa];
            }
            if (d >= DIST_INF)
                continue;
            if (d < best_d) {
                best_d = d;
                best_a = a;
            }
            /* remember the distances found along the way */
            for (u = w; m->ts[u] != m->time; u = m->head[m->parent[u]]) {
                m->ts[u] = m->time;
                m->dist[u] = d--;
            }
        }
        if (best_a != PARENT_NONE) {
            m->parent[v] = best_a;
            m->ts[v] = m->time;
            m->dist[v] = best_d + 1;
            continue;
        }
        /* no parent: v becomes free; its children become orphans and the
         * neighbours that could reach it become active again */
        for (int k = m->first[v]; k < m->first[v + 1]; k++) {
            int a = m->adj[k], w = m->head[a];
            if (m->tree[w] != t)
                continue;
            if (tree_arc_ok(m, t, a))
                activate(m, w);
            int pw = m->parent[w];
            if (pw >= 0 && m->head[pw] == v)
                make_orphan(m, w);
        }
        m->tree[v] = FREE;
        m->parent[v] = PARENT_NONE;
    }
}

/* Starts a solve from the residual capacities in rc and the signed
 * terminal residuals in tr: every vertex with terminal residual is a root
 * of its tree and active, the others are free. */
static void init_trees(clv_mf *m)
{
    int n = m->n;
    m->q_head = m->q_count = 0;
    m->o_head = m->o_count = 0;
    m->time = 0;
    m->augs = 0;
    for (int v = 0; v < n; v++) {
        m->queued[v] = 0;
        m->ts[v] = 0;
        m->dist[v] = 1;
        if (m->tr[v] != 0) {
            m->tree[v] = m->tr[v] > 0 ? TREE_S : TREE_T;
            m->parent[v] = PARENT_TERMINAL;
            activate(m, v);
        } else {
            m->tree[v] = FREE;
            m->parent[v] = PARENT_NONE;
        }
    }
}

static int64_t grow_and_augment(clv_mf *m);

int clv_mf_solve(clv_mf *m, int64_t *flow)
{
    int n = m->n;
    int64_t total = 0;
    if (!m->csr_ok)
        build_csr(m);
    if (m->n_pairs > 0) {
        memcpy(m->rc, m->cap0, 2 * (size_t)m->n_pairs * sizeof *m->rc);
        memcpy(m->capu, m->cap0, 2 * (size_t)m->n_pairs * sizeof *m->capu);
    }
    for (int v = 0; v < n; v++) {
        int64_t s = m->s0[v], t = m->t0[v];
        total += s < t ? s : t;
        m->tr[v] = s - t;
    }
    init_trees(m);
    total += grow_and_augment(m);
    m->has_flow = true;
    m->trees_ok = true;
    if (flow)
        *flow = total;
    return 0;
}

/*
 * Warm start (after Kohli and Torr's dynamic graph cuts): the flow of the
 * previous solve is kept on every arc, clipped to the new capacities
 * [-reverse, forward] of its pair. Clipping breaks conservation at the
 * pair's ends; the signed terminal residual tr = s - t - (net inner
 * outflow) absorbs it, which amounts to adding the same amount to both
 * terminal capacities of a vertex: every cut changes by the same constant,
 * so the minimum cuts are those of the network as set.
 */
int clv_mf_solve_warm(clv_mf *m)
{
    if (!m->has_flow || !m->csr_ok)
        return clv_mf_solve(m, NULL);
    /* any flow within the capacities will do, see above */
    int n = m->n;
    int64_t *ex = m->excess;
    memset(ex, 0, (size_t)n * sizeof *ex);
    for (int k = 0; k < m->n_pairs; k++) {
        int a = 2 * k;
        int64_t f = m->capu[a] - m->rc[a]; /* net flow u -> v */
        int64_t c = m->cap0[a], cr = m->cap0[a + 1];
        if (f > c)
            f = c;
        else if (f < -cr)
            f = -cr;
        m->rc[a] = c - f;
        m->rc[a + 1] = cr + f;
        m->capu[a] = c;
        m->capu[a + 1] = cr;
        ex[m->head[a + 1]] += f;
        ex[m->head[a]] -= f;
    }
    for (int v = 0; v < n; v++)
        m->tr[v] = m->s0[v] - m->t0[v] - ex[v];
    init_trees(m);
    grow_and_augment(m);
    m->trees_ok = true;
    return 0;
}

void clv_mf_set_flow(clv_mf *m, const int64_t *flow)
{
    if (!m->csr_ok)
        build_csr(m);
    for (int k = 0; k < m->n_pairs; k++) {
        int64_t f = flow ? flow[k] : 0;
        m->capu[2 * k] = m->cap0[2 * k];
        m->capu[2 * k + 1] = m->cap0[2 * k + 1];
        m->rc[2 * k] = m->cap0[2 * k] - f;
        m->rc[2 * k + 1] = m->cap0[2 * k + 1] + f;
    }
    m->has_flow = true;
    m->trees_ok = false;
}

/*
 * Dynamic start (Kohli and Torr's dynamic graph cuts, with the search
 * trees kept as well as the flow): the flow is clipped as in
 * clv_mf_solve_warm, and the trees and parents of the previous solve stay.
 * When that solve ended, S was closed (no residual arc leaves S other than
 * into S: that is what makes its cut minimum), S vertices had terminal
 * residual >= 0, T vertices <= 0, free vertices 0 (T need not be closed:
 * a vertex that leaves T does not wake its neighbours in S). Only what
 * the new capacities broke is repaired:
 *  - a vertex whose terminal residual now points to the other terminal
 *    becomes a root of the other tree (its children there become orphans
 *    below) and is active: its scan finds the paths that cross;
 *  - a free vertex with terminal residual becomes an active root; a tree
 *    vertex with residual towards its own terminal becomes a root; a root
 *    left without terminal residual becomes an orphan;
 *  - an arc that gained residual capacity from zero makes its ends active;
 *  - a vertex whose parent arc lost its residual capacity, or whose parent
 *    is now in the other tree, becomes an orphan.
 * Then orphans are adopted and the usual loop runs from the active
 * vertices. The time stamp moves on, so every kept stamp is older than
 * the stamps set from now on, which keeps the parent-shortening test of
 * the growth step safe (it never makes a vertex the child of its own
 * descendant).
 */
int clv_mf_solve_dynamic(clv_mf *m)
{
    if (!m->has_flow || !m->csr_ok)
        return clv_mf_solve(m, NULL);
    if (!m->trees_ok || m->time > (1 << 29))
        return clv_mf_solve_warm(m);
    int n = m->n;
    int64_t *ex = m->excess;
    m->q_head = m->q_count = 0;
    m->o_head = m->o_count = 0;
    m->augs = 0;
    m->time++;
    memset(ex, 0, (size_t)n * sizeof *ex);
    for (int k = 0; k < m->n_pairs; k++) {
        int a = 2 * k;
        int64_t r = m->rc[a], rr = m->rc[a + 1];
        int64_t f = m->capu[a] - r; /* net flow u -> v */
        int64_t c = m->cap0[a], cr = m->cap0[a + 1];
        if (f > c)
            f = c;
        else if (f < -cr)
            f = -cr;
        int64_t nr = c - f, nrr = cr + f;
        int u = m->head[a + 1], v = m->head[a];
        m->rc[a] = nr;
        m->rc[a + 1] = nrr;
        m->capu[a] = c;
        m->capu[a + 1] = cr;
        ex[u] += f;
        ex[v] -= f;
        if ((r == 0 && nr > 0) || (rr == 0 && nrr > 0)) {
            if (m->tree[u] != FREE)
                activate(m, u);
            if (m->tree[v] != FREE)
                activate(m, v);
        }
    }
    for (int v = 0; v < n; v++) {
        int64_t tr = m->s0[v] - m->t0[v] - ex[v];
        unsigned char want = tr > 0 ? TREE_S : tr < 0 ? TREE_T : FREE;
        m->tr[v] = tr;
        if (want == FREE) {
            if (m->parent[v] == PARENT_TERMINAL)
                make_orphan(m, v);
            continue;
        }
        unsigned char was = m->tree[v];
        if (was != want) {
            /* v leaves its tree as if it had become free: the neighbours
             * there with residual capacity towards v must look again (for
             * S, to keep it closed, since v may turn free before its own
             * scan has found them) */
            activate(m, v);
            for (int k = m->first[v]; was != FREE && k < m->first[v + 1];
                 k++) {
                int a = m->adj[k], w = m->head[a];
                if (m->tree[w] == was && tree_arc_ok(m, was, a))
                    activate(m, w);
            }
        }
        if (was != want || m->parent[v] != PARENT_TERMINAL) {
            m->tree[v] = want;
            m->parent[v] = PARENT_TERMINAL;
            m->ts[v] = m->time;
            m->dist[v] = 1;
        }
    }
    for (int v = 0; v < n; v++) {
        int a = m->parent[v];
        if (a < 0 || m->tree[v] == FREE)
            continue;
        if (m->tree[m->head[a]] != m->tree[v] ||
            !tree_arc_ok(m, m->tree[v], a))
            make_orphan(m, v);
    }
    adopt(m);
    grow_and_augment(m);
    return 0;
}

/* The main loop: grows the trees from the active vertices, augments where
 * they meet, adopts orphans; returns the flow added. */
static int64_t grow_and_augment(clv_mf *m)
{
    int64_t total = 0;
    int cur = -1;
    for (;;) {
        if (cur < 0 || m->tree[cur] == FREE) {
            cur = next_active(m);
            if (cur < 0)
                break;
        }
        int mid = -1;
        /* grow cur's tree (S along residual arcs out of cur, T along
         * residual arcs into it) until it touches the other tree at the
         * arc `mid`, oriented from S to T */
        int t = m->tree[cur];
        for (int k = m->first[cur]; k < m->first[cur + 1]; k++) {
            int a = m->adj[k];
            int st = t == TREE_S ? a : a ^ 1;
            if (m->rc[st] <= 0)
                continue;
            int w = m->head[a];
            if (m->tree[w] == FREE) {
                m->tree[w] = (unsigned char)t;
                m->parent[w] = a ^ 1;
                m->ts[w] = m->ts[cur];
                m->dist[w] = m->dist[cur] + 1;
                activate(m, w);
            } else if (m->tree[w] != t) {
                mid = st;
                break;
            } else if (m->ts[w] <= m->ts[cur] &&
                       m->dist[w] > m->dist[cur]) {
                m->parent[w] = a ^ 1;
                m->ts[w] = m->ts[cur];
                m->dist[w] = m->dist[cur] + 1;
            }
        }
        m->time++;
        if (mid < 0) {
            cur = -1; /* cur is done growing */
            continue;
        }
        total += augment(m, mid);
        adopt(m);
        /* cur may have more to give: keep it (the loop re-checks its tree) */
    }
    return total;
}

bool clv_mf_on_source_side(const clv_mf *m, int v)
{
    return m->tree[v] == TREE_S;
}

long clv_mf_augmentations(const clv_mf *m)
{
    return m->augs;
}
