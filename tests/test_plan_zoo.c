/* The planners on every zoo model, with per-layer times from FLOPs:
 * dsl's latency equals an independent exact optimum (brute force where the
 * model has at most 24 nodes, else an integer program written here and
 * solved by GLPK), on every link preset with and without rtt; dsh's max
 * stage is compared with the exact optimum the same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glpk.h>

#include "check.h"
#include "cleave/load.h"
#include "cleave/plan.h"

/* The exact optimum of latency (stage = false) or of the max stage
 * (stage = true) by an ILP over f_v (1 = edge), y_u (u's output crosses),
 * z (anything crosses), and M >= T_e, T_t, T_c for the max stage. Returns
 * the objective, or -1 when GLPK fails. */
static double ilp_optimum(const clv_problem *p, const clv_link *l, bool stage)
{
    int n = clv_problem_n_nodes(p), links = 0;
    for (int v = 0; v < n; v++)
        links += clv_problem_node_at(p, v)->n_inputs;
    int ncol = 2 * n + 2; /* f: 1..n, y: n+1..2n, z: 2n+1, M: 2n+2 */
    int z = 2 * n + 1, M = 2 * n + 2;
    size_t cap = (size_t)(5 * links + 4 * n + 3 * n + 16);
    int *ia = malloc(cap * sizeof *ia), *ja = malloc(cap * sizeof *ja);
    double *ar = malloc(cap * sizeof *ar);
    glp_prob *lp = glp_create_prob();
    glp_add_cols(lp, ncol);
    glp_set_obj_dir(lp, GLP_MIN);
    double fixed = 0; /* constant part of T_c: all cloud */
    for (int v = 0; v < n; v++) {
        const clv_problem_node *nd = clv_problem_node_at(p, v);
        double res = l->count_result && nd->n_consumers == 0
                         ? clv_link_transfer_ms(l, nd->out_bytes)
                         : 0;
        double tc = nd->t_cloud_ms + res;
        glp_set_col_kind(lp, v + 1, GLP_BV);
        glp_set_col_bnds(lp, n + v + 1, GLP_DB, 0, 1);
        if (!stage) {
            glp_set_obj_coef(lp, v + 1, nd->t_edge_ms - tc);
            glp_set_obj_coef(lp, n + v + 1,
                             nd->n_consumers
                                 ? clv_link_transfer_ms(l, nd->out_bytes)
                                 : 0);
        }
        fixed += tc;
    }
    glp_set_col_bnds(lp, 1, GLP_FX, 1, 1);
    glp_set_col_bnds(lp, z, GLP_DB, 0, 1);
    glp_set_col_bnds(lp, M, GLP_LO, 0, 0);
    if (stage)
        glp_set_obj_coef(lp, M, 1);
    else
        glp_set_obj_coef(lp, z, l->rtt_ms);
    glp_set_obj_coef(lp, 0, stage ? 0 : fixed);
    int rows = 0;
    size_t k = 0;
    for (int v = 0; v < n; v++) {
        const clv_problem_node *nd = clv_problem_node_at(p, v);
        for (int j = 0; j < nd->n_inputs; j++) {
            int u = nd->inputs[j];
            rows = glp_add_rows(lp, 2);
            glp_set_row_bnds(lp, rows, GLP_LO, 0, 0);
            k++, ia[k] = rows, ja[k] = u + 1, ar[k] = 1;
            k++, ia[k] = rows, ja[k] = v + 1, ar[k] = -1;
            glp_set_row_bnds(lp, rows + 1, GLP_LO, 0, 0);
            k++, ia[k] = rows + 1, ja[k] = n + u + 1, ar[k] = 1;
            k++, ia[k] = rows + 1, ja[k] = u + 1, ar[k] = -1;
            k++, ia[k] = rows + 1, ja[k] = v + 1, ar[k] = 1;
        }
        /* z >= 1 - f_v for every node */
        rows = glp_add_rows(lp, 1);
        glp_set_row_bnds(lp, rows, GLP_LO, 1, 0);
        k++, ia[k] = rows, ja[k] = z, ar[k] = 1;
        k++, ia[k] = rows, ja[k] = v + 1, ar[k] = 1;
    }
    if (stage) {
        /* T_e = sum te f;  T_t = sum tx y + sum res (1 - f) + rtt z;
         * T_c = sum tc (1 - f). Rows: M - T_e >= 0, M - T_t >= 0,
         * M - T_c >= 0, with the constants moved to the right. */
        int r = glp_add_rows(lp, 3);
        double sum_res = 0, sum_tc = 0;
        k++, ia[k] = r, ja[k] = M, ar[k] = 1;
        k++, ia[k] = r + 1, ja[k] = M, ar[k] = 1;
        k++, ia[k] = r + 1, ja[k] = z, ar[k] = -l->rtt_ms;
        k++, ia[k] = r + 2, ja[k] = M, ar[k] = 1;
        for (int v = 0; v < n; v++) {
            const clv_problem_node *nd = clv_problem_node_at(p, v);
            double res = l->count_result && nd->n_consumers == 0
                             ? clv_link_transfer_ms(l, nd->out_bytes)
                             : 0;
            sum_res += res;
            sum_tc += nd->t_cloud_ms;
            k++, ia[k] = r, ja[k] = v + 1, ar[k] = -nd->t_edge_ms;
            if (nd->n_consumers)
                k++, ia[k] = r + 1, ja[k] = n + v + 1,
                     ar[k] = -clv_link_transfer_ms(l, nd->out_bytes);
            else if (res > 0)
                k++, ia[k] = r + 1, ja[k] = v + 1, ar[k] = res;
            k++, ia[k] = r + 2, ja[k] = v + 1, ar[k] = nd->t_cloud_ms;
        }
        glp_set_row_bnds(lp, r, GLP_LO, 0, 0);
        glp_set_row_bnds(lp, r + 1, GLP_LO, sum_res, 0);
        glp_set_row_bnds(lp, r + 2, GLP_LO, sum_tc, 0);
    }
    glp_load_matrix(lp, (int)k, ia, ja, ar);
    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_ON;
    parm.msg_lev = GLP_MSG_OFF;
    parm.tm_lim = 20000;
    int prev = glp_term_out(GLP_OFF);
    int ret = glp_intopt(lp, &parm);
    double val = ret == 0 && glp_mip_status(lp) == GLP_OPT
                     ? glp_mip_obj_val(lp)
                     : -1;
    glp_term_out(prev);
    glp_delete_prob(lp);
    free(ia);
    free(ja);
    free(ar);
    return val;
}

int main(void)
{
    double worst = 1;
    int stage_checked = 0;
    for (int m = 0; m < clv_zoo_count(); m++) {
        const char *name = clv_zoo_name(m);
        clv_graph *g = NULL;
        clv_error err;
        clv_error_clear(&err);
        if (clv_zoo_build(name, 1, 0, &g, &err)) {
            CHECKF(0, "zoo %s: %s", name, err.msg);
            continue;
        }
        int n = clv_graph_n_nodes(g);
        double *te = malloc((size_t)n * sizeof *te);
        double *tc = malloc((size_t)n * sizeof *tc);
        /* 2 GFLOP/s edge, 100 GFLOP/s cloud, plus a fixed 0.05/0.01 ms */
        for (int i = 0; i < n; i++) {
            double f = (double)clv_graph_node(g, i)->flops;
            te[i] = f / 2e6 + 0.05;
            tc[i] = f / 1e8 + 0.01;
        }
        clv_problem *p = NULL;
        CHECKF(clv_problem_from_graph(g, te, tc, &p, &err) == 0, "%s: %s",
               name, err.msg);
        free(te);
        free(tc);
        if (!p) {
            clv_graph_free(g);
            continue;
        }
        clv_planner *pl = NULL;
        CHECK(clv_planner_create(p, &pl, NULL) == 0);
        clv_plan dsl, other;
        clv_plan_init(&dsl);
        clv_plan_init(&other);
        int np = clv_problem_n_nodes(p), cuts = 0;
        for (int l = 0; l < clv_link_n_presets(); l++)
            for (int variant = 0; variant < 2; variant++) {
                clv_plan_options o;
                clv_plan_options_init(&o);
                clv_link_preset(clv_link_preset_name(l), &o.link);
                o.link.rtt_ms = variant ? 30 : 0;
                o.link.count_result = variant;
                o.method = CLV_PLAN_DSL;
                CHECK(clv_planner_run(pl, &o, &dsl, NULL) == 0);
                double opt;
                if (np <= CLV_PLAN_BRUTE_MAX) {
                    o.method = CLV_PLAN_BRUTE;
                    CHECK(clv_planner_run(pl, &o, &other, NULL) == 0);
                    opt = other.latency_ms;
                } else {
                    opt = ilp_optimum(p, &o.link, false);
                }
                CHECKF(fabs(dsl.latency_ms - opt) <= 1e-6 * opt,
                       "%s on %s%s: dsl %.9f, optimum %.9f", name,
                       clv_link_preset_name(l), variant ? "+rtt" : "",
                       dsl.latency_ms, opt);
                cuts += dsl.n_cut > 0;
                /* dsh against the exact max stage */
                o.method = CLV_PLAN_DSH;
                CHECK(clv_planner_run(pl, &o, &other, NULL) == 0);
                CHECK(other.max_stage_ms <= dsl.max_stage_ms);
                double sopt = ilp_optimum(p, &o.link, true);
                if (np <= CLV_PLAN_BRUTE_MAX) {
                    clv_plan b;
                    clv_plan_init(&b);
                    o.method = CLV_PLAN_BRUTE;
                    o.objective = CLV_OBJ_MAX_STAGE;
                    CHECK(clv_planner_run(pl, &o, &b, NULL) == 0);
                    CHECKF(sopt < 0 ||
                               fabs(b.max_stage_ms - sopt) <= 1e-6 * sopt,
                           "%s: stage ILP %.9f, brute %.9f", name, sopt,
                           b.max_stage_ms);
                    sopt = b.max_stage_ms;
                    clv_plan_release(&b);
                }
                if (sopt > 0) {
                    double r = other.max_stage_ms / sopt;
                    CHECKF(r >= 1 - 1e-6 && r <= 3, "%s: dsh ratio %g", name,
                           r);
                    worst = r > worst ? r : worst;
                    stage_checked++;
                }
            }
        printf("%-14s %4d nodes: dsl = exact optimum on 8 links (%d with a "
               "cut)\n",
               name, np, cuts);
        clv_plan_release(&dsl);
        clv_plan_release(&other);
        clv_planner_free(pl);
        clv_problem_free(p);
        clv_graph_free(g); /* after the problem, which borrows it */
    }
    printf("dsh vs exact max stage on zoo models: worst ratio %.4f over %d "
           "cases\n",
           worst, stage_checked);
    return check_report("test_plan_zoo");
}
