/* http_rest.c — the REST half: route table, request validation, one async bus request per call,
 * bus error → HTTP status mapping, response writing.
 *
 * An httpReq lives from LWS_CALLBACK_HTTP until its response is written (or the connection closes);
 * it is freed before lws_http_transaction_completed so a keep-alive connection never carries one
 * over. While a bus request is in flight the httpReq is the callback argument; http_restClosed
 * cancels that request, so a reply for a closed connection is dropped by http_bus. */
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http_app.h"
#include "bus_json.h"
#include "http_mpjson.h"
#include "bus_error.h"
#include "ibb_log.h"

enum { M_GET = 1, M_POST = 2, M_PATCH = 4, M_DELETE = 8, M_OPTIONS = 16, M_OTHER = 32 };
enum { K_BUS = 0, K_HEALTH, K_METRICS, K_PAGE, K_STATUS };
enum { P_NONE = 0, P_SYMBOL, P_ORDER };

struct httpReq;
typedef int (*buildFn)(struct httpReq *r, json_t *body, json_t **out);

typedef struct route {
    int method;
    const char *path;        /* exact path, or the prefix before the parameter */
    int param;
    const char *label;
    const char *rpc;         /* subject after the prefix */
    int access;
    int kind;
    buildFn build;
    int route_id;            /* metrics index, set by http_restInit */
} route;

struct httpReq {
    int64_t t0_us;
    int method;
    route *route;
    int metrics_route;
    char param[72];
    char origin[256];
    char allow[64];          /* for 405 */
    char idem[80];
    char retry_after[24];    /* Retry-After seconds of a 429, or "" */
    busBuf body;
    int expect_body, body_too_big;
    uint64_t bus_handle;
    /* response */
    int status;
    int ready, close_after;
    const char *ctype;
    busBuf resp;
};

static int build_empty(httpReq *r, json_t *body, json_t **out);
static int build_passthrough(httpReq *r, json_t *body, json_t **out);
static int build_symbol(httpReq *r, json_t *body, json_t **out);
static int build_candles(httpReq *r, json_t *body, json_t **out);
static int build_place(httpReq *r, json_t *body, json_t **out);
static int build_modify(httpReq *r, json_t *body, json_t **out);
static int build_cancel(httpReq *r, json_t *body, json_t **out);
static int build_underlying(httpReq *r, json_t *body, json_t **out);
static int build_preview(httpReq *r, json_t *body, json_t **out);
static int build_account(httpReq *r, json_t *body, json_t **out);

static route ROUTES[] = {
    {M_GET, "/health", P_NONE, "/health", "rpc.status", HTTP_ACC_PUBLIC, K_HEALTH, build_empty, 0},
    {M_GET, "/metrics", P_NONE, "/metrics", NULL, HTTP_ACC_PUBLIC, K_METRICS, NULL, 0},
    {M_GET, "/", P_NONE, "/", NULL, HTTP_ACC_PUBLIC, K_PAGE, NULL, 0},
    {M_GET, "/status", P_NONE, "/status", NULL, HTTP_ACC_PUBLIC, K_STATUS, NULL, 0},
    {M_POST, "/connect", P_NONE, "/connect", "rpc.admin.connect", HTTP_ACC_TRADE, K_BUS, build_passthrough,
     0},
    {M_POST, "/disconnect", P_NONE, "/disconnect", "rpc.admin.disconnect", HTTP_ACC_TRADE, K_BUS,
     build_passthrough, 0},
    {M_GET, "/quotes/", P_SYMBOL, "/quotes/{symbol}", "rpc.quote", HTTP_ACC_READ, K_BUS, build_symbol, 0},
    {M_GET, "/depth/", P_SYMBOL, "/depth/{symbol}", "rpc.depth", HTTP_ACC_READ, K_BUS, build_symbol, 0},
    {M_GET, "/candles/", P_SYMBOL, "/candles/{symbol}", "rpc.candles", HTTP_ACC_READ, K_BUS, build_candles,
     0},
    {M_POST, "/candles/", P_SYMBOL, "/candles/{symbol}", "rpc.candles", HTTP_ACC_READ, K_BUS, build_candles,
     0},
    {M_GET, "/contracts/search", P_NONE, "/contracts/search", "rpc.contract.search", HTTP_ACC_READ, K_BUS,
     build_passthrough, 0},
    {M_GET, "/scanner/params", P_NONE, "/scanner/params", "rpc.scanner.params", HTTP_ACC_READ, K_BUS,
     build_empty, 0},
    {M_GET, "/scanner", P_NONE, "/scanner", "rpc.scanner", HTTP_ACC_READ, K_BUS, build_passthrough, 0},
    {M_POST, "/scanner", P_NONE, "/scanner", "rpc.scanner", HTTP_ACC_READ, K_BUS, build_passthrough, 0},
    {M_GET, "/executions", P_NONE, "/executions", "rpc.executions", HTTP_ACC_READ, K_BUS, build_passthrough,
     0},
    {M_GET, "/orders/completed", P_NONE, "/orders/completed", "rpc.order.completed", HTTP_ACC_TRADE, K_BUS,
     build_passthrough, 0},
    {M_POST, "/orders/preview", P_NONE, "/orders/preview", "rpc.order.preview", HTTP_ACC_TRADE, K_BUS,
     build_preview, 0},
    {M_GET, "/contracts/", P_SYMBOL, "/contracts/{symbol}", "rpc.contract", HTTP_ACC_READ, K_BUS,
     build_symbol, 0},
    {M_GET, "/positions", P_NONE, "/positions", "rpc.positions", HTTP_ACC_READ, K_BUS, build_account, 0},
    {M_GET, "/account", P_NONE, "/account", "rpc.account", HTTP_ACC_READ, K_BUS, build_account, 0},
    {M_GET, "/pnl", P_NONE, "/pnl", "rpc.pnl", HTTP_ACC_READ, K_BUS, build_account, 0},
    {M_GET, "/orders", P_NONE, "/orders", "rpc.order.list", HTTP_ACC_TRADE, K_BUS, build_empty, 0},
    {M_POST, "/orders", P_NONE, "/orders", "rpc.order.place", HTTP_ACC_TRADE, K_BUS, build_place, 0},
    {M_PATCH, "/orders/", P_ORDER, "/orders/{id}", "rpc.order.modify", HTTP_ACC_TRADE, K_BUS, build_modify,
     0},
    {M_DELETE, "/orders/", P_ORDER, "/orders/{id}", "rpc.order.cancel", HTTP_ACC_TRADE, K_BUS, build_cancel,
     0},
    {M_GET, "/options/", P_SYMBOL, "/options/{symbol}/chain", "rpc.options.chain", HTTP_ACC_READ, K_BUS,
     build_underlying, 0},
    {M_GET, "/options/", P_SYMBOL, "/options/{symbol}/quotes", "rpc.options.quotes", HTTP_ACC_READ, K_BUS,
     build_underlying, 0},
};
#define NROUTES (sizeof ROUTES / sizeof ROUTES[0])

static int g_route_other, g_route_preflight;

void http_restInit(httpApp *app)
{
    for (size_t i = 0; i < NROUTES; i++)
        ROUTES[i].route_id = httpMetrics_AddRoute(&app->metrics, ROUTES[i].label);
    g_route_preflight = httpMetrics_AddRoute(&app->metrics, "OPTIONS");
    g_route_other = httpMetrics_AddRoute(&app->metrics, "other");
    httpMetrics_AddRoute(&app->metrics, "/ws");
}

/* ---------------------------------------------------------------- responses */

static void set_json(httpReq *r, int status, const char *json, size_t len)
{
    r->status = status;
    r->ctype = "application/json";
    busBuf_Reset(&r->resp);
    busBuf_Append(&r->resp, json, len);
}

static void set_error(httpReq *r, int status, const char *code, const char *msg)
{
    r->status = status;
    r->ctype = "application/json";
    busBuf_Reset(&r->resp);
    busBuf_Puts(&r->resp, "{\"error\":{\"code\":");
    busJson_String(&r->resp, code, strlen(code));
    busBuf_Puts(&r->resp, ",\"message\":");
    busJson_String(&r->resp, msg, strlen(msg));
    busBuf_Puts(&r->resp, "}}");
}

static int finish(struct lws *wsi, httpReq *r)
{
    r->ready = 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int fail(struct lws *wsi, httpReq *r, int status, const char *code, const char *msg)
{
    set_error(r, status, code, msg);
    return finish(wsi, r);
}

static void free_req(httpApp *app, httpReq *r)
{
    if (!r)
        return;
    httpBus_Cancel(app->bus, r->bus_handle);
    busBuf_Free(&r->body);
    busBuf_Free(&r->resp);
    free(r);
}

int http_restWriteable(httpApp *app, struct lws *wsi, httpSess *pss)
{
    httpReq *r = pss->req;
    if (!r || !r->ready)
        return 0;
    if (r->resp.oom)
        set_error(r, 500, "internal", "out of memory");
    unsigned char hbuf[LWS_PRE + 1536];
    unsigned char *start = hbuf + LWS_PRE, *p = start, *end = hbuf + sizeof hbuf - 1;
    size_t blen = r->resp.len;
    if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->ctype, blen, &p, end))
        return -1;
    if (r->origin[0]) {
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
                                        (const unsigned char *)r->origin, (int)strlen(r->origin), &p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:", (const unsigned char *)"Origin",
                                        6, &p, end))
            return -1;
    }
    if (r->status == 401 &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                    (const unsigned char *)"Bearer realm=\"ib-bridge\"", 24, &p, end))
        return -1;
    if (r->allow[0] &&
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)(r->status == 204 ? "access-control-allow-methods:" : "allow:"),
            (const unsigned char *)r->allow, (int)strlen(r->allow), &p, end))
        return -1;
    if (r->status == 204 && r->origin[0] &&
        (lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-headers:",
                                     (const unsigned char *)"Authorization, Content-Type, Idempotency-Key",
                                     44, &p, end) ||
         lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-max-age:",
                                     (const unsigned char *)"600", 3, &p, end)))
        return -1;
    if (r->retry_after[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                                         (const unsigned char *)r->retry_after,
                                                         (int)strlen(r->retry_after), &p, end))
        return -1;
    if (r->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (blen) {
        unsigned char *b = (unsigned char *)(busBuf_CStr(&r->resp) ? r->resp.data : NULL);
        if (lws_write(wsi, b, blen, LWS_WRITE_HTTP_FINAL) != (int)blen)
            return -1;
    }
    httpMetrics_Request(&app->metrics, r->metrics_route, r->status, http_nowUs() - r->t0_us);
    int close_after = r->close_after;
    pss->req = NULL;
    free_req(app, r);
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void http_restClosed(httpApp *app, httpSess *pss)
{
    free_req(app, pss->req);
    pss->req = NULL;
}

/* ---------------------------------------------------------------- request parsing */

static int method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return M_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return M_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI))
        return M_PATCH;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
        return M_DELETE;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI))
        return M_OPTIONS;
    return M_OTHER;
}

static const char *method_names(int mask, char *buf, size_t n)
{
    static const struct { int m; const char *s; } names[] = {
        {M_GET, "GET"}, {M_POST, "POST"}, {M_PATCH, "PATCH"}, {M_DELETE, "DELETE"}, {M_OPTIONS, "OPTIONS"}};
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (mask & names[i].m) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? ", " : "", names[i].s);
        }
    return buf;
}

static int valid_symbol(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr(" ._-:=+#&@!", c))
            return 0;
    }
    return 1;
}

/* What follows the parameter in a route's path: the label's text after "}" ("/chain" of
 * "/options/{symbol}/chain"; "" for most). */
static const char *route_suffix(const route *rt)
{
    const char *b = strchr(rt->label, '}');
    return b ? b + 1 : "";
}

/* Finds the route for path; *mask gets every method the path allows (for 405). */
static route *match(const char *path, int method, char *param, size_t plen, int *mask)
{
    route *hit = NULL;
    size_t n = strlen(path);
    *mask = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        route *rt = &ROUTES[i];
        size_t pl = strlen(rt->path), sl = rt->param ? strlen(route_suffix(rt)) : 0;
        if (rt->param == P_NONE) {
            if (strcmp(path, rt->path) != 0)
                continue;
        } else if (strncmp(path, rt->path, pl) != 0 || n <= pl + sl || strcmp(path + n - sl, route_suffix(rt)) ||
                   memchr(path + pl, '/', n - pl - sl)) {
            continue;
        }
        *mask |= rt->method;
        if (rt->method == method && !hit) {
            hit = rt;
            snprintf(param, plen, "%.*s", rt->param ? (int)(n - pl - sl) : 0, rt->param ? path + pl : "");
        }
    }
    return hit;
}

/* ---------------------------------------------------------------- bus request builders */

static char g_err[160];   /* message of the last builder error (loop thread only) */

static int bad(const char *fmt, const char *field)
{
    snprintf(g_err, sizeof g_err, fmt, field);
    return -1;
}

/* Type checks for fields a client commonly sends: wrong types are a 400 here, not a bus round trip. */
static int check_types(json_t *o)
{
    static const struct { const char *k; int t; } fields[] = {
        {"symbol", JSON_STRING}, {"side", JSON_STRING}, {"type", JSON_STRING}, {"qty", JSON_REAL},
        {"action", JSON_STRING}, {"order_type", JSON_STRING}, {"tif", JSON_STRING},
        {"account", JSON_STRING}, {"client_order_id", JSON_STRING}, {"duration", JSON_STRING},
        {"bar_size", JSON_STRING}, {"what_to_show", JSON_STRING}, {"end", JSON_STRING},
        {"contract", JSON_OBJECT}, {"quantity", JSON_REAL}, {"limit_price", JSON_REAL},
        {"stop_price", JSON_REAL}, {"use_rth", JSON_TRUE}, {"outside_rth", JSON_TRUE},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(o, fields[i].k);
        if (!v || json_is_null(v))
            continue;
        int ok = fields[i].t == JSON_REAL ? json_is_number(v)
                 : fields[i].t == JSON_TRUE ? json_is_boolean(v)
                                            : (int)json_typeof(v) == fields[i].t;
        if (!ok) {
            const char *want = fields[i].t == JSON_REAL ? "a number" : fields[i].t == JSON_TRUE ? "a boolean"
                               : fields[i].t == JSON_OBJECT ? "an object" : "a string";
            snprintf(g_err, sizeof g_err, "field \"%s\" must be %s", fields[i].k, want);
            return -1;
        }
        if (fields[i].t == JSON_STRING && json_string_length(v) == 0)
            return bad("field \"%s\" must not be empty", fields[i].k);
    }
    for (const char *const *k = (const char *const[]){"qty", "quantity", NULL}; *k; k++) {
        json_t *q = json_object_get(o, *k);
        if (q && json_is_number(q) && !(json_number_value(q) > 0))
            return bad("field \"%s\" must be greater than 0", *k);
    }
    return 0;
}

/* The Python bridge's names (action, quantity, order_type) are accepted and renamed to the bus
 * contract's (side, qty, type: schemas/order_place_request.json). */
static void rename_aliases(json_t *o)
{
    static const char *const alias[][2] = {{"action", "side"}, {"quantity", "qty"}, {"order_type", "type"}};
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++) {
        json_t *v = json_object_get(o, alias[i][0]);
        if (v && !json_object_get(o, alias[i][1]))
            json_object_set(o, alias[i][1], v);
        json_object_del(o, alias[i][0]);
    }
}

static json_t *obj_or_new(json_t *body)
{
    return body ? json_deep_copy(body) : json_object();
}

static int build_empty(httpReq *r, json_t *body, json_t **out)
{
    (void)r;
    (void)body;
    *out = json_object();
    return 0;
}

/* GET /positions, /account, /pnl: the ?account= query (set as the body before dispatch). */
static int build_account(httpReq *r, json_t *body, json_t **out)
{
    (void)r;
    *out = obj_or_new(body);
    return 0;
}

static int build_passthrough(httpReq *r, json_t *body, json_t **out)
{
    (void)r;
    *out = obj_or_new(body);
    return 0;
}

static int build_symbol(httpReq *r, json_t *body, json_t **out)
{
    (void)body;
    *out = json_pack("{s:s}", "symbol", r->param);
    return 0;
}

/* GET /options/{symbol}/...: the query arguments (already in body) plus the underlying. */
static int build_underlying(httpReq *r, json_t *body, json_t **out)
{
    json_t *o = obj_or_new(body);
    json_object_set_new(o, "underlying", json_string(r->param));
    *out = o;
    return 0;
}

static int build_candles(httpReq *r, json_t *body, json_t **out)
{
    if (body && check_types(body) != 0)
        return -1;
    json_t *o = obj_or_new(body);
    json_object_set_new(o, "symbol", json_string(r->param));
    *out = o;
    return 0;
}

static int build_place(httpReq *r, json_t *body, json_t **out)
{
    if (!body)
        return bad("%s", "a JSON object body is required");
    if (check_types(body) != 0)
        return -1;
    if (!json_is_string(json_object_get(body, "symbol")) &&
        !json_is_object(json_object_get(body, "contract")))
        return bad("field \"%s\" is required (or \"contract\")", "symbol");
    const char *cid = json_string_value(json_object_get(body, "client_order_id"));
    if (cid && r->idem[0] && strcmp(cid, r->idem) != 0)
        return bad("%s", "client_order_id and the Idempotency-Key header differ");
    if (cid && strlen(cid) > 64)
        return bad("field \"%s\" is longer than 64 characters", "client_order_id");
    if (!cid && !r->idem[0]) /* a generated key would make a retried POST a second order */
        return bad("%s", "send client_order_id in the body or an Idempotency-Key header (1-64 characters): "
                         "a retried request with the same key never places a second order");
    json_t *o = json_deep_copy(body);
    rename_aliases(o);
    const char *side = json_string_value(json_object_get(o, "side"));
    if (!side) {
        json_decref(o);
        return bad("field \"%s\" is required (BUY or SELL)", "side");
    }
    if (strcasecmp(side, "BUY") != 0 && strcasecmp(side, "SELL") != 0) {
        json_decref(o);
        return bad("field \"%s\" must be BUY or SELL", "side");
    }
    if (!json_object_get(o, "qty")) {
        json_decref(o);
        return bad("field \"%s\" is required", "qty");
    }
    if (!cid)
        json_object_set_new(o, "client_order_id", json_string(r->idem));
    json_object_set_new(o, "side", json_string(strcasecmp(side, "BUY") == 0 ? "BUY" : "SELL"));
    *out = o;
    return 0;
}

/* POST /orders/preview: the placement's body; a client_order_id is not needed (nothing is placed). */
static int build_preview(httpReq *r, json_t *body, json_t **out)
{
    if (body && json_is_object(body) && !json_object_get(body, "client_order_id") && !r->idem[0])
        json_object_set_new(body, "client_order_id", json_string("preview"));
    return build_place(r, body, out);
}

static void set_order_ref(httpReq *r, json_t *o)
{
    char *end;
    long long id = strtoll(r->param, &end, 10);
    if (*end == '\0' && r->param[0] != '-')
        json_object_set_new(o, "order_id", json_integer(id));
    else
        json_object_set_new(o, "client_order_id", json_string(r->param));
}

static int build_modify(httpReq *r, json_t *body, json_t **out)
{
    if (!body)
        return bad("%s", "a JSON object body with the fields to change is required");
    if (check_types(body) != 0)
        return -1;
    json_t *o = json_deep_copy(body);
    rename_aliases(o);
    json_object_del(o, "order_id");
    json_object_del(o, "client_order_id");
    set_order_ref(r, o);
    if (!json_object_get(o, "order_id")) {   /* ib.rpc.order.modify names orders by order_id only */
        json_decref(o);
        return bad("%s", "modify needs the numeric order_id in the path (GET /orders lists it); "
                         "a client_order_id works for DELETE only");
    }
    if (!json_object_get(o, "qty") && !json_object_get(o, "limit_price") &&
        !json_object_get(o, "stop_price")) {
        json_decref(o);
        return bad("%s", "give at least one of qty, limit_price, stop_price");
    }
    *out = o;
    return 0;
}

static int build_cancel(httpReq *r, json_t *body, json_t **out)
{
    (void)body;
    json_t *o = json_object();
    set_order_ref(r, o);
    *out = o;
    return 0;
}

/* ---------------------------------------------------------------- bus replies */

/* The HTTP status of a bus error: the Nats-Service-Error-Code header when it is 400..599 (ib-bridge
 * always sets it; the NATS micro convention follows HTTP), else the slug through the bus' own table
 * (README "Errors"), else 502: ib-bridge answered something this gateway cannot interpret. */
static int status_for(const char *hdr_code, const char *slug)
{
    if (hdr_code) {
        int n = atoi(hdr_code);
        if (n >= 400 && n <= 599)
            return n;
    }
    if (slug) {
        int st = busError_Status(slug);
        if (st != 500 || strcmp(slug, "internal") == 0)
            return st;
    }
    return 502;
}

static int first_char(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)p[i]))
            return (unsigned char)p[i];
    return -1;
}

/* Reply body as JSON text in r->resp; msgpack replies are converted. Returns the parsed root or NULL. */
static json_t *reply_json(httpReq *r, const httpBusReply *rep)
{
    busBuf_Reset(&r->resp);
    int c = first_char(rep->data, rep->len);
    if (c == '{' || c == '[') {
        busBuf_Append(&r->resp, rep->data, rep->len);
    } else if (rep->len && http_msgpackToJson(rep->data, rep->len, &r->resp) != IBB_OK) {
        busBuf_Reset(&r->resp);
        return NULL;
    }
    return json_loadb(busBuf_CStr(&r->resp), r->resp.len, 0, NULL);
}

/* ib.rpc.status' top-level `connected` (schemas/status_reply.json): the IB link is up and ready. */
static int is_connected(json_t *st)
{
    return json_is_true(json_object_get(st, "connected"));
}

static void health_reply(httpApp *app, httpReq *r, const httpBusReply *rep, json_t *root, int err_status)
{
    if (!err_status && json_is_object(root))
        http_modeNote(app, root);
    int ok = !err_status && json_is_object(root) && is_connected(root);
    json_t *o = json_pack("{s:s,s:s}", "status", ok ? "ok" : "unavailable", "nats",
                          httpBus_Connected(app->bus) ? "connected" : "disconnected");
    if (root && !err_status)
        json_object_set(o, "ib", root);
    else if (root && json_is_object(json_object_get(root, "error")))
        json_object_set(o, "error", json_object_get(root, "error"));
    else
        json_object_set_new(o, "error",
                            json_pack("{s:s,s:s}", "code", "unavailable", "message",
                                      rep->status == IBB_ERR_TIMEOUT ? "ib-bridge did not answer in time"
                                                                     : "ib-bridge is not answering"));
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!txt) {
        set_error(r, 500, "internal", "out of memory");
        return;
    }
    set_json(r, ok ? 200 : 503, txt, strlen(txt));
    free(txt);
}

/* The request a bus answer is for; its bus handle is spent. */
static httpReq *answered_req(struct lws *wsi, httpApp **app)
{
    *app = lws_context_user(lws_get_context(wsi));
    httpReq *r = ((httpSess *)lws_wsi_user(wsi))->req;
    r->bus_handle = 0;
    return r;
}

static void on_reply(void *arg, const httpBusReply *rep)
{
    struct lws *wsi = arg;
    httpApp *app;
    httpReq *r = answered_req(wsi, &app);
    httpMetrics_Observe(&app->metrics.bus_rtt, rep->rtt_us);
    const char *subj = r->route->rpc;
    if (rep->status == IBB_ERR_TIMEOUT) {
        app->metrics.bus_timeouts++;
        IBB_WARN("http.bus.timeout", "subject=%s ms=%lld", subj, (long long)(rep->rtt_us / 1000));
        if (r->route->kind == K_HEALTH)
            health_reply(app, r, rep, NULL, 504);
        else
            set_error(r, 504, "timeout", "ib-bridge did not answer before the deadline; retry later");
        finish(wsi, r);
        return;
    }
    if (rep->status == IBB_ERR_NOT_FOUND) {
        app->metrics.bus_no_responders++;
        if (r->route->kind == K_HEALTH)
            health_reply(app, r, rep, NULL, 503);
        else
            set_error(r, 503, "unavailable", "no ib-bridge is answering on the bus; is it running?");
        finish(wsi, r);
        return;
    }
    if (!rep->err_code && r->route->kind == K_BUS && first_char(rep->data, rep->len) == '{') {
        /* hot path: ib-bridge sets Nats-Service-Error-Code on every error, so a JSON reply without it
         * is a success and goes out as it came, unparsed */
        busBuf_Reset(&r->resp);
        busBuf_Append(&r->resp, rep->data, rep->len);
        r->status = 200;
        r->ctype = "application/json";
        if (r->route->build == build_symbol && strcmp(r->route->rpc, "rpc.quote") == 0)
            httpHub_Touch(app->hub, r->param);
        finish(wsi, r);
        return;
    }
    json_t *root = reply_json(r, rep);
    json_t *err = json_object_get(root, "error");
    int err_status = 0;
    if (rep->err_code || json_is_object(err)) {
        app->metrics.bus_errors++;
        err_status = status_for(rep->err_code, json_string_value(json_object_get(err, "code")));
    }
    if (r->route->kind == K_HEALTH) {
        health_reply(app, r, rep, root, err_status);
    } else if (!root) {
        set_error(r, 502, "bad_gateway", "ib-bridge sent a reply that is not JSON or MessagePack");
    } else if (err_status) {
        if (!json_is_object(err) || !json_is_string(json_object_get(err, "code")))
            set_error(r, err_status, rep->err_code ? rep->err_code : "error",
                      rep->err_text ? rep->err_text : "ib-bridge returned an error");
        else
            r->status = err_status;   /* the bus error body is passed through unchanged */
        r->ctype = "application/json";
        json_t *ra = json_object_get(err, "retry_after_ms");
        if (err_status == 429 || err_status == 503) {   /* whole seconds, rounded up, at least 1 */
            long long ms = json_is_integer(ra) ? (long long)json_integer_value(ra)
                           : json_is_real(ra)  ? (long long)json_real_value(ra)
                                               : (err_status == 429 ? 1000 : 0);
            if (ms > 0)
                snprintf(r->retry_after, sizeof r->retry_after, "%lld", (ms + 999) / 1000);
        }
    } else {
        r->status = 200;
        r->ctype = "application/json";
        if (r->route->build == build_symbol && strcmp(r->route->rpc, "rpc.quote") == 0)
            httpHub_Touch(app->hub, r->param);
    }
    json_decref(root);
    finish(wsi, r);
}

/* ---------------------------------------------------------------- dispatch */

static int dispatch(httpApp *app, struct lws *wsi, httpReq *r);

/* The answer to the ib.rpc.status a trade route asked for while ib-bridge's mode was unknown. */
static void on_mode_reply(void *arg, const httpBusReply *rep)
{
    struct lws *wsi = arg;
    httpApp *app;
    httpReq *r = answered_req(wsi, &app);
    if (rep->status == IBB_ERR_TIMEOUT) {
        fail(wsi, r, 504, "timeout", "ib-bridge did not answer before the deadline; retry later");
        return;
    }
    if (rep->status != IBB_OK) {
        fail(wsi, r, 503, "unavailable", "no ib-bridge is answering on the bus; is it running?");
        return;
    }
    json_t *root = rep->err_code ? NULL : json_loadb(rep->data, rep->len, 0, NULL);
    if (json_is_object(root))
        http_modeNote(app, root);
    json_decref(root);
    if (app->ib_mode == HTTP_MODE_UNKNOWN)
        fail(wsi, r, 503, "unavailable", "ib-bridge did not say its trading mode (ib.rpc.status); retry later");
    else
        dispatch(app, wsi, r);
}

/* Without tokens every route is open, but order (and admin) routes only while ib-bridge trades paper:
 * under a live ib-bridge they need a trade token. An unknown mode is asked first (the request waits).
 * Returns 1 when the request may go on, 0 when it was answered or parked. */
static int trade_gate(httpApp *app, struct lws *wsi, httpReq *r)
{
    if (r->route->access != HTTP_ACC_TRADE || app->auth_on || app->ib_mode == HTTP_MODE_PAPER)
        return 1;
    if (app->ib_mode == HTTP_MODE_LIVE) {
        fail(wsi, r, 403, "forbidden",
             "ib-bridge trades live (ib.trading_mode = live): order routes need a trade token; "
             "set auth.trade_tokens on ib-bridge-http");
        return 0;
    }
    char subject[160];
    snprintf(subject, sizeof subject, "%s.rpc.status", app->cfg->nats.subject_prefix);
    if (httpBus_Request(app->bus, subject, "{}", 2, app->cfg->request_timeout_ms, on_mode_reply, wsi,
                        &r->bus_handle) != IBB_OK) {
        fail(wsi, r, 503, "unavailable", "the NATS connection is down; retry later");
        return 0;
    }
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, app->cfg->request_timeout_ms / 1000 + 5);
    return 0;
}

/* GET /status: the cached ib.rpc.status with how old it is (never waits for the bus). The gateway's
 * own part is public, so the operator page learns that it needs a token without a failed request;
 * the status needs the read token when auth is on (`auth`: "none", "ok", "required", "refused"). */
static int status_reply(httpApp *app, struct lws *wsi, httpReq *r)
{
    int lvl = app->auth_on ? http_authLevel(app, wsi) : HTTP_ACC_TRADE;
    const char *auth = !app->auth_on          ? "none"
                       : lvl >= HTTP_ACC_READ ? "ok"
                       : lvl == -1            ? "required"
                                              : "refused";
    busBuf_Reset(&r->resp);
    busBuf_Printf(&r->resp, "{\"gateway\":{\"auth\":\"%s\",\"nats\":\"%s\",\"status_fresh\":%s,"
                            "\"status_age_ms\":%lld,\"draining\":%s},\"status\":",
                  auth, httpBus_Connected(app->bus) ? "connected" : "disconnected",
                  http_statusFresh(app) ? "true" : "false",
                  app->status ? (long long)((http_nowUs() - app->status_at_us) / 1000) : -1LL,
                  app->draining ? "true" : "false");
    char *txt = app->status && lvl >= HTTP_ACC_READ ? json_dumps(app->status, JSON_COMPACT) : NULL;
    busBuf_Puts(&r->resp, txt ? txt : "null");
    free(txt);
    json_t *inst = lvl >= HTTP_ACC_READ ? http_instancesJson(app) : NULL;
    txt = inst ? json_dumps(inst, JSON_COMPACT) : NULL;
    json_decref(inst);
    busBuf_Puts(&r->resp, ",\"instances\":");
    busBuf_Puts(&r->resp, txt ? txt : "null");
    free(txt);
    busBuf_Puts(&r->resp, "}");
    r->status = 200;
    r->ctype = "application/json";
    return finish(wsi, r);
}

static int dispatch(httpApp *app, struct lws *wsi, httpReq *r)
{
    route *rt = r->route;
    if (!trade_gate(app, wsi, r))
        return 0;
    if (rt->kind == K_METRICS) {
        busBuf_Reset(&r->resp);
        httpMetrics_Render(&app->metrics, httpBus_Pending(app->bus), httpBus_Connected(app->bus), &r->resp);
        http_statusRender(app, &r->resp);
        http_instancesRender(app, &r->resp);
        r->status = 200;
        r->ctype = "text/plain; version=0.0.4";
        return finish(wsi, r);
    }
    if (rt->kind == K_PAGE) {
        busBuf_Reset(&r->resp);
        busBuf_Puts(&r->resp, (const char *)http_pageHtml);
        r->status = 200;
        r->ctype = "text/html; charset=utf-8";
        return finish(wsi, r);
    }
    if (rt->kind == K_STATUS)
        return status_reply(app, wsi, r);
    json_t *body = NULL;
    if (r->body.len) {
        json_error_t je;
        body = json_loadb(busBuf_CStr(&r->body), r->body.len, 0, &je);
        if (!body) {
            char msg[240];
            snprintf(msg, sizeof msg, "malformed JSON body: %s (line %d, column %d)", je.text, je.line,
                     je.column);
            return fail(wsi, r, 400, "bad_request", msg);
        }
        if (!json_is_object(body)) {
            json_decref(body);
            return fail(wsi, r, 400, "bad_request", "the body must be a JSON object");
        }
    }
    json_t *req = NULL;
    g_err[0] = '\0';
    int rc = rt->build(r, body, &req);
    json_decref(body);
    if (rc != 0 || !req) {
        json_decref(req);
        return fail(wsi, r, 400, "bad_request", g_err[0] ? g_err : "invalid request");
    }
    char *txt = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!txt)
        return fail(wsi, r, 500, "internal", "out of memory");
    char subject[160];
    snprintf(subject, sizeof subject, "%s.%s", app->cfg->nats.subject_prefix, rt->rpc);
    ibbStatus st = httpBus_Request(app->bus, subject, txt, strlen(txt), app->cfg->request_timeout_ms,
                                   on_reply, wsi, &r->bus_handle);
    free(txt);
    if (st == IBB_OK)   /* lws would close an HTTP connection it thinks idle while the bus answers */
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, app->cfg->request_timeout_ms / 1000 + 5);
    if (st != IBB_OK) {
        if (rt->kind == K_HEALTH) {
            httpBusReply rep = {.status = IBB_ERR_IO, .data = ""};
            health_reply(app, r, &rep, NULL, 503);
            return finish(wsi, r);
        }
        return fail(wsi, r, 503, "unavailable", "the NATS connection is down; retry later");
    }
    return 0;
}

/* Query arguments that become the body of a GET (/candles, /options/{symbol}/...): text, a boolean
 * ("1" / "true"), an integer, or a comma-separated list of numbers. A value that is not of its kind is
 * passed on as text: ib-bridge checks every value and names the field it refuses. */
typedef enum { Q_STR, Q_BOOL, Q_INT, Q_NUMS } queryKind;
typedef struct queryArg {
    const char *name;
    queryKind kind;
    const char *as;          /* the body's field when it differs from the argument (NULL: the same) */
} queryArg;

static json_t *query_value(char *val, queryKind kind)
{
    char *end = NULL;
    if (kind == Q_BOOL)
        return json_boolean(strcmp(val, "1") == 0 || strcmp(val, "true") == 0);
    if (kind == Q_INT) {
        long long w = strtoll(val, &end, 10);
        return *val && !*end ? json_integer(w) : json_string(val);
    }
    if (kind == Q_STR)
        return json_string(val);
    json_t *a = json_array();
    for (char *p = val, *tok; (tok = strsep(&p, ","));) {
        double d = strtod(tok, &end);
        json_array_append_new(a, *tok && !*end ? json_real(d) : json_string(tok));
    }
    return a;
}

static void query_body(struct lws *wsi, httpReq *r, const queryArg *args, size_t n)
{
    char v[512], name[32];
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s=", args[i].name);
        char *val = (char *)lws_get_urlarg_by_name(wsi, name, v, sizeof v); /* points into v */
        if (val)
            json_object_set_new(o, args[i].as ? args[i].as : args[i].name, query_value(val, args[i].kind));
    }
    char *txt = json_object_size(o) ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (txt)
        busBuf_Puts(&r->body, txt);
    free(txt);
}

/* The other GET routes whose query arguments become the body, by subject ("q" is the search's pattern). */
static const queryArg EXEC_Q[] = {
    {"since", Q_STR, NULL}, {"symbol", Q_STR, NULL}, {"account", Q_STR, NULL}, {"side", Q_STR, NULL},
    {"source", Q_STR, NULL}};
static const queryArg COMPLETED_Q[] = {{"since", Q_STR, NULL}, {"api_only", Q_BOOL, NULL}};
static const queryArg SEARCH_Q[] = {{"q", Q_STR, "pattern"}, {"pattern", Q_STR, NULL}};
static const queryArg SCANNER_Q[] = {
    {"scan_code", Q_STR, NULL}, {"instrument", Q_STR, NULL}, {"location", Q_STR, NULL},
    {"rows", Q_INT, NULL}};
static const struct {
    const char *rpc;
    const queryArg *args;
    size_t n;
} QUERY_ROUTES[] = {
    {"rpc.executions", EXEC_Q, sizeof EXEC_Q / sizeof EXEC_Q[0]},
    {"rpc.order.completed", COMPLETED_Q, sizeof COMPLETED_Q / sizeof COMPLETED_Q[0]},
    {"rpc.contract.search", SEARCH_Q, sizeof SEARCH_Q / sizeof SEARCH_Q[0]},
    {"rpc.scanner", SCANNER_Q, sizeof SCANNER_Q / sizeof SCANNER_Q[0]},
};

int http_restBegin(httpApp *app, struct lws *wsi, httpSess *pss, const char *path)
{
    free_req(app, pss->req);
    httpReq *r = pss->req = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->t0_us = http_nowUs();
    busBuf_Init(&r->body);
    busBuf_InitPre(&r->resp, LWS_PRE);
    r->method = method_of(wsi);
    r->metrics_route = g_route_other;

    char clen[24];
    long long cl = 0;
    if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        cl = atoll(clen);
    int chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    r->expect_body = cl > 0 || chunked;
    r->close_after = r->expect_body;   /* any early answer leaves an unread body: close after it */

    int oc = http_originCheck(app, wsi, r->origin, sizeof r->origin);
    if (app->draining)
        return fail(wsi, r, 503, "unavailable", "the gateway is shutting down");

    int mask = 0;
    route *rt = match(path, r->method == M_OPTIONS ? 0 : r->method, r->param, sizeof r->param, &mask);
    if (!mask)
        return fail(wsi, r, 404, "not_found", "no such route; see schemas/openapi.yaml");
    if (r->method == M_OPTIONS) {
        r->metrics_route = g_route_preflight;
        method_names(mask | M_OPTIONS, r->allow, sizeof r->allow);
        if (oc <= 0)
            return fail(wsi, r, 403, "forbidden", "origin not allowed");
        r->status = 204;
        r->ctype = "text/plain";
        return finish(wsi, r);
    }
    if (!rt) {
        method_names(mask, r->allow, sizeof r->allow);
        return fail(wsi, r, 405, "method_not_allowed",
                    "method not allowed on this route; see the Allow header");
    }
    r->route = rt;
    r->metrics_route = rt->route_id;
    if (oc < 0)
        return fail(wsi, r, 403, "forbidden", "origin not on the CORS allow-list");
    if (http_queryHasToken(wsi))
        return fail(wsi, r, 400, "bad_request",
                    "credentials in the query string are refused; send Authorization: Bearer <token>");
    if (rt->access != HTTP_ACC_PUBLIC) {
        int lvl = http_authLevel(app, wsi);
        if (lvl == -1)
            return fail(wsi, r, 401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)");
        if (lvl == -2)
            return fail(wsi, r, 401, "unauthorized", "unknown bearer token");
        if (lvl < rt->access)
            return fail(wsi, r, 403, "forbidden", "this route needs a trading token");
    }
    if (rt->param == P_SYMBOL && !valid_symbol(r->param))
        return fail(wsi, r, 400, "bad_request",
                    "symbol must be 1-64 characters: letters, digits, space and ._-:=+#&@!");
    if (rt->param == P_ORDER && !valid_symbol(r->param))
        return fail(wsi, r, 400, "bad_request", "order id must be 1-64 characters");
    if (cl > app->cfg->body_limit)
        return fail(wsi, r, 413, "payload_too_large", "request body is larger than the configured limit");
    int n = lws_hdr_custom_copy(wsi, r->idem, sizeof r->idem, "idempotency-key:", 16);
    if (n < 0)
        r->idem[0] = '\0';
    if (n >= 64 || (n > 0 && !valid_symbol(r->idem)))
        return fail(wsi, r, 400, "bad_request", "Idempotency-Key must be 1-64 characters");
    static const queryArg candles_q[] = {{"duration", Q_STR, NULL}, {"bar_size", Q_STR, NULL},
                                         {"what_to_show", Q_STR, NULL}, {"end", Q_STR, NULL},
                                         {"use_rth", Q_BOOL, NULL}};
    static const queryArg options_q[] = {{"expiration", Q_STR, NULL}, {"right", Q_STR, NULL},
                                         {"exchange", Q_STR, NULL}, {"window", Q_INT, NULL},
                                         {"strikes", Q_NUMS, NULL}};
    if (rt->method == M_GET && rt->build == build_candles)
        query_body(wsi, r, candles_q, sizeof candles_q / sizeof candles_q[0]);
    if (rt->method == M_GET && rt->build == build_underlying)
        query_body(wsi, r, options_q, sizeof options_q / sizeof options_q[0]);
    for (size_t i = 0; rt->method == M_GET && rt->rpc && i < sizeof QUERY_ROUTES / sizeof QUERY_ROUTES[0];
         i++)
        if (!strcmp(rt->rpc, QUERY_ROUTES[i].rpc))
            query_body(wsi, r, QUERY_ROUTES[i].args, QUERY_ROUTES[i].n);
    if (rt->build == build_account) {
        char v[64];
        const char *val = lws_get_urlarg_by_name(wsi, "account=", v, sizeof v);
        if (val && (!*val || strlen(val) > 31 || !valid_symbol(val)))
            return fail(wsi, r, 400, "bad_request",
                        "account must be 1-31 characters (an account id such as DU1234567)");
        json_t *o = val ? json_pack("{s:s}", "account", val) : NULL;
        char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (txt)
            busBuf_Puts(&r->body, txt);
        free(txt);
        json_decref(o);
    }
    if (r->expect_body && (rt->method == M_POST || rt->method == M_PATCH)) {
        r->close_after = 0;
        return 0;   /* wait for LWS_CALLBACK_HTTP_BODY_COMPLETION */
    }
    if (r->expect_body)
        return fail(wsi, r, 400, "bad_request", "this route takes no request body");
    return dispatch(app, wsi, r);
}

int http_restBody(httpApp *app, struct lws *wsi, httpSess *pss, const void *in, size_t len)
{
    httpReq *r = pss->req;
    if (!r || r->ready || r->bus_handle)
        return 0;
    if (r->body.len + len > (size_t)app->cfg->body_limit) {
        r->close_after = 1;
        busBuf_Free(&r->body);
        return fail(wsi, r, 413, "payload_too_large", "request body is larger than the configured limit");
    }
    busBuf_Append(&r->body, in, len);
    return 0;
}

int http_restBodyDone(httpApp *app, struct lws *wsi, httpSess *pss)
{
    httpReq *r = pss->req;
    if (!r || r->ready || r->bus_handle)
        return 0;
    if (r->body.oom)
        return fail(wsi, r, 500, "internal", "out of memory");
    return dispatch(app, wsi, r);
}
