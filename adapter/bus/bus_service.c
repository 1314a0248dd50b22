/* bus_service.c — endpoints, the request hand-off to the loop, deadlines and replies; see bus_service.h. */
#include "bus_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_error.h"
#include "ibb_log.h"

#ifndef IBB_VERSION
#define IBB_VERSION "0.0.0"
#endif

#define NS_PER_MS 1000000ULL

struct busRequest {
    busRequest *next, *prev;    /* queue (next only) or in-flight list (sorted by deadline) */
    busRequest *lnext, *lprev;  /* live list: dispatched and not yet freed (for detaching at Close) */
    busService *svc;            /* NULL once detached */
    busEndpoint *ep;
    natsMsg *msg;               /* kept alive: MessagePack bodies point into it */
    busBody body;
    uint64_t recv_ns, deadline_ns;
    int refs;
    bool answered, in_list, live;
    busExpireFn on_expire;
    void *expire_arg;
};

static char *dup_or(const char *s, const char *dflt)
{
    const char *v = (s != NULL) ? s : dflt;
    return v ? strdup(v) : NULL;
}

void busServiceOptions_Init(busServiceOptions *o)
{
    memset(o, 0, sizeof *o);
    o->name = "ib-bridge";
    o->version = IBB_VERSION;
    o->description = "";
    o->subject_prefix = "ib.rpc";
    o->queue_group = "q";
    o->request_timeout_ms = 5000;
    o->max_payload = 1024 * 1024;
}

static bool valid_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static bool valid_subject(const char *s)
{
    if (s == NULL || *s == '\0' || *s == '.')
        return false;
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '*' || *p == '>')
            return false;
        if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------------
 * Lifetime */

static void free_service(busService *svc)
{
    for (size_t i = 0; i < svc->neps; i++) {
        free(svc->eps[i]->name);
        free(svc->eps[i]->subject);
        free(svc->eps[i]);
    }
    free(svc->eps);
    for (size_t i = 0; svc->metadata && svc->metadata[i]; i++)
        free(svc->metadata[i]);
    free(svc->metadata);
    free(svc->name);
    free(svc->version);
    free(svc->description);
    free(svc->id);
    free(svc->prefix);
    free(svc->queue_group);
    msgpack_sbuffer_destroy(&svc->scratch);
    busBuf_Free(&svc->json);
    pthread_mutex_destroy(&svc->mu);
    free(svc);
}

void bus_serviceUnref(busService *svc)
{
    pthread_mutex_lock(&svc->mu);
    bool last = --svc->refs == 0;
    pthread_mutex_unlock(&svc->mu);
    if (last)
        free_service(svc);
}

static void on_async(uv_async_t *h);

static char *make_id(void)
{
    natsInbox *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return NULL;
    const char *dot = strrchr(inbox, '.');
    char *id = strdup(dot ? dot + 1 : inbox);
    natsInbox_Destroy(inbox);
    return id;
}

static void format_started(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%.19s.%09dZ", date, (int)(ts.tv_nsec % 1000000000L));
}

ibbStatus busService_Create(busService **out, busConn *conn, uv_loop_t *loop, const busServiceOptions *o)
{
    if (out == NULL || conn == NULL || loop == NULL)
        return IBB_ERR_INVALID_ARG;
    *out = NULL;
    busServiceOptions dflt;
    busServiceOptions_Init(&dflt);
    if (o == NULL)
        o = &dflt;
    if (!valid_name(o->name ? o->name : dflt.name)) {
        IBB_ERROR("bus.config", "error=\"service name must match [A-Za-z0-9_-]+\" name=\"%s\"", o->name);
        return IBB_ERR_CONFIG;
    }
    busService *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return IBB_ERR_NOMEM;
    pthread_mutex_init(&svc->mu, NULL);
    svc->refs = 1;
    svc->conn = conn;
    svc->nc = busConn_Nats(conn);
    svc->loop = loop;
    msgpack_sbuffer_init(&svc->scratch);
    msgpack_packer_init(&svc->scratch_pk, &svc->scratch, msgpack_sbuffer_write);
    busBuf_Init(&svc->json);
    svc->name = dup_or(o->name, dflt.name);
    svc->version = dup_or(o->version, dflt.version);
    svc->description = dup_or(o->description, "");
    svc->id = o->id && *o->id ? strdup(o->id) : make_id();
    svc->prefix = dup_or(o->subject_prefix, dflt.subject_prefix);
    svc->queue_group = dup_or(o->queue_group, dflt.queue_group);
    svc->timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : dflt.request_timeout_ms;
    svc->max_payload = o->max_payload ? o->max_payload : dflt.max_payload;
    size_t nmeta = 0;
    while (o->metadata && o->metadata[nmeta] && o->metadata[nmeta + 1])
        nmeta += 2;
    svc->metadata = calloc(nmeta + 1, sizeof *svc->metadata);
    bool ok = svc->name && svc->version && svc->description && svc->id && svc->prefix && svc->queue_group &&
              svc->metadata;
    for (size_t i = 0; ok && i < nmeta; i++)
        ok = (svc->metadata[i] = strdup(o->metadata[i])) != NULL;
    if (!ok) {
        free_service(svc);
        return IBB_ERR_NOMEM;
    }
    format_started(svc->started, sizeof svc->started);
    uv_async_init(loop, &svc->async, on_async);
    svc->async.data = svc;
    uv_timer_init(loop, &svc->timer);
    svc->timer.data = svc;
    svc->open_handles = 2;
    *out = svc;
    return IBB_OK;
}

ibbStatus busService_AddEndpoint(busService *svc, const busEndpointDef *def)
{
    if (svc == NULL || def == NULL || def->handler == NULL || !valid_name(def->name))
        return IBB_ERR_INVALID_ARG;
    if (svc->started_subs || svc->closing)
        return IBB_ERR_STATE;
    const char *rel = def->subject ? def->subject : def->name;
    size_t n = strlen(svc->prefix) + strlen(rel) + 2;
    char *subject = malloc(n);
    if (subject == NULL)
        return IBB_ERR_NOMEM;
    snprintf(subject, n, "%s%s%s", svc->prefix, *svc->prefix ? "." : "", rel);
    if (!valid_subject(subject)) {
        free(subject);
        return IBB_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < svc->neps; i++)
        if (strcmp(svc->eps[i]->name, def->name) == 0 || strcmp(svc->eps[i]->subject, subject) == 0) {
            free(subject);
            return IBB_ERR_INVALID_ARG;
        }
    busEndpoint **eps = realloc(svc->eps, (svc->neps + 1) * sizeof *eps);
    busEndpoint *ep = calloc(1, sizeof *ep);
    if (eps)
        svc->eps = eps;
    if (eps == NULL || ep == NULL || (ep->name = strdup(def->name)) == NULL) {
        free(ep);
        free(subject);
        return IBB_ERR_NOMEM;
    }
    ep->svc = svc;
    ep->subject = subject;
    ep->handler = def->handler;
    ep->arg = def->arg;
    ep->timeout_ms = def->timeout_ms > 0 ? def->timeout_ms : svc->timeout_ms;
    svc->eps[svc->neps++] = ep;
    return IBB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Replies */

static void sanitize_header(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = (src[i] == '\r' || src[i] == '\n') ? ' ' : src[i];
    dst[i] = '\0';
}

void bus_sendError(busConn *c, natsConnection *nc, const char *reply, busEncoding enc, const char *slug,
                   const char *message, int ib_code)
{
    bus_sendErrorRetry(c, nc, reply, enc, slug, message, ib_code, 0);
}

void bus_sendErrorRetry(busConn *c, natsConnection *nc, const char *reply, busEncoding enc, const char *slug,
                        const char *message, int ib_code, int64_t retry_after_ms)
{
    if (nc == NULL || reply == NULL || *reply == '\0')
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    busBuf json;
    busBuf_Init(&json);
    const char *data = NULL;
    size_t len = 0;
    if (busError_PackRetry(&pk, slug, message, ib_code, retry_after_ms) == 0) {
        data = sb.data;
        len = sb.size;
        if (enc == BUS_ENC_JSON) {
            if (busJson_FromMsgpack(&json, sb.data, sb.size) == IBB_OK) {
                data = json.data;
                len = json.len;
            } else {
                data = NULL;
            }
        }
    }
    natsMsg *m = NULL;
    if (data && natsMsg_Create(&m, reply, NULL, data, (int)len) == NATS_OK) {
        char code[16], text[512];
        snprintf(code, sizeof code, "%d", busError_Status(slug));
        sanitize_header(text, sizeof text, message);
        natsMsgHeader_Set(m, BUS_HDR_ERROR_CODE, code);
        natsMsgHeader_Set(m, BUS_HDR_ERROR, text);
        natsStatus s = bus_publishMsg(c, nc, m);
        if (s != NATS_OK && s != NATS_NOT_PERMITTED)
            IBB_WARN("bus.reply_failed", "reply=%s error=\"%s\"", reply, natsStatus_GetText(s));
        natsMsg_Destroy(m);
    }
    busBuf_Free(&json);
    msgpack_sbuffer_destroy(&sb);
}

/* Records an error in the endpoint's stats; caller holds svc->mu. */
static void note_error_locked(busService *svc, busEndpoint *ep, const char *slug, const char *message)
{
    svc->ctr.errors++;
    if (ep) {
        ep->num_errors++;
        snprintf(ep->last_error, sizeof ep->last_error, "%d:%s: %s", busError_Status(slug), slug,
                 message ? message : "");
    }
}

static void free_request(busRequest *r)
{
    if (r->live && r->svc) {
        if (r->lprev)
            r->lprev->lnext = r->lnext;
        else
            r->svc->live_head = r->lnext;
        if (r->lnext)
            r->lnext->lprev = r->lprev;
    }
    busBody_Free(&r->body);
    natsMsg_Destroy(r->msg);
    free(r);
}

static void list_remove(busService *svc, busRequest *r)
{
    if (!r->in_list)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        svc->inflight_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        svc->inflight_tail = r->prev;
    r->next = r->prev = NULL;
    r->in_list = false;
}

static void list_insert(busService *svc, busRequest *r)
{
    busRequest *after = svc->inflight_tail;
    while (after && after->deadline_ns > r->deadline_ns)
        after = after->prev;
    r->prev = after;
    r->next = after ? after->next : svc->inflight_head;
    if (r->next)
        r->next->prev = r;
    else
        svc->inflight_tail = r;
    if (after)
        after->next = r;
    else
        svc->inflight_head = r;
    r->in_list = true;
}

/* Marks r answered, updates stats; the service's reference is dropped by the caller (drop_ref). */
static void mark_answered(busRequest *r, const char *err_slug, const char *err_message)
{
    busService *svc = r->svc;
    r->answered = true;
    list_remove(svc, r);
    int64_t elapsed = (int64_t)(uv_hrtime() - r->recv_ns);
    pthread_mutex_lock(&svc->mu);
    if (svc->ctr.in_flight > 0)
        svc->ctr.in_flight--;
    if (r->ep)
        r->ep->processing_ns += elapsed;
    if (err_slug)
        note_error_locked(svc, r->ep, err_slug, err_message);
    else
        svc->ctr.replies++;
    pthread_mutex_unlock(&svc->mu);
}

void busService_SetReplyConn(busService *svc, busConn *c)
{
    if (svc)
        svc->reply_nc = busConn_Nats(c);
}

/* The connection for an answer made on the loop thread (see busService_SetReplyConn). */
static natsConnection *answer_nc(busService *svc)
{
    if (svc->reply_nc && natsConnection_Status(svc->reply_nc) == NATS_CONN_STATUS_CONNECTED)
        return svc->reply_nc;
    return svc->nc;
}

static void drop_ref(busRequest *r)
{
    if (--r->refs == 0)
        free_request(r);
}

void busRequest_Retain(busRequest *r)
{
    if (r)
        r->refs++;
}

void busRequest_Release(busRequest *r)
{
    if (r)
        drop_ref(r);
}

static ibbStatus late(busRequest *r)
{
    if (r->svc) {
        pthread_mutex_lock(&r->svc->mu);
        r->svc->ctr.late_replies++;
        pthread_mutex_unlock(&r->svc->mu);
    }
    return IBB_ERR_STATE;
}

/* The service answers r itself (deadline, shutdown): error reply, on_expire, drop the service ref. */
static void expire(busRequest *r, const char *slug, const char *message)
{
    if (r->answered)
        return;
    bus_sendError(r->svc->conn, answer_nc(r->svc), natsMsg_GetReply(r->msg), r->body.enc, slug, message, 0);
    mark_answered(r, slug, message);
    if (r->on_expire)
        r->on_expire(r, r->expire_arg);
    drop_ref(r);
}

ibbStatus busRequest_Error(busRequest *r, const char *slug, const char *message, int ib_code)
{
    if (r == NULL)
        return IBB_ERR_INVALID_ARG;
    if (r->answered || r->svc == NULL)
        return late(r);
    if (slug == NULL)
        slug = "internal";
    bus_sendError(r->svc->conn, answer_nc(r->svc), natsMsg_GetReply(r->msg), r->body.enc, slug, message, ib_code);
    mark_answered(r, slug, message);
    drop_ref(r);
    return IBB_OK;
}

ibbStatus busRequest_ErrorRetry(busRequest *r, const char *slug, const char *message, int ib_code,
                               int64_t retry_after_ms)
{
    if (r == NULL)
        return IBB_ERR_INVALID_ARG;
    if (r->answered || r->svc == NULL)
        return late(r);
    if (slug == NULL)
        slug = "internal";
    bus_sendErrorRetry(r->svc->conn, answer_nc(r->svc), natsMsg_GetReply(r->msg), r->body.enc, slug, message, ib_code,
                       retry_after_ms);
    mark_answered(r, slug, message);
    drop_ref(r);
    return IBB_OK;
}

ibbStatus busRequest_Errorf(busRequest *r, const char *slug, int ib_code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return busRequest_Error(r, slug, msg, ib_code);
}

ibbStatus busRequest_BadField(busRequest *r, const char *key, ibbStatus st, const char *want)
{
    char msg[256];
    return busRequest_Error(r, "bad_request", busObj_FieldError(msg, sizeof msg, key, st, want), 0);
}

void busRequest_Fail(busRequest *r, const char *slug, const char *message, int ib_code)
{
    busRequest_Error(r, slug, message, ib_code);
    busRequest_Release(r);
}

void busRequest_Failf(busRequest *r, const char *slug, int ib_code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    busRequest_Error(r, slug, msg, ib_code);
    busRequest_Release(r);
}

void busRequest_FailField(busRequest *r, const char *key, ibbStatus st, const char *want)
{
    busRequest_BadField(r, key, st, want);
    busRequest_Release(r);
}

ibbStatus busRequest_Reply(busRequest *r, const char *mp, size_t len)
{
    if (r == NULL || (mp == NULL && len > 0))
        return IBB_ERR_INVALID_ARG;
    if (r->answered || r->svc == NULL)
        return late(r);
    busService *svc = r->svc;
    const char *data = mp;
    char why[160];
    ibbStatus st;
    if (r->body.enc == BUS_ENC_JSON) {
        busBuf_Reset(&svc->json);
        st = busJson_FromMsgpack(&svc->json, mp, len);
        data = svc->json.data;
        len = svc->json.len;
        snprintf(why, sizeof why, "%s", ibbStatus_Name(st));
    } else {
        st = busMsgpack_Check(mp, len, false, why, sizeof why);
    }
    if (st != IBB_OK) {
        IBB_ERROR("bus.bad_reply", "endpoint=%s error=\"%s\"", r->ep ? r->ep->name : "", why);
        busRequest_Errorf(r, "internal", 0, "ib-bridge built a reply it cannot encode (%s); please report",
                          why);
        return st;
    }
    const char *reply = natsMsg_GetReply(r->msg);
    if (reply && *reply) {
        natsStatus s = bus_publish(svc->conn, answer_nc(svc), reply, data, (int)len);
        if (s != NATS_OK && s != NATS_NOT_PERMITTED)
            IBB_WARN("bus.reply_failed", "endpoint=%s error=\"%s\"", r->ep ? r->ep->name : "",
                     natsStatus_GetText(s));
    }
    mark_answered(r, NULL, NULL);
    drop_ref(r);
    return IBB_OK;
}

static int null_write(void *data, const char *buf, size_t len)
{
    (void)data;
    (void)buf;
    (void)len;
    return 0;
}

msgpack_packer *busRequest_Packer(busRequest *r)
{
    static msgpack_packer discard = {NULL, null_write};
    if (r == NULL || r->svc == NULL)
        return &discard;
    msgpack_sbuffer_clear(&r->svc->scratch);
    return &r->svc->scratch_pk;
}

ibbStatus busRequest_ReplyPacked(busRequest *r)
{
    if (r == NULL)
        return IBB_ERR_INVALID_ARG;
    if (r->answered || r->svc == NULL)
        return late(r);
    return busRequest_Reply(r, r->svc->scratch.data, r->svc->scratch.size);
}

void busRequest_OnExpire(busRequest *r, busExpireFn fn, void *arg)
{
    if (r) {
        r->on_expire = fn;
        r->expire_arg = arg;
    }
}

const msgpack_object *busRequest_Body(const busRequest *r) { return &r->body.root; }
busEncoding busRequest_Encoding(const busRequest *r) { return r->body.enc; }
const char *busRequest_Endpoint(const busRequest *r) { return r->ep ? r->ep->name : ""; }
bool busRequest_Answered(const busRequest *r) { return r->answered; }
uint64_t busRequest_DeadlineNs(const busRequest *r) { return r->deadline_ns; }

const char *busRequest_ReplyTo(const busRequest *r)
{
    const char *s = natsMsg_GetReply(r->msg);
    return s ? s : "";
}

int64_t busRequest_RemainingMs(const busRequest *r)
{
    uint64_t now = uv_hrtime();
    return r->deadline_ns > now ? (int64_t)((r->deadline_ns - now) / NS_PER_MS) : 0;
}

/* ------------------------------------------------------------------------------------------------
 * nats.c thread: decode, check, enqueue, wake */

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    busEndpoint *ep = closure;
    busService *svc = ep->svc;
    uint64_t now = uv_hrtime();
    const char *ct = NULL;
    if (natsMsgHeader_Get(msg, BUS_HDR_CONTENT_TYPE, &ct) != NATS_OK)
        ct = NULL;
    const char *data = natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);

    busRequest *r = calloc(1, sizeof *r);
    char err[300] = "out of memory";
    ibbStatus st = IBB_ERR_NOMEM;
    busEncoding enc = busEncoding_Detect(data, len, ct);
    if (r) {
        busBody_Init(&r->body);
        st = busBody_Decode(&r->body, data, len, ct, svc->max_payload, err, sizeof err);
        enc = r->body.enc;
        r->msg = msg;
        r->svc = svc;
        r->ep = ep;
        r->recv_ns = now;
        r->deadline_ns = now + (uint64_t)ep->timeout_ms * NS_PER_MS;
        r->refs = 1;
    }

    pthread_mutex_lock(&svc->mu);
    svc->ctr.requests++;
    ep->num_requests++;
    if (st == IBB_OK && !svc->closing) {
        r->next = NULL;
        bool was_empty = svc->q_head == NULL && svc->p_head == NULL;
        if (svc->q_tail)
            svc->q_tail->next = r;
        else
            svc->q_head = r;
        svc->q_tail = r;
        svc->ctr.in_flight++;
        if (was_empty)
            uv_async_send(&svc->async); /* under the lock: Close cannot have closed the handle */
        pthread_mutex_unlock(&svc->mu);
        return;
    }
    const char *slug = "bad_request";
    if (svc->closing) {
        slug = "unavailable";
        snprintf(err, sizeof err, "%s is shutting down; retry against another instance or later", svc->name);
    } else if (st == IBB_ERR_FRAME_TOO_LARGE) {
        slug = "payload_too_large";
    } else if (st == IBB_ERR_NOMEM) {
        slug = "internal";
    }
    note_error_locked(svc, ep, slug, err);
    if (!svc->closing)
        svc->ctr.envelope_errors++;
    ep->processing_ns += (int64_t)(uv_hrtime() - now);
    pthread_mutex_unlock(&svc->mu);
    IBB_DEBUG("bus.rejected", "endpoint=%s code=%s error=\"%s\"", ep->name, slug, err);
    bus_sendError(svc->conn, nc, natsMsg_GetReply(msg), enc, slug, err, 0);
    if (r) {
        r->msg = NULL;
        free_request(r);
    }
    natsMsg_Destroy(msg);
}

/* ------------------------------------------------------------------------------------------------
 * Loop thread */

static void on_timer(uv_timer_t *t);

static void arm_timer(busService *svc)
{
    if (svc->closing)
        return;
    busRequest *head = svc->inflight_head;
    if (head == NULL) {
        uv_timer_stop(&svc->timer);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t ms = head->deadline_ns > now ? (head->deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS : 0;
    uv_timer_start(&svc->timer, on_timer, ms, 0);
}

static void timeout_message(busRequest *r, char *buf, size_t cap)
{
    IBB_WARN("bus.timeout", "endpoint=%s timeout_ms=%lld", r->ep ? r->ep->name : "?",
             (long long)(r->ep ? r->ep->timeout_ms : 0));
    snprintf(
        buf, cap,
        "no reply within %lld ms on %s; the operation may still complete, check its state before retrying",
        (long long)(r->ep ? r->ep->timeout_ms : 0), r->ep ? r->ep->subject : "?");
}

static void on_timer(uv_timer_t *t)
{
    busService *svc = t->data;
    uint64_t now = uv_hrtime();
    while (svc->inflight_head && svc->inflight_head->deadline_ns <= now + NS_PER_MS) {
        busRequest *r = svc->inflight_head;
        char msg[256];
        timeout_message(r, msg, sizeof msg);
        pthread_mutex_lock(&svc->mu);
        svc->ctr.timeouts++;
        pthread_mutex_unlock(&svc->mu);
        expire(r, "timeout", msg);
    }
    arm_timer(svc);
}

static void go_live(busRequest *r)
{
    busService *svc = r->svc;
    r->live = true;
    r->lprev = NULL;
    r->lnext = svc->live_head;
    if (svc->live_head)
        svc->live_head->lprev = r;
    svc->live_head = r;
}

static void run_posts(busPost *p)
{
    while (p) {
        busPost *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
}

static void shutdown_message(busService *svc, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s is shutting down; retry against another instance or later", svc->name);
}

static void on_async(uv_async_t *h)
{
    busService *svc = h->data;
    pthread_mutex_lock(&svc->mu);
    busRequest *q = svc->q_head;
    busPost *p = svc->p_head;
    svc->q_head = svc->q_tail = NULL;
    svc->p_head = svc->p_tail = NULL;
    pthread_mutex_unlock(&svc->mu);

    run_posts(p);
    while (q) {
        busRequest *r = q;
        q = q->next;
        r->next = NULL;
        go_live(r);
        if (svc->closing) {
            char msg[200];
            shutdown_message(svc, msg, sizeof msg);
            expire(r, "unavailable", msg);
            continue;
        }
        if (r->deadline_ns <= uv_hrtime()) { /* waited in the queue past its deadline */
            char msg[256];
            timeout_message(r, msg, sizeof msg);
            pthread_mutex_lock(&svc->mu);
            svc->ctr.timeouts++;
            pthread_mutex_unlock(&svc->mu);
            expire(r, "timeout", msg);
            continue;
        }
        list_insert(svc, r);
        r->refs++; /* the handler's reference */
        r->ep->handler(r, r->ep->arg);
    }
    arm_timer(svc);
}

ibbStatus busService_Post(busService *svc, busPostFn fn, void *arg)
{
    if (svc == NULL || fn == NULL)
        return IBB_ERR_INVALID_ARG;
    busPost *p = malloc(sizeof *p);
    if (p == NULL)
        return IBB_ERR_NOMEM;
    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&svc->mu);
    if (svc->closing) {
        pthread_mutex_unlock(&svc->mu);
        free(p);
        return IBB_ERR_CLOSED;
    }
    bool was_empty = svc->q_head == NULL && svc->p_head == NULL;
    if (svc->p_tail)
        svc->p_tail->next = p;
    else
        svc->p_head = p;
    svc->p_tail = p;
    if (was_empty)
        uv_async_send(&svc->async);
    pthread_mutex_unlock(&svc->mu);
    return IBB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Start / Stop / Close */

static void on_sub_complete(void *closure) { bus_serviceUnref(closure); }

static ibbStatus track_sub(busService *svc, natsSubscription *sub)
{
    pthread_mutex_lock(&svc->mu);
    svc->refs++;
    pthread_mutex_unlock(&svc->mu);
    if (natsSubscription_SetOnCompleteCB(sub, on_sub_complete, svc) != NATS_OK) {
        pthread_mutex_lock(&svc->mu);
        svc->refs--; /* already closed: it will never call back */
        pthread_mutex_unlock(&svc->mu);
        return IBB_ERR_STATE;
    }
    return IBB_OK;
}

static ibbStatus subscribe_endpoints(busService *svc)
{
    int max_pending = busConn_MaxPendingMsgs(svc->conn);
    for (size_t i = 0; i < svc->neps; i++) {
        busEndpoint *ep = svc->eps[i];
        if (ep->sub)
            continue;
        natsStatus s;
        if (*svc->queue_group)
            s = natsConnection_QueueSubscribe(&ep->sub, svc->nc, ep->subject, svc->queue_group, on_request,
                                              ep);
        else
            s = natsConnection_Subscribe(&ep->sub, svc->nc, ep->subject, on_request, ep);
        if (s != NATS_OK) {
            IBB_ERROR("bus.subscribe_failed", "subject=%s error=\"%s\"", ep->subject, natsStatus_GetText(s));
            return IBB_ERR_IO;
        }
        natsSubscription_SetPendingLimits(ep->sub, max_pending, 256 * 1024 * 1024);
        track_sub(svc, ep->sub);
    }
    return IBB_OK;
}

static void drop_sub(natsSubscription **sub);

ibbStatus busService_SetServing(busService *svc, bool on)
{
    if (svc == NULL)
        return IBB_ERR_INVALID_ARG;
    if (svc->closing || svc->stopped)
        return IBB_ERR_STATE;
    if (svc->paused == !on)
        return IBB_OK;
    svc->paused = !on;
    if (!svc->started_subs)
        return IBB_OK; /* Start will (not) subscribe */
    if (!on) {
        for (size_t i = 0; i < svc->neps; i++)
            drop_sub(&svc->eps[i]->sub);
        IBB_INFO("bus.serving", "name=%s id=%s serving=false", svc->name, svc->id);
        return IBB_OK;
    }
    ibbStatus st = subscribe_endpoints(svc);
    if (st == IBB_OK && natsConnection_FlushTimeout(svc->nc, 2000) != NATS_OK)
        IBB_WARN("bus.flush", "detail=\"subscriptions not confirmed by the server yet (not connected?)\"");
    IBB_INFO("bus.serving", "name=%s id=%s serving=%s", svc->name, svc->id, st == IBB_OK ? "true" : "failed");
    return st;
}

void busService_SetRole(busService *svc, const char *role, uint64_t epoch)
{
    if (svc == NULL)
        return;
    pthread_mutex_lock(&svc->mu);
    snprintf(svc->role, sizeof svc->role, "%s", role ? role : "");
    svc->role_epoch = role && *role ? epoch : 0;
    pthread_mutex_unlock(&svc->mu);
}

ibbStatus busService_Start(busService *svc)
{
    if (svc == NULL)
        return IBB_ERR_INVALID_ARG;
    if (svc->started_subs || svc->closing)
        return IBB_ERR_STATE;
    svc->started_subs = true;
    if (!svc->paused) {
        ibbStatus est = subscribe_endpoints(svc);
        if (est != IBB_OK)
            return est;
    }
    ibbStatus st = bus_microSubscribe(svc);
    if (st != IBB_OK)
        return st;
    if (natsConnection_FlushTimeout(svc->nc, 2000) != NATS_OK)
        IBB_WARN("bus.flush", "detail=\"subscriptions not confirmed by the server yet (not connected?)\"");
    IBB_INFO("bus.started", "name=%s id=%s endpoints=%zu prefix=%s timeout_ms=%lld", svc->name, svc->id,
             svc->neps, svc->prefix, (long long)svc->timeout_ms);
    return IBB_OK;
}

void busService_Stop(busService *svc)
{
    if (svc == NULL || svc->stopped || svc->closing)
        return;
    svc->stopped = true;
    for (size_t i = 0; i < svc->neps; i++)
        if (svc->eps[i]->sub)
            natsSubscription_Drain(svc->eps[i]->sub);
    for (int i = 0; i < BUS_SRV_SUBS; i++)
        if (svc->srv_subs[i])
            natsSubscription_Drain(svc->srv_subs[i]);
    busServiceCounters c;
    busService_Counters(svc, &c);
    IBB_INFO("bus.stopping", "name=%s in_flight=%llu", svc->name, (unsigned long long)c.in_flight);
}

static void drop_sub(natsSubscription **sub)
{
    if (*sub) {
        natsSubscription_Unsubscribe(*sub); /* fails harmlessly when drained or closed */
        natsSubscription_Destroy(*sub);
        *sub = NULL;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    busService *svc = h->data;
    if (--svc->open_handles > 0)
        return;
    if (svc->closed_cb)
        svc->closed_cb(svc, svc->closed_arg);
    bus_serviceUnref(svc);
}

void busService_Close(busService *svc, busClosedFn cb, void *arg)
{
    if (svc == NULL || svc->closing)
        return;
    for (size_t i = 0; i < svc->neps; i++)
        drop_sub(&svc->eps[i]->sub);
    for (int i = 0; i < BUS_SRV_SUBS; i++)
        drop_sub(&svc->srv_subs[i]);

    pthread_mutex_lock(&svc->mu);
    svc->closing = true;
    busRequest *q = svc->q_head;
    busPost *p = svc->p_head;
    svc->q_head = svc->q_tail = NULL;
    svc->p_head = svc->p_tail = NULL;
    pthread_mutex_unlock(&svc->mu);

    run_posts(p);
    char msg[200];
    shutdown_message(svc, msg, sizeof msg);
    while (q) {
        busRequest *r = q;
        q = q->next;
        r->next = NULL;
        expire(r, "unavailable", msg);
    }
    while (svc->inflight_head)
        expire(svc->inflight_head, "unavailable", msg);
    /* requests still held by their owners outlive the service: detach them */
    for (busRequest *r = svc->live_head, *next; r; r = next) {
        next = r->lnext;
        r->svc = NULL;
        r->ep = NULL;
        r->live = false;
        r->lnext = r->lprev = NULL;
    }
    svc->live_head = NULL;
    svc->closed_cb = cb;
    svc->closed_arg = arg;
    uv_timer_stop(&svc->timer);
    uv_close((uv_handle_t *)&svc->async, on_handle_closed);
    uv_close((uv_handle_t *)&svc->timer, on_handle_closed);
}

void busService_Counters(busService *svc, busServiceCounters *out)
{
    pthread_mutex_lock(&svc->mu);
    *out = svc->ctr;
    pthread_mutex_unlock(&svc->mu);
}

const char *busService_Id(const busService *svc) { return svc->id; }
const char *busService_Name(const busService *svc) { return svc->name; }
