/* offload.c - worker threads; finished jobs come back to the loop through an
 * eventfd, so the loop's libevent needs no locks (no evthread). */
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "common/xalloc.h"
#include "common/offload.h"

struct job {
    struct job   *next;
    offload_fn    work, done;
    void         *arg;
};

struct offload {
    pthread_mutex_t    lock;
    pthread_cond_t     wake;
    struct job        *head, *tail;      /* waiting for a thread */
    struct job        *finished;         /* waiting for the loop (any order) */
    bool               stopping;
    int                busy;      /* threads running a job */
    unsigned           queued;    /* jobs waiting for a thread */
    int                nthreads;
    pthread_t         *threads;
    int                efd;       /* written by a worker when it finishes a job */
    struct event      *back;      /* reads efd on the loop, runs the done callbacks */
};

static void
back_cb(evutil_socket_t fd, short what, void *arg)
{
    struct offload *o = arg;
    struct job     *j;
    uint64_t        n;

    (void) what;
    if (read(fd, &n, sizeof(n)) < 0)
        return;                           /* EAGAIN: nothing finished */
    pthread_mutex_lock(&o->lock);
    j = o->finished;
    o->finished = NULL;
    pthread_mutex_unlock(&o->lock);
    while (j != NULL) {
        struct job *next = j->next;

        j->done(j->arg);
        free(j);
        j = next;
    }
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
        j->next = o->finished;
        o->finished = j;
        pthread_mutex_unlock(&o->lock);
        if (write(o->efd, &(uint64_t) { 1 }, sizeof(uint64_t)) < 0)
            abort();                      /* an eventfd write can't fail short of a bug */
    }
}

struct offload *
offload_new(struct event_base *base, int threads)
{
    struct offload *o = xcalloc(1, sizeof(*o));

    o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (o->efd < 0)
        abort();                          /* out of descriptors at start-up */
    o->back = event_new(base, o->efd, EV_READ | EV_PERSIST, back_cb, o);
    event_add(o->back, NULL);
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
        free(j);
    }
    while (o->finished) {
        struct job *j = o->finished;
        o->finished = j->next;
        free(j);
    }
    event_free(o->back);
    close(o->efd);
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
