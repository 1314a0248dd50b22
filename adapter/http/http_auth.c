/* http_auth.c — who may use the gateway: bearer tokens, CORS origins, credentials in query strings,
 * whether the listening address is exposed without authentication, and ib-bridge's trading mode
 * (order routes are never open without a trade token while ib-bridge trades live).
 *
 * Used by both halves of the gateway (http_rest.c, http_ws.c) so that they do not call each other.
 * Everything here runs on the lws service thread, except httpAuth_CheckExposure (start-up, before the
 * loop). The trading mode is a plain field of httpApp: learned from ib.rpc.status, asked at start and
 * again every HTTP_MODE_REFRESH_US while authentication is off (with tokens, order routes already need
 * a trade token whatever the mode). */
#include <arpa/inet.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "http_app.h"
#include "bus_json.h"
#include "ibb_log.h"

#define HTTP_MODE_REFRESH_US (5 * 1000000LL)
#define HTTP_MODE_RETRY_US (1000000LL)


/* The token of a WebSocket upgrade from a browser, which cannot set Authorization on a WebSocket: one
 * entry of Sec-WebSocket-Protocol is `bearer.<token>` (sent next to the `ib-bridge` protocol, which lws
 * selects and echoes, so the token is never echoed back). Copies the token to out; 0 when absent. */
static int protocol_token(struct lws *wsi, char *out, size_t outlen)
{
    char h[512];
    if (lws_hdr_copy(wsi, h, sizeof h, WSI_TOKEN_PROTOCOL) <= 0)
        return 0;
    for (char *save = NULL, *e = strtok_r(h, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        while (*e == ' ' || *e == '\t')
            e++;
        if (strncasecmp(e, "bearer.", 7) != 0)
            continue;
        snprintf(out, outlen, "%s", e + 7);
        return 1;
    }
    return 0;
}

int http_authLevel(httpApp *app, struct lws *wsi)
{
    if (!app->auth_on)
        return HTTP_ACC_TRADE;
    char h[512];
    const char *t;
    int n = lws_hdr_copy(wsi, h, sizeof h, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 0) {
        if (n < 7 || strncasecmp(h, "Bearer ", 7) != 0)
            return -2;
        t = h + 7;
    } else if (protocol_token(wsi, h, sizeof h)) {
        t = h;
    } else {
        return -1;
    }
    while (*t == ' ')
        t++;
    size_t tl = strlen(t);
    while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
        tl--;
    if (tl == 0)
        return -1;
    if (ibbStrList_HasSecret(&app->cfg->trade_tokens, t, tl))
        return HTTP_ACC_TRADE;
    if (ibbStrList_HasSecret(&app->cfg->read_tokens, t, tl))
        return HTTP_ACC_READ;
    return -2;
}

int http_originCheck(httpApp *app, struct lws *wsi, char *out, size_t outlen)
{
    char o[256];
    out[0] = '\0';
    if (lws_hdr_copy(wsi, o, sizeof o, WSI_TOKEN_ORIGIN) <= 0)
        return 0;
    /* same origin: a page this gateway served (the operator page at /) talking back to it */
    char host[200], self[220];
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) > 0) {
        const char *scheme = strncasecmp(o, "https://", 8) == 0 ? "https://" : "http://";
        snprintf(self, sizeof self, "%s%s", scheme, host);
        if (strcasecmp(self, o) == 0) {
            snprintf(out, outlen, "%s", o);
            return 1;
        }
    }
    const ibbStrList *l = &app->cfg->cors_origins;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], "*") == 0 || strcasecmp(l->items[i], o) == 0) {
            snprintf(out, outlen, "%s", strcmp(l->items[i], "*") == 0 ? "*" : o);
            return 1;
        }
    return -1;
}

int http_queryHasToken(struct lws *wsi)
{
    static const char *const names[] = {"access_token=", "token=", "api_key=", "apikey=", "bearer=", "auth="};
    char frag[256];
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0; i++)
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strncasecmp(frag, names[k], strlen(names[k])) == 0)
                return 1;
    return 0;
}

/* ---------------------------------------------------------------- exposure */

int http_listenIsLoopback(const char *listen)
{
    if (!listen || !listen[0])
        return 0;   /* every interface */
    if (strcmp(listen, "localhost") == 0 || strcmp(listen, "lo") == 0)
        return 1;
    struct in_addr a4;
    if (inet_pton(AF_INET, listen, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, listen, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;       /* another interface name: assume reachable from outside */
}

ibbStatus httpAuth_CheckExposure(const httpConfig *cfg, FILE *err)
{
    int auth_on = cfg->read_tokens.n > 0 || cfg->trade_tokens.n > 0;
    if (auth_on || http_listenIsLoopback(cfg->listen))
        return IBB_OK;
    const char *where = cfg->listen[0] ? cfg->listen : "every interface";
    if (!cfg->allow_anonymous) {
        fprintf(err,
                "config: http.listen (HTTP_LISTEN) is %s, not loopback, and no auth.read_tokens / "
                "auth.trade_tokens are set: anyone who can reach port %d could read the account and, under "
                "a paper ib-bridge, place orders. Set tokens, listen on 127.0.0.1, or set "
                "auth.allow_anonymous = true (HTTP_ALLOW_ANONYMOUS=true) to accept that risk\n",
                where, (int)cfg->port);
        return IBB_ERR_CONFIG;
    }
    IBB_WARN("http.anonymous_exposed",
             "listen=\"%s\" port=%d risk=\"no authentication on a non-loopback address: anyone who can reach "
             "it reads quotes, positions and the account, and places orders while ib-bridge trades paper\" "
             "key=auth.allow_anonymous",
             where, (int)cfg->port);
    return IBB_OK;
}

/* ---------------------------------------------------------------- ib-bridge's trading mode */

void http_modeNote(httpApp *app, json_t *status)
{
    json_t *ib = json_object_get(status, "ib");
    const char *m = json_string_value(json_object_get(json_is_object(ib) ? ib : status, "trading_mode"));
    if (!m)
        return;
    int mode = strcmp(m, "paper") == 0 ? HTTP_MODE_PAPER : HTTP_MODE_LIVE;   /* anything else: live */
    if (mode != app->ib_mode)
        IBB_INFO("http.trading_mode", "mode=%s order_routes=%s", m,
                 app->auth_on ? "trade_token" : mode == HTTP_MODE_LIVE ? "refused (no auth.trade_tokens)" : "open");
    app->ib_mode = mode;
    app->mode_known_us = http_nowUs();
}

static void on_mode_reply(void *arg, const httpBusReply *rep)
{
    httpApp *app = arg;
    app->mode_handle = 0;
    if (rep->status != IBB_OK || rep->err_code)
        return;
    json_error_t je;
    json_t *root = json_loadb(rep->data, rep->len, 0, &je);
    if (json_is_object(root))
        http_modeNote(app, root);
    json_decref(root);
}

void http_modeTick(httpApp *app)
{
    if (app->auth_on || app->mode_handle || app->draining)
        return;
    int64_t now = http_nowUs();
    int64_t due = app->ib_mode == HTTP_MODE_UNKNOWN ? app->mode_asked_us + HTTP_MODE_RETRY_US
                                                    : app->mode_known_us + HTTP_MODE_REFRESH_US;
    if (app->mode_asked_us && now < due)
        return;
    char subject[160];
    snprintf(subject, sizeof subject, "%s.rpc.status", app->cfg->nats.subject_prefix);
    app->mode_asked_us = now;
    if (httpBus_Request(app->bus, subject, "{}", 2, app->cfg->request_timeout_ms, on_mode_reply, app,
                        &app->mode_handle) != IBB_OK)
        app->mode_handle = 0;
}
