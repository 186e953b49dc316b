/*
 * Internals of the plan module, shared by its files (problem.c: the
 * problem and its files; eval.c: links, plans, evaluation, JSON and DOT;
 * planner.c: the planners; dsccs.c: the ILP through GLPK). Not installed.
 */
#ifndef CLEAVE_PLAN_INTERNAL_H
#define CLEAVE_PLAN_INTERNAL_H

#include "cleave/plan.h"
#include "plan/maxflow.h"

struct clv_problem {
    char *name;
    clv_problem_node *nodes;
    int n_nodes, cap_nodes;
    bool finalized;
    bool has_link;
    clv_link link;
    /* open-addressing hash of node names -> index + 1 (0 = empty) */
    int *hash;
    size_t hash_cap;
    int *consumer_store; /* one block for every node's consumers */
    const clv_graph *graph; /* borrowed: the graph it was made from, or
                               NULL (problem node i+1 = graph node i) */
};

/* Fills plan->part from plan->on_edge when the problem was made from a
 * graph (empties it otherwise). 0 or CLV_ENOMEM. */
int clv_plan__fill_partition(const clv_problem *p, clv_plan *plan,
                             clv_error *err);

/* Checks a link's values: 0 or CLV_EINVAL with a message. */
int clv_plan__check_link(const clv_link *link, clv_error *err);

/* Makes sure plan arrays have room for n nodes. 0 or CLV_ENOMEM. */
int clv_plan__reserve(clv_plan *plan, int n);

/* Evaluates without checking validity (the planners produce valid
 * partitions); fills the cut and all times of `out`. */
void clv_plan__eval_fast(const clv_problem *p, const clv_link *link,
                         const unsigned char *on_edge, clv_plan *out);

/* The result-return time of node i when it runs on the cloud (0 unless
 * the link counts results and i is an output). */
double clv_plan__result_ms(const clv_problem *p, const clv_link *link, int i);

/* A test hook for dsh. With `on`, every min-cut of dsh's grid is solved
 * from zero (clv_mf_solve) instead of from the previous one's flow and
 * trees, including those that a certificate proves all-edge or all-cloud;
 * the plans must not change. clv_plan__check_counts() then reports, since
 * the hook was set, how many cuts a certificate decided and how many of
 * those the solver contradicted (0 unless the certificates are wrong). */
void clv_plan__set_check(clv_planner *pl, bool on);
void clv_plan__check_counts(const clv_planner *pl, long *certified,
                            long *wrong);

/* DSCCS: least T_e with T_t + T_c <= budget, by GLPK. Writes the chosen
 * partition into on_edge (n flags). Returns 0, CLV_ELIMIT (GLPK failed),
 * CLV_ENOMEM. */
int clv_plan__dsccs(const clv_problem *p, const clv_link *link,
                    double budget_ms, unsigned char *on_edge,
                    clv_error *err);

#endif
