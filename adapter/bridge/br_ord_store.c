/* br_ord_store.c — the orders module's JetStream side: the idempotency bucket (one create-only
 * record per client_order_id, JSON) and the order event stream.
 *
 * Names derive from the subject prefix P ("ib"; dots become '_', upper case for the stream):
 *   stream  IB_ORDERS      subjects P.evt.order.>, file storage, limits retention: 7 days
 *                          (max_age), 1 GiB (max_bytes, oldest dropped), duplicate window 2 days
 *                          so a reconnect or restart replay of a status/fill/commission is dropped
 *   bucket  ib_orders_idem history 1, file storage, TTL 7 days (a client_order_id can be reused
 *                          after a week)
 * nats.c's KV and stream calls block: each runs on a libuv worker thread and completes on the loop.
 * Setup (stream + bucket + scan for records a crash left unfinished) is retried every 2 s until
 * NATS answers.
 *
 * Durable writes: one queue entry per client_order_id holds the newest record wanted there. A worker
 * reads the stored record and its revision, drops the write when the stored one ranks higher (a stale
 * write never replaces a newer state), else writes at that revision; a conflict reads again, a failure
 * retries with backoff (100 ms doubling to 5 s) for as long as it takes. The entry leaves the queue
 * only once the server acknowledged its newest record, and only then does the module hear of it (the
 * `written` callback): nothing is taken as final before it is durable. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_ord_store.h"
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
    brOrdWrittenFn on_written;
    uv_timer_t *timer;           /* setup retry (heap; freed by its close callback) */
    uv_timer_t *wtimer;          /* write retries */
    bool ready, setup_running, stopped, scanned;
    int jobs;                    /* worker jobs in flight */
    ibbMap *writes;              /* cid -> wrEntry* */
    uint64_t retries, conflicts;
    char last_error[160];
    char stream[80], bucket[80], subjects[128], prefix[64];
};

typedef enum { JOB_SETUP, JOB_GET, JOB_CREATE, JOB_WRITE, JOB_EVENT, JOB_RANGE } jobKind;

/* One client_order_id's queued write (s->writes). */
typedef struct wrEntry {
    char cid[ST_CLIENT_ORDER_ID_MAX + 1];
    brOrdRecord want;            /* the newest record wanted in the bucket */
    bool forget;                 /* want a delete instead (never sent) */
    bool must_exist;             /* settle: write only over an existing record */
    uint64_t gen;                /* bumped by every new want: a finished job with an older gen writes again */
    bool inflight;
    int attempts;
    int64_t queued_ms, next_ms;
} wrEntry;

typedef struct job {
    uv_work_t w;
    brOrdStore *s;
    jobKind kind;
    char key[ST_CLIENT_ORDER_ID_MAX + 1];
    char *data;                  /* JSON in (create/put) */
    size_t len;
    brOrdStoreFn fn;
    brOrdEvidenceFn efn;
    brOrdEventsFn rfn;           /* JOB_RANGE */
    int64_t since_ns, first_ns;  /* JOB_RANGE */
    size_t max, n_msgs, cap_msgs;
    char **msgs;
    size_t *lens;
    void *ctx;
    wrEntry *we;                 /* JOB_WRITE */
    uint64_t we_gen;
    brOrdRecord rec;             /* JOB_WRITE: wanted in, stored out; JOB_EVENT: order id in order_id */
    bool forget, deleted, conflicted, must_exist;
    brOrdEvidence ev;
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

int brOrdRecord_Rank(const brOrdRecord *r)
{
    if (!strcmp(r->state, "pending"))
        return 0;
    if (!strcmp(r->state, "sending"))
        return 1;
    if (!strcmp(r->state, "unknown"))
        return 2;
    if (!strcmp(r->state, "acked"))
        return stOrderStatus_IsTerminal(r->status) ? 4 : 3;
    return 4; /* rejected, unacknowledged */
}

bool brOrdRecord_NeedsRepair(const brOrdRecord *r) { return brOrdRecord_Rank(r) < 4; }

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
    /* Records a crash left unfinished: reconciliation must bring each to a definite state. */
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
        brOrdRecord r;
        if (busJs_KvGet(s->js, keys[i], &v, &len, e, sizeof e) == IBB_OK && record_parse(v, len, &r) &&
            brOrdRecord_NeedsRepair(&r))
            j->recs[j->n_recs++] = v;
        else
            free(v);
    }
    busJs_FreeKeys(keys, n);
}

/* Reads cid's stored record (rec->rev its revision); IBB_ERR_NOT_FOUND when absent. */
static ibbStatus read_record(brOrdStore *s, const char *cid, brOrdRecord *rec, char *err, size_t cap)
{
    char *v = NULL;
    size_t len = 0;
    uint64_t rev = 0;
    ibbStatus st = busJs_KvGetRev(s->js, cid, &v, &len, &rev, err, cap);
    if (st == IBB_OK && !record_parse(v, len, rec)) {
        snprintf(err, cap, "the stored record of '%s' is unreadable", cid);
        st = IBB_ERR_PROTOCOL;
    }
    if (st == IBB_OK)
        rec->rev = rev;
    free(v);
    return st;
}

/* One durable write attempt (worker thread): read, compare ranks, write at the revision read. */
static void write_work(job *j)
{
    brOrdStore *s = j->s;
    for (int tries = 0; tries < 4; tries++) {
        brOrdRecord cur;
        ibbStatus g = read_record(s, j->key, &cur, j->err, sizeof j->err);
        if (g != IBB_OK && g != IBB_ERR_NOT_FOUND) {
            j->st = g == IBB_ERR_PROTOCOL ? IBB_OK : g; /* unreadable: overwrite it */
            if (g != IBB_ERR_PROTOCOL)
                return;
            cur.rev = 0;
        }
        bool have = g == IBB_OK;
        if (j->forget) {
            j->st = IBB_OK;
            if (!have) {
                j->deleted = true;
                return;
            }
            if (brOrdRecord_Rank(&cur) > 1) { /* moved on: it is not ours to forget */
                j->rec = cur;
                return;
            }
            j->st = busJs_KvDeleteRev(s->js, j->key, cur.rev, j->err, sizeof j->err);
            j->deleted = j->st == IBB_OK;
        } else {
            if (!have && j->must_exist) { /* taken back by its writer: nothing to settle */
                j->st = IBB_OK;
                j->deleted = true;
                return;
            }
            if (have && brOrdRecord_Rank(&cur) > brOrdRecord_Rank(&j->rec)) {
                j->rec = cur; /* stale write: the newer stored state stands */
                j->st = IBB_OK;
                return;
            }
            if (have && j->rec.created_ns == 0)
                j->rec.created_ns = cur.created_ns;
            size_t len = 0;
            char *json = record_json(&j->rec, &len);
            if (!json) {
                j->st = IBB_ERR_NOMEM;
                return;
            }
            uint64_t rev = 0;
            j->st = busJs_KvUpdate(s->js, j->key, json, len, have ? cur.rev : 0, &rev, j->err, sizeof j->err);
            free(json);
            if (j->st == IBB_OK)
                j->rec.rev = rev;
        }
        if (j->st != IBB_ERR_CONFLICT)
            return;
        j->conflicted = true; /* another write came first: read again */
    }
}

/* The last order event of an order id (worker thread). */
static void event_work(job *j)
{
    char subject[160];
    snprintf(subject, sizeof subject, "%s.evt.order.%" PRId64, j->s->prefix, j->rec.order_id);
    char *v = NULL;
    size_t len = 0;
    j->st = busJs_LastMsg(j->s->js, j->s->stream, subject, &v, &len, j->err, sizeof j->err);
    if (j->st != IBB_OK)
        return;
    busBody body;
    busBody_Init(&body);
    char e[128];
    if (busBody_Decode(&body, v, len, "application/msgpack", 0, e, sizeof e) == IBB_OK) {
        const msgpack_object *m = &body.root;
        str_field(m, "client_order_id", j->ev.client_order_id, sizeof j->ev.client_order_id);
        str_field(m, "type", j->ev.type, sizeof j->ev.type);
        str_field(m, "status", j->ev.status, sizeof j->ev.status);
        busObj_Double(m, "filled", &j->ev.filled);
        busObj_Double(m, "remaining", &j->ev.remaining);
        busObj_Double(m, "avg_fill_price", &j->ev.avg_fill_price);
        busObj_Int(m, "perm_id", &j->ev.perm_id);
    } else {
        j->st = IBB_ERR_PROTOCOL;
        snprintf(j->err, sizeof j->err, "the last event of order %" PRId64 " is unreadable: %s", j->rec.order_id,
                 e);
    }
    busBody_Free(&body);
    free(v);
}

/* One stored event of a range (worker thread): copied for the loop. */
static bool range_msg(void *arg, const char *data, size_t len, int64_t time_ns)
{
    job *j = arg;
    (void)time_ns;
    if (j->n_msgs == j->cap_msgs) {
        size_t cap = j->cap_msgs ? j->cap_msgs * 2 : 64;
        char **m = realloc(j->msgs, cap * sizeof *m);
        if (m)
            j->msgs = m;
        size_t *l = m ? realloc(j->lens, cap * sizeof *l) : NULL;
        if (!l)
            return false;
        j->lens = l;
        j->cap_msgs = cap;
    }
    char *c = malloc(len ? len : 1);
    if (!c)
        return false;
    memcpy(c, data, len);
    j->msgs[j->n_msgs] = c;
    j->lens[j->n_msgs++] = len;
    return true;
}

static void range_work(job *j)
{
    char subject[160];
    snprintf(subject, sizeof subject, "%s.evt.order.>", j->s->prefix);
    j->st = busJs_ReadSince(j->s->js, j->s->stream, subject, j->since_ns, j->max, &j->first_ns, range_msg, j,
                            j->err, sizeof j->err);
}

static void on_work(uv_work_t *w)
{
    job *j = w->data;
    brOrdStore *s = j->s;
    switch (j->kind) {
    case JOB_SETUP: setup_work(j); break;
    case JOB_GET: j->st = busJs_KvGet(s->js, j->key, &j->out, &j->out_len, j->err, sizeof j->err); break;
    case JOB_CREATE: {
        uint64_t rev = 0;
        j->st = busJs_KvUpdate(s->js, j->key, j->data, j->len, 0, &rev, j->err, sizeof j->err);
        if (j->st == IBB_ERR_CONFLICT) { /* the key holds another record: a repeat */
            j->exists = true;
            j->st = busJs_KvGet(s->js, j->key, &j->out, &j->out_len, j->err, sizeof j->err);
            if (j->st == IBB_ERR_NOT_FOUND)
                j->st = IBB_ERR_IO; /* deleted meanwhile: let the client retry */
        }
        break;
    }
    case JOB_WRITE: write_work(j); break;
    case JOB_EVENT: event_work(j); break;
    case JOB_RANGE: range_work(j); break;
    }
}

static void start_setup(brOrdStore *s);

static void setup_done(brOrdStore *s, job *j)
{
    s->setup_running = false;
    if (j->st == IBB_ERR_CONFIG) { /* fewer replicas than nats.js_replicas, and the server will not add them */
        br_refuseStart(s->b, "order_store", j->err);
        return;
    }
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
            if (record_parse(j->recs[i], strlen(j->recs[i]), &recs[n]) && brOrdRecord_NeedsRepair(&recs[n]))
                n++;
        if (n)
            IBB_INFO("orders.unfinished_records", "count=%zu action=repair", n);
        if (s->on_orphans)
            s->on_orphans(s->b, recs, n);
        free(recs);
    }
}

static void write_done(brOrdStore *s, job *j);

static void after_work(uv_work_t *w, int status)
{
    (void)status;
    job *j = w->data;
    brOrdStore *s = j->s;
    s->jobs--;
    if (j->kind == JOB_SETUP) {
        setup_done(s, j);
    } else if (j->kind == JOB_WRITE) {
        write_done(s, j);
    } else if (j->kind == JOB_EVENT) {
        j->efn(s->b, j->ctx, j->st, j->st == IBB_OK ? &j->ev : NULL);
    } else if (j->kind == JOB_RANGE) {
        j->rfn(s->b, j->ctx, j->st, j->first_ns, j->msgs, j->lens, j->n_msgs, j->err);
        for (size_t i = 0; i < j->n_msgs; i++)
            free(j->msgs[i]);
        free(j->msgs);
        free(j->lens);
    } else if (j->fn) {
        brOrdRecord rec;
        bool have = j->out && record_parse(j->out, j->out_len, &rec);
        ibbStatus st = j->st;
        if (st == IBB_OK && (j->kind == JOB_GET || j->exists) && !have) {
            st = IBB_ERR_PROTOCOL;
            snprintf(j->err, sizeof j->err, "the stored record of '%s' is unreadable", j->key);
        }
        j->fn(s->b, j->ctx, st, j->exists, have ? &rec : NULL, j->err);
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

/* ---- durable writes ------------------------------------------------------------------------------ */

#define WRITE_TICK_MS 100
#define WRITE_BACKOFF_MAX_MS 5000

static int64_t now_ms(const brOrdStore *s) { return (int64_t)uv_now(s->b->loop); }

static void write_kick(brOrdStore *s, wrEntry *e)
{
    if (e->inflight || s->stopped || now_ms(s) < e->next_ms)
        return;
    job *j = new_job(s, JOB_WRITE, e->cid, NULL, NULL);
    if (!j)
        return; /* the retry tick tries again */
    j->we = e;
    j->we_gen = e->gen;
    j->rec = e->want;
    j->forget = e->forget;
    j->must_exist = e->must_exist;
    if (!queue_job(s, j)) {
        free(j);
        return;
    }
    e->inflight = true;
}

static void write_failed(brOrdStore *s, wrEntry *e, const char *err)
{
    e->attempts++;
    s->retries++;
    snprintf(s->last_error, sizeof s->last_error, "%.159s", err);
    int64_t backoff = 100LL << (e->attempts < 6 ? e->attempts : 6);
    e->next_ms = now_ms(s) + (backoff > WRITE_BACKOFF_MAX_MS ? WRITE_BACKOFF_MAX_MS : backoff);
    if (e->attempts == 1 || e->attempts % 20 == 0)
        IBB_WARN("orders.store_write_retry",
                 "client_order_id=%s state=%s attempts=%d queued=%zu age_ms=%" PRId64 " error=\"%s\"", e->cid,
                 e->forget ? "(delete)" : e->want.state, e->attempts, ibbMap_Count(s->writes),
                 now_ms(s) - e->queued_ms, err);
}

static void write_done(brOrdStore *s, job *j)
{
    wrEntry *e = j->we;
    e->inflight = false;
    if (j->conflicted)
        s->conflicts++;
    if (j->st != IBB_OK) {
        write_failed(s, e, j->err[0] ? j->err : ibbStatus_Name(j->st));
        return;
    }
    if (e->gen != j->we_gen) { /* a newer record was wanted meanwhile: write it too */
        write_kick(s, e);
        return;
    }
    if (e->attempts)
        IBB_INFO("orders.store_write_done", "client_order_id=%s state=%s attempts=%d age_ms=%" PRId64, e->cid,
                 j->deleted ? "(deleted)" : j->rec.state, e->attempts + 1, now_ms(s) - e->queued_ms);
    ibbMap_Del(s->writes, e->cid);
    if (s->on_written)
        s->on_written(s->b, e->cid, j->deleted ? NULL : &j->rec);
    free(e);
    if (ibbMap_Count(s->writes) == 0 && s->last_error[0]) {
        IBB_INFO("orders.store_drained", "retries=%" PRIu64, s->retries);
        s->last_error[0] = '\0';
    }
}

static wrEntry *write_entry(brOrdStore *s, const char *cid)
{
    wrEntry *e = ibbMap_Get(s->writes, cid);
    if (e)
        return e;
    if (!(e = calloc(1, sizeof *e)))
        return NULL;
    snprintf(e->cid, sizeof e->cid, "%s", cid);
    e->queued_ms = now_ms(s);
    if (ibbMap_Put(s->writes, e->cid, e) != IBB_OK) {
        free(e);
        return NULL;
    }
    return e;
}

static void write_record(brOrdStore *s, const brOrdRecord *rec, bool must_exist);

void brOrdStore_Write(brOrdStore *s, const brOrdRecord *rec) { write_record(s, rec, false); }
void brOrdStore_Settle(brOrdStore *s, const brOrdRecord *rec) { write_record(s, rec, true); }

static void write_record(brOrdStore *s, const brOrdRecord *rec, bool must_exist)
{
    wrEntry *e = write_entry(s, rec->client_order_id);
    if (!e) {
        IBB_ERROR("orders.store_write_failed", "client_order_id=%s error=\"out of memory\"", rec->client_order_id);
        return;
    }
    if (e->gen && !e->forget && brOrdRecord_Rank(rec) < brOrdRecord_Rank(&e->want))
        return; /* an older state than the one already queued */
    e->want = *rec;
    e->forget = false;
    e->must_exist = must_exist;
    e->gen++;
    write_kick(s, e);
}

void brOrdStore_Forget(brOrdStore *s, const char *cid)
{
    wrEntry *e = write_entry(s, cid);
    if (!e)
        return;
    e->forget = true;
    e->gen++;
    write_kick(s, e);
}

static void on_write_tick(uv_timer_t *t)
{
    brOrdStore *s = t->data;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, s->writes);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        write_kick(s, v);
}

void brOrdStore_Backlog(const brOrdStore *s, brOrdStoreBacklog *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    out->queued = ibbMap_Count(s->writes);
    out->retries = s->retries;
    out->conflicts = s->conflicts;
    snprintf(out->last_error, sizeof out->last_error, "%.159s", s->last_error);
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, s->writes);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        int64_t age = now_ms(s) - ((wrEntry *)v)->queued_ms;
        if (age > out->oldest_ms)
            out->oldest_ms = age;
    }
}

void brOrdStore_LastEvent(brOrdStore *s, int64_t order_id, brOrdEvidenceFn fn, void *ctx)
{
    job *j = new_job(s, JOB_EVENT, NULL, NULL, ctx);
    if (j) {
        j->efn = fn;
        j->rec.order_id = order_id;
    }
    if (!j || !queue_job(s, j)) {
        free(j);
        fn(s->b, ctx, IBB_ERR_NOMEM, NULL);
    }
}

void brOrdStore_EventsSince(brOrdStore *s, int64_t since_ns, size_t max, brOrdEventsFn fn, void *ctx)
{
    job *j = new_job(s, JOB_RANGE, NULL, NULL, ctx);
    if (j) {
        j->rfn = fn;
        j->since_ns = since_ns;
        j->max = max;
    }
    if (!j || !queue_job(s, j)) {
        free(j);
        fn(s->b, ctx, IBB_ERR_NOMEM, 0, NULL, NULL, 0, "out of memory");
    }
}

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

ibbStatus brOrdStore_Create(brOrdStore **out, brBridge *b, brOrdReadyFn ready, brOrdOrphansFn orphans,
                            brOrdWrittenFn written)
{
    brOrdStore *s = calloc(1, sizeof *s);
    if (!s)
        return IBB_ERR_NOMEM;
    s->b = b;
    s->on_ready = ready;
    s->on_orphans = orphans;
    s->on_written = written;
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
    if (st == IBB_OK && (!(s->timer = malloc(sizeof *s->timer)) || !(s->wtimer = malloc(sizeof *s->wtimer))))
        st = IBB_ERR_NOMEM;
    if (st == IBB_OK)
        st = ibbMap_Create(&s->writes);
    if (st != IBB_OK) {
        free(s->timer);
        free(s->wtimer);
        busPublisher_Destroy(s->json_pub);
        busJs_Destroy(s->js);
        free(s);
        return st;
    }
    uv_timer_init(b->loop, s->timer);
    s->timer->data = s;
    uv_timer_start(s->timer, on_setup_timer, SETUP_RETRY_MS, SETUP_RETRY_MS);
    uv_unref((uv_handle_t *)s->timer);
    uv_timer_init(b->loop, s->wtimer);
    s->wtimer->data = s;
    uv_timer_start(s->wtimer, on_write_tick, WRITE_TICK_MS, WRITE_TICK_MS);
    uv_unref((uv_handle_t *)s->wtimer);
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
    if (s->wtimer) {
        uv_timer_stop(s->wtimer);
        uv_close((uv_handle_t *)s->wtimer, (uv_close_cb)free);
        s->wtimer = NULL;
    }
    busJs_Close(s->js);
}

void brOrdStore_Destroy(brOrdStore *s)
{
    if (!s)
        return;
    brOrdStore_Stop(s);
    if (s->writes) {
        size_t n = ibbMap_Count(s->writes);
        if (n)
            IBB_WARN("orders.store_unflushed",
                     "count=%zu note=\"the next start repairs these records from the order stream and IB\"", n);
        ibbMapIter it;
        void *v;
        ibbMapIter_Init(&it, s->writes);
        while (ibbMapIter_Next(&it, NULL, NULL, &v))
            free(v);
        ibbMap_Destroy(s->writes);
    }
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

void brOrdStore_Publish(brOrdStore *s, int64_t order_id, const char *event_id, const char *mp, size_t len)
{
    char subject[160], suffix[96];
    snprintf(subject, sizeof subject, "%s.evt.order.%" PRId64, s->prefix, order_id);
    snprintf(suffix, sizeof suffix, "evt.order.%" PRId64, order_id);
    if (busJs_Publish(s->js, subject, event_id, mp, len, "application/msgpack") != IBB_OK)
        IBB_ERROR("orders.event_lost", "order_id=%" PRId64 " event_id=%s", order_id, event_id);
    busPublisher_Publish(s->json_pub, suffix, mp, len);
}
