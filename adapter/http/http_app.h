/* http_app.h — what the gateway's files share: the app object, the per-connection state, and the
 * module-internal entry points of the REST (http_rest.c) and WebSocket (http_ws.c) halves.
 *
 * Everything here runs on the single lws service thread. httpApp owns the bus, the hub and the
 * metrics; httpSess is lws' per-connection user space (zeroed by lws) and owns the heap objects it
 * points to until the connection's close callback. */
#ifndef HTTP_APP_H
#define HTTP_APP_H

#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "http_bus.h"
#include "http_config.h"
#include "http_metrics.h"

typedef struct httpReq httpReq;
typedef struct wsClient wsClient;
typedef struct httpHub httpHub;

typedef struct httpApp {
    const httpConfig *cfg;
    uv_loop_t *loop;             /* drives the NATS connection; run from lws' poll loop (http_server.c) */
    uv_loop_t loop_storage;
    uv_check_t keepalive;        /* keeps that loop alive, so that uv_run(NOWAIT) polls it */
    httpBus *bus;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    httpHub *hub;
    httpMetrics metrics;
    lws_sorted_usec_list_t tick;
    int auth_on;                 /* any token configured */
    int ib_mode;                 /* HTTP_MODE_*: ib-bridge's ib.trading_mode, from ib.rpc.status */
    uint64_t mode_handle;        /* the status request asking it, or 0 */
    int64_t mode_asked_us, mode_known_us;
    int draining;                /* shutting down: new work refused */
    json_t *status;              /* newest ib.rpc.status reply (http_status.c), or NULL; owned */
    int64_t status_at_us, status_asked_us;
    uint64_t status_handle;      /* the status poll in flight, or 0 */
    uint64_t status_polls, status_failures;
    json_t *instances;           /* instance id -> {role, epoch, version, seen_us} (http_instances.c); owned */
    uint64_t instances_sub;      /* the $SRV.PING reply subscription, or 0 */
    int64_t instances_asked_us;
} httpApp;

typedef struct httpSess {
    httpReq *req;                /* the HTTP transaction in progress, or NULL */
    wsClient *ws;                /* set once the connection is a WebSocket */
} httpSess;

enum { HTTP_ACC_PUBLIC = 0, HTTP_ACC_READ = 1, HTTP_ACC_TRADE = 2 };
enum { HTTP_MODE_UNKNOWN = 0, HTTP_MODE_PAPER = 1, HTTP_MODE_LIVE = 2 };

/* http_auth.c */

/* Authorization: returns the level the request's bearer token grants (HTTP_ACC_*; HTTP_ACC_TRADE when
 * auth is off), or -1 when no token was sent, -2 when the token is unknown. */
int http_authLevel(httpApp *app, struct lws *wsi);
/* CORS: 0 = no Origin header, 1 = allowed (the same origin as the Host header, i.e. a page this gateway
 * served, or on the allow-list; origin copied to out), -1 = not allowed. */
int http_originCheck(httpApp *app, struct lws *wsi, char *out, size_t outlen);
/* 1 when the query string carries something that looks like a credential. */
int http_queryHasToken(struct lws *wsi);
/* 1 when `listen` (http.listen) is a loopback address or interface; "" (every interface) is not. */
int http_listenIsLoopback(const char *listen);
/* Start-up: a non-loopback http.listen with no tokens is refused (a line naming auth.allow_anonymous on
 * `err`, IBB_ERR_CONFIG) unless auth.allow_anonymous is set, which logs http.anonymous_exposed. */
ibbStatus httpAuth_CheckExposure(const httpConfig *cfg, FILE *err);
/* Records ib-bridge's trading mode from an ib.rpc.status reply (`ib.trading_mode`). */
void http_modeNote(httpApp *app, json_t *status);
/* From the tick: with authentication off, asks ib.rpc.status at start (again every second until it
 * answers) and every 5 s after, so a live ib-bridge closes the order routes. */
void http_modeTick(httpApp *app);

/* http_instances.c */

/* From the tick: every 2 s a $SRV.PING.ib-bridge, whose answers (every ib-bridge of this prefix, active
 * and standbys) are kept for 6 s. */
void http_instancesTick(httpApp *app);
void http_instancesFree(httpApp *app);
/* The instances as a JSON array [{instance, role, epoch, version, age_ms}] (new reference). */
json_t *http_instancesJson(const httpApp *app);
/* Their Prometheus lines (ibb_ha_instances, ibb_ha_instance_epoch). */
void http_instancesRender(const httpApp *app, busBuf *out);

/* http_status.c */

/* From the tick: asks ib.rpc.status once a second (one poll at a time) and caches the answer. */
void http_statusTick(httpApp *app);
void http_statusFree(httpApp *app);
/* 1 when the cached status answered within the last 5 s. */
int http_statusFresh(const httpApp *app);
/* Appends the adapter's metrics (from the cached status; never waits) to a Prometheus exposition. */
void http_statusRender(const httpApp *app, busBuf *out);

/* http_page.c */

/* The operator page served at GET / (HTML with its CSS and JavaScript inline). */
extern const unsigned char http_pageHtml[];

/* http_rest.c */
void http_restInit(httpApp *app);
int http_restBegin(httpApp *app, struct lws *wsi, httpSess *pss, const char *path);
int http_restBody(httpApp *app, struct lws *wsi, httpSess *pss, const void *in, size_t len);
int http_restBodyDone(httpApp *app, struct lws *wsi, httpSess *pss);
int http_restWriteable(httpApp *app, struct lws *wsi, httpSess *pss);
void http_restClosed(httpApp *app, httpSess *pss);

/* http_ws.c */
ibbStatus httpHub_Create(httpHub **out, httpApp *app);
void httpHub_Destroy(httpHub *hub);
void httpHub_Tick(httpHub *hub);          /* lease renewals */
void httpHub_Shutdown(httpHub *hub);      /* close clients with 1001, release leases */
/* REST interest in a symbol (a GET /quotes that succeeded): hold its stream lease for ws.lease_ttl_s
 * more, so ib-bridge answers the next snapshots from its live quote book instead of asking IB each time.
 * At most 20 symbols are held this way (IB market-data lines are scarce). */
void httpHub_Touch(httpHub *hub, const char *sym);
int http_wsEstablished(httpApp *app, struct lws *wsi, httpSess *pss);
int http_wsReceive(httpApp *app, struct lws *wsi, httpSess *pss, const void *in, size_t len);
int http_wsWriteable(httpApp *app, struct lws *wsi, httpSess *pss);
void http_wsClosed(httpApp *app, httpSess *pss);

#endif
