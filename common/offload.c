/* offload.c - worker threads plus event_active() to come back to the loop. */
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include "common/xalloc.h"
#include "common/offload.h"

struct job {
    struct job   *next;
    offload_fn    work, done;
    void         *arg;
    struct event *back;       /* activated by the worker, runs done on the loop */
};

struct offload {
    struct event_base *base;
    pthread_mutex_t    lock;
    pthread_cond_t     wake;
    struct job        *head, *tail;
    bool               stopping;
    int                busy;      /* threads running a job */
    unsigned           queued;    /* jobs waiting for a thread */
    int                nthreads;
    pthread_t         *threads;
};

static void
back_cb(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;

    (void) fd;
    (void) what;
    j->done(j->arg);
    event_free(j->back);
    free(j);
}

static void *
worker(void *arg)
{
    struct offload *o = arg;
    struct job     *j;

    for (;;) {
        pthread_mutex_lock(&o->lock);
        while (o->head == NULL && !o->stopping)
            pthread_cond_wait(&o->wake, &o->lock);
        if (o->stopping) {
            pthread_mutex_unlock(&o->lock);
            return NULL;
        }
        j = o->head;
        o->head = j->next;
        if (o->head == NULL)
            o->tail = NULL;
        o->queued--;
        o->busy++;
        pthread_mutex_unlock(&o->lock);
        j->work(j->arg);
        pthread_mutex_lock(&o->lock);
        o->busy--;
        pthread_mutex_unlock(&o->lock);
        event_active(j->back, 0, 0);
    }
}

struct offload *
offload_new(struct event_base *base, int threads)
{
    struct offload *o = xcalloc(1, sizeof(*o));

    o->base = base;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    o->threads = xcalloc((size_t) threads, sizeof(pthread_t));
    for (int i = 0; i < threads; i++)
        if (pthread_create(&o->threads[o->nthreads], NULL, worker, o) == 0)
            o->nthreads++;
    return o;
}

void
offload_free(struct offload *o)
{
    if (o == NULL)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_broadcast(&o->wake);
    pthread_mutex_unlock(&o->lock);
    for (int i = 0; i < o->nthreads; i++)
        pthread_join(o->threads[i], NULL);
    while (o->head) {
        struct job *j = o->head;
        o->head = j->next;
        event_free(j->back);
        free(j);
    }
    pthread_cond_destroy(&o->wake);
    pthread_mutex_destroy(&o->lock);
    free(o->threads);
    free(o);
}

void
offload_run(struct offload *o, offload_fn work, offload_fn done, void *arg)
{
    struct job *j = xcalloc(1, sizeof(*j));

    j->work = work;
    j->done = done;
    j->arg = arg;
    j->back = event_new(o->base, -1, 0, back_cb, j);
    pthread_mutex_lock(&o->lock);
    if (o->tail)
        o->tail->next = j;
    else
        o->head = j;
    o->tail = j;
    o->queued++;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
}

void
offload_load(struct offload *o, int *idle, unsigned *queued)
{
    pthread_mutex_lock(&o->lock);
    *idle = o->nthreads - o->busy;
    *queued = o->queued;
    pthread_mutex_unlock(&o->lock);
}
