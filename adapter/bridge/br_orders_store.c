/* br_orders_store.c — the orders module's JetStream side: the idempotency bucket (one create-only
 * record per client_order_id, JSON) and the order event stream.
 *
 * Names derive from the subject prefix P ("ib"; dots become '_', upper case for the stream):
 *   stream  IB_ORDERS      subjects P.evt.order.>, file storage, limits retention: 7 days
 *                          (max_age), 1 GiB (max_bytes, oldest dropped), duplicate window 2 days
 *                          so a reconnect or restart replay of a status/fill/commission is dropped
 *   bucket  ib_orders_idem history 1, file storage, TTL 7 days (a client_order_id can be reused
 *                          after a week)
 * nats.c's KV and stream calls block: each runs on a libuv worker thread and completes on the loop.
 * Setup (stream + bucket + scan for records left "pending" by a crash) is retried every 2 s until
 * NATS answers. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_orders.h"
#include "bus_json.h"
#include "ibb_log.h"

#define SETUP_RETRY_MS 2000
#define DAY_MS (24LL * 3600 * 1000)

struct brOrdStore {
    brBridge *b;
    busJs *js;
    busPublisher *json_pub;      /* JSON mirror of the events */
    brOrdReadyFn on_ready;
    brOrdOrphansFn on_orphans;
    uv_timer_t *timer;           /* setup retry (heap; freed by its close callback) */
    bool ready, setup_running, stopped, scanned;
    int jobs;                    /* worker jobs in flight */
    char stream[80], bucket[80], subjects[128], prefix[64];
};

typedef enum { JOB_SETUP, JOB_GET, JOB_CREATE, JOB_PUT, JOB_DELETE } jobKind;

typedef struct job {
    uv_work_t w;
    brOrdStore *s;
    jobKind kind;
    char key[ST_CLIENT_ORDER_ID_MAX + 1];
    char *data;                  /* JSON in (create/put) */
    size_t len;
    brOrdStoreFn fn;
    void *ctx;
    /* results */
    ibbStatus st;
    bool exists, created_stream;
    char *out;                   /* JSON out (get / create that existed) */
    size_t out_len;
    char **recs;                 /* setup: pending records' JSON */
    size_t n_recs;
    char err[300];
} job;

/* ---- records ------------------------------------------------------------------------------------- */

static char *record_json(const brOrdRecord *r, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int n = 14 + (r->error_code[0] ? 3 : 0) + !ib_isUnsetDouble(r->limit_price) +
            !ib_isUnsetDouble(r->stop_price);
    msgpack_pack_map(&pk, (size_t)n);
    busPack_KeyInt(&pk, "v", 1);
    busPack_KeyStr(&pk, "client_order_id", r->client_order_id);
    busPack_KeyInt(&pk, "order_id", r->order_id);
    busPack_KeyStr(&pk, "state", r->state);
    busPack_KeyStr(&pk, "status", r->status);
    busPack_KeyStr(&pk, "key", r->key);
    busPack_KeyStr(&pk, "side", r->side);
    busPack_KeyDouble(&pk, "qty", r->qty);
    busPack_KeyStr(&pk, "type", r->order_type);
    if (!ib_isUnsetDouble(r->limit_price))
        busPack_KeyDouble(&pk, "limit_price", r->limit_price);
    if (!ib_isUnsetDouble(r->stop_price))
        busPack_KeyDouble(&pk, "stop_price", r->stop_price);
    busPack_KeyStr(&pk, "tif", r->tif);
    busPack_KeyStr(&pk, "account", r->account);
    busPack_KeyInt(&pk, "created_ns", r->created_ns);
    busPack_KeyInt(&pk, "updated_ns", r->updated_ns);
    busPack_KeyStr(&pk, "writer", "ib-bridge");
    if (r->error_code[0]) {
        busPack_KeyStr(&pk, "error_code", r->error_code);
        busPack_KeyStr(&pk, "error_message", r->error_message);
        busPack_KeyInt(&pk, "ib_code", r->ib_code);
    }
    busBuf out;
    busBuf_Init(&out);
    ibbStatus st = busJson_FromMsgpack(&out, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (st != IBB_OK || out.oom) {
        busBuf_Free(&out);
        return NULL;
    }
    char *s = malloc(out.len + 1); /* out.data is not NUL-terminated: no strndup */
    if (s) {
        memcpy(s, out.data, out.len);
        s[out.len] = '\0';
        *len = out.len;
    }
    busBuf_Free(&out);
    return s;
}

static void str_field(const msgpack_object *m, const char *k, char *dst, size_t cap)
{
    const char *s;
    size_t n;
    if (busObj_Str(m, k, &s, &n) == IBB_OK)
        snprintf(dst, cap, "%.*s", (int)n, s);
}

static bool record_parse(const char *json, size_t len, brOrdRecord *r)
{
    memset(r, 0, sizeof *r);
    r->limit_price = r->stop_price = IB_UNSET_DOUBLE;
    busBody body;
    busBody_Init(&body);
    char err[128];
    bool ok = busBody_Decode(&body, json, len, "application/json", 0, err, sizeof err) == IBB_OK;
    if (ok) {
        const msgpack_object *m = &body.root;
        str_field(m, "client_order_id", r->client_order_id, sizeof r->client_order_id);
        busObj_Int(m, "order_id", &r->order_id);
        str_field(m, "state", r->state, sizeof r->state);
        str_field(m, "status", r->status, sizeof r->status);
        str_field(m, "key", r->key, sizeof r->key);
        str_field(m, "side", r->side, sizeof r->side);
        busObj_Double(m, "qty", &r->qty);
        str_field(m, "type", r->order_type, sizeof r->order_type);
        busObj_Double(m, "limit_price", &r->limit_price);
        busObj_Double(m, "stop_price", &r->stop_price);
        str_field(m, "tif", r->tif, sizeof r->tif);
        str_field(m, "account", r->account, sizeof r->account);
        str_field(m, "error_code", r->error_code, sizeof r->error_code);
        str_field(m, "error_message", r->error_message, sizeof r->error_message);
        int64_t code = 0;
        busObj_Int(m, "ib_code", &code);
        r->ib_code = (int)code;
        busObj_Int(m, "created_ns", &r->created_ns);
        busObj_Int(m, "updated_ns", &r->updated_ns);
        ok = r->client_order_id[0] && r->state[0];
    }
    busBody_Free(&body);
    return ok;
}

/* ---- worker jobs ----------------------------------------------------------------------------------- */

static void setup_work(job *j)
{
    brOrdStore *s = j->s;
    busJsStreamConfig sc = {
        .name = s->stream,
        .description =
            "ib-bridge order events (ib.evt.order.<order_id>): submitted, status, fills, commissions",
        .subject = s->subjects,
        .file_storage = true,
        .max_age_ms = 7 * DAY_MS,
        .max_bytes = 1LL << 30,
        .duplicates_ms = 2 * DAY_MS,
        .replicas = s->b->opt.js_replicas,
    };
    j->st = busJs_EnsureStream(s->js, &sc, &j->created_stream, j->err, sizeof j->err);
    if (j->st != IBB_OK)
        return;
    busJsKvConfig kc = {
        .bucket = s->bucket,
        .description = "ib-bridge idempotency records, one per client_order_id",
        .history = 1,
        .ttl_ms = 7 * DAY_MS,
        .file_storage = true,
        .replicas = s->b->opt.js_replicas,
    };
    j->st = busJs_EnsureKv(s->js, &kc, j->err, sizeof j->err);
    if (j->st != IBB_OK || s->scanned)
        return;
    /* Records a crash left "pending": reconciliation must bring each to a definite state. */
    char **keys = NULL;
    size_t n = 0;
    if (busJs_KvKeys(s->js, &keys, &n, j->err, sizeof j->err) != IBB_OK) {
        IBB_WARN("orders.store_scan_failed", "error=\"%s\"", j->err);
        j->err[0] = '\0';
        return;
    }
    j->recs = n ? calloc(n, sizeof *j->recs) : NULL;
    for (size_t i = 0; j->recs && i < n; i++) {
        char *v = NULL;
        size_t len = 0;
        char e[200];
        if (busJs_KvGet(s->js, keys[i], &v, &len, e, sizeof e) == IBB_OK && strstr(v, "pending"))
            j->recs[j->n_recs++] = v;
        else
            free(v);
    }
    busJs_FreeKeys(keys, n);
}

static void on_work(uv_work_t *w)
{
    job *j = w->data;
    brOrdStore *s = j->s;
    switch (j->kind) {
    case JOB_SETUP: setup_work(j); break;
    case JOB_GET: j->st = busJs_KvGet(s->js, j->key, &j->out, &j->out_len, j->err, sizeof j->err); break;
    case JOB_CREATE:
        j->st = busJs_KvCreate(s->js, j->key, j->data, j->len, &j->exists, j->err, sizeof j->err);
        if (j->st == IBB_OK && j->exists &&
            busJs_KvGet(s->js, j->key, &j->out, &j->out_len, j->err, sizeof j->err) != IBB_OK)
            j->st = IBB_ERR_IO;
        break;
    case JOB_PUT: j->st = busJs_KvPut(s->js, j->key, j->data, j->len, j->err, sizeof j->err); break;
    case JOB_DELETE: j->st = busJs_KvDelete(s->js, j->key, j->err, sizeof j->err); break;
    }
}

static void start_setup(brOrdStore *s);

static void setup_done(brOrdStore *s, job *j)
{
    s->setup_running = false;
    if (j->st != IBB_OK) {
        IBB_WARN("orders.store_unavailable", "error=\"%s\" retry_ms=%d", j->err, SETUP_RETRY_MS);
        return; /* the repeating timer tries again */
    }
    if (!s->ready)
        IBB_INFO("orders.store_ready", "stream=%s created=%s bucket=%s", s->stream,
                 j->created_stream ? "true" : "false", s->bucket);
    s->ready = true;
    if (s->timer)
        uv_timer_stop(s->timer);
    if (s->on_ready)
        s->on_ready(s->b);
    if (!s->scanned) {
        s->scanned = true;
        brOrdRecord *recs = j->n_recs ? calloc(j->n_recs, sizeof *recs) : NULL;
        size_t n = 0;
        for (size_t i = 0; recs && i < j->n_recs; i++)
            if (record_parse(j->recs[i], strlen(j->recs[i]), &recs[n]) &&
                strcmp(recs[n].state, "pending") == 0)
                n++;
        if (n)
            IBB_INFO("orders.pending_records", "count=%zu", n);
        if (s->on_orphans)
            s->on_orphans(s->b, recs, n);
        free(recs);
    }
}

static void after_work(uv_work_t *w, int status)
{
    (void)status;
    job *j = w->data;
    brOrdStore *s = j->s;
    s->jobs--;
    if (j->kind == JOB_SETUP) {
        setup_done(s, j);
    } else if (j->fn) {
        brOrdRecord rec;
        bool have = j->out && record_parse(j->out, j->out_len, &rec);
        ibbStatus st = j->st;
        if (st == IBB_OK && (j->kind == JOB_GET || j->exists) && !have) {
            st = IBB_ERR_PROTOCOL;
            snprintf(j->err, sizeof j->err, "the stored record of '%s' is unreadable", j->key);
        }
        j->fn(s->b, j->ctx, st, j->exists, have ? &rec : NULL, j->err);
    } else if (j->st != IBB_OK) {
        IBB_ERROR("orders.store_write_failed", "client_order_id=%s op=%s error=\"%s\"", j->key,
                  j->kind == JOB_PUT ? "put" : "delete", j->err);
    }
    for (size_t i = 0; i < j->n_recs; i++)
        free(j->recs[i]);
    free(j->recs);
    free(j->data);
    free(j->out);
    free(j);
}

static job *new_job(brOrdStore *s, jobKind kind, const char *key, brOrdStoreFn fn, void *ctx)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->s = s;
    j->kind = kind;
    j->fn = fn;
    j->ctx = ctx;
    j->w.data = j;
    if (key)
        snprintf(j->key, sizeof j->key, "%s", key);
    return j;
}

static bool queue_job(brOrdStore *s, job *j)
{
    if (uv_queue_work(s->b->loop, &j->w, on_work, after_work) != 0)
        return false;
    s->jobs++;
    return true;
}

static void fail_now(brBridge *b, brOrdStoreFn fn, void *ctx, const char *why)
{
    if (fn)
        fn(b, ctx, IBB_ERR_NOMEM, false, NULL, why);
}

static void start_setup(brOrdStore *s)
{
    if (s->setup_running || s->stopped)
        return;
    job *j = new_job(s, JOB_SETUP, NULL, NULL, NULL);
    if (!j)
        return;
    s->setup_running = true;
    if (!queue_job(s, j)) {
        s->setup_running = false;
        free(j);
    }
}

static void on_setup_timer(uv_timer_t *t) { start_setup(t->data); }

/* ---- public ---------------------------------------------------------------------------------------- */

static void name_from_prefix(const char *prefix, char *out, size_t cap, bool upper, const char *suffix)
{
    size_t n = 0;
    for (const char *p = prefix; *p && n + 1 < cap; p++) {
        char c = *p;
        if (!isalnum((unsigned char)c))
            c = '_';
        out[n++] = upper ? (char)toupper((unsigned char)c) : (char)tolower((unsigned char)c);
    }
    out[n] = '\0';
    snprintf(out + n, cap - n, "%s", suffix);
}

ibbStatus brOrdStore_Create(brOrdStore **out, brBridge *b, brOrdReadyFn ready, brOrdOrphansFn orphans)
{
    brOrdStore *s = calloc(1, sizeof *s);
    if (!s)
        return IBB_ERR_NOMEM;
    s->b = b;
    s->on_ready = ready;
    s->on_orphans = orphans;
    snprintf(s->prefix, sizeof s->prefix, "%s", b->prefix);
    name_from_prefix(b->prefix, s->stream, sizeof s->stream, true, "_ORDERS");
    name_from_prefix(b->prefix, s->bucket, sizeof s->bucket, false, "_orders_idem");
    snprintf(s->subjects, sizeof s->subjects, "%s.evt.order.>", b->prefix);
    busJsOptions jo;
    busJsOptions_Init(&jo);
    ibbStatus st = busJs_Create(&s->js, b->conn, b->loop, &jo);
    busPublisherOptions po;
    busPublisherOptions_Init(&po);
    char jp[80];
    snprintf(jp, sizeof jp, "%s.json", b->prefix);
    po.prefix = jp;
    po.mode = BUS_STREAM_JSON;
    if (st == IBB_OK)
        st = busPublisher_Create(&s->json_pub, b->conn, &po);
    if (st == IBB_OK && !(s->timer = malloc(sizeof *s->timer)))
        st = IBB_ERR_NOMEM;
    if (st != IBB_OK) {
        busPublisher_Destroy(s->json_pub);
        busJs_Destroy(s->js);
        free(s);
        return st;
    }
    uv_timer_init(b->loop, s->timer);
    s->timer->data = s;
    uv_timer_start(s->timer, on_setup_timer, SETUP_RETRY_MS, SETUP_RETRY_MS);
    uv_unref((uv_handle_t *)s->timer);
    start_setup(s);
    *out = s;
    return IBB_OK;
}

void brOrdStore_Stop(brOrdStore *s)
{
    if (!s)
        return;
    s->stopped = true;
    if (s->timer) {
        uv_timer_stop(s->timer);
        uv_close((uv_handle_t *)s->timer, (uv_close_cb)free);
        s->timer = NULL;
    }
    busJs_Close(s->js);
}

void brOrdStore_Destroy(brOrdStore *s)
{
    if (!s)
        return;
    brOrdStore_Stop(s);
    busJs_Destroy(s->js);
    busPublisher_Destroy(s->json_pub);
    free(s);
}

bool brOrdStore_Ready(const brOrdStore *s) { return s && s->ready; }
const char *brOrdStore_StreamName(const brOrdStore *s) { return s->stream; }

void brOrdStore_Get(brOrdStore *s, const char *cid, brOrdStoreFn fn, void *ctx)
{
    job *j = new_job(s, JOB_GET, cid, fn, ctx);
    if (!j || !queue_job(s, j)) {
        free(j);
        fail_now(s->b, fn, ctx, "could not start the store lookup");
    }
}

void brOrdStore_Create_(brOrdStore *s, const brOrdRecord *rec, brOrdStoreFn fn, void *ctx)
{
    job *j = new_job(s, JOB_CREATE, rec->client_order_id, fn, ctx);
    if (j)
        j->data = record_json(rec, &j->len);
    if (!j || !j->data || !queue_job(s, j)) {
        if (j)
            free(j->data);
        free(j);
        fail_now(s->b, fn, ctx, "could not start the store write");
    }
}

static void write_job(brOrdStore *s, jobKind kind, const brOrdRecord *rec, const char *cid)
{
    job *j = new_job(s, kind, cid, NULL, NULL);
    if (j && rec)
        j->data = record_json(rec, &j->len);
    if (!j || (rec && !j->data) || !queue_job(s, j)) {
        IBB_ERROR("orders.store_write_failed", "client_order_id=%s error=\"could not start\"", cid);
        if (j)
            free(j->data);
        free(j);
    }
}

void brOrdStore_Put(brOrdStore *s, const brOrdRecord *rec)
{
    write_job(s, JOB_PUT, rec, rec->client_order_id);
}
void brOrdStore_Delete(brOrdStore *s, const char *cid) { write_job(s, JOB_DELETE, NULL, cid); }

void brOrdStore_Publish(brOrdStore *s, int64_t order_id, const char *event_id, const char *mp, size_t len)
{
    char subject[160], suffix[96];
    snprintf(subject, sizeof subject, "%s.evt.order.%" PRId64, s->prefix, order_id);
    snprintf(suffix, sizeof suffix, "evt.order.%" PRId64, order_id);
    if (busJs_Publish(s->js, subject, event_id, mp, len, "application/msgpack") != IBB_OK)
        IBB_ERROR("orders.event_lost", "order_id=%" PRId64 " event_id=%s", order_id, event_id);
    busPublisher_Publish(s->json_pub, suffix, mp, len);
}
