/* bus_publisher.c — stream publishing; see bus_publisher.h. */
#include "bus_publisher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bus_json.h"
#include "bus_internal.h"
#include "ibb_log.h"

struct busPublisher {
    busConn *conn;
    natsConnection *nc;
    bool on_loop;          /* loop-driven connection: the loop writes, Flush has nothing to do */
    busStreamMode mode;
    char *prefix;          /* with its trailing '.', or "" */
    char *json_prefix;     /* idem */
    size_t prefix_len, json_prefix_len;
    busBuf subject;
    busBuf json;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    busPublisherCounters ctr;
    /* the flush thread (started by the first busPublisher_Flush); fl_* under fl_mu */
    pthread_mutex_t fl_mu;
    pthread_cond_t fl_cv;
    pthread_t fl_thread;
    bool fl_started, fl_want, fl_stop;
    uint64_t fl_done, fl_failed;
};

int busStreamMode_Parse(const char *s)
{
    if (s && strcasecmp(s, "msgpack") == 0)
        return BUS_STREAM_MSGPACK;
    if (s && strcasecmp(s, "json") == 0)
        return BUS_STREAM_JSON;
    if (s && strcasecmp(s, "both") == 0)
        return BUS_STREAM_BOTH;
    return -1;
}

void busPublisherOptions_Init(busPublisherOptions *o)
{
    memset(o, 0, sizeof *o);
    o->prefix = "ib";
    o->mode = BUS_STREAM_MSGPACK;
}

static char *with_dot(const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = malloc(la + lb + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b ? b : "", lb);
    s[la + lb] = '\0';
    if (la + lb > 0) {
        s[la + lb] = '.';
        s[la + lb + 1] = '\0';
    }
    return s;
}

static void *flush_main(void *arg)
{
    busPublisher *p = arg;
    pthread_mutex_lock(&p->fl_mu);
    for (;;) {
        while (!p->fl_want && !p->fl_stop)
            pthread_cond_wait(&p->fl_cv, &p->fl_mu);
        if (p->fl_stop)
            break;
        p->fl_want = false;
        pthread_mutex_unlock(&p->fl_mu);
        /* While disconnected nats.c keeps publishes in its reconnect buffer: nothing to write. An
         * empty buffer (nats.c wrote it: full, or its flusher) needs no PING either. */
        natsStatus s = NATS_CONNECTION_DISCONNECTED;
        if (natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED)
            s = natsConnection_Buffered(p->nc) > 0 ? natsConnection_FlushTimeout(p->nc, BUS_FLUSH_TIMEOUT_MS)
                                                   : NATS_OK;
        pthread_mutex_lock(&p->fl_mu);
        if (s == NATS_OK)
            p->fl_done++;
        else
            p->fl_failed++;
    }
    pthread_mutex_unlock(&p->fl_mu);
    return NULL;
}

ibbStatus busPublisher_Flush(busPublisher *p)
{
    if (p == NULL)
        return IBB_ERR_INVALID_ARG;
    if (p->on_loop)
        return IBB_OK;
    ibbStatus st = IBB_OK;
    pthread_mutex_lock(&p->fl_mu);
    if (!p->fl_started && !p->fl_stop) {
        if (pthread_create(&p->fl_thread, NULL, flush_main, p) == 0) {
            p->fl_started = true;
        } else {
            p->fl_stop = true; /* do not retry on every batch */
            IBB_WARN("bus.flush_thread_failed",
                     "detail=\"publishes wait for nats.c's flusher (about 1 ms)\"");
        }
    }
    if (p->fl_started) {
        if (!p->fl_want) {
            p->fl_want = true;
            pthread_cond_signal(&p->fl_cv);
        }
    } else {
        st = IBB_ERR_NOMEM;
    }
    pthread_mutex_unlock(&p->fl_mu);
    return st;
}

void busPublisher_Destroy(busPublisher *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->fl_mu);
    bool started = p->fl_started;
    p->fl_stop = true;
    pthread_cond_signal(&p->fl_cv);
    pthread_mutex_unlock(&p->fl_mu);
    if (started)
        pthread_join(p->fl_thread, NULL);
    pthread_cond_destroy(&p->fl_cv);
    pthread_mutex_destroy(&p->fl_mu);
    free(p->prefix);
    free(p->json_prefix);
    busBuf_Free(&p->subject);
    busBuf_Free(&p->json);
    msgpack_sbuffer_destroy(&p->sb);
    free(p);
}

ibbStatus busPublisher_Create(busPublisher **out, busConn *conn, const busPublisherOptions *o)
{
    if (out == NULL || conn == NULL)
        return IBB_ERR_INVALID_ARG;
    busPublisherOptions dflt;
    busPublisherOptions_Init(&dflt);
    if (o == NULL)
        o = &dflt;
    if ((int)o->mode < BUS_STREAM_MSGPACK || o->mode > BUS_STREAM_BOTH)
        return IBB_ERR_INVALID_ARG;
    busPublisher *p = calloc(1, sizeof *p);
    if (p == NULL)
        return IBB_ERR_NOMEM;
    pthread_mutex_init(&p->fl_mu, NULL);
    pthread_cond_init(&p->fl_cv, NULL);
    p->conn = conn;
    p->nc = busConn_Nats(conn);
    p->on_loop = busConn_OnLoop(conn);
    p->mode = o->mode;
    const char *prefix = o->prefix ? o->prefix : "ib";
    p->prefix = with_dot(prefix, NULL);
    p->json_prefix =
        o->json_prefix ? with_dot(o->json_prefix, NULL) : with_dot(prefix, *prefix ? ".json" : "json");
    busBuf_Init(&p->subject);
    busBuf_Init(&p->json);
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    if (p->prefix == NULL || p->json_prefix == NULL) {
        busPublisher_Destroy(p);
        return IBB_ERR_NOMEM;
    }
    p->prefix_len = strlen(p->prefix);
    p->json_prefix_len = strlen(p->json_prefix);
    *out = p;
    return IBB_OK;
}

static ibbStatus send_one(busPublisher *p, const char *pre, size_t prelen, const char *suffix, size_t sufflen,
                          const char *data, size_t len)
{
    busBuf_Reset(&p->subject);
    busBuf_Append(&p->subject, pre, prelen);
    busBuf_Append(&p->subject, suffix, sufflen);
    const char *subj = busBuf_CStr(&p->subject);
    if (subj == NULL) {
        p->ctr.failed++;
        return IBB_ERR_NOMEM;
    }
    natsStatus s = bus_publish(p->conn, p->nc, subj, data, (int)len);
    if (s == NATS_NOT_PERMITTED) { /* fenced (bus_fence.h): counted there, not a failure */
        return IBB_ERR_STATE;
    }
    if (s != NATS_OK) {
        if (p->ctr.failed++ % 10000 == 0) /* log the first and then every 10,000th */
            IBB_WARN("bus.publish_failed", "subject=%s error=\"%s\" failed=%llu", subj, natsStatus_GetText(s),
                     (unsigned long long)p->ctr.failed);
        return IBB_ERR_IO;
    }
    p->ctr.published++;
    return IBB_OK;
}

ibbStatus busPublisher_Publish(busPublisher *p, const char *suffix, const char *mp, size_t len)
{
    if (p == NULL || suffix == NULL || (mp == NULL && len > 0))
        return IBB_ERR_INVALID_ARG;
    size_t sufflen = strlen(suffix);
    ibbStatus st = IBB_OK;
    if (p->mode != BUS_STREAM_JSON)
        st = send_one(p, p->prefix, p->prefix_len, suffix, sufflen, mp, len);
    if (p->mode == BUS_STREAM_MSGPACK)
        return st;
    busBuf_Reset(&p->json);
    if (busJson_FromMsgpack(&p->json, mp, len) != IBB_OK) {
        p->ctr.bad_payloads++;
        return IBB_ERR_INVALID_ARG;
    }
    ibbStatus st2 =
        p->mode == BUS_STREAM_JSON
            ? send_one(p, p->prefix, p->prefix_len, suffix, sufflen, p->json.data, p->json.len)
            : send_one(p, p->json_prefix, p->json_prefix_len, suffix, sufflen, p->json.data, p->json.len);
    return st != IBB_OK ? st : st2;
}

msgpack_packer *busPublisher_Packer(busPublisher *p)
{
    msgpack_sbuffer_clear(&p->sb);
    return &p->pk;
}

ibbStatus busPublisher_Send(busPublisher *p, const char *suffix)
{
    if (p == NULL)
        return IBB_ERR_INVALID_ARG;
    return busPublisher_Publish(p, suffix, p->sb.data, p->sb.size);
}

void busPublisher_Counters(const busPublisher *p, busPublisherCounters *out)
{
    *out = p->ctr;
    pthread_mutex_t *mu = (pthread_mutex_t *)&p->fl_mu;
    pthread_mutex_lock(mu);
    out->flushes = p->fl_done;
    out->flush_failed = p->fl_failed;
    pthread_mutex_unlock(mu);
}
