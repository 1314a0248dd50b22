/* bus_js.c — JetStream stream, KV bucket and acknowledged async publishing; see bus_js.h. */
#include "bus_js.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_internal.h"
#include "ibb_log.h"

typedef struct retryNode {
    natsMsg *msg;
    struct retryNode *next;
} retryNode;

struct busJs {
    busConn *conn;
    busJsOptions opt;
    jsCtx *js;
    uv_timer_t *timer;           /* retry timer (heap: freed by its close callback) */
    uv_mutex_t lock;             /* guards kv, the retry list and the counters */
    kvStore *kv;
    char bucket[128];            /* the bound bucket's name (revision-checked deletes) */
    retryNode *head, *tail;
    size_t n_retry;
    busJsCounters c;
};

void busJsOptions_Init(busJsOptions *o)
{
    memset(o, 0, sizeof *o);
    o->wait_ms = 3000;
    o->ack_wait_ms = 5000;
    o->retry_ms = 1000;
    o->max_retry_msgs = 100000;
}

static void set_err(char *err, size_t cap, const char *what, natsStatus s)
{
    if (err && cap)
        snprintf(err, cap, "%s: %s (%s)", what, natsStatus_GetText(s),
                 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
}

/* ---- retry list ----------------------------------------------------------------------------------- */

static void retry_push(busJs *j, natsMsg *m)
{
    retryNode *n = malloc(sizeof *n);
    if (!n) {
        natsMsg_Destroy(m);
        return;
    }
    n->msg = m;
    n->next = NULL;
    uv_mutex_lock(&j->lock);
    if (j->n_retry >= j->opt.max_retry_msgs && j->head) {
        retryNode *old = j->head;
        j->head = old->next;
        if (!j->head)
            j->tail = NULL;
        j->n_retry--;
        j->c.dropped++;
        const char *id = NULL;
        natsMsgHeader_Get(old->msg, "Nats-Msg-Id", &id);
        IBB_ERROR("js.publish_dropped", "subject=%s msg_id=%s reason=retry_list_full",
                  natsMsg_GetSubject(old->msg), id ? id : "");
        natsMsg_Destroy(old->msg);
        free(old);
    }
    if (j->tail)
        j->tail->next = n;
    else
        j->head = n;
    j->tail = n;
    j->n_retry++;
    uv_mutex_unlock(&j->lock);
}

/* The epoch of the fence at the time the event was made (resends keep it). */
static bool stamp_epoch(busJs *j, natsMsg *m)
{
    busFence *f = bus_connFence(j->conn);
    if (!f)
        return true;
    char ep[24];
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)busFence_Epoch(f));
    return natsMsgHeader_Set(m, BUS_HDR_EPOCH, ep) == NATS_OK;
}

static natsStatus publish_msg(busJs *j, natsMsg **m)
{
    busFence *f = bus_connFence(j->conn);
    if (f && !busFence_Allows(f)) { /* fenced: kept for the retry list, never sent while shut */
        busFence_CountRefused(f);
        return NATS_NOT_PERMITTED;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = j->opt.ack_wait_ms;
    return js_PublishMsgAsync(j->js, m, &po);
}

/* nats.c thread: every acknowledgment or failure of an async publish. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    busJs *j = closure;
    if (pa) {
        uv_mutex_lock(&j->lock);
        j->c.acked++;
        if (pa->Duplicate)
            j->c.duplicates++;
        uv_mutex_unlock(&j->lock);
        natsMsg_Destroy(msg);
        return;
    }
    const char *id = NULL;
    natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
    IBB_WARN("js.publish_unacked", "subject=%s msg_id=%s error=\"%s\" action=retry", natsMsg_GetSubject(msg),
             id ? id : "",
             pae && pae->ErrText ? pae->ErrText : natsStatus_GetText(pae ? pae->Err : NATS_ERR));
    retry_push(j, msg); /* owned by the list now */
}

static void on_retry_timer(uv_timer_t *t)
{
    busJs *j = t->data;
    uv_mutex_lock(&j->lock);
    retryNode *n = j->head;
    j->head = j->tail = NULL;
    j->n_retry = 0;
    uv_mutex_unlock(&j->lock);
    while (n) {
        retryNode *next = n->next;
        natsMsg *m = n->msg;
        free(n);
        natsStatus s = publish_msg(j, &m);
        uv_mutex_lock(&j->lock);
        j->c.retried++;
        if (s == NATS_OK)
            j->c.published++;
        uv_mutex_unlock(&j->lock);
        if (s != NATS_OK) {
            retry_push(j, m); /* still ours: try next period */
            for (n = next; n; n = next) {
                next = n->next;
                retry_push(j, n->msg);
                free(n);
            }
            return;
        }
        n = next;
    }
}

/* ---- lifecycle ------------------------------------------------------------------------------------ */

ibbStatus busJs_Create(busJs **out, busConn *conn, uv_loop_t *loop, const busJsOptions *o)
{
    if (!out || !conn || !loop)
        return IBB_ERR_INVALID_ARG;
    busJs *j = calloc(1, sizeof *j);
    if (!j)
        return IBB_ERR_NOMEM;
    j->conn = conn;
    if (o)
        j->opt = *o;
    else
        busJsOptions_Init(&j->opt);
    if (uv_mutex_init(&j->lock) != 0) {
        free(j);
        return IBB_ERR_NOMEM;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = j->opt.wait_ms;
    jo.PublishAsync.MaxPending = 1 << 20;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = j;
    natsStatus s = natsConnection_JetStream(&j->js, busConn_Nats(conn), &jo);
    if (s != NATS_OK) {
        IBB_ERROR("js.context_failed", "error=\"%s\"", natsStatus_GetText(s));
        uv_mutex_destroy(&j->lock);
        free(j);
        return IBB_ERR_IO;
    }
    j->timer = malloc(sizeof *j->timer);
    if (!j->timer) {
        jsCtx_Destroy(j->js);
        uv_mutex_destroy(&j->lock);
        free(j);
        return IBB_ERR_NOMEM;
    }
    uv_timer_init(loop, j->timer);
    j->timer->data = j;
    uv_timer_start(j->timer, on_retry_timer, (uint64_t)j->opt.retry_ms, (uint64_t)j->opt.retry_ms);
    uv_unref((uv_handle_t *)j->timer);
    *out = j;
    return IBB_OK;
}

void busJs_Close(busJs *j)
{
    if (!j || !j->timer)
        return;
    uv_timer_stop(j->timer);
    uv_close((uv_handle_t *)j->timer, (uv_close_cb)free);
    j->timer = NULL;
}

void busJs_Destroy(busJs *j)
{
    if (!j)
        return;
    busJs_Close(j);
    /* One last resend of what failed, then wait (bounded) for every outstanding ack. */
    uv_mutex_lock(&j->lock);
    retryNode *n = j->head;
    j->head = j->tail = NULL;
    size_t lost = j->n_retry;
    j->n_retry = 0;
    uv_mutex_unlock(&j->lock);
    while (n) {
        retryNode *next = n->next;
        natsMsg *m = n->msg;
        if (publish_msg(j, &m) == NATS_OK)
            lost--;
        natsMsg_Destroy(m);
        free(n);
        n = next;
    }
    natsStatus s = NATS_OK;
    if (j->c.published > 0) { /* nats.c's async state exists only after a first async publish */
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        s = js_PublishAsyncComplete(j->js, &po);
    }
    if (s != NATS_OK || lost)
        IBB_ERROR("js.unacked_at_exit", "status=%s not_resent=%zu", natsStatus_GetText(s), lost);
    jsCtx_Destroy(j->js);
    for (retryNode *r = j->head, *nx; r; r = nx) { /* failures reported while waiting: too late */
        nx = r->next;
        natsMsg_Destroy(r->msg);
        free(r);
    }
    if (j->kv)
        kvStore_Destroy(j->kv);
    uv_mutex_destroy(&j->lock);
    free(j);
}

void busJs_Counters(busJs *j, busJsCounters *out)
{
    uv_mutex_lock(&j->lock);
    *out = j->c;
    out->pending_retry = j->n_retry;
    uv_mutex_unlock(&j->lock);
}

/* ---- stream and bucket (blocking) ---------------------------------------------------------------- */

/* An existing stream with fewer copies than wanted is updated in place (the server adds the replicas and
 * catches them up); never silently left at fewer. */
static ibbStatus raise_replicas(jsCtx *js, jsStreamInfo *si, int want, char *err, size_t cap)
{
    if (want < 1)
        want = 1;
    if (want > 1 && si->Config && !si->Cluster) {
        /* a single server accepts Replicas > 1 in an update and keeps one copy: never silently R1 */
        if (err && cap)
            snprintf(err, cap,
                     "stream %s cannot have %d replicas: the NATS server is not part of a JetStream cluster; "
                     "connect to a cluster of at least %d servers (nats/cluster/) or set nats.js_replicas "
                     "(IBB_JS_REPLICAS) to 1",
                     si->Config->Name, want, want);
        return IBB_ERR_CONFIG;
    }
    if (!si->Config || si->Config->Replicas >= want)
        return IBB_OK;
    int had = si->Config->Replicas;
    si->Config->Replicas = want;
    jsStreamInfo *ui = NULL;
    jsErrCode ec = 0;
    natsStatus s = js_UpdateStream(&ui, js, si->Config, NULL, &ec);
    si->Config->Replicas = had;
    if (s == NATS_OK) {
        IBB_WARN("js.replicas_raised", "stream=%s from=%d to=%d", si->Config->Name, had, want);
        jsStreamInfo_Destroy(ui);
        return IBB_OK;
    }
    if (err && cap)
        snprintf(err, cap,
                 "stream %s has %d replica(s) but nats.js_replicas (IBB_JS_REPLICAS) is %d and the server "
                 "refused to raise it (%s): run `nats stream edit %s --replicas %d` on a cluster of at least %d "
                 "servers, or lower nats.js_replicas",
                 si->Config->Name, had, want, nats_GetLastError(NULL), si->Config->Name, want, want);
    return IBB_ERR_CONFIG;
}

ibbStatus busJs_EnsureStream(busJs *j, const busJsStreamConfig *c, bool *created, char *err, size_t cap)
{
    if (created)
        *created = false;
    if (!j || !c || !c->name || !c->subject)
        return IBB_ERR_INVALID_ARG;
    jsStreamInfo *si = NULL;
    jsErrCode ec = 0;
    natsStatus s = js_GetStreamInfo(&si, j->js, c->name, NULL, &ec);
    if (s == NATS_OK) {
        ibbStatus st = raise_replicas(j->js, si, c->replicas, err, cap);
        jsStreamInfo_Destroy(si);
        return st;
    }
    if (s != NATS_NOT_FOUND) {
        set_err(err, cap, "stream info", s);
        return IBB_ERR_IO;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[1] = {c->subject};
    sc.Name = c->name;
    sc.Description = c->description;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Retention = js_LimitsPolicy;
    sc.Storage = c->file_storage ? js_FileStorage : js_MemoryStorage;
    sc.MaxAge = c->max_age_ms * 1000000;
    sc.MaxBytes = c->max_bytes > 0 ? c->max_bytes : -1;
    sc.Duplicates = c->duplicates_ms * 1000000;
    sc.Discard = js_DiscardOld;
    sc.Replicas = c->replicas > 1 ? c->replicas : 1;
    s = js_AddStream(&si, j->js, &sc, NULL, &ec);
    if (s != NATS_OK) {
        if (ec == JSStreamNameExistErr)
            return IBB_OK; /* created concurrently */
        set_err(err, cap, "stream create", s);
        /* replicas a single server cannot give are a configuration error; the rest (no peers while a node
         * is down, ...) may pass: the caller retries */
        return ec == JSStreamReplicasNotSupportedErr || ec == JSClusterNotActiveErr ? IBB_ERR_CONFIG : IBB_ERR_IO;
    }
    jsStreamInfo_Destroy(si);
    if (created)
        *created = true;
    return IBB_OK;
}

ibbStatus bus_ensureKv(jsCtx *js, const busJsKvConfig *c, kvStore **out, char *err, size_t cap)
{
    kvStore *kv = NULL;
    natsStatus s = js_KeyValue(&kv, js, c->bucket);
    if (s == NATS_NOT_FOUND) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = c->bucket;
        kc.Description = c->description;
        kc.History = (uint8_t)(c->history < 1 ? 1 : c->history > 64 ? 64 : c->history);
        kc.TTL = c->ttl_ms * 1000000;
        kc.StorageType = c->file_storage ? js_FileStorage : js_MemoryStorage;
        kc.Replicas = c->replicas > 1 ? c->replicas : 1;
        s = js_CreateKeyValue(&kv, js, &kc);
        if (s != NATS_OK) /* maybe created concurrently */
            s = js_KeyValue(&kv, js, c->bucket);
    } else if (s == NATS_OK && c->replicas > 1) {
        char sname[160];
        snprintf(sname, sizeof sname, "KV_%s", c->bucket);
        jsStreamInfo *si = NULL;
        if (js_GetStreamInfo(&si, js, sname, NULL, NULL) == NATS_OK) {
            ibbStatus st = raise_replicas(js, si, c->replicas, err, cap);
            jsStreamInfo_Destroy(si);
            if (st != IBB_OK) {
                kvStore_Destroy(kv);
                return st;
            }
        }
    }
    if (s != NATS_OK) {
        set_err(err, cap, "kv bucket", s);
        return IBB_ERR_IO;
    }
    *out = kv;
    return IBB_OK;
}

ibbStatus busJs_EnsureKv(busJs *j, const busJsKvConfig *c, char *err, size_t cap)
{
    if (!j || !c || !c->bucket)
        return IBB_ERR_INVALID_ARG;
    kvStore *kv = NULL;
    ibbStatus st = bus_ensureKv(j->js, c, &kv, err, cap);
    if (st != IBB_OK)
        return st;
    uv_mutex_lock(&j->lock);
    kvStore *old = j->kv;
    j->kv = kv;
    snprintf(j->bucket, sizeof j->bucket, "%s", c->bucket);
    uv_mutex_unlock(&j->lock);
    if (old)
        kvStore_Destroy(old);
    return IBB_OK;
}

bool busJs_KvReady(busJs *j)
{
    uv_mutex_lock(&j->lock);
    bool r = j->kv != NULL;
    uv_mutex_unlock(&j->lock);
    return r;
}

static kvStore *kv_of(busJs *j, char *err, size_t cap)
{
    uv_mutex_lock(&j->lock);
    kvStore *kv = j->kv;
    uv_mutex_unlock(&j->lock);
    if (!kv && err && cap)
        snprintf(err, cap, "the key-value bucket is not open yet");
    return kv; /* rebinding only happens during setup, before any KV call */
}

ibbStatus busJs_KvCreate(busJs *j, const char *key, const void *data, size_t len, bool *exists, char *err,
                         size_t cap)
{
    *exists = false;
    kvStore *kv = kv_of(j, err, cap);
    if (!kv)
        return IBB_ERR_STATE;
    uint64_t rev = 0;
    natsStatus s = kvStore_Create(&rev, kv, key, data, (int)len);
    if (s == NATS_OK)
        return IBB_OK;
    /* Create fails when the key holds a value ("wrong last sequence"); tell that from an outage. */
    kvEntry *e = NULL;
    natsStatus g = kvStore_Get(&e, kv, key);
    if (g == NATS_OK) {
        kvEntry_Destroy(e);
        *exists = true;
        return IBB_OK;
    }
    set_err(err, cap, "kv create", s);
    return IBB_ERR_IO;
}

ibbStatus busJs_KvGet(busJs *j, const char *key, char **data, size_t *len, char *err, size_t cap)
{
    return busJs_KvGetRev(j, key, data, len, NULL, err, cap);
}

ibbStatus busJs_KvGetRev(busJs *j, const char *key, char **data, size_t *len, uint64_t *rev, char *err,
                         size_t cap)
{
    *data = NULL;
    *len = 0;
    if (rev)
        *rev = 0;
    kvStore *kv = kv_of(j, err, cap);
    if (!kv)
        return IBB_ERR_STATE;
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, kv, key);
    if (s == NATS_NOT_FOUND)
        return IBB_ERR_NOT_FOUND;
    if (s != NATS_OK) {
        set_err(err, cap, "kv get", s);
        return IBB_ERR_IO;
    }
    int n = kvEntry_ValueLen(e);
    char *buf = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!buf) {
        kvEntry_Destroy(e);
        return IBB_ERR_NOMEM;
    }
    if (n > 0)
        memcpy(buf, kvEntry_Value(e), (size_t)n);
    buf[n > 0 ? n : 0] = '\0';
    if (rev)
        *rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    *data = buf;
    *len = (size_t)(n > 0 ? n : 0);
    return IBB_OK;
}

ibbStatus busJs_KvPut(busJs *j, const char *key, const void *data, size_t len, char *err, size_t cap)
{
    kvStore *kv = kv_of(j, err, cap);
    if (!kv)
        return IBB_ERR_STATE;
    uint64_t rev = 0;
    natsStatus s = kvStore_Put(&rev, kv, key, data, (int)len);
    if (s != NATS_OK) {
        set_err(err, cap, "kv put", s);
        return IBB_ERR_IO;
    }
    return IBB_OK;
}

/* After a failed conditional write: did it land after all (our bytes stored at a revision past `last`),
 * did another write win (conflict), or could the store not answer? */
static ibbStatus judge_failed_write(busJs *j, const char *key, const void *data, size_t len, uint64_t last,
                                    uint64_t *rev, natsStatus s, char *err, size_t cap)
{
    char *cur = NULL;
    size_t n = 0;
    uint64_t r = 0;
    char gerr[160];
    ibbStatus g = busJs_KvGetRev(j, key, &cur, &n, &r, gerr, sizeof gerr);
    if (g == IBB_ERR_NOT_FOUND && last == 0) {
        set_err(err, cap, "kv update", s); /* still absent: the write failed for another reason */
        return IBB_ERR_IO;
    }
    if (g != IBB_OK && g != IBB_ERR_NOT_FOUND) {
        set_err(err, cap, "kv update", s);
        return IBB_ERR_IO;
    }
    bool ours = g == IBB_OK && r > last && n == len && (len == 0 || memcmp(cur, data, len) == 0);
    free(cur);
    if (ours) {
        if (rev)
            *rev = r;
        return IBB_OK;
    }
    if (g == IBB_OK && r == last) {
        set_err(err, cap, "kv update", s); /* unchanged: the write itself failed */
        return IBB_ERR_IO;
    }
    if (err && cap)
        snprintf(err, cap, "kv update: '%s' changed (expected revision %" PRIu64 ", found %" PRIu64 ")", key,
                 last, r);
    return IBB_ERR_CONFLICT;
}

ibbStatus busJs_KvUpdate(busJs *j, const char *key, const void *data, size_t len, uint64_t last, uint64_t *rev,
                         char *err, size_t cap)
{
    if (rev)
        *rev = 0;
    kvStore *kv = kv_of(j, err, cap);
    if (!kv)
        return IBB_ERR_STATE;
    uint64_t r = 0;
    natsStatus s = last ? kvStore_Update(&r, kv, key, data, (int)len, last)
                        : kvStore_Create(&r, kv, key, data, (int)len);
    if (s == NATS_OK) {
        if (rev)
            *rev = r;
        return IBB_OK;
    }
    return judge_failed_write(j, key, data, len, last, rev, s, err, cap);
}

ibbStatus busJs_KvDeleteRev(busJs *j, const char *key, uint64_t last, char *err, size_t cap)
{
    kvStore *kv = kv_of(j, err, cap);
    if (!kv)
        return IBB_ERR_STATE;
    char subject[300], seq[32];
    uv_mutex_lock(&j->lock);
    snprintf(subject, sizeof subject, "$KV.%s.%s", j->bucket, key);
    uv_mutex_unlock(&j->lock);
    snprintf(seq, sizeof seq, "%" PRIu64, last);
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subject, NULL, NULL, 0);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "KV-Operation", "DEL");
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Expected-Last-Subject-Sequence", seq);
    jsPubAck *pa = NULL;
    jsErrCode ec = 0;
    if (s == NATS_OK) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = j->opt.wait_ms;
        s = js_PublishMsg(&pa, j->js, m, &po, &ec);
    }
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    if (s == NATS_OK)
        return IBB_OK;
    char *cur = NULL;
    size_t n = 0;
    uint64_t r = 0;
    ibbStatus g = busJs_KvGetRev(j, key, &cur, &n, &r, NULL, 0);
    free(cur);
    if (g == IBB_ERR_NOT_FOUND)
        return IBB_OK; /* gone (maybe by this very delete) */
    if (g == IBB_OK && r != last) {
        if (err && cap)
            snprintf(err, cap, "kv delete: '%s' changed (expected revision %" PRIu64 ", found %" PRIu64 ")",
                     key, last, r);
        return IBB_ERR_CONFLICT;
    }
    set_err(err, cap, "kv delete", s);
    return IBB_ERR_IO;
}

ibbStatus busJs_KvDelete(busJs *j, const char *key, char *err, size_t cap)
{
    kvStore *kv = kv_of(j, err, cap);
    if (!kv)
        return IBB_ERR_STATE;
    natsStatus s = kvStore_Delete(kv, key);
    if (s != NATS_OK) {
        set_err(err, cap, "kv delete", s);
        return IBB_ERR_IO;
    }
    return IBB_OK;
}

ibbStatus busJs_KvKeys(busJs *j, char ***keys, size_t *n, char *err, size_t cap)
{
    *keys = NULL;
    *n = 0;
    kvStore *kv = kv_of(j, err, cap);
    if (!kv)
        return IBB_ERR_STATE;
    kvKeysList l = {0};
    natsStatus s = kvStore_Keys(&l, kv, NULL);
    if (s == NATS_NOT_FOUND)
        return IBB_OK; /* empty bucket */
    if (s != NATS_OK) {
        set_err(err, cap, "kv keys", s);
        return IBB_ERR_IO;
    }
    char **out = l.Count ? calloc((size_t)l.Count, sizeof *out) : NULL;
    if (l.Count && !out) {
        kvKeysList_Destroy(&l);
        return IBB_ERR_NOMEM;
    }
    for (int i = 0; i < l.Count; i++) {
        out[i] = l.Keys[i];
        l.Keys[i] = NULL; /* ownership moves to the caller */
    }
    *keys = out;
    *n = (size_t)l.Count;
    kvKeysList_Destroy(&l);
    return IBB_OK;
}

void busJs_FreeKeys(char **keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
}

ibbStatus busJs_LastMsg(busJs *j, const char *stream, const char *subject, char **data, size_t *len, char *err,
                        size_t cap)
{
    *data = NULL;
    *len = 0;
    if (!j || !stream || !subject)
        return IBB_ERR_INVALID_ARG;
    natsMsg *m = NULL;
    jsErrCode ec = 0;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = j->opt.wait_ms;
    natsStatus s = js_GetLastMsg(&m, j->js, stream, subject, &o, &ec);
    if (s == NATS_NOT_FOUND || ec == JSNoMessageFoundErr || ec == JSStreamNotFoundErr)
        return IBB_ERR_NOT_FOUND;
    if (s != NATS_OK) {
        set_err(err, cap, "stream last message", s);
        return IBB_ERR_IO;
    }
    int n = natsMsg_GetDataLength(m);
    char *buf = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!buf) {
        natsMsg_Destroy(m);
        return IBB_ERR_NOMEM;
    }
    if (n > 0)
        memcpy(buf, natsMsg_GetData(m), (size_t)n);
    buf[n > 0 ? n : 0] = '\0';
    natsMsg_Destroy(m);
    *data = buf;
    *len = (size_t)(n > 0 ? n : 0);
    return IBB_OK;
}

/* The stream's oldest message time (0 when empty) and message count. */
static ibbStatus stream_first(busJs *j, const char *stream, int64_t *first_ns, int64_t *last_ns,
                              uint64_t *msgs, char *err, size_t cap)
{
    jsStreamInfo *si = NULL;
    jsErrCode ec = 0;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = j->opt.wait_ms;
    natsStatus s = js_GetStreamInfo(&si, j->js, stream, &o, &ec);
    if (s == NATS_NOT_FOUND || ec == JSStreamNotFoundErr)
        return IBB_ERR_NOT_FOUND;
    if (s != NATS_OK) {
        set_err(err, cap, "stream info", s);
        return IBB_ERR_IO;
    }
    *msgs = si->State.Msgs;
    *first_ns = si->State.Msgs ? si->State.FirstTime : 0;
    *last_ns = si->State.LastTime;
    jsStreamInfo_Destroy(si);
    return IBB_OK;
}

ibbStatus busJs_ReadSince(busJs *j, const char *stream, const char *subject, int64_t start_ns,
                          size_t max_msgs, int64_t *first_ns, busJsMsgFn fn, void *arg, char *err, size_t cap)
{
    uint64_t msgs = 0;
    int64_t last_ns = 0;
    *first_ns = 0;
    if (!j || !stream || !subject || !fn)
        return IBB_ERR_INVALID_ARG;
    ibbStatus st = stream_first(j, stream, first_ns, &last_ns, &msgs, err, cap);
    if (st != IBB_OK || msgs == 0 || start_ns > last_ns)
        return st; /* nothing stored since start_ns: no consumer to wait for */
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = j->opt.wait_ms;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = start_ns > 0 ? js_DeliverByStartTime : js_DeliverAll;
    so.Config.OptStartTime = start_ns > 0 ? start_ns : 0;
    natsSubscription *sub = NULL;
    jsErrCode ec = 0;
    natsStatus s = js_SubscribeSync(&sub, j->js, subject, &o, &so, &ec);
    if (s != NATS_OK) {
        set_err(err, cap, "stream read", s);
        return IBB_ERR_IO;
    }
    size_t n = 0;
    bool more = true;
    while (more && n < max_msgs) {
        natsMsg *m = NULL;
        s = natsSubscription_NextMsg(&m, sub, j->opt.wait_ms);
        if (s == NATS_TIMEOUT)
            break; /* nothing newer than start_ns (the consumer delivers nothing) */
        if (s != NATS_OK) {
            set_err(err, cap, "stream read", s);
            st = IBB_ERR_IO;
            break;
        }
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
            more = fn(arg, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), meta->Timestamp) &&
                   meta->NumPending > 0;
            jsMsgMetaData_Destroy(meta);
            n++;
        }
        natsMsg_Destroy(m);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return st;
}

/* ---- publishing ----------------------------------------------------------------------------------- */

ibbStatus busJs_Publish(busJs *j, const char *subject, const char *msg_id, const void *data, size_t len,
                        const char *content_type)
{
    if (!j || !subject || !msg_id || !*msg_id)
        return IBB_ERR_INVALID_ARG;
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, subject, NULL, data, (int)len) != NATS_OK)
        return IBB_ERR_NOMEM;
    if (natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id) != NATS_OK ||
        (content_type && natsMsgHeader_Set(m, "Content-Type", content_type) != NATS_OK) ||
        !stamp_epoch(j, m)) {
        natsMsg_Destroy(m);
        return IBB_ERR_NOMEM;
    }
    natsStatus s = publish_msg(j, &m);
    if (s == NATS_OK) {
        uv_mutex_lock(&j->lock);
        j->c.published++;
        uv_mutex_unlock(&j->lock);
        return IBB_OK;
    }
    IBB_WARN("js.publish_failed", "subject=%s msg_id=%s error=\"%s\" action=retry", subject, msg_id,
             natsStatus_GetText(s));
    retry_push(j, m);
    return IBB_OK;
}
