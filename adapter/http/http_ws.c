/* http_ws.c — WebSocket quotes: /ws/quotes/{symbol} (one symbol, as the Python bridge had) and
 * /ws/quotes (subscribe/unsubscribe messages for many symbols); the streams beyond level 1, one
 * symbol each: /ws/depth/{symbol} (the order book), /ws/ticks/{symbol} (tick-by-tick),
 * /ws/bars/{symbol} (5-second bars), leased with ib.rpc.subscribe {kind}; and /ws/events: ib-bridge's
 * connection events (ib.evt.conn) and order events (ib.evt.order.>) as {"type":"conn"|"order",
 * "data":...}, the last EVT_KEEP of each kind replayed to a client when it connects (the operator page).
 *
 * The hub keeps one wsTopic per symbol: one ib.rpc.subscribe lease (renewed at half its ttl) and
 * one bus subscription to the subject the lease reply names, shared by every client following the
 * symbol. Each quote becomes one refcounted frame ({"type":"quote","symbol":..,"data":<quote>}),
 * built once and shared by all clients. A client keeps, per symbol, only the newest frame it has
 * not sent yet (conflation): a slow client gets fewer, fresher quotes, never a growing queue, and
 * never delays the others because a client is written only when lws says it is writable. Books
 * (frames {"type":"depth"}) are conflated the same way; ticks and bars ({"type":"tick"|"bar"}) are
 * never conflated: they queue per client, and a client more than WS_LOSSLESS_MAX frames behind is
 * closed (1008) rather than silently losing some. A topic is (kind, symbol).
 *
 * Ownership: the hub owns topics; a topic owns its frame and an array of borrowed client pointers;
 * a client (httpSess.ws) owns its slots and control queue and is freed in LWS_CALLBACK_CLOSED after
 * leaving every topic. Loop thread only. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http_app.h"
#include "bus_json.h"
#include "http_mpjson.h"
#include "ibb_log.h"

#define NBUCKETS 256
#define EVT_KEEP 16
#define WS_LOSSLESS_MAX 8192

enum { WK_QUOTE = 0, WK_DEPTH, WK_TICKS, WK_BARS };
static const char *const KIND_NAMES[] = {"quote", "depth", "ticks", "bars"};
static const char *const FRAME_TYPES[] = {"quote", "depth", "tick", "bar"};
static const char *const PATH_NAMES[] = {"quotes", "depth", "ticks", "bars"};   /* /ws/<name>/{symbol} */

enum { T_LEASING = 0, T_ACTIVE };

typedef struct wsFrame {
    int refs;
    size_t len;
    unsigned char data[];    /* LWS_PRE head room, then len bytes */
} wsFrame;

typedef struct wsTopic {
    struct wsTopic *next;
    httpHub *hub;
    char *symbol;
    int kind;                /* WK_* */
    int state;
    char *lease_id, *subject;
    json_t *contract;
    uint64_t sub_handle, req_handle;
    int64_t renew_at_us;
    int64_t rest_until_us;   /* REST interest (GET /quotes): keep the lease until then, even with no client */
    wsClient **clients;
    int nclients, cap;
    wsFrame *last;
} wsTopic;

typedef struct wsSlot {
    wsTopic *t;
    wsFrame *pending;        /* conflated kinds: the newest frame not sent yet */
    wsFrame **q;             /* lossless kinds (ticks, bars): every frame not sent yet, a ring */
    int qh, qn, qcap;
} wsSlot;

struct wsClient {
    httpApp *app;
    struct lws *wsi;
    struct wsClient *prev, *next;
    char single[72];         /* the symbol of /ws/quotes/{symbol}; "" for /ws/quotes */
    int events;              /* a /ws/events client */
    wsSlot *slots;
    int nslots, rr;
    wsFrame **ctl;           /* ring of control messages; grows up to 2 * max_symbols + 16 */
    int ctl_head, ctl_n, ctl_cap;
    int closing, close_code;
    char close_reason[100];
    busBuf rx;
};

struct httpHub {
    httpApp *app;
    wsTopic *buckets[NBUCKETS];
    wsClient *clients;       /* every open client (for shutdown) */
    int nclients;
    int rest_topics;         /* topics created by httpHub_Touch (capped: IB lines are scarce) */
    uint64_t evt_subs[2];    /* ib.evt.conn, ib.evt.order.> (subscribed with the first /ws/events client) */
    wsFrame *evt_keep[2][EVT_KEEP];   /* the newest events of each kind, a ring (owned references) */
    int evt_next[2];
};

#define HUB_REST_MAX 20

static int held_by_rest(const wsTopic *t)
{
    return t->rest_until_us && http_nowUs() < t->rest_until_us;
}

/* ---------------------------------------------------------------- frames */

static wsFrame *frame_new(const char *text, size_t len)
{
    wsFrame *f = malloc(sizeof *f + LWS_PRE + len);
    if (!f)
        return NULL;
    f->refs = 1;
    f->len = len;
    memcpy(f->data + LWS_PRE, text, len);
    return f;
}

static void frame_unref(wsFrame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

static wsFrame *frame_json(json_t *o)
{
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!txt)
        return NULL;
    wsFrame *f = frame_new(txt, strlen(txt));
    free(txt);
    return f;
}

/* ---------------------------------------------------------------- clients */

static void client_close(wsClient *c, int code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

static void client_ctl(wsClient *c, wsFrame *f)
{
    if (!f)
        return;
    if (c->ctl_n == c->ctl_cap) {
        /* an events client also takes the replay (2 * EVT_KEEP) and bursts of order events */
        int limit = 2 * (int)c->app->cfg->ws_max_symbols + 16 + (c->events ? 2 * EVT_KEEP + 256 : 0);
        int cap = c->ctl_cap ? c->ctl_cap * 2 : 8;
        cap = cap > limit ? limit : cap;
        wsFrame **v = cap > c->ctl_cap ? malloc(sizeof *v * (size_t)cap) : NULL;
        if (!v) {   /* a client that sends faster than it reads its answers */
            frame_unref(f);
            client_close(c, 1008, "too many unread control messages");
            return;
        }
        for (int i = 0; i < c->ctl_n; i++)
            v[i] = c->ctl[(c->ctl_head + i) % c->ctl_cap];
        free(c->ctl);
        c->ctl = v;
        c->ctl_head = 0;
        c->ctl_cap = cap;
    }
    c->ctl[(c->ctl_head + c->ctl_n++) % c->ctl_cap] = f;
    lws_callback_on_writable(c->wsi);
}

static void client_error(wsClient *c, const char *symbol, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "code", code, "message", msg);
    if (o && symbol)
        json_object_set_new(o, "symbol", json_string(symbol));
    client_ctl(c, frame_json(o));
}

static void client_subscribed(wsClient *c, wsTopic *t)
{
    json_t *o = json_pack("{s:s,s:s}", "type", "subscribed", "symbol", t->symbol);
    if (o && t->kind != WK_QUOTE)
        json_object_set_new(o, "kind", json_string(KIND_NAMES[t->kind]));
    if (o && t->contract)
        json_object_set(o, "contract", t->contract);
    client_ctl(c, frame_json(o));
}

static wsSlot *client_slot(wsClient *c, wsTopic *t)
{
    for (int i = 0; i < c->nslots; i++)
        if (c->slots[i].t == t)
            return &c->slots[i];
    return NULL;
}

/* ---------------------------------------------------------------- topics */

static unsigned hash(int kind, const char *s)
{
    unsigned h = 2166136261u ^ (unsigned)kind;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % NBUCKETS;
}

static wsTopic *topic_find(httpHub *hub, int kind, const char *sym)
{
    for (wsTopic *t = hub->buckets[hash(kind, sym)]; t; t = t->next)
        if (t->kind == kind && strcmp(t->symbol, sym) == 0)
            return t;
    return NULL;
}

static void topic_destroy(wsTopic *t)
{
    httpHub *hub = t->hub;
    wsTopic **pp = &hub->buckets[hash(t->kind, t->symbol)];
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    if (t->rest_until_us)
        hub->rest_topics--;
    httpBus_Cancel(hub->app->bus, t->req_handle);
    httpBus_Unsubscribe(hub->app->bus, t->sub_handle);
    hub->app->metrics.ws_topics--;
    frame_unref(t->last);
    json_decref(t->contract);
    free(t->lease_id);
    free(t->subject);
    free(t->clients);
    free(t->symbol);
    free(t);
}

static void on_release_reply(void *arg, const httpBusReply *rep)
{
    (void)arg;
    (void)rep;
}

/* No client left: drop the bus subscription and give the lease back. */
static void topic_release(wsTopic *t)
{
    httpApp *app = t->hub->app;
    if (t->lease_id) {
        json_t *o = json_pack("{s:s}", "lease_id", t->lease_id);
        char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        char subject[160];
        uint64_t h;
        snprintf(subject, sizeof subject, "%s.rpc.unsubscribe", app->cfg->nats.subject_prefix);
        if (txt)
            httpBus_Request(app->bus, subject, txt, strlen(txt), app->cfg->request_timeout_ms,
                            on_release_reply, NULL, &h);
        free(txt);
    }
    IBB_INFO("http.ws.symbol_released", "symbol=\"%s\"", t->symbol);
    topic_destroy(t);
}

static void topic_remove_client(wsTopic *t, wsClient *c)
{
    for (int i = 0; i < t->nclients; i++)
        if (t->clients[i] == c) {
            t->clients[i] = t->clients[--t->nclients];
            break;
        }
    /* a topic still waiting for its lease reply is released when the reply comes */
    if (t->nclients == 0 && t->state == T_ACTIVE && !held_by_rest(t))
        topic_release(t);
}

static void client_drop_slot(wsClient *c, wsSlot *s)
{
    frame_unref(s->pending);
    for (int i = 0; i < s->qn; i++)
        frame_unref(s->q[(s->qh + i) % s->qcap]);
    free(s->q);
    *s = c->slots[--c->nslots];
}

/* Queues f (a reference taken here) for a lossless kind. false when the client is too far behind. */
static bool slot_push(wsSlot *s, wsFrame *f)
{
    if (s->qn == s->qcap) {
        int cap = s->qcap ? s->qcap * 2 : 16;
        wsFrame **v = cap <= WS_LOSSLESS_MAX ? malloc(sizeof *v * (size_t)cap) : NULL;
        if (!v)
            return false;
        for (int i = 0; i < s->qn; i++)
            v[i] = s->q[(s->qh + i) % s->qcap];
        free(s->q);
        s->q = v;
        s->qh = 0;
        s->qcap = cap;
    }
    f->refs++;
    s->q[(s->qh + s->qn++) % s->qcap] = f;
    return true;
}

static wsFrame *slot_pop(wsSlot *s)
{
    wsFrame *f = s->pending;
    if (f) {
        s->pending = NULL;
        return f;
    }
    if (!s->qn)
        return NULL;
    f = s->q[s->qh];
    s->qh = (s->qh + 1) % s->qcap;
    s->qn--;
    return f;
}

static void on_quote(void *arg, const char *data, size_t len)
{
    wsTopic *t = arg;
    httpMetrics *m = &t->hub->app->metrics;
    m->ws_quotes_in++;
    busBuf b;
    busBuf_InitPre(&b, LWS_PRE);
    busBuf_Printf(&b, "{\"type\":\"%s\",\"symbol\":", FRAME_TYPES[t->kind]);
    busJson_String(&b, t->symbol, strlen(t->symbol));
    busBuf_Puts(&b, ",\"data\":");
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
        i++;
    if (i < len && data[i] == '{') {
        busBuf_Append(&b, data, len);
    } else if (http_msgpackToJson(data, len, &b) != IBB_OK) {
        IBB_WARN("http.ws.bad_quote", "symbol=\"%s\" bytes=%zu", t->symbol, len);
        busBuf_Free(&b);
        return;
    }
    busBuf_Puts(&b, "}");
    wsFrame *f = b.oom ? NULL : frame_new(busBuf_CStr(&b), b.len);
    busBuf_Free(&b);
    if (!f)
        return;
    frame_unref(t->last);
    t->last = f;
    for (int k = 0; k < t->nclients; k++) {
        wsClient *c = t->clients[k];
        wsSlot *s = client_slot(c, t);
        if (!s || c->closing)
            continue;
        if (t->kind == WK_TICKS || t->kind == WK_BARS) {
            if (!slot_push(s, f))
                client_close(c, 1008, "too slow for a lossless stream (ticks or bars)");
            lws_callback_on_writable(c->wsi);
            continue;
        }
        if (s->pending) {
            m->ws_quotes_conflated++;
            frame_unref(s->pending);
        }
        f->refs++;
        s->pending = f;
        lws_callback_on_writable(c->wsi);
    }
}

static int send_lease_request(wsTopic *t);

/* Lease replies: first subscribe, or a renewal. */
static void on_lease_reply(void *arg, const httpBusReply *rep)
{
    wsTopic *t = arg;
    httpApp *app = t->hub->app;
    t->req_handle = 0;
    httpMetrics_Observe(&app->metrics.bus_rtt, rep->rtt_us);
    json_t *root = NULL, *err = NULL;
    const char *code = "unavailable", *msg = "no ib-bridge is answering on the bus";
    if (rep->status == IBB_ERR_TIMEOUT) {
        code = "timeout";
        msg = "ib-bridge did not answer the subscribe request in time";
    } else if (rep->status == IBB_OK) {
        busBuf b;
        busBuf_Init(&b);
        if (rep->len && rep->data[0] != '{')
            http_msgpackToJson(rep->data, rep->len, &b);
        else
            busBuf_Append(&b, rep->data, rep->len);
        root = json_loadb(busBuf_CStr(&b), b.len, 0, NULL);
        busBuf_Free(&b);
        err = json_object_get(root, "error");
        if (json_is_object(err)) {
            code = json_string_value(json_object_get(err, "code"));
            msg = json_string_value(json_object_get(err, "message"));
            code = code ? code : "error";
            msg = msg ? msg : "ib-bridge refused the subscription";
        } else if (rep->err_code) {
            code = rep->err_code;
            msg = rep->err_text ? rep->err_text : "ib-bridge refused the subscription";
            err = json_null();
        }
    }
    json_t *inst = json_array_get(json_object_get(root, "instruments"), 0);
    const char *lease = json_string_value(json_object_get(root, "lease_id"));
    const char *subject = json_string_value(json_object_get(inst, "subject"));
    int ok = root && !err && lease && (subject || t->subject);

    if (t->state == T_ACTIVE) {          /* a renewal */
        if (ok) {
            if (!t->lease_id || strcmp(lease, t->lease_id) != 0) {
                free(t->lease_id);
                t->lease_id = strdup(lease);
            }
            t->renew_at_us = http_nowUs() + (int64_t)app->cfg->ws_lease_ttl_s * 500000;
        } else {
            IBB_WARN("http.ws.lease_renew_failed", "symbol=\"%s\" code=%s", t->symbol, code);
            if (strcmp(code, "not_found") == 0 || strstr(code, "lease")) {   /* lease gone: take a new one */
                free(t->lease_id);
                t->lease_id = NULL;
            }
            t->renew_at_us = http_nowUs() + 1000000;
        }
        json_decref(root);
        return;
    }
    if (!ok || (t->nclients == 0 && !held_by_rest(t))) {
        if (!ok) {
            IBB_WARN("http.ws.subscribe_failed", "symbol=\"%s\" code=%s", t->symbol, code);
            while (t->nclients > 0) {
                wsClient *c = t->clients[--t->nclients];
                wsSlot *s = client_slot(c, t);
                if (s)
                    client_drop_slot(c, s);
                client_error(c, t->symbol, code, msg);
                if (c->single[0])
                    client_close(c, strstr(code, "not_found") || strstr(code, "unknown") ? 4404 : 1011, code);
            }
        } else {
            t->lease_id = strdup(lease);
        }
        json_decref(root);
        topic_release(t);
        return;
    }
    t->lease_id = strdup(lease);
    t->subject = strdup(subject ? subject : "");
    t->contract = json_incref(json_object_get(inst, "contract"));
    json_decref(root);
    if (httpBus_Subscribe(app->bus, t->subject, on_quote, t, &t->sub_handle) != IBB_OK) {
        for (int k = 0; k < t->nclients; k++)
            client_error(t->clients[k], t->symbol, "unavailable", "could not subscribe on the bus");
        t->renew_at_us = http_nowUs() + 1000000;
    }
    t->state = T_ACTIVE;
    t->renew_at_us = http_nowUs() + (int64_t)app->cfg->ws_lease_ttl_s * 500000;
    IBB_INFO("http.ws.symbol_active", "symbol=\"%s\" subject=%s clients=%d", t->symbol, t->subject,
             t->nclients);
    for (int k = 0; k < t->nclients; k++)
        client_subscribed(t->clients[k], t);
}

static int send_lease_request(wsTopic *t)
{
    httpApp *app = t->hub->app;
    /* schemas/subscribe_request.json: a renewal names the lease only; a new lease names the symbol */
    json_t *o = t->lease_id
                    ? json_pack("{s:s,s:i}", "lease_id", t->lease_id, "ttl_s", (int)app->cfg->ws_lease_ttl_s)
                    : json_pack("{s:[s],s:i}", "symbols", t->symbol, "ttl_s", (int)app->cfg->ws_lease_ttl_s);
    if (o && !t->lease_id && t->kind != WK_QUOTE)
        json_object_set_new(o, "kind", json_string(KIND_NAMES[t->kind]));
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!txt)
        return -1;
    char subject[160];
    snprintf(subject, sizeof subject, "%s.rpc.subscribe", app->cfg->nats.subject_prefix);
    ibbStatus st = httpBus_Request(app->bus, subject, txt, strlen(txt), app->cfg->request_timeout_ms,
                                   on_lease_reply, t, &t->req_handle);
    free(txt);
    return st == IBB_OK ? 0 : -1;
}

/* Adds client c to the symbol's topic, creating it (and asking for its lease) on first use. */
static void follow(httpHub *hub, wsClient *c, int kind, const char *sym)
{
    wsTopic *t = topic_find(hub, kind, sym);
    if (t && client_slot(c, t)) {
        client_subscribed(c, t);
        return;
    }
    if (c->nslots >= hub->app->cfg->ws_max_symbols) {
        client_error(c, sym, "unprocessable", "too many symbols on this connection");
        return;
    }
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t || !(t->symbol = strdup(sym))) {
            free(t);
            client_error(c, sym, "internal", "out of memory");
            return;
        }
        t->hub = hub;
        t->kind = kind;
        unsigned h = hash(kind, sym);
        t->next = hub->buckets[h];
        hub->buckets[h] = t;
        hub->app->metrics.ws_topics++;
        if (send_lease_request(t) != 0) {
            client_error(c, sym, "unavailable", "the NATS connection is down; retry later");
            if (c->single[0])
                client_close(c, 1011, "bus unavailable");
            topic_destroy(t);
            return;
        }
    }
    if (t->nclients == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        wsClient **v = realloc(t->clients, sizeof *v * (size_t)cap);
        if (!v) {
            client_error(c, sym, "internal", "out of memory");
            return;
        }
        t->clients = v;
        t->cap = cap;
    }
    wsSlot *s = realloc(c->slots, sizeof *s * (size_t)(c->nslots + 1));
    if (!s) {
        client_error(c, sym, "internal", "out of memory");
        return;
    }
    c->slots = s;
    c->slots[c->nslots++] = (wsSlot){.t = t, .pending = NULL, .q = NULL};
    t->clients[t->nclients++] = c;
    if (t->state == T_ACTIVE) {
        client_subscribed(c, t);
        if (t->last) {
            t->last->refs++;
            c->slots[c->nslots - 1].pending = t->last;
            lws_callback_on_writable(c->wsi);
        }
    }
}

static void unfollow(wsClient *c, wsSlot *s)
{
    wsTopic *t = s->t;
    client_drop_slot(c, s);
    topic_remove_client(t, c);
}

/* ---------------------------------------------------------------- events (/ws/events) */

static const char *const EVT_TYPES[2] = {"conn", "order"};

static void on_event(httpHub *hub, int kind, const char *data, size_t len)
{
    busBuf b;
    busBuf_InitPre(&b, LWS_PRE);
    busBuf_Printf(&b, "{\"type\":\"%s\",\"data\":", EVT_TYPES[kind]);
    if (len && data[0] == '{')
        busBuf_Append(&b, data, len);
    else if (http_msgpackToJson(data, len, &b) != IBB_OK) {
        busBuf_Free(&b);
        return;
    }
    busBuf_Puts(&b, "}");
    wsFrame *f = b.oom ? NULL : frame_new(busBuf_CStr(&b), b.len);
    busBuf_Free(&b);
    if (!f)
        return;
    wsFrame **slot = &hub->evt_keep[kind][hub->evt_next[kind]];
    hub->evt_next[kind] = (hub->evt_next[kind] + 1) % EVT_KEEP;
    frame_unref(*slot);
    *slot = f;   /* the ring's reference */
    for (wsClient *c = hub->clients; c; c = c->next)
        if (c->events && !c->closing) {
            f->refs++;
            client_ctl(c, f);
        }
}

static void on_conn_event(void *arg, const char *data, size_t len)
{
    on_event(arg, 0, data, len);
}

static void on_order_event(void *arg, const char *data, size_t len)
{
    on_event(arg, 1, data, len);
}

static void events_follow(httpHub *hub, wsClient *c)
{
    httpApp *app = hub->app;
    c->events = 1;
    static const char *const SUBJ[2] = {"evt.conn", "evt.order.>"};
    httpBusMsgFn fns[2] = {on_conn_event, on_order_event};
    for (int k = 0; k < 2; k++) {
        if (!hub->evt_subs[k]) {
            char subject[160];
            snprintf(subject, sizeof subject, "%s.%s", app->cfg->nats.subject_prefix, SUBJ[k]);
            if (httpBus_Subscribe(app->bus, subject, fns[k], hub, &hub->evt_subs[k]) != IBB_OK)
                hub->evt_subs[k] = 0;
        }
        for (int i = 0; i < EVT_KEEP; i++) {   /* replay, oldest first */
            wsFrame *f = hub->evt_keep[k][(hub->evt_next[k] + i) % EVT_KEEP];
            if (f) {
                f->refs++;
                client_ctl(c, f);
            }
        }
    }
    client_ctl(c, frame_json(json_pack("{s:s}", "type", "events")));
}

/* ---------------------------------------------------------------- hub */

ibbStatus httpHub_Create(httpHub **out, httpApp *app)
{
    httpHub *h = calloc(1, sizeof *h);
    if (!h)
        return IBB_ERR_NOMEM;
    h->app = app;
    *out = h;
    return IBB_OK;
}

void httpHub_Destroy(httpHub *hub)
{
    if (!hub)
        return;
    for (int i = 0; i < NBUCKETS; i++)
        while (hub->buckets[i])
            topic_destroy(hub->buckets[i]);
    for (int k = 0; k < 2; k++) {
        httpBus_Unsubscribe(hub->app->bus, hub->evt_subs[k]);
        for (int i = 0; i < EVT_KEEP; i++)
            frame_unref(hub->evt_keep[k][i]);
    }
    free(hub);
}

void httpHub_Tick(httpHub *hub)
{
    int64_t now = http_nowUs();
    for (int i = 0; i < NBUCKETS; i++)
        for (wsTopic *t = hub->buckets[i], *next; t; t = next) {
            next = t->next;
            if (t->state == T_ACTIVE && t->nclients == 0 && t->rest_until_us && now >= t->rest_until_us)
                topic_release(t);   /* REST interest over and no WebSocket client: give the lease back */
        }
    for (int i = 0; i < NBUCKETS; i++)
        for (wsTopic *t = hub->buckets[i]; t; t = t->next)
            if (t->state == T_ACTIVE && !t->req_handle && now >= t->renew_at_us && !hub->app->draining) {
                if (send_lease_request(t) != 0)
                    t->renew_at_us = now + 1000000;
            }
}

void httpHub_Touch(httpHub *hub, const char *sym)
{
    if (hub->app->draining)
        return;
    int64_t until = http_nowUs() + (int64_t)hub->app->cfg->ws_lease_ttl_s * 1000000;
    wsTopic *t = topic_find(hub, WK_QUOTE, sym);
    if (t) {
        if (!t->rest_until_us)
            hub->rest_topics++;
        t->rest_until_us = until;
        return;
    }
    if (hub->rest_topics >= HUB_REST_MAX)
        return;
    t = calloc(1, sizeof *t);
    if (!t || !(t->symbol = strdup(sym))) {
        free(t);
        return;
    }
    t->hub = hub;
    t->rest_until_us = until;
    hub->rest_topics++;
    unsigned h = hash(WK_QUOTE, sym);
    t->next = hub->buckets[h];
    hub->buckets[h] = t;
    hub->app->metrics.ws_topics++;
    if (send_lease_request(t) != 0)
        topic_destroy(t);
}

void httpHub_Shutdown(httpHub *hub)
{
    for (wsClient *c = hub->clients; c; c = c->next) {
        while (c->nslots)
            client_drop_slot(c, &c->slots[c->nslots - 1]);
        client_close(c, 1001, "server shutting down");
    }
    for (int i = 0; i < NBUCKETS; i++)
        while (hub->buckets[i]) {
            wsTopic *t = hub->buckets[i];
            t->nclients = 0;
            if (t->state == T_ACTIVE)
                topic_release(t);
            else
                topic_destroy(t);
        }
}

/* ---------------------------------------------------------------- lws entry points */

/* The kind of a one-symbol path (/ws/quotes/AAPL, /ws/depth/AAPL, ...) and its symbol; -1 otherwise. */
static int single_kind(const char *path, const char **sym)
{
    for (int k = WK_QUOTE; k <= WK_BARS; k++) {
        size_t n = 4 + strlen(PATH_NAMES[k]) + 1; /* "/ws/" + name + "/" */
        if (strncmp(path, "/ws/", 4) == 0 && strncmp(path + 4, PATH_NAMES[k], n - 5) == 0 && path[n - 1] == '/' &&
            path[n] && !strchr(path + n, '/') && strlen(path + n) <= 64) {
            *sym = path + n;
            return k;
        }
    }
    return -1;
}

int http_wsEstablished(httpApp *app, struct lws *wsi, httpSess *pss)
{
    int kind;
    const char *sym;
    httpHub *hub = app->hub;
    wsClient *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->app = app;
    c->wsi = wsi;
    busBuf_Init(&c->rx);
    pss->ws = c;
    c->next = hub->clients;
    if (hub->clients)
        hub->clients->prev = c;
    hub->clients = c;
    hub->nclients++;
    app->metrics.ws_clients++;
    httpMetrics_Request(&app->metrics, httpMetrics_AddRoute(&app->metrics, "/ws"), 101, 0);

    char path[160], origin[256];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
        path[0] = '\0';
    if (app->draining)
        client_close(c, 1001, "server shutting down");
    else if (hub->nclients > app->cfg->ws_max_clients)
        client_close(c, 1013, "too many clients; try again later");
    else if (http_originCheck(app, wsi, origin, sizeof origin) < 0)
        client_close(c, 4403, "origin not allowed");
    else if (http_queryHasToken(wsi))
        client_close(c, 4400, "credentials in the query string are refused");
    else if (http_authLevel(app, wsi) == -1)
        client_close(c, 4401, "missing bearer token");
    else if (http_authLevel(app, wsi) < HTTP_ACC_READ)
        client_close(c, 4401, "unknown bearer token");
    else if (strcmp(path, "/ws/quotes") == 0)
        ;
    else if (strcmp(path, "/ws/events") == 0)
        events_follow(hub, c);
    else if ((kind = single_kind(path, &sym)) >= 0) {
        snprintf(c->single, sizeof c->single, "%s", sym);
        follow(hub, c, kind, c->single);
    } else
        client_close(c, 1008, "unknown WebSocket path; use /ws/quotes[/{symbol}], /ws/{depth|ticks|bars}/{symbol}, "
                              "/ws/events");
    return 0;
}

static void handle_message(wsClient *c, const char *txt, size_t len)
{
    json_error_t je;
    json_t *m = json_loadb(txt, len, 0, &je);
    if (!json_is_object(m)) {
        json_decref(m);
        client_error(c, NULL, "bad_request", "messages must be JSON objects");
        return;
    }
    const char *action = json_string_value(json_object_get(m, "action"));
    if (!action)
        action = json_string_value(json_object_get(m, "type"));
    json_t *syms = json_object_get(m, "symbols");
    json_t *one = json_object_get(m, "symbol");
    int sub = action && strcmp(action, "subscribe") == 0;
    int unsub = action && strcmp(action, "unsubscribe") == 0;
    if (action && strcmp(action, "ping") == 0) {
        client_ctl(c, frame_json(json_pack("{s:s}", "type", "pong")));
    } else if (!sub && !unsub) {
        client_error(c, NULL, "bad_request", "action must be \"subscribe\", \"unsubscribe\" or \"ping\"");
    } else if (c->single[0] || c->events) {
        client_error(c, NULL, "bad_request", "this connection does not take subscriptions; use /ws/quotes");
    } else if ((syms && !json_is_array(syms)) || (one && !json_is_string(one)) || (!syms && !one)) {
        client_error(c, NULL, "bad_request", "give \"symbols\": [\"AAPL\", ...] or \"symbol\": \"AAPL\"");
    } else {
        json_t *list = syms ? json_incref(syms) : json_pack("[O]", one);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            const char *s = json_string_value(v);
            size_t sl = s ? strlen(s) : 0;
            int okc = sl > 0 && sl <= 64 && !strpbrk(s, "/*>\"\\");
            for (size_t k = 0; okc && k < sl; k++)
                okc = (unsigned char)s[k] >= 0x20;
            if (!okc) {
                client_error(c, s, "bad_request", "symbols are 1-64 printable characters");
                continue;
            }
            if (sub) {
                follow(c->app->hub, c, WK_QUOTE, s);
                continue;
            }
            wsTopic *t = topic_find(c->app->hub, WK_QUOTE, s);
            wsSlot *slot = t ? client_slot(c, t) : NULL;
            if (slot)
                unfollow(c, slot);
            client_ctl(c, frame_json(json_pack("{s:s,s:s}", "type", "unsubscribed", "symbol", s)));
        }
        json_decref(list);
    }
    json_decref(m);
}

int http_wsReceive(httpApp *app, struct lws *wsi, httpSess *pss, const void *in, size_t len)
{
    wsClient *c = pss->ws;
    if (!c || c->closing)
        return 0;
    if (lws_frame_is_binary(wsi)) {
        client_close(c, 1003, "binary messages are not accepted; send JSON text");
        return 0;
    }
    if (c->rx.len + len > (size_t)app->cfg->ws_max_message) {
        busBuf_Free(&c->rx);
        client_close(c, 1009, "message too big");
        return 0;
    }
    busBuf_Append(&c->rx, in, len);
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    handle_message(c, busBuf_CStr(&c->rx), c->rx.len);
    busBuf_Reset(&c->rx);
    return 0;
}

int http_wsWriteable(httpApp *app, struct lws *wsi, httpSess *pss)
{
    wsClient *c = pss->ws;
    if (!c)
        return -1;
    wsFrame *f = NULL;
    if (c->ctl_n) {
        f = c->ctl[c->ctl_head];
        c->ctl_head = (c->ctl_head + 1) % c->ctl_cap;
        c->ctl_n--;
    } else if (!c->closing) {
        for (int k = 0; k < c->nslots && !f; k++) {
            wsSlot *s = &c->slots[(c->rr + k) % c->nslots];
            if ((f = slot_pop(s)))
                c->rr = (c->rr + k + 1) % c->nslots;
        }
    }
    if (!f) {
        if (c->closing) {
            lws_close_reason(wsi, (enum lws_close_status)c->close_code, (unsigned char *)c->close_reason,
                             strlen(c->close_reason));
            return -1;
        }
        return 0;
    }
    int n = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
    frame_unref(f);
    if (n < 0)
        return -1;
    app->metrics.ws_messages_sent++;
    int more = c->ctl_n > 0 || c->closing;
    for (int k = 0; k < c->nslots && !more; k++)
        more = c->slots[k].pending != NULL || c->slots[k].qn > 0;
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

void http_wsClosed(httpApp *app, httpSess *pss)
{
    wsClient *c = pss->ws;
    if (!c)
        return;
    pss->ws = NULL;
    httpHub *hub = app->hub;
    while (c->nslots)
        unfollow(c, &c->slots[c->nslots - 1]);
    while (c->ctl_n) {
        frame_unref(c->ctl[c->ctl_head]);
        c->ctl_head = (c->ctl_head + 1) % c->ctl_cap;
        c->ctl_n--;
    }
    free(c->ctl);
    if (c->prev)
        c->prev->next = c->next;
    else
        hub->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hub->nclients--;
    app->metrics.ws_clients--;
    busBuf_Free(&c->rx);
    free(c->slots);
    free(c);
}
