/* bus_conn.c — the NATS connection and the ib.evt.conn shape; see bus_conn.h. */
#include "bus_conn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_evloop.h"
#include "bus_internal.h"
#include "bus_obj.h"
#include "ibb_log.h"

struct busConn {
    natsConnection *nc;
    busConnEventFn on_event;
    void *user;
    int max_pending;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;       /* nats.c's closed callback has run */
    busEvLoop *ev;     /* set when driven by a libuv loop */
    busFence *fence;   /* HA: publishes refused while shut, stamped Ibb-Epoch (NULL = none) */
};

void busConn_SetFence(busConn *c, busFence *f)
{
    if (c)
        c->fence = f;
}

busFence *bus_connFence(const busConn *c) { return c ? c->fence : NULL; }

natsStatus bus_publishMsg(busConn *c, natsConnection *nc, natsMsg *m)
{
    busFence *f = c ? c->fence : NULL;
    if (f) {
        if (!busFence_Allows(f)) {
            busFence_CountRefused(f);
            return NATS_NOT_PERMITTED;
        }
        char ep[24];
        snprintf(ep, sizeof ep, "%llu", (unsigned long long)busFence_Epoch(f));
        natsMsgHeader_Set(m, BUS_HDR_EPOCH, ep);
    }
    return natsConnection_PublishMsg(nc, m);
}

natsStatus bus_publish(busConn *c, natsConnection *nc, const char *subj, const void *data, int len)
{
    if (!c || !c->fence) /* the usual case: no HA, no message object */
        return natsConnection_Publish(nc, subj, data, len);
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subj, NULL, data, len);
    if (s == NATS_OK)
        s = bus_publishMsg(c, nc, m);
    natsMsg_Destroy(m);
    return s;
}

ibbStatus bus_Init(void)
{
    return nats_Open(-1) == NATS_OK ? IBB_OK : IBB_ERR_NOMEM;
}

void bus_Shutdown(int64_t timeout_ms)
{
    nats_CloseAndWait(timeout_ms);
}

int64_t bus_NowNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

const char *busConnEvent_Name(busConnEvent ev)
{
    switch (ev) {
    case BUS_CONN_CONNECTED: return "connected";
    case BUS_CONN_DISCONNECTED: return "disconnected";
    case BUS_CONN_RECONNECTED: return "reconnected";
    case BUS_CONN_CLOSED: return "closed";
    case BUS_CONN_ERROR: return "error";
    }
    return "unknown";
}

void busConnOptions_Init(busConnOptions *o)
{
    memset(o, 0, sizeof *o);
    o->urls = "nats://127.0.0.1:4222";
    o->name = "ib-bridge";
    o->connect_timeout_ms = 2000;
    o->reconnect_wait_ms = 1000;
    o->reconnect_jitter_ms = 100;
    o->reconnect_buf_bytes = 8 * 1024 * 1024;
    o->max_reconnect = -1;
    o->retry_on_failed_connect = true;
    o->max_pending_msgs = 65536;
}

static bool set(const char *s) { return s != NULL && *s != '\0'; }

static void emit(busConn *c, busConnEvent ev, const char *detail)
{
    if (ev == BUS_CONN_ERROR)
        IBB_WARN("nats.error", "detail=\"%s\"", detail);
    else
        IBB_INFO(ev == BUS_CONN_DISCONNECTED || ev == BUS_CONN_CLOSED ? "nats.down" : "nats.up",
                 "event=%s detail=\"%s\"", busConnEvent_Name(ev), detail);
    if (c->on_event)
        c->on_event(c, ev, detail, c->user);
}

static void url_event(natsConnection *nc, busConn *c, busConnEvent ev)
{
    char url[256] = "";
    if (natsConnection_GetConnectedUrl(nc, url, sizeof url) != NATS_OK)
        url[0] = '\0';
    emit(c, ev, url);
}

static void on_connected(natsConnection *nc, void *closure) { url_event(nc, closure, BUS_CONN_CONNECTED); }
static void on_reconnected(natsConnection *nc, void *closure)
{
    url_event(nc, closure, BUS_CONN_RECONNECTED);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    const char *txt = NULL;
    natsConnection_GetLastError(nc, &txt);
    emit(closure, BUS_CONN_DISCONNECTED, txt ? txt : "");
}

static void on_closed(natsConnection *nc, void *closure)
{
    busConn *c = closure;
    const char *txt = NULL; /* why nats.c gave up (e.g. "Authorization Violation"); "" after Destroy */
    natsConnection_GetLastError(nc, &txt);
    emit(c, BUS_CONN_CLOSED, txt ? txt : "");
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc;
    (void)sub;
    emit(closure, BUS_CONN_ERROR, natsStatus_GetText(err));
}

/* natsOptions_SetURL takes one URL: split "a, b,c" and hand the list to natsOptions_SetServers. */
static natsStatus set_servers(natsOptions *no, const char *urls)
{
    char *copy = strdup(urls);
    const char *list[64];
    int n = 0;
    if (copy == NULL)
        return NATS_NO_MEMORY;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && n < 64;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*tok)
            list[n++] = tok;
    }
    natsStatus s = n > 0 ? natsOptions_SetServers(no, list, n) : NATS_INVALID_ARG;
    free(copy);
    return s;
}

/* Applies the options; IBB_ERR_CONFIG with a log line naming the problem. */
static ibbStatus apply_options(natsOptions *no, const busConnOptions *o, busConn *c)
{
    if (set(o->token) && (set(o->user) || set(o->password))) {
        IBB_ERROR("nats.config", "error=\"token and user/password are exclusive: set one\"");
        return IBB_ERR_CONFIG;
    }
    if (set(o->creds_file) && (set(o->nkey) || set(o->nkey_seed_file))) {
        IBB_ERROR("nats.config", "error=\"creds file and nkey are exclusive: set one\"");
        return IBB_ERR_CONFIG;
    }
    if (set(o->nkey) != set(o->nkey_seed_file)) {
        IBB_ERROR("nats.config", "error=\"nkey needs both the public key and the seed file\"");
        return IBB_ERR_CONFIG;
    }
    if (set(o->tls_cert_file) != set(o->tls_key_file)) {
        IBB_ERROR("nats.config", "error=\"a TLS client certificate needs both cert and key files\"");
        return IBB_ERR_CONFIG;
    }
    natsStatus s = set_servers(no, set(o->urls) ? o->urls : "nats://127.0.0.1:4222");
    if (s != NATS_OK) {
        IBB_ERROR("nats.config", "error=\"bad server URL list\" urls=\"%s\" detail=\"%s\"", o->urls,
                  nats_GetLastError(NULL));
        return IBB_ERR_CONFIG;
    }
    const char *what = "name";
    s = natsOptions_SetName(no, set(o->name) ? o->name : "ib-bridge");
    if (s == NATS_OK && (set(o->user) || set(o->password)))
        what = "user", s = natsOptions_SetUserInfo(no, o->user, o->password);
    if (s == NATS_OK && set(o->token))
        what = "token", s = natsOptions_SetToken(no, o->token);
    if (s == NATS_OK && set(o->creds_file))
        what = "creds_file", s = natsOptions_SetUserCredentialsFromFiles(no, o->creds_file, NULL);
    if (s == NATS_OK && set(o->nkey))
        what = "nkey_seed_file", s = natsOptions_SetNKeyFromSeed(no, o->nkey, o->nkey_seed_file);
    bool tls = o->tls || set(o->tls_ca_file) || set(o->tls_cert_file);
    if (s == NATS_OK && tls)
        what = "tls", s = natsOptions_SetSecure(no, true);
    if (s == NATS_OK && set(o->tls_ca_file))
        what = "tls_ca_file", s = natsOptions_LoadCATrustedCertificates(no, o->tls_ca_file);
    if (s == NATS_OK && set(o->tls_cert_file))
        what = "tls_cert_file", s = natsOptions_LoadCertificatesChain(no, o->tls_cert_file, o->tls_key_file);
    if (s == NATS_OK && set(o->tls_hostname))
        what = "tls_hostname", s = natsOptions_SetExpectedHostname(no, o->tls_hostname);
    if (s != NATS_OK) {
        IBB_ERROR("nats.config", "option=%s error=\"%s\"", what, nats_GetLastError(NULL));
        return IBB_ERR_CONFIG;
    }
    what = "reconnect";
    s = natsOptions_SetTimeout(no, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(no, o->max_reconnect);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(no, o->reconnect_wait_ms > 0 ? o->reconnect_wait_ms : 1000);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(no, o->reconnect_jitter_ms, o->reconnect_jitter_ms * 10);
    if (s == NATS_OK && o->reconnect_buf_bytes > 0)
        s = natsOptions_SetReconnectBufSize(no, o->reconnect_buf_bytes);
    if (s == NATS_OK && o->ping_interval_ms > 0)
        s = natsOptions_SetPingInterval(no, o->ping_interval_ms);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPendingMsgs(no, c->max_pending);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(no, on_disconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(no, on_reconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(no, on_closed, c);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(no, on_async_error, c);
    if (s == NATS_OK && c->ev != NULL)
        what = "loop", s = busEvLoop_Apply(c->ev, no);
    else if (s == NATS_OK && o->send_asap)
        what = "send_asap", s = natsOptions_SetSendAsap(no, true);
    if (s == NATS_OK && o->retry_on_failed_connect)
        s = natsOptions_SetRetryOnFailedConnect(no, true, on_connected, c);
    if (s != NATS_OK) {
        IBB_ERROR("nats.config", "option=%s error=\"%s\"", what, natsStatus_GetText(s));
        return IBB_ERR_CONFIG;
    }
    return IBB_OK;
}

ibbStatus busConn_Create(busConn **out, const busConnOptions *o)
{
    if (out == NULL || o == NULL)
        return IBB_ERR_INVALID_ARG;
    *out = NULL;
    busConn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return IBB_ERR_NOMEM;
    c->on_event = o->on_event;
    c->user = o->event_arg;
    c->max_pending = o->max_pending_msgs > 0 ? o->max_pending_msgs : 65536;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);

    if (o->loop != NULL && busEvLoop_Create(&c->ev, o->loop) != IBB_OK) {
        busConn_Destroy(c);
        return IBB_ERR_NOMEM;
    }
    natsOptions *no = NULL;
    if (natsOptions_Create(&no) != NATS_OK) {
        busConn_Destroy(c);
        return IBB_ERR_NOMEM;
    }
    ibbStatus st = apply_options(no, o, c);
    if (st == IBB_OK) {
        natsStatus s = natsConnection_Connect(&c->nc, no);
        if (s == NATS_OK) {
            url_event(c->nc, c, BUS_CONN_CONNECTED);
        } else if (s == NATS_NOT_YET_CONNECTED) {
            const char *why = nats_GetLastError(NULL);
            IBB_WARN("nats.connecting",
                     "urls=\"%s\" detail=\"not connected yet (%s); retrying in the background\"", o->urls,
                     why && *why ? why : "no server reachable, or it refused the credentials: see its log");
        } else {
            IBB_ERROR("nats.connect_failed", "urls=\"%s\" error=\"%s\"", o->urls, nats_GetLastError(NULL));
            st = s == NATS_NO_SERVER || s == NATS_IO_ERROR || s == NATS_TIMEOUT ? IBB_ERR_IO : IBB_ERR_CONFIG;
        }
    }
    natsOptions_Destroy(no);
    if (st != IBB_OK) {
        busConn_Destroy(c);
        return st;
    }
    *out = c;
    return IBB_OK;
}

static void wait_closed(busConn *c, int64_t timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->closed)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0)
            break;
    pthread_mutex_unlock(&c->mu);
}

void busConn_Destroy(busConn *c)
{
    if (c == NULL)
        return;
    if (c->nc) {
        busEvLoop_WriteNow(c->ev); /* in loop mode nats.c's Close would drop what the loop has not written */
        natsConnection_Close(c->nc);
        wait_closed(c, 5000);
        pthread_mutex_lock(&c->mu);
        bool closed = c->closed;
        pthread_mutex_unlock(&c->mu);
        natsConnection_Destroy(c->nc);
        if (!closed) {
            IBB_WARN("nats.close_slow",
                     "detail=\"closed callback did not run within 5 s; leaking the handle\"");
            return; /* a late callback may still use c: keep it */
        }
    }
    busEvLoop_Close(c->ev);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

ibbStatus busConn_Drain(busConn *c, int64_t timeout_ms)
{
    if (c == NULL || c->nc == NULL)
        return IBB_ERR_INVALID_ARG;
    natsStatus s = natsConnection_DrainTimeout(c->nc, timeout_ms);
    if (s != NATS_OK)
        return IBB_ERR_STATE;
    wait_closed(c, timeout_ms + 500);
    return IBB_OK;
}

natsConnection *busConn_Nats(busConn *c) { return c ? c->nc : NULL; }

int64_t busConn_MaxPayload(busConn *c) { return c && c->nc ? natsConnection_GetMaxPayload(c->nc) : 0; }

bool busConn_IsConnected(busConn *c)
{
    return c && c->nc && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}

int busConn_MaxPendingMsgs(const busConn *c) { return c ? c->max_pending : 65536; }

bool busConn_OnLoop(const busConn *c) { return c != NULL && c->ev != NULL; }

/* ------------------------------------------------------------------------------------------------
 * ib.evt.conn */

int busConnEvt_Pack(msgpack_packer *pk, const busConnEvt *ev)
{
    size_t n = 3 + (set(ev->state) ? 1 : 0) + (set(ev->url) ? 1 : 0) + (set(ev->message) ? 1 : 0) +
               (ev->ib_code ? 1 : 0) + (ev->server_version ? 1 : 0);
    int rc = msgpack_pack_map(pk, n);
    rc |= busPack_KeyStr(pk, "source", ev->source ? ev->source : "nats");
    rc |= busPack_KeyStr(pk, "event", ev->event ? ev->event : "unknown");
    rc |= busPack_KeyInt(pk, "ts_ns", ev->ts_ns ? ev->ts_ns : bus_NowNs());
    if (set(ev->state))
        rc |= busPack_KeyStr(pk, "state", ev->state);
    if (set(ev->url))
        rc |= busPack_KeyStr(pk, "url", ev->url);
    if (set(ev->message))
        rc |= busPack_KeyStr(pk, "message", ev->message);
    if (ev->ib_code)
        rc |= busPack_KeyInt(pk, "ib_code", ev->ib_code);
    if (ev->server_version)
        rc |= busPack_KeyInt(pk, "server_version", ev->server_version);
    return rc;
}
