/* br_discovery_scan.c — ib.rpc.scanner.params and ib.rpc.scanner (PROTOCOL.md §3.19).
 *
 * scanner.params: IB's scanner parameter XML (reqScannerParameters -> scannerParameters), cached for the
 * UTC day; the message carries no request id, so one request is in flight and every caller meanwhile
 * shares it. scanner {scan_code, instrument, location, filters?, rows?}: one result set — subscribe,
 * take the first scannerData, cancel. The scan code, instrument, location and every filter name are
 * checked against the cached parameters first (fetched when needed), so a typo is a bad_request naming
 * the field and IB never sees it. At most SCAN_MAX subscriptions are open at once (IB's limit):
 * past it the answer is rate_limited. Loop thread. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_discovery_int.h"
#include "ibb_log.h"

#define SCAN_MAX 10 /* simultaneous scanner subscriptions IB allows */
#define SCAN_ROWS_MAX 50
#define FILTERS_MAX 600 /* "tag=value;..." */

typedef struct scanReq {
    busRequest *req;
    bool params_only; /* ib.rpc.scanner.params */
    struct scanReq *next;
} scanReq;

typedef struct scanSub { /* one scanner subscription at IB */
    busRequest *req;
    int64_t req_id;
    char scan_code[64], instrument[32], location[64];
} scanSub;

struct brScan {
    char *xml;       /* cached parameters, NULL until fetched */
    int64_t xml_day; /* UTC day number of the fetch */
    bool params_inflight;
    scanReq *params_waiters; /* wait for the parameters */
    int active;              /* subscriptions open at IB */
};

static brScan *scan_of(const brBridge *b) { return brd_mod(b)->scan; }
static int64_t utc_day(void) { return br_wallNs() / 1000000000 / 86400; }

/* <tag>value</tag> somewhere in the XML. */
static bool xml_has(const char *xml, const char *tag, const char *value)
{
    char needle[200];
    snprintf(needle, sizeof needle, "<%s>%s</%s>", tag, value, tag);
    return strstr(xml, needle) != NULL;
}

static void reply_params(brBridge *b, busRequest *req, bool cached)
{
    brScan *sc = scan_of(b);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    busPack_KeyBool(&pk, "cached", cached);
    busPack_KeyStr(&pk, "xml", sc->xml);
    br_replyChecked(b, req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void start_scan(brBridge *b, busRequest *req);

/* The parameters arrived (or cannot come: slug set): every waiter goes on. */
static void params_settled(brBridge *b, const char *slug, const char *msg)
{
    brScan *sc = scan_of(b);
    scanReq *w = sc->params_waiters;
    sc->params_waiters = NULL;
    sc->params_inflight = false;
    while (w) {
        scanReq *n = w->next;
        if (slug)
            busRequest_Fail(w->req, slug, msg, 0);
        else if (w->params_only) {
            reply_params(b, w->req, false);
            busRequest_Release(w->req);
        } else
            start_scan(b, w->req);
        free(w);
        w = n;
    }
}

static void need_params(brBridge *b, busRequest *req, bool params_only)
{
    brScan *sc = scan_of(b);
    scanReq *w = calloc(1, sizeof *w);
    if (!w) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    w->req = req;
    w->params_only = params_only;
    w->next = sc->params_waiters;
    sc->params_waiters = w;
    if (sc->params_inflight)
        return;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_SCANNER_PARAMETERS);
    if (br_send(b, &rq) != IBB_OK) {
        params_settled(b, "ib_unavailable", "reqScannerParameters could not be sent to IB; retry");
        return;
    }
    sc->params_inflight = true;
}

static bool params_fresh(const brScan *sc) { return sc->xml && sc->xml_day == utc_day(); }

static void on_params(busRequest *req, void *arg)
{
    brBridge *b = arg;
    if (params_fresh(scan_of(b))) {
        reply_params(b, req, true);
        busRequest_Release(req);
        return;
    }
    if (!br_requireIb(b, req)) {
        busRequest_Release(req);
        return;
    }
    need_params(b, req, true);
}

/* ---- one result set -------------------------------------------------------------------------------- */

static void sub_end(brBridge *b, scanSub *s, bool cancel)
{
    if (cancel && b->ib_ready) {
        ibRequest rq;
        ibRequest_Init(&rq, IB_REQ_CANCEL_SCANNER_SUBSCRIPTION);
        rq.u.cancel.req_id = s->req_id;
        br_send(b, &rq);
    }
    br_reqClose(b, s->req_id);
    scan_of(b)->active--;
    busRequest_Release(s->req);
    free(s);
}

/* One row: {rank, key, contract, market_name, distance, benchmark, projection}. */
static void pack_row(msgpack_packer *pk, const ibScannerRow *r)
{
    msgpack_pack_map(pk, 7);
    busPack_KeyInt(pk, "rank", r->rank);
    br_packKeyContract(pk, &r->contract, NULL);
    busPack_KeyStr(pk, "market_name", r->market_name);
    busPack_KeyStr(pk, "distance", r->distance);
    busPack_KeyStr(pk, "benchmark", r->benchmark);
    busPack_KeyStr(pk, "projection", r->projection);
}

static void on_scan_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    scanSub *s = ctx;
    if (r->id != IB_MSG_SCANNER_DATA)
        return;
    ibScannerData d = r->u.scanner_data;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    busPack_KeyStr(&pk, "scan_code", s->scan_code);
    busPack_KeyStr(&pk, "instrument", s->instrument);
    busPack_KeyStr(&pk, "location", s->location);
    busPack_KeyInt(&pk, "count", d.count);
    busPack_Str(&pk, "rows");
    msgpack_pack_array(&pk, (size_t)d.count);
    ibScannerRow row;
    int n = 0;
    while (n < d.count && ibScannerData_NextRow(&d, &row)) {
        pack_row(&pk, &row);
        n++;
    }
    for (; n < d.count; n++)
        msgpack_pack_nil(&pk); /* not reached: the decoder validated every row */
    br_replyChecked(b, s->req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    IBB_INFO("discovery.scanned", "scan_code=%s rows=%d", s->scan_code, d.count);
    sub_end(b, s, true);
}

static void on_scan_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)req_id;
    scanSub *s = ctx;
    if (e->code == 492) /* a warning: results still follow */
        return;
    br_replyIbError(s->req, e);
    sub_end(b, s, false);
}

static void on_scan_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)req_id;
    scanSub *s = ctx;
    busRequest_Error(s->req, "ib_unavailable", "the IB link dropped before the scan answered; retry", 0);
    sub_end(b, s, false);
}

static const brPendingOps scan_ops = {on_scan_reply, on_scan_error, on_scan_lost};

/* A string field checked against the parameter XML's <tag>value</tag>; false after answering. */
static bool known_field(busRequest *req, const char *xml, const char *field, const char *tag, char *out,
                        size_t cap)
{
    ibbStatus st = busObj_StrCopy(busRequest_Body(req), field, out, cap);
    if (st != IBB_OK) {
        busRequest_FailField(req, field, st, "string");
        return false;
    }
    if (!*out || strchr(out, '<') || !xml_has(xml, tag, out)) {
        busRequest_Failf(req, "bad_request", 0, "field '%s': IB's scanner parameters know no %s \"%s\"",
                         field, tag, out);
        return false;
    }
    return true;
}

/* filters {name: number|string}: names checked against the XML's <code>; written as "n=v;..." */
static bool read_filters(busRequest *req, const char *xml, char *out, size_t cap)
{
    const msgpack_object *f;
    ibbStatus st = busObj_Map(busRequest_Body(req), "filters", &f);
    out[0] = '\0';
    if (st == IBB_ERR_NOT_FOUND)
        return true;
    if (st != IBB_OK) {
        busRequest_FailField(req, "filters", st, "map of filter name to value");
        return false;
    }
    size_t len = 0;
    for (uint32_t i = 0; i < f->via.map.size; i++) {
        const msgpack_object *k = &f->via.map.ptr[i].key, *v = &f->via.map.ptr[i].val;
        char name[64], val[64];
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || k->via.str.size >= sizeof name) {
            busRequest_Fail(req, "bad_request",
                            "field 'filters': names must be strings of 1 to 63 characters", 0);
            return false;
        }
        snprintf(name, sizeof name, "%.*s", (int)k->via.str.size, k->via.str.ptr);
        if (strchr(name, '<') || strchr(name, '=') || strchr(name, ';') || !xml_has(xml, "code", name)) {
            busRequest_Failf(req, "bad_request", 0,
                             "field 'filters': IB's scanner parameters know no filter \"%s\"", name);
            return false;
        }
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER || v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            snprintf(val, sizeof val, "%" PRId64,
                     v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? v->via.i64 : (int64_t)v->via.u64);
        else if (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32)
            snprintf(val, sizeof val, "%.10g", v->via.f64);
        else if (v->type == MSGPACK_OBJECT_STR && v->via.str.size < sizeof val &&
                 !memchr(v->via.str.ptr, ';', v->via.str.size) &&
                 !memchr(v->via.str.ptr, '=', v->via.str.size))
            snprintf(val, sizeof val, "%.*s", (int)v->via.str.size, v->via.str.ptr);
        else {
            busRequest_Failf(req, "bad_request", 0,
                             "field 'filters': \"%s\" must be a number or a short string", name);
            return false;
        }
        int w = snprintf(out + len, cap - len, "%s=%s;", name, val);
        if (w < 0 || (size_t)w >= cap - len) {
            busRequest_Fail(req, "bad_request", "field 'filters': too many filters", 0);
            return false;
        }
        len += (size_t)w;
    }
    return true;
}

static bool read_rows(busRequest *req, int64_t *rows)
{
    ibbStatus st = busObj_Int(busRequest_Body(req), "rows", rows);
    if (st == IBB_ERR_NOT_FOUND) {
        *rows = SCAN_ROWS_MAX;
        return true;
    }
    if (st != IBB_OK || *rows < 1 || *rows > SCAN_ROWS_MAX) {
        busRequest_Failf(req, "bad_request", 0, "field 'rows' must be an integer from 1 to %d",
                         SCAN_ROWS_MAX);
        return false;
    }
    return true;
}

/* The parameters are cached: check the body, then subscribe (takes over req). */
static void start_scan(brBridge *b, busRequest *req)
{
    brScan *sc = scan_of(b);
    scanSub *s = calloc(1, sizeof *s);
    char filters[FILTERS_MAX];
    int64_t rows;
    if (!s) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    if (!known_field(req, sc->xml, "scan_code", "scanCode", s->scan_code, sizeof s->scan_code) ||
        !known_field(req, sc->xml, "instrument", "type", s->instrument, sizeof s->instrument) ||
        !known_field(req, sc->xml, "location", "locationCode", s->location, sizeof s->location) ||
        !read_filters(req, sc->xml, filters, sizeof filters) || !read_rows(req, &rows)) {
        free(s);
        return;
    }
    if (sc->active >= SCAN_MAX) {
        free(s);
        busRequest_Failf(req, "rate_limited", 0,
                         "%d scanner subscriptions are open at IB, its limit; retry shortly", SCAN_MAX);
        return;
    }
    s->req = req;
    s->req_id = br_reqOpen(b, &scan_ops, s);
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_SCANNER_SUBSCRIPTION);
    rq.u.scanner.req_id = s->req_id;
    rq.u.scanner.number_of_rows = rows;
    rq.u.scanner.instrument = s->instrument;
    rq.u.scanner.location_code = s->location;
    rq.u.scanner.scan_code = s->scan_code;
    rq.u.scanner.filter_options = filters;
    sc->active++;
    if (s->req_id < 0 || br_send(b, &rq) != IBB_OK) {
        busRequest_Error(req, "ib_unavailable", "reqScannerSubscription could not be sent to IB; retry", 0);
        if (s->req_id < 0) {
            sc->active--;
            busRequest_Release(req);
            free(s);
            return;
        }
        sub_end(b, s, false);
    }
}

static void on_scanner(busRequest *req, void *arg)
{
    brBridge *b = arg;
    if (!br_requireIb(b, req)) {
        busRequest_Release(req);
        return;
    }
    if (params_fresh(scan_of(b)))
        start_scan(b, req);
    else
        need_params(b, req, false);
}

/* ---- module parts ----------------------------------------------------------------------------------- */

bool brd_scanOnReply(brBridge *b, const ibReply *r)
{
    brScan *sc = scan_of(b);
    if (r->id != IB_MSG_SCANNER_PARAMETERS || !sc)
        return false;
    char *x = strdup(r->u.scanner_params.xml ? r->u.scanner_params.xml : "");
    if (x) {
        free(sc->xml);
        sc->xml = x;
        sc->xml_day = utc_day();
    }
    IBB_INFO("discovery.scanner_params", "bytes=%zu", x ? strlen(x) : 0);
    params_settled(b, x ? NULL : "internal", "out of memory");
    return true;
}

void brd_scanIbDown(brBridge *b)
{
    if (scan_of(b) && scan_of(b)->params_inflight)
        params_settled(b, "ib_unavailable",
                       "the IB link dropped before IB sent its scanner parameters; retry");
}

ibbStatus brd_scanInit(brBridge *b)
{
    brDiscovery *d = brd_mod(b);
    if (!(d->scan = calloc(1, sizeof *d->scan)))
        return IBB_ERR_NOMEM;
    static const struct {
        const char *name, *subject;
        busHandlerFn fn;
    } eps[] = {{"scanner_params", "scanner.params", on_params}, {"scanner", "scanner", on_scanner}};
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        busEndpointDef def = {.name = eps[i].name, .subject = eps[i].subject, .handler = eps[i].fn, .arg = b};
        ibbStatus s = busService_AddEndpoint(b->svc, &def);
        if (s != IBB_OK)
            return s;
    }
    return IBB_OK;
}

void brd_scanFini(brBridge *b)
{
    brScan *sc = scan_of(b);
    if (!sc)
        return;
    params_settled(b, "unavailable", "ib-bridge is stopping");
    free(sc->xml);
    free(sc);
    brd_mod(b)->scan = NULL;
}
