/* http_bus.c — async NATS requests/subscriptions for the lws loop (see http_bus.h). */
#include "http_bus.h"

#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_conn.h"
#include "bus_json.h"
#include "http_metrics.h"
#include "ibb_log.h"

enum { SLOT_FREE = 0, SLOT_REQ, SLOT_SUB };
enum { ITEM_REPLY = 0, ITEM_MSG, ITEM_NORESP };

typedef struct slot {
    int kind;
    uint32_t gen;
    int next_free;
    httpBusReplyFn reply_fn;
    httpBusMsgFn msg_fn;
    void *arg;
    int64_t t0_us, deadline_us;
    natsSubscription *sub;
} slot;

typedef struct item {
    struct item *next;
    uint64_t handle;
    int kind;
    int64_t recv_us;
    char err_code[16];
    char *err_text;        /* in the same allocation, after data */
    size_t len;
    char data[];           /* len bytes + NUL, then err_text + NUL */
} item;

struct httpBus {
    busConn *conn;
    natsConnection *nc;              /* borrowed from conn */
    natsSubscription *inbox_sub;
    char inbox[64];               /* "_INBOX.<nuid>" */
    slot *slots;
    int nslots, free_head, pending;
    pthread_mutex_t mu;
    item *head, *tail;
    httpBusWakeFn wake;
    void *wake_arg;
};

static uint64_t make_handle(int idx, uint32_t gen)
{
    return ((uint64_t)gen << 32) | (uint32_t)(idx + 1);
}

static slot *lookup(httpBus *b, uint64_t h)
{
    int idx = (int)(uint32_t)h - 1;
    if (idx < 0 || idx >= b->nslots || b->slots[idx].kind == SLOT_FREE ||
        b->slots[idx].gen != (uint32_t)(h >> 32))
        return NULL;
    return &b->slots[idx];
}

static int alloc_slot(httpBus *b)
{
    if (b->free_head < 0) {
        int n = b->nslots ? b->nslots * 2 : 64;
        slot *s = realloc(b->slots, sizeof *s * (size_t)n);
        if (!s)
            return -1;
        memset(s + b->nslots, 0, sizeof *s * (size_t)(n - b->nslots));
        for (int i = n - 1; i >= b->nslots; i--) {
            s[i].next_free = b->free_head;
            b->free_head = i;
        }
        b->slots = s;
        b->nslots = n;
    }
    int idx = b->free_head;
    b->free_head = b->slots[idx].next_free;
    b->slots[idx].gen++;
    return idx;
}

static void free_slot(httpBus *b, slot *s)
{
    int idx = (int)(s - b->slots);
    s->kind = SLOT_FREE;
    s->sub = NULL;
    s->next_free = b->free_head;
    b->free_head = idx;
}

/* ---- nats.c threads ---- */

static void push(httpBus *b, uint64_t handle, int kind, natsMsg *msg)
{
    const char *data = msg ? natsMsg_GetData(msg) : NULL;
    size_t len = msg ? (size_t)natsMsg_GetDataLength(msg) : 0;
    const char *code = NULL, *text = NULL;
    if (msg && kind == ITEM_REPLY) {
        if (natsMsgHeader_Get(msg, "Nats-Service-Error-Code", &code) != NATS_OK)
            code = NULL;
        if (natsMsgHeader_Get(msg, "Nats-Service-Error", &text) != NATS_OK)
            text = NULL;
    }
    size_t tl = text ? strlen(text) : 0;
    item *it = malloc(sizeof *it + len + 1 + tl + 1);
    if (!it)
        return;   /* the request will time out: the answer is 504, not a crash */
    it->next = NULL;
    it->handle = handle;
    it->kind = kind;
    it->recv_us = http_nowUs();
    it->len = len;
    if (len)
        memcpy(it->data, data, len);
    it->data[len] = '\0';
    it->err_text = NULL;
    if (text) {
        it->err_text = it->data + len + 1;
        memcpy(it->err_text, text, tl + 1);
    }
    it->err_code[0] = '\0';
    if (code)
        snprintf(it->err_code, sizeof it->err_code, "%s", code);
    pthread_mutex_lock(&b->mu);
    int was_empty = b->head == NULL;
    if (b->tail)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    pthread_mutex_unlock(&b->mu);
    if (was_empty && b->wake)
        b->wake(b->wake_arg);
}

static void on_inbox(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    httpBus *b = closure;
    const char *subj = natsMsg_GetSubject(msg);
    const char *dot = strrchr(subj, '.');
    uint64_t h = dot ? strtoull(dot + 1, NULL, 10) : 0;
    if (h)
        push(b, h, natsMsg_IsNoResponders(msg) ? ITEM_NORESP : ITEM_REPLY, msg);
    natsMsg_Destroy(msg);
}

typedef struct subClosure {
    httpBus *b;
    uint64_t handle;
} subClosure;

static void on_sub_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    subClosure *c = closure;
    push(c->b, c->handle, ITEM_MSG, msg);
    natsMsg_Destroy(msg);
}

static void on_sub_complete(void *closure)
{
    free(closure);
}

/* ---- loop thread ---- */

ibbStatus httpBus_Create(httpBus **out, const httpConfig *cfg, uv_loop_t *loop, httpBusWakeFn wake,
                         void *wake_arg)
{
    *out = NULL;
    httpBus *b = calloc(1, sizeof *b);
    if (!b)
        return IBB_ERR_NOMEM;
    b->free_head = -1;
    b->wake = wake;
    b->wake_arg = wake_arg;
    pthread_mutex_init(&b->mu, NULL);
    natsInbox *inbox = NULL;
    ibbStatus st;
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = cfg->nats_url;
    o.name = cfg->nats_name;
    o.user = cfg->nats.user;
    o.password = cfg->nats.password;
    o.token = cfg->nats.token;
    o.creds_file = cfg->nats.creds;
    o.nkey = cfg->nats.nkey;
    o.nkey_seed_file = cfg->nats.nkey_seed;
    o.tls_ca_file = cfg->nats.tls_ca;
    o.tls_cert_file = cfg->nats.tls_cert;
    o.tls_key_file = cfg->nats.tls_key;
    o.reconnect_wait_ms = 500;
    /* With a loop, nats.c's socket is read and written on it: the requests of one loop turn leave in one
     * write when the loop next runs. Without one (the probe), each request is written at once. */
    o.loop = loop;
    o.send_asap = loop == NULL;
    if ((st = busConn_Create(&b->conn, &o)) != IBB_OK)
        goto done;
    b->nc = busConn_Nats(b->conn);
    st = IBB_ERR_IO;
    if (natsInbox_Create(&inbox) != NATS_OK)
        goto done;
    snprintf(b->inbox, sizeof b->inbox, "%s", (const char *)inbox);
    char wild[80];
    snprintf(wild, sizeof wild, "%s.*", b->inbox);
    if (natsConnection_Subscribe(&b->inbox_sub, b->nc, wild, on_inbox, b) != NATS_OK)
        goto done;
    natsSubscription_SetPendingLimits(b->inbox_sub, -1, -1);
    st = IBB_OK;
done:
    natsInbox_Destroy(inbox);
    if (st != IBB_OK) {
        httpBus_Destroy(b);
        return st;
    }
    *out = b;
    return IBB_OK;
}

void httpBus_Destroy(httpBus *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->nslots; i++)
        if (b->slots[i].kind == SLOT_SUB && b->slots[i].sub) {
            natsSubscription_Unsubscribe(b->slots[i].sub);
            natsSubscription_Destroy(b->slots[i].sub);
        }
    if (b->inbox_sub) {
        natsSubscription_Unsubscribe(b->inbox_sub);
        natsSubscription_Destroy(b->inbox_sub);
    }
    if (b->nc && !busConn_OnLoop(b->conn))
        natsConnection_FlushTimeout(b->nc, 1000); /* (a loop-driven Destroy writes what is left itself) */
    busConn_Destroy(b->conn);
    for (item *it = b->head, *n; it; it = n) {
        n = it->next;
        free(it);
    }
    free(b->slots);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

ibbStatus httpBus_Request(httpBus *b, const char *subject, const void *body, size_t len, int timeout_ms,
                          httpBusReplyFn fn, void *arg, uint64_t *handle)
{
    *handle = 0;
    int idx = alloc_slot(b);
    if (idx < 0)
        return IBB_ERR_NOMEM;
    slot *s = &b->slots[idx];
    uint64_t h = make_handle(idx, s->gen);
    char reply[96];
    snprintf(reply, sizeof reply, "%s.%" PRIu64, b->inbox, h);
    natsStatus ns = natsConnection_PublishRequest(b->nc, subject, reply, body, (int)len);
    if (ns != NATS_OK) {
        IBB_WARN("http.nats.publish", "subject=%s err=\"%s\"", subject, natsStatus_GetText(ns));
        s->kind = SLOT_REQ;
        free_slot(b, s);
        return IBB_ERR_IO;
    }
    s->kind = SLOT_REQ;
    s->reply_fn = fn;
    s->arg = arg;
    s->t0_us = http_nowUs();
    s->deadline_us = s->t0_us + (int64_t)timeout_ms * 1000;
    b->pending++;
    *handle = h;
    return IBB_OK;
}

void httpBus_Cancel(httpBus *b, uint64_t handle)
{
    slot *s = handle ? lookup(b, handle) : NULL;
    if (s && s->kind == SLOT_REQ) {
        b->pending--;
        free_slot(b, s);
    }
}

ibbStatus httpBus_Subscribe(httpBus *b, const char *subject, httpBusMsgFn fn, void *arg, uint64_t *handle)
{
    *handle = 0;
    int idx = alloc_slot(b);
    if (idx < 0)
        return IBB_ERR_NOMEM;
    slot *s = &b->slots[idx];
    subClosure *c = malloc(sizeof *c);
    if (!c) {
        s->kind = SLOT_SUB;
        free_slot(b, s);
        return IBB_ERR_NOMEM;
    }
    c->b = b;
    c->handle = make_handle(idx, s->gen);
    natsSubscription *sub = NULL;
    natsStatus ns = natsConnection_Subscribe(&sub, b->nc, subject, on_sub_msg, c);
    if (ns != NATS_OK) {
        IBB_WARN("http.nats.subscribe", "subject=%s err=\"%s\"", subject, natsStatus_GetText(ns));
        free(c);
        s->kind = SLOT_SUB;
        free_slot(b, s);
        return IBB_ERR_IO;
    }
    natsSubscription_SetOnCompleteCB(sub, on_sub_complete, c);
    natsSubscription_SetPendingLimits(sub, 65536, 64 << 20);
    s->kind = SLOT_SUB;
    s->msg_fn = fn;
    s->arg = arg;
    s->sub = sub;
    *handle = c->handle;
    return IBB_OK;
}

void httpBus_PrivateSubject(httpBus *b, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s_%s", b->inbox, name);
}

ibbStatus httpBus_Publish(httpBus *b, const char *subject, const char *reply, const void *data, size_t len)
{
    natsStatus ns = reply ? natsConnection_PublishRequest(b->nc, subject, reply, data, (int)len)
                          : natsConnection_Publish(b->nc, subject, data, (int)len);
    return ns == NATS_OK ? IBB_OK : IBB_ERR_IO;
}

void httpBus_Unsubscribe(httpBus *b, uint64_t handle)
{
    slot *s = handle ? lookup(b, handle) : NULL;
    if (!s || s->kind != SLOT_SUB)
        return;
    natsSubscription_Unsubscribe(s->sub);
    natsSubscription_Destroy(s->sub);
    free_slot(b, s);
}

static void deliver(httpBus *b, item *it)
{
    slot *s = lookup(b, it->handle);
    if (!s)
        return;
    if (s->kind == SLOT_SUB) {
        if (it->kind == ITEM_MSG)
            s->msg_fn(s->arg, it->data, it->len);
        return;
    }
    if (it->kind == ITEM_MSG)
        return;
    httpBusReply r = {
        .status = it->kind == ITEM_NORESP ? IBB_ERR_NOT_FOUND : IBB_OK,
        .data = it->data,
        .len = it->len,
        .err_code = it->err_code[0] ? it->err_code : NULL,
        .err_text = it->err_text,
        .rtt_us = it->recv_us - s->t0_us,
    };
    httpBusReplyFn fn = s->reply_fn;
    void *arg = s->arg;
    b->pending--;
    free_slot(b, s);
    fn(arg, &r);
}

void httpBus_Dispatch(httpBus *b)
{
    pthread_mutex_lock(&b->mu);
    item *it = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->mu);
    while (it) {
        item *n = it->next;
        deliver(b, it);
        free(it);
        it = n;
    }
}

void httpBus_Tick(httpBus *b)
{
    int64_t now = http_nowUs();
    for (int i = 0; i < b->nslots && b->pending > 0; i++) {
        slot *s = &b->slots[i];
        if (s->kind != SLOT_REQ || s->deadline_us > now)
            continue;
        httpBusReply r = {.status = IBB_ERR_TIMEOUT, .data = "", .rtt_us = now - s->t0_us};
        httpBusReplyFn fn = s->reply_fn;
        void *arg = s->arg;
        b->pending--;
        free_slot(b, s);
        fn(arg, &r);
    }
}

int httpBus_Connected(httpBus *b)
{
    return busConn_IsConnected(b->conn);
}

int httpBus_Pending(httpBus *b)
{
    return b->pending;
}
