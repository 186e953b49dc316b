/*
 * The engine's worker threads. A parallel loop hands out task indices from
 * an atomic counter to the workers and the calling thread; the caller
 * returns once every worker has checked in for that loop, so the next loop
 * never meets a worker still busy with the last one.
 *
 * Workers that finish a loop spin briefly on the generation counter before
 * sleeping on the condition variable: kernels come one after another, and
 * a condition-variable wake-up costs tens of microseconds.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "engine/internal.h"

/* Polls of the generation counter before a worker sleeps. */
#define CLV_POOL_SPIN 4000

typedef struct worker {
    clv_engine__pool *pool;
    int tid;
} worker;

struct clv_engine__pool {
    int n; /* threads, the caller's included */
    pthread_t *th;
    worker *w;
    int started;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* a new loop, or stop */
    pthread_cond_t done; /* the last worker checked in */
    atomic_uint_fast64_t gen; /* loop generation */
    atomic_int stop;
    int pending; /* workers yet to check in (under mu) */

    /* the current loop; written before gen is bumped */
    clv_engine__task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_int_fast64_t next;
};

static void run_tasks(clv_engine__pool *p, int tid)
{
    for (;;) {
        int64_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->ctx, t, tid);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    clv_engine__pool *p = w->pool;
    uint_fast64_t seen = 0;

    for (;;) {
        uint_fast64_t g = atomic_load(&p->gen);
        for (int spin = 0; g == seen && spin < CLV_POOL_SPIN &&
                           !atomic_load(&p->stop);
             spin++) {
            if (spin % 16 == 15)
                sched_yield();
            g = atomic_load(&p->gen);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
            g = atomic_load(&p->gen);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        run_tasks(p, w->tid);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

int clv_engine__pool_create(int threads, clv_engine__pool **out)
{
    clv_engine__pool *p;
    *out = NULL;
    if (threads < 2)
        return CLV_EINVAL;
    p = calloc(1, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->n = threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    p->th = calloc((size_t)threads, sizeof *p->th);
    p->w = calloc((size_t)threads, sizeof *p->w);
    if (!p->th || !p->w) {
        free(p->th);
        free(p->w);
        free(p);
        return CLV_ENOMEM;
    }
    if (pthread_mutex_init(&p->mu, NULL)) {
        free(p->th);
        free(p->w);
        free(p);
        return CLV_ENOMEM;
    }
    if (pthread_cond_init(&p->wake, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p->th);
        free(p->w);
        free(p);
        return CLV_ENOMEM;
    }
    if (pthread_cond_init(&p->done, NULL)) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p->th);
        free(p->w);
        free(p);
        return CLV_ENOMEM;
    }
    for (int i = 1; i < threads; i++) {
        p->w[i].pool = p;
        p->w[i].tid = i;
        if (pthread_create(&p->th[i], NULL, worker_main, &p->w[i])) {
            clv_engine__pool_free(p);
            return CLV_ENOMEM;
        }
        p->started++;
    }
    *out = p;
    return 0;
}

void clv_engine__pool_free(clv_engine__pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->started; i++)
        pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->th);
    free(p->w);
    free(p);
}

void clv_engine__pool_run(clv_engine__pool *p, int64_t n_tasks,
                          clv_engine__task_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (!p || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    p->pending = p->started;
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
