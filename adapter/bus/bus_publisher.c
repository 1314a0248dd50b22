/* bus_publisher.c — stream publishing; see bus_publisher.h. */
#include "bus_publisher.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bus_json.h"
#include "ibb_log.h"

struct busPublisher {
    natsConnection *nc;
    busStreamMode mode;
    char *prefix;          /* with its trailing '.', or "" */
    char *json_prefix;     /* idem */
    size_t prefix_len, json_prefix_len;
    busBuf subject;
    busBuf json;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    busPublisherCounters ctr;
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

void busPublisher_Destroy(busPublisher *p)
{
    if (p == NULL)
        return;
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
    p->nc = busConn_Nats(conn);
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
    natsStatus s = natsConnection_Publish(p->nc, subj, data, (int)len);
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

void busPublisher_Counters(const busPublisher *p, busPublisherCounters *out) { *out = p->ctr; }
