/* bus_kv.c — last-value KV writes on a busConn; see bus_kv.h. */
#include "bus_kv.h"

#include <nats/nats.h>
#include <stdio.h>

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
    if (s == NATS_OK) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = c->bucket;
        kc.Description = c->description;
        kc.History = (uint8_t)(c->history < 1 ? 1 : c->history > 64 ? 64 : c->history);
        kc.TTL = c->ttl_ms * 1000000;
        kc.StorageType = c->file_storage ? js_FileStorage : js_MemoryStorage;
        kc.Replicas = c->replicas > 1 ? c->replicas : 1;
        s = js_CreateKeyValue(&store, js, &kc);
        if (s != NATS_OK) { /* exists with another configuration: use it */
            if (cap)
                snprintf(err, cap, "%s", nats_GetLastError(NULL));
            if (js_KeyValue(&store, js, c->bucket) == NATS_OK)
                s = NATS_OK;
        }
    }
    if (s != NATS_OK && cap && !err[0])
        snprintf(err, cap, "%s", natsStatus_GetText(s));
    kvStore_Destroy(store);
    jsCtx_Destroy(js);
    return s == NATS_OK ? IBB_OK : IBB_ERR_IO;
}

ibbStatus busKv_Put(busConn *conn, const char *kv_subject, const void *data, size_t len)
{
    natsConnection *nc = busConn_Nats(conn);
    if (!nc || len > (size_t)INT32_MAX)
        return IBB_ERR_IO;
    return natsConnection_Publish(nc, kv_subject, data, (int)len) == NATS_OK ? IBB_OK : IBB_ERR_IO;
}
