/*
 * The engine's worker threads. A parallel loop hands out task indices from
 * an atomic counter to the workers and the calling thread (a few at a time
 * when there are many); the caller returns once every worker has checked
 * in for that loop, so the next loop never meets a worker still busy with
 * the last one.
 *
 * Workers that finish a loop spin briefly on the generation counter before
 * sleeping on the condition variable: kernels come one after another, and
 * a condition-variable wake-up costs tens of microseconds. For the same
 * reason the caller, once the tasks are all taken, spins briefly on the
 * count of workers yet to check in before it sleeps on its own condition
 * variable.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "engine/internal.h"

/* Polls of the generation counter before a worker sleeps, and of the
 * count of workers yet to check in before the caller sleeps. */
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
    atomic_int pending; /* workers yet to check in; the last one to check
                           in signals done under mu */

    /* the current loop; written before gen is bumped */
    clv_engine__task_fn fn;
    void *ctx;
    int64_t n_tasks;
    int64_t chunk; /* tasks taken at a time */
    atomic_int_fast64_t next;
};

static void run_tasks(clv_engine__pool *p, int tid)
{
    for (;;) {
        int64_t t = atomic_fetch_add(&p->next, p->chunk);
        int64_t end = t + p->chunk < p->n_tasks ? t + p->chunk : p->n_tasks;
        if (t >= p->n_tasks)
            break;
        for (; t < end; t++)
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
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            /* under mu: the caller either has not yet checked pending
             * under mu, or waits on done */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
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
    atomic_init(&p->pending, 0);
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
    /* many tasks (planes of a pool, channel blocks of a copy): a few at a
     * time, 16 takes per thread, so that the threads do not fight over
     * the counter's cache line once per small task */
    p->chunk = n_tasks / (16 * p->n) > 1 ? n_tasks / (16 * p->n) : 1;
    atomic_store(&p->next, 0);
    atomic_store(&p->pending, p->started);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    for (int spin = 0; atomic_load(&p->pending) > 0 && spin < CLV_POOL_SPIN;
         spin++)
        if (spin % 16 == 15)
            sched_yield();
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
