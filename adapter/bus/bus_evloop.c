/* bus_evloop.c — a natsConnection on a libuv loop; see bus_evloop.h. */
#include "bus_evloop.h"

#include <stdlib.h>
#include <unistd.h>

#include "ibb_log.h"

#define NO_SOCKET ((natsSock)-1) /* nats.c's NATS_SOCK_INVALID is not public */

struct busEvLoop {
    uv_loop_t *loop;
    uv_thread_t owner;       /* the loop's thread */
    uv_async_t wake;         /* other threads' changes are applied on the loop */
    natsConnection *nc;      /* set by the first attach */
    uv_check_t check;        /* writes nats.c's buffer after the loop's poll phase */
    int open_handles;        /* wake + check + the current poll handle, once closing */
    bool closing;
    /* what nats.c asked for, under mu (written by its callbacks on any thread) */
    uv_mutex_t mu;
    natsSock fd;
    unsigned gen;            /* bumped by every attach: a reconnect may reuse the fd number */
    int want;                /* UV_READABLE | UV_WRITABLE */
    bool detached;
    /* what the loop has applied (loop thread only) */
    uv_poll_t *poll;
    unsigned poll_gen;
    int events;
    bool blocked;            /* the last write left data behind: wait for the socket (UV_WRITABLE) */
};

bool busEvLoop_OnLoopThread(const busEvLoop *ev)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &ev->owner) != 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    busEvLoop *ev = h->data;
    if (status < 0 || (events & UV_READABLE))
        natsConnection_ProcessReadEvent(ev->nc); /* an error reads too: nats.c then reconnects */
    if (status == 0 && (events & UV_WRITABLE))
        natsConnection_ProcessWriteEvent(ev->nc);
}

/* A poll handle watches its own duplicate of nats.c's socket: nats.c closes its descriptor from its
 * reconnect thread whenever the server goes away, and libuv aborts the process when it asks epoll about
 * a descriptor that is closed (EBADF) or was reused. The duplicate stays valid until the loop has
 * dropped the handle (the socket itself closes once both are closed). */
typedef struct pollBox {
    uv_poll_t h;             /* first: a uv_handle_t * of it is the box */
    int fd;                  /* our dup() of nats.c's socket */
} pollBox;

static void free_handle(uv_handle_t *h)
{
    pollBox *b = (pollBox *)h;
    close(b->fd);
    free(b);
}

static void drop_poll(busEvLoop *ev)
{
    if (ev->poll != NULL)
        uv_close((uv_handle_t *)ev->poll, free_handle);
    ev->poll = NULL;
    ev->events = 0;
}

static void open_poll(busEvLoop *ev, natsSock fd, unsigned gen)
{
    pollBox *b = malloc(sizeof *b);
    int dfd = b != NULL ? dup((int)fd) : -1;
    if (dfd < 0 || uv_poll_init_socket(ev->loop, &b->h, dfd) != 0) {
        if (dfd >= 0)
            close(dfd);
        free(b);
        IBB_ERROR("nats.evloop_poll_failed", "fd=%d", (int)fd); /* nats.c's pings then reconnect */
        return;
    }
    b->fd = dfd;
    uv_poll_t *p = &b->h;
    p->data = ev;
    uv_unref((uv_handle_t *)p);
    ev->poll = p;
    ev->poll_gen = gen;
}

static void apply(busEvLoop *ev);

/* After the poll phase of every loop turn that published: one write for everything the turn buffered.
 * Writing here instead of waiting for UV_WRITABLE spares two epoll_ctl calls per turn (libuv's
 * uv_poll_start drops the fd from epoll and adds it back), and keeps the read interest registered
 * at all times, which a loop embedded in another one (ib-bridge-http) relies on. */
static void on_check(uv_check_t *h)
{
    busEvLoop *ev = h->data;
    if (ev->nc != NULL)
        natsConnection_ProcessWriteEvent(ev->nc); /* all written: nats.c drops its write interest */
    uv_mutex_lock(&ev->mu);
    bool more = (ev->want & UV_WRITABLE) != 0;
    uv_mutex_unlock(&ev->mu);
    if (more) {              /* socket full (or not attached): wait until it can take more */
        ev->blocked = true;
        apply(ev);
    }
}

/* Loop thread: make the poll and check handles match what nats.c last asked for. */
static void apply(busEvLoop *ev)
{
    if (ev->closing)
        return;
    uv_mutex_lock(&ev->mu);
    natsSock fd = ev->fd;
    unsigned gen = ev->gen;
    int want = ev->want;
    bool detached = ev->detached;
    uv_mutex_unlock(&ev->mu);
    if (!(want & UV_WRITABLE))
        ev->blocked = false;
    if (detached || (ev->poll != NULL && ev->poll_gen != gen))
        drop_poll(ev);
    if (detached || fd == NO_SOCKET) {
        uv_check_stop(&ev->check);
        return;
    }
    if ((want & UV_WRITABLE) && !ev->blocked)
        uv_check_start(&ev->check, on_check);
    else
        uv_check_stop(&ev->check);
    int events = (want & UV_READABLE) | (ev->blocked ? UV_WRITABLE : 0);
    if (ev->poll == NULL)
        open_poll(ev, fd, gen);
    if (ev->poll == NULL || events == ev->events)
        return;
    if (events != 0)
        uv_poll_start(ev->poll, events, on_poll);
    else
        uv_poll_stop(ev->poll);
    ev->events = events;
}

static void on_wake(uv_async_t *h) { apply(h->data); }

/* Called by nats.c's callbacks (its lock held): apply now on the loop, else wake it. */
static natsStatus changed(busEvLoop *ev)
{
    if (busEvLoop_OnLoopThread(ev)) {
        apply(ev);
        return NATS_OK;
    }
    return uv_async_send(&ev->wake) == 0 ? NATS_OK : NATS_ERR;
}

static natsStatus ev_attach(void **user, void *loop, natsConnection *nc, natsSock fd)
{
    busEvLoop *ev = loop;
    *user = ev;
    uv_mutex_lock(&ev->mu);
    ev->nc = nc;
    ev->fd = fd;
    ev->gen++;
    ev->want = UV_READABLE;
    ev->detached = false;
    uv_mutex_unlock(&ev->mu);
    return changed(ev);
}

static natsStatus set_want(busEvLoop *ev, int bit, bool add)
{
    uv_mutex_lock(&ev->mu);
    ev->want = add ? ev->want | bit : ev->want & ~bit;
    uv_mutex_unlock(&ev->mu);
    return changed(ev);
}

static natsStatus ev_read(void *user, bool add) { return set_want(user, UV_READABLE, add); }
static natsStatus ev_write(void *user, bool add) { return set_want(user, UV_WRITABLE, add); }

static natsStatus ev_detach(void *user)
{
    busEvLoop *ev = user;
    uv_mutex_lock(&ev->mu);
    ev->detached = true;
    uv_mutex_unlock(&ev->mu);
    return changed(ev);
}

ibbStatus busEvLoop_Create(busEvLoop **out, uv_loop_t *loop)
{
    busEvLoop *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return IBB_ERR_NOMEM;
    if (uv_mutex_init(&ev->mu) != 0) {
        free(ev);
        return IBB_ERR_NOMEM;
    }
    if (uv_async_init(loop, &ev->wake, on_wake) != 0) {
        uv_mutex_destroy(&ev->mu);
        free(ev);
        return IBB_ERR_IO;
    }
    uv_check_init(loop, &ev->check);
    ev->check.data = ev;
    uv_unref((uv_handle_t *)&ev->check);
    ev->loop = loop;
    ev->owner = uv_thread_self();
    ev->fd = NO_SOCKET;
    ev->wake.data = ev;
    uv_unref((uv_handle_t *)&ev->wake);
    *out = ev;
    return IBB_OK;
}

natsStatus busEvLoop_Apply(busEvLoop *ev, natsOptions *no)
{
    natsStatus s = natsOptions_SetEventLoop(no, ev, ev_attach, ev_read, ev_write, ev_detach);
    return s == NATS_OK ? natsOptions_SetSendAsap(no, true) : s;
}

void busEvLoop_WriteNow(busEvLoop *ev)
{
    if (ev != NULL && ev->nc != NULL && busEvLoop_OnLoopThread(ev))
        natsConnection_ProcessWriteEvent(ev->nc);
}

static void on_closed(uv_handle_t *h)
{
    busEvLoop *ev = h->data;
    if (h != (uv_handle_t *)&ev->wake && h != (uv_handle_t *)&ev->check)
        free_handle(h);
    if (--ev->open_handles == 0) {
        uv_mutex_destroy(&ev->mu);
        free(ev);
    }
}

void busEvLoop_Close(busEvLoop *ev)
{
    if (ev == NULL || ev->closing)
        return;
    ev->closing = true;
    ev->open_handles = 2;
    uv_close((uv_handle_t *)&ev->wake, on_closed);
    uv_close((uv_handle_t *)&ev->check, on_closed);
    if (ev->poll != NULL) {
        ev->open_handles++;
        uv_close((uv_handle_t *)ev->poll, on_closed);
        ev->poll = NULL;
    }
}
