/* bus_kv.c — last-value KV writes on a busConn; see bus_kv.h. */
#include "bus_kv.h"

#include <nats/nats.h>
#include <stdio.h>

#include "bus_internal.h"

ibbStatus busKv_EnsureBucket(busConn *conn, const busJsKvConfig *c, int64_t wait_ms, char *err, size_t cap)
{
    if (!conn || !c || !c->bucket)
        return IBB_ERR_INVALID_ARG;
    jsCtx *js = NULL;
    kvStore *store = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = wait_ms;
    if (cap)
        err[0] = '\0';
    natsStatus s = natsConnection_JetStream(&js, busConn_Nats(conn), &jo);
    ibbStatus st = s == NATS_OK ? bus_ensureKv(js, c, &store, err, cap) : IBB_ERR_IO;
    if (s != NATS_OK && cap)
        snprintf(err, cap, "%s", natsStatus_GetText(s));
    kvStore_Destroy(store);
    jsCtx_Destroy(js);
    return st;
}

ibbStatus busKv_Put(busConn *conn, const char *kv_subject, const void *data, size_t len)
{
    natsConnection *nc = busConn_Nats(conn);
    if (!nc || len > (size_t)INT32_MAX)
        return IBB_ERR_IO;
    return natsConnection_Publish(nc, kv_subject, data, (int)len) == NATS_OK ? IBB_OK : IBB_ERR_IO;
}
