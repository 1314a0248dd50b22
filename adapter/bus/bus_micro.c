/* bus_micro.c — NATS micro v1 discovery by hand ($SRV.PING / $SRV.INFO / $SRV.STATS, each bare, with
 * .<name> and with .<name>.<id>). Answered on the nats.c thread: the replies read only immutable
 * service data and the stats under svc->mu. Shapes: schemas/micro/ (ping, info, stats). */
#include "bus_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ibb_log.h"

enum { SRV_PING, SRV_INFO, SRV_STATS };

static void lit(busBuf *b, const char *s) { busBuf_Append(b, s, strlen(s)); }

static void key(busBuf *b, const char *k)
{
    busJson_String(b, k, strlen(k));
    busBuf_Append(b, ":", 1);
}

static void kv_str(busBuf *b, const char *k, const char *v)
{
    key(b, k);
    busJson_String(b, v, strlen(v));
}

static void kv_int(busBuf *b, const char *k, int64_t v)
{
    char t[32];
    key(b, k);
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    busBuf_Append(b, t, (size_t)n);
}

static void common_fields(busBuf *b, busService *svc, const char *type)
{
    lit(b, "{");
    kv_str(b, "type", type);
    lit(b, ",");
    kv_str(b, "name", svc->name);
    lit(b, ",");
    kv_str(b, "id", svc->id);
    lit(b, ",");
    kv_str(b, "version", svc->version);
    lit(b, ",");
    key(b, "metadata");
    lit(b, "{");
    size_t i = 0;
    for (; svc->metadata[i]; i += 2) {
        if (i)
            lit(b, ",");
        kv_str(b, svc->metadata[i], svc->metadata[i + 1]);
    }
    char role[sizeof svc->role], epoch[24] = "";
    pthread_mutex_lock(&svc->mu);
    memcpy(role, svc->role, sizeof role);
    if (svc->role_epoch)
        snprintf(epoch, sizeof epoch, "%" PRIu64, svc->role_epoch);
    pthread_mutex_unlock(&svc->mu);
    if (*role) {
        if (i)
            lit(b, ",");
        kv_str(b, "role", role);
    }
    if (*role && *epoch) {
        lit(b, ",");
        kv_str(b, "epoch", epoch); /* micro metadata values are strings */
    }
    lit(b, "}");
}

static void endpoint_head(busBuf *b, busService *svc, busEndpoint *ep)
{
    kv_str(b, "name", ep->name);
    lit(b, ",");
    kv_str(b, "subject", ep->subject);
    lit(b, ",");
    kv_str(b, "queue_group", svc->queue_group);
}

static void build(busBuf *b, busService *svc, int kind)
{
    if (kind == SRV_PING) {
        common_fields(b, svc, "io.nats.micro.v1.ping_response");
        lit(b, "}");
        return;
    }
    if (kind == SRV_INFO) {
        common_fields(b, svc, "io.nats.micro.v1.info_response");
        lit(b, ",");
        kv_str(b, "description", svc->description);
        lit(b, ",");
        key(b, "endpoints");
        lit(b, "[");
        for (size_t i = 0; i < svc->neps; i++) {
            lit(b, i ? ",{" : "{");
            endpoint_head(b, svc, svc->eps[i]);
            lit(b, ",\"metadata\":null}");
        }
        lit(b, "]}");
        return;
    }
    common_fields(b, svc, "io.nats.micro.v1.stats_response");
    lit(b, ",");
    kv_str(b, "started", svc->started);
    lit(b, ",");
    key(b, "endpoints");
    lit(b, "[");
    pthread_mutex_lock(&svc->mu);
    for (size_t i = 0; i < svc->neps; i++) {
        busEndpoint *ep = svc->eps[i];
        lit(b, i ? ",{" : "{");
        endpoint_head(b, svc, ep);
        lit(b, ",");
        kv_int(b, "num_requests", ep->num_requests);
        lit(b, ",");
        kv_int(b, "num_errors", ep->num_errors);
        lit(b, ",");
        kv_str(b, "last_error", ep->last_error);
        lit(b, ",");
        kv_int(b, "processing_time", ep->processing_ns);
        lit(b, ",");
        kv_int(b, "average_processing_time", ep->num_requests ? ep->processing_ns / ep->num_requests : 0);
        lit(b, "}");
    }
    pthread_mutex_unlock(&svc->mu);
    lit(b, "]}");
}

static void on_srv(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    busService *svc = closure;
    const char *subj = natsMsg_GetSubject(msg);
    const char *reply = natsMsg_GetReply(msg);
    int kind = strncmp(subj, "$SRV.PING", 9) == 0 ? SRV_PING : strncmp(subj, "$SRV.INFO", 9) == 0 ? SRV_INFO
                                                                                                  : SRV_STATS;
    if (reply && *reply) {
        busBuf b;
        busBuf_Init(&b);
        build(&b, svc, kind);
        if (!b.oom)
            natsConnection_Publish(nc, reply, b.data, (int)b.len);
        busBuf_Free(&b);
    }
    natsMsg_Destroy(msg);
}

static void on_complete(void *closure) { bus_serviceUnref(closure); }

ibbStatus bus_microSubscribe(busService *svc)
{
    static const char *const verbs[3] = {"PING", "INFO", "STATS"};
    int n = 0;
    for (int v = 0; v < 3; v++) {
        for (int form = 0; form < 3; form++) {
            char subj[512];
            if (form == 0)
                snprintf(subj, sizeof subj, "$SRV.%s", verbs[v]);
            else if (form == 1)
                snprintf(subj, sizeof subj, "$SRV.%s.%s", verbs[v], svc->name);
            else
                snprintf(subj, sizeof subj, "$SRV.%s.%s.%s", verbs[v], svc->name, svc->id);
            natsSubscription *sub = NULL;
            natsStatus s = natsConnection_Subscribe(&sub, svc->nc, subj, on_srv, svc);
            if (s != NATS_OK) {
                IBB_ERROR("bus.subscribe_failed", "subject=%s error=\"%s\"", subj, natsStatus_GetText(s));
                return IBB_ERR_IO;
            }
            svc->srv_subs[n++] = sub;
            pthread_mutex_lock(&svc->mu);
            svc->refs++;
            pthread_mutex_unlock(&svc->mu);
            if (natsSubscription_SetOnCompleteCB(sub, on_complete, svc) != NATS_OK) {
                pthread_mutex_lock(&svc->mu);
                svc->refs--;
                pthread_mutex_unlock(&svc->mu);
            }
        }
    }
    return IBB_OK;
}
