/* br_quotes_kv.c — the quotes' last-value cache in a JetStream KV bucket; see br_quotes_kv.h. */
#include "br_quotes_kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_json.h"
#include "bus_kv.h"
#include "ibb_log.h"

#define KV_RETRY_MIN_MS 2000
#define KV_RETRY_MAX_MS 60000
#define KV_TICK_MS 50

struct brQuoteKvSlot {
    char subject[300];               /* $KV.<bucket>.<kv key> */
    char key[160];                   /* the instrument key */
    int64_t last_ms;                 /* last write (loop ms); INT64_MIN = never */
    bool pending;
    brQuoteKvSlot *prev, *next;      /* in the pending list while pending */
};

struct brQuoteKv {
    uv_loop_t *loop;
    busConn *conn;
    char bucket[64];
    bool json;
    int64_t min_interval_ms;
    int replicas;
    brQuoteKvPackFn pack;
    void *ud;
    /* creation */
    uv_work_t work;
    bool working, ready, closed;
    ibbStatus create_status;
    char create_err[400];
    int64_t retry_ms;
    uv_timer_t retry_timer, tick_timer;
    bool timers_open, tick_on;
    /* writes */
    brQuoteKvSlot *pending_head;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    busBuf jb;
    uint64_t writes, write_errors;
};

ibbStatus brQuoteKv_KeyOf(const char *key, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '_';
        size_t need = plain || c == ':' ? 1 : 3;
        if (n + need >= cap)
            return IBB_ERR_LIMIT;
        if (plain)
            out[n++] = (char)c;
        else if (c == ':')
            out[n++] = '/';
        else {
            out[n++] = '=';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    if (cap == 0)
        return IBB_ERR_LIMIT;
    out[n] = '\0';
    return IBB_OK;
}

/* ---- bucket creation (worker thread) ------------------------------------------------------------ */

static void create_work(uv_work_t *w)
{
    brQuoteKv *kv = w->data;
    busJsKvConfig c = {.bucket = kv->bucket,
                       .description = "ib-bridge: latest quote of every streamed instrument",
                       .history = 1,
                       .file_storage = true,
                       .replicas = kv->replicas};
    kv->create_status = busKv_EnsureBucket(kv->conn, &c, 3000, kv->create_err, sizeof kv->create_err);
}

static void start_create(brQuoteKv *kv);

static void on_retry(uv_timer_t *t) { start_create(t->data); }

static void ensure_tick(brQuoteKv *kv);

static void create_done(uv_work_t *w, int status)
{
    brQuoteKv *kv = w->data;
    kv->working = false;
    if (kv->closed)
        return;
    if (status == 0 && kv->create_status == IBB_OK) {
        kv->ready = true;
        IBB_INFO("quotes.kv_ready", "bucket=%s", kv->bucket);
        ensure_tick(kv); /* values that changed meanwhile */
        return;
    }
    IBB_WARN("quotes.kv_unavailable", "bucket=%s error=\"%s\" retry_ms=%lld", kv->bucket, kv->create_err,
             (long long)kv->retry_ms);
    uv_timer_start(&kv->retry_timer, on_retry, (uint64_t)kv->retry_ms, 0);
    kv->retry_ms = kv->retry_ms * 2 > KV_RETRY_MAX_MS ? KV_RETRY_MAX_MS : kv->retry_ms * 2;
}

static void start_create(brQuoteKv *kv)
{
    if (kv->working || kv->ready || kv->closed)
        return;
    kv->work.data = kv;
    if (uv_queue_work(kv->loop, &kv->work, create_work, create_done) == 0)
        kv->working = true;
}

/* ---- writes -------------------------------------------------------------------------------------- */

static void unlink_pending(brQuoteKv *kv, brQuoteKvSlot *s)
{
    if (!s->pending)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        kv->pending_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->pending = false;
}

static void write_slot(brQuoteKv *kv, brQuoteKvSlot *s)
{
    unlink_pending(kv, s);
    s->last_ms = (int64_t)uv_now(kv->loop);
    msgpack_sbuffer_clear(&kv->sb);
    kv->pack(kv->ud, s->key, &kv->pk);
    const char *data = kv->sb.data;
    size_t len = kv->sb.size;
    if (kv->json) {
        busBuf_Reset(&kv->jb);
        if (busJson_FromMsgpack(&kv->jb, kv->sb.data, kv->sb.size) != IBB_OK || kv->jb.oom)
            return;
        data = kv->jb.data;
        len = kv->jb.len;
    }
    if (busKv_Put(kv->conn, s->subject, data, len) == IBB_OK)
        kv->writes++;
    else
        kv->write_errors++;
}

static void on_tick(uv_timer_t *t)
{
    brQuoteKv *kv = t->data;
    if (!kv->ready)
        return;
    int64_t now = (int64_t)uv_now(kv->loop);
    for (brQuoteKvSlot *s = kv->pending_head, *next; s; s = next) {
        next = s->next;
        if (now - s->last_ms >= kv->min_interval_ms)
            write_slot(kv, s);
    }
    if (!kv->pending_head) {
        uv_timer_stop(&kv->tick_timer);
        kv->tick_on = false;
    }
}

static void ensure_tick(brQuoteKv *kv)
{
    if (kv->tick_on || kv->closed || !kv->pending_head)
        return;
    kv->tick_on = true;
    uv_timer_start(&kv->tick_timer, on_tick, KV_TICK_MS, KV_TICK_MS);
}

void brQuoteKv_Touch(brQuoteKv *kv, brQuoteKvSlot *s)
{
    if (!kv || !s || s->pending)
        return;
    if (kv->ready && (int64_t)uv_now(kv->loop) - s->last_ms >= kv->min_interval_ms) {
        write_slot(kv, s);
        return;
    }
    s->pending = true;
    s->prev = NULL;
    s->next = kv->pending_head;
    if (kv->pending_head)
        kv->pending_head->prev = s;
    kv->pending_head = s;
    ensure_tick(kv);
}

brQuoteKvSlot *brQuoteKv_Slot(brQuoteKv *kv, const char *key)
{
    if (!kv)
        return NULL;
    brQuoteKvSlot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    char kvkey[200];
    if (strlen(key) >= sizeof s->key || brQuoteKv_KeyOf(key, kvkey, sizeof kvkey) != IBB_OK) {
        free(s);
        return NULL;
    }
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->subject, sizeof s->subject, "$KV.%s.%s", kv->bucket, kvkey);
    s->last_ms = INT64_MIN / 2;
    return s;
}

void brQuoteKv_Drop(brQuoteKv *kv, brQuoteKvSlot *s)
{
    if (!kv || !s)
        return;
    if (s->pending && kv->ready && !kv->closed)
        write_slot(kv, s);
    unlink_pending(kv, s);
    free(s);
}

bool brQuoteKv_Ready(const brQuoteKv *kv) { return kv && kv->ready; }
uint64_t brQuoteKv_Writes(const brQuoteKv *kv) { return kv ? kv->writes : 0; }
uint64_t brQuoteKv_WriteErrors(const brQuoteKv *kv) { return kv ? kv->write_errors : 0; }

/* ---- lifecycle ----------------------------------------------------------------------------------- */

ibbStatus brQuoteKv_Create(brQuoteKv **out, uv_loop_t *loop, busConn *conn, const char *bucket, bool json,
                           int replicas, int64_t min_interval_ms, brQuoteKvPackFn pack, void *ud)
{
    brQuoteKv *kv = calloc(1, sizeof *kv);
    if (!kv)
        return IBB_ERR_NOMEM;
    kv->loop = loop;
    kv->conn = conn;
    snprintf(kv->bucket, sizeof kv->bucket, "%s", bucket);
    kv->json = json;
    kv->min_interval_ms = min_interval_ms;
    kv->replicas = replicas > 1 ? replicas : 1;
    kv->pack = pack;
    kv->ud = ud;
    kv->retry_ms = KV_RETRY_MIN_MS;
    msgpack_sbuffer_init(&kv->sb);
    msgpack_packer_init(&kv->pk, &kv->sb, msgpack_sbuffer_write);
    busBuf_Init(&kv->jb);
    uv_timer_init(loop, &kv->retry_timer);
    uv_timer_init(loop, &kv->tick_timer);
    kv->retry_timer.data = kv->tick_timer.data = kv;
    kv->timers_open = true;
    start_create(kv);
    *out = kv;
    return IBB_OK;
}

void brQuoteKv_Close(brQuoteKv *kv)
{
    if (!kv || kv->closed)
        return;
    kv->closed = true;
    /* last values still pending land now */
    while (kv->ready && kv->pending_head)
        write_slot(kv, kv->pending_head);
    uv_close((uv_handle_t *)&kv->retry_timer, NULL);
    uv_close((uv_handle_t *)&kv->tick_timer, NULL);
    kv->timers_open = false;
}

void brQuoteKv_Destroy(brQuoteKv *kv)
{
    if (!kv)
        return;
    if (kv->timers_open) { /* never closed (the bridge failed to start): close the handles now */
        brQuoteKv_Close(kv);
        uv_run(kv->loop, UV_RUN_NOWAIT);
    }
    while (kv->pending_head)
        unlink_pending(kv, kv->pending_head);
    msgpack_sbuffer_destroy(&kv->sb);
    busBuf_Free(&kv->jb);
    free(kv);
}
