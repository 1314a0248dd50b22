/* core_pacer.c — token bucket + two FIFO queues; see core_pacer.h. */
#include "core_pacer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ib_msgs.h"

typedef struct pacerItem {
    struct pacerItem *next;
    int tag;
    int64_t key; /* IB request id, 0 = none (never dropped) */
    size_t len;
    char data[];
} pacerItem;

typedef struct pacerQueue {
    pacerItem *head, *tail;
    size_t n;
} pacerQueue;

struct corePacer {
    double rate; /* tokens per millisecond */
    double burst;
    double tokens;
    double last_ms; /* time of the last refill; < 0 before the first Run */
    size_t max_queue;
    pacerQueue q[2]; /* [0] cancels, [1] normal */
    uint64_t sent;
    uint64_t dropped;
    corePacerKeepFn keep;
    void *keep_ud;
};

bool corePacer_IsCancel(int request_id)
{
    switch (request_id) {
    case IB_REQ_CANCEL_MKT_DATA:
    case IB_REQ_CANCEL_ORDER:
    case IB_REQ_CANCEL_HISTORICAL_DATA:
    case IB_REQ_CANCEL_ACCOUNT_SUMMARY:
    case IB_REQ_CANCEL_POSITIONS:
    case IB_REQ_GLOBAL_CANCEL: return true;
    default: return false;
    }
}

ibbStatus corePacer_Create(corePacer **out, double rate, int burst, size_t max_queue)
{
    if (!out || !(rate > 0.0) || rate > CORE_PACER_MAX_RATE || burst < 1)
        return IBB_ERR_INVALID_ARG;
    corePacer *p = calloc(1, sizeof *p);
    if (!p)
        return IBB_ERR_NOMEM;
    p->rate = rate / 1000.0;
    p->burst = burst;
    p->tokens = burst;
    p->last_ms = -1.0;
    p->max_queue = max_queue;
    *out = p;
    return IBB_OK;
}

static size_t clear_queue(pacerQueue *q)
{
    size_t n = q->n;
    for (pacerItem *it = q->head, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    memset(q, 0, sizeof *q);
    return n;
}

void corePacer_Destroy(corePacer *p)
{
    if (!p)
        return;
    corePacer_Clear(p);
    free(p);
}

size_t corePacer_Clear(corePacer *p) { return clear_queue(&p->q[0]) + clear_queue(&p->q[1]); }

uint64_t corePacer_Sent(const corePacer *p) { return p->sent; }

uint64_t corePacer_Dropped(const corePacer *p) { return p->dropped; }

void corePacer_SetKeep(corePacer *p, corePacerKeepFn fn, void *ud)
{
    p->keep = fn;
    p->keep_ud = fn ? ud : NULL;
}

size_t corePacer_Depth(const corePacer *p, size_t *cancels, size_t *normal)
{
    if (cancels)
        *cancels = p->q[0].n;
    if (normal)
        *normal = p->q[1].n;
    return p->q[0].n + p->q[1].n;
}

ibbStatus corePacer_Push(corePacer *p, corePriority prio, int tag, const void *data, size_t len)
{
    return corePacer_PushKeyed(p, prio, tag, 0, data, len);
}

ibbStatus corePacer_PushKeyed(corePacer *p, corePriority prio, int tag, int64_t key, const void *data,
                              size_t len)
{
    if (!p || (!data && len))
        return IBB_ERR_INVALID_ARG;
    if (p->max_queue && p->q[0].n + p->q[1].n >= p->max_queue)
        return IBB_ERR_LIMIT;
    pacerItem *it = malloc(sizeof *it + len);
    if (!it)
        return IBB_ERR_NOMEM;
    it->next = NULL;
    it->tag = tag;
    it->key = key;
    it->len = len;
    if (len)
        memcpy(it->data, data, len);
    if (prio == CORE_PRIO_AUTO)
        prio = corePacer_IsCancel(tag) ? CORE_PRIO_CANCEL : CORE_PRIO_NORMAL;
    pacerQueue *q = &p->q[prio == CORE_PRIO_CANCEL ? 0 : 1];
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    return IBB_OK;
}

/* Takes the next message (cancels first); *droppable when the keep callback may refuse it. */
static pacerItem *pop(corePacer *p, bool *droppable)
{
    for (int i = 0; i < 2; i++) {
        pacerQueue *q = &p->q[i];
        pacerItem *it = q->head;
        if (!it)
            continue;
        q->head = it->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        *droppable = i == 1 && it->key != 0 && !corePacer_IsCancel(it->tag);
        return it;
    }
    return NULL;
}

int64_t corePacer_Run(corePacer *p, double now_ms, corePacerEmitFn emit, void *ud)
{
    if (p->last_ms < 0 || now_ms < p->last_ms)
        p->last_ms = now_ms; /* first call, or a clock that went backwards: no refill */
    p->tokens = fmin(p->burst, p->tokens + (now_ms - p->last_ms) * p->rate);
    p->last_ms = now_ms;
    while (p->tokens >= 1.0 && (p->q[0].n || p->q[1].n)) {
        bool droppable = false;
        pacerItem *it = pop(p, &droppable);
        if (droppable && p->keep && !p->keep(p->keep_ud, it->tag, it->key)) {
            p->dropped++; /* its caller gave up: the token stays for the next message */
            free(it);
            continue;
        }
        p->tokens -= 1.0;
        p->sent++;
        if (emit)
            emit(ud, it->tag, it->data, it->len);
        free(it);
    }
    if (!p->q[0].n && !p->q[1].n)
        return -1;
    /* Round up: waking early would only find the token missing and re-arm. */
    double wait = (1.0 - p->tokens) / p->rate;
    int64_t ms = (int64_t)ceil(wait);
    return ms < 1 ? 1 : ms;
}
