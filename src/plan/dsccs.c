/*
 * DSCCS (the DNN Surgery paper, Section IV): the least edge time T_e such
 * that the cloud's share of a frame, T_t + T_c, fits a budget, as an
 * integer linear program solved by GLPK (LP relaxation and branch and
 * bound, with its MIP presolver).
 *
 * Variables: f_v in {0,1} (1 = node v on the edge; f_source fixed to 1),
 * y_u in [0,1] for every node u that has consumers (1 = u's output crosses
 * the link), and z in [0,1] when the link has an rtt (1 = anything crosses).
 *
 *   minimise   sum_v t_e(v) f_v
 *   subject to f_u - f_v >= 0          for every link u -> v (no cloud node
 *                                      feeds an edge node),
 *              y_u - f_u + f_v >= 0    for every link u -> v (the paper's
 *                                      |Hf| <= y, equations (12)-(13), with
 *                                      one y per tensor so that a tensor read
 *                                      by several cloud nodes is paid once),
 *              z + f_s >= 1            for every output s (a cloud node
 *                                      implies a cloud output, hence a cut),
 *              sum_v (t_c(v) + r(v)) (1 - f_v) + sum_u t_t(u) y_u + rtt z
 *                  <= budget           (equation (11); r(v) is the result
 *                                      return time of a cloud output).
 * Minimising T_e never benefits from y or z above their lower bounds, and
 * the budget row only gets easier when they are lower, so the optimum's y
 * and z are exactly the crossing indicators.
 */
#include <math.h>
#include <stdlib.h>

#include <glpk.h>

#include "plan/internal.h"

int clv_plan__dsccs(const clv_problem *p, const clv_link *link,
                    double budget_ms, unsigned char *on_edge, clv_error *err)
{
    int n = p->n_nodes, n_links = 0, n_outputs = 0, n_y = 0, rc = 0;
    bool use_z = link->rtt_ms > 0;
    for (int v = 0; v < n; v++) {
        n_links += p->nodes[v].n_inputs;
        n_outputs += p->nodes[v].n_consumers == 0;
        n_y += p->nodes[v].n_consumers > 0;
    }
    /* columns: f_0..f_{n-1} = 1..n, then y, then z */
    int *ycol = malloc(((size_t)n + 1) * sizeof *ycol);
    size_t nz = 2 * (size_t)n_links + 3 * (size_t)n_links +
                2 * (size_t)n_outputs + (size_t)n + (size_t)n_y + 2;
    int *ia = malloc((nz + 1) * sizeof *ia);
    int *ja = malloc((nz + 1) * sizeof *ja);
    double *ar = malloc((nz + 1) * sizeof *ar);
    glp_prob *lp = NULL;
    if (!ycol || !ia || !ja || !ar) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    int prev_term = glp_term_out(GLP_OFF);
    lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    int ncol = n + n_y + (use_z ? 1 : 0);
    glp_add_cols(lp, ncol);
    int col = n;
    for (int v = 0; v < n; v++) {
        glp_set_col_kind(lp, v + 1, GLP_BV);
        glp_set_obj_coef(lp, v + 1, p->nodes[v].t_edge_ms);
        ycol[v] = 0;
        if (p->nodes[v].n_consumers > 0) {
            ycol[v] = ++col;
            glp_set_col_bnds(lp, col, GLP_DB, 0.0, 1.0);
        }
    }
    glp_set_col_bnds(lp, 1, GLP_FX, 1.0, 1.0); /* the source: edge */
    int zcol = use_z ? ++col : 0;
    if (use_z)
        glp_set_col_bnds(lp, zcol, GLP_DB, 0.0, 1.0);

    int rows = 2 * n_links + (use_z ? n_outputs : 0) + 1;
    glp_add_rows(lp, rows);
    int row = 0;
    size_t k = 0;
    for (int v = 0; v < n; v++) {
        const clv_problem_node *nd = &p->nodes[v];
        for (int j = 0; j < nd->n_inputs; j++) {
            int u = nd->inputs[j];
            row++; /* f_u - f_v >= 0 */
            glp_set_row_bnds(lp, row, GLP_LO, 0.0, 0.0);
            k++, ia[k] = row, ja[k] = u + 1, ar[k] = 1.0;
            k++, ia[k] = row, ja[k] = v + 1, ar[k] = -1.0;
            row++; /* y_u - f_u + f_v >= 0 */
            glp_set_row_bnds(lp, row, GLP_LO, 0.0, 0.0);
            k++, ia[k] = row, ja[k] = ycol[u], ar[k] = 1.0;
            k++, ia[k] = row, ja[k] = u + 1, ar[k] = -1.0;
            k++, ia[k] = row, ja[k] = v + 1, ar[k] = 1.0;
        }
        if (use_z && nd->n_consumers == 0) {
            row++; /* z + f_s >= 1 */
            glp_set_row_bnds(lp, row, GLP_LO, 1.0, 0.0);
            k++, ia[k] = row, ja[k] = zcol, ar[k] = 1.0;
            k++, ia[k] = row, ja[k] = v + 1, ar[k] = 1.0;
        }
    }
    /* the budget row, divided by a scale so that its numbers are O(1) */
    double fixed = 0, scale = budget_ms;
    for (int v = 0; v < n; v++) {
        double c = p->nodes[v].t_cloud_ms + clv_plan__result_ms(p, link, v);
        fixed += c;
        double t = clv_link_transfer_ms(link, p->nodes[v].out_bytes);
        if (c > scale)
            scale = c;
        if (ycol[v] && t > scale)
            scale = t;
    }
    if (link->rtt_ms > scale)
        scale = link->rtt_ms;
    if (!(scale > 0))
        scale = 1;
    row++;
    glp_set_row_bnds(lp, row, GLP_UP, 0.0, (budget_ms - fixed) / scale);
    for (int v = 0; v < n; v++) {
        double c = p->nodes[v].t_cloud_ms + clv_plan__result_ms(p, link, v);
        k++, ia[k] = row, ja[k] = v + 1, ar[k] = -c / scale;
        if (ycol[v]) {
            double t = clv_link_transfer_ms(link, p->nodes[v].out_bytes);
            k++, ia[k] = row, ja[k] = ycol[v], ar[k] = t / scale;
        }
    }
    if (use_z)
        k++, ia[k] = row, ja[k] = zcol, ar[k] = link->rtt_ms / scale;
    glp_load_matrix(lp, (int)k, ia, ja, ar);

    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_ON;
    parm.msg_lev = GLP_MSG_OFF;
    parm.tm_lim = 60000;
    int ret = glp_intopt(lp, &parm);
    int status = glp_mip_status(lp);
    if (ret == 0 && status == GLP_OPT) {
        for (int v = 0; v < n; v++)
            on_edge[v] = glp_mip_col_val(lp, v + 1) > 0.5;
        on_edge[0] = 1;
    } else if ((ret == 0 && status == GLP_NOFEAS) || ret == GLP_ENOPFS) {
        /* cannot happen for budget >= 0 (all-edge is feasible); be safe */
        for (int v = 0; v < n; v++)
            on_edge[v] = 1;
    } else {
        rc = clv_error_set(err, CLV_ELIMIT,
                           "dsccs: GLPK could not solve the integer program "
                           "(glp_intopt returned %d, status %d)%s",
                           ret, status,
                           ret == GLP_ETMLIM ? ": time limit of 60 s" : "");
    }
    glp_delete_prob(lp);
    glp_term_out(prev_term);
done:
    free(ycol);
    free(ia);
    free(ja);
    free(ar);
    return rc;
}
