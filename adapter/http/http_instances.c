/* http_instances.c — which ib-bridge instances exist: the active and, with HA, every standby.
 *
 * ib.rpc.status reaches only the active (standbys serve no endpoint), so the gateway asks the service
 * discovery subject every instance answers: a $SRV.PING.ib-bridge every PING_EVERY_US, with the reply
 * going to a subject of this connection only. Each answer names the instance (id), its version and, in
 * its metadata, its subject prefix, HA role and epoch (bus_service.h); instances of another prefix are
 * ignored, and one not heard from for FORGET_US is dropped. Loop thread only; app->instances is a
 * jansson object owned by httpApp, keyed by instance id. */
#include <stdlib.h>
#include <string.h>

#include "http_app.h"
#include "ibb_log.h"

#define PING_EVERY_US 2000000
#define FORGET_US 6000000

static void on_pong(void *arg, const char *data, size_t len)
{
    httpApp *app = arg;
    json_t *root = json_loadb(data, len, 0, NULL);
    json_t *meta = json_object_get(root, "metadata");
    const char *id = json_string_value(json_object_get(root, "id"));
    const char *prefix = json_string_value(json_object_get(meta, "prefix"));
    if (id && *id && (!prefix || strcmp(prefix, app->cfg->nats.subject_prefix) == 0)) {
        const char *role = json_string_value(json_object_get(meta, "role"));
        const char *epoch = json_string_value(json_object_get(meta, "epoch"));
        const char *ver = json_string_value(json_object_get(root, "version"));
        json_object_set_new(app->instances, id,
                            json_pack("{s:s, s:I, s:s, s:I}", "role", role ? role : "active", "epoch",
                                      (json_int_t)(epoch ? strtoll(epoch, NULL, 10) : 0), "version",
                                      ver ? ver : "", "seen_us", (json_int_t)http_nowUs()));
    }
    json_decref(root);
}

void http_instancesTick(httpApp *app)
{
    int64_t now = http_nowUs();
    if (app->draining || (app->instances_asked_us && now - app->instances_asked_us < PING_EVERY_US))
        return;
    app->instances_asked_us = now;
    if (!app->instances && !(app->instances = json_object()))
        return;
    char reply[128];
    httpBus_PrivateSubject(app->bus, "instances", reply, sizeof reply);
    if (!app->instances_sub && httpBus_Subscribe(app->bus, reply, on_pong, app, &app->instances_sub) != IBB_OK)
        app->instances_sub = 0;
    const char *id;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(app->instances, tmp, id, v) {
        if (now - json_integer_value(json_object_get(v, "seen_us")) > FORGET_US)
            json_object_del(app->instances, id);
    }
    if (app->instances_sub)
        httpBus_Publish(app->bus, "$SRV.PING.ib-bridge", reply, "", 0);
}

void http_instancesFree(httpApp *app)
{
    httpBus_Unsubscribe(app->bus, app->instances_sub);
    app->instances_sub = 0;
    json_decref(app->instances);
    app->instances = NULL;
}

json_t *http_instancesJson(const httpApp *app)
{
    json_t *arr = json_array();
    const char *id;
    json_t *v;
    int64_t now = http_nowUs();
    json_object_foreach(app->instances, id, v) {
        json_array_append_new(arr, json_pack("{s:s, s:O, s:O, s:O, s:I}", "instance", id, "role",
                                             json_object_get(v, "role"), "epoch", json_object_get(v, "epoch"),
                                             "version", json_object_get(v, "version"), "age_ms",
                                             (json_int_t)((now - json_integer_value(json_object_get(v, "seen_us"))) / 1000)));
    }
    return arr;
}

void http_instancesRender(const httpApp *app, busBuf *out)
{
    busBuf_Puts(out, "# HELP ibb_ha_instances ib-bridge instances of this prefix answering $SRV.PING (active and standbys).\n"
                     "# TYPE ibb_ha_instances gauge\n");
    busBuf_Printf(out, "ibb_ha_instances %zu\n", app->instances ? json_object_size(app->instances) : (size_t)0);
    busBuf_Puts(out, /* the family is declared even before the first answer (a scrape never waits) */ "# HELP ibb_ha_instance_epoch HA epoch each instance reports (the lease revision it holds or last held; 0 never).\n"
                     "# TYPE ibb_ha_instance_epoch gauge\n");
    const char *id;
    json_t *v;
    json_object_foreach(app->instances, id, v) {
        const char *role = json_string_value(json_object_get(v, "role"));
        busBuf_Puts(out, "ibb_ha_instance_epoch{instance=");
        busJson_String(out, id, strlen(id));
        busBuf_Puts(out, ",role=");
        busJson_String(out, role ? role : "", role ? strlen(role) : 0);
        busBuf_Printf(out, "} %lld\n", (long long)json_integer_value(json_object_get(v, "epoch")));
    }
}
