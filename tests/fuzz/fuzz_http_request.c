/* fuzz_http_request.c — libFuzzer target: the REST request path of ib-bridge-http without a socket.
 *
 * adapter/http/http_rest.c is compiled into this file (#include) so its route table, validation
 * and builders run unchanged; the libwebsockets calls it makes are replaced here by a fake
 * connection (struct lws) that serves the method, path, query, headers and body taken from the
 * input, and the NATS side (httpBus_Request) is a stub that checks what would be published and
 * answers with a reply also taken from the input. No change to adapter/http was needed.
 *
 * Input (text, so seeds are readable):
 *   byte 0        flags: bit0 auth on, bit1 draining, bit2 bus publish fails, bits3-4 reply kind
 *                 (ok / timeout / no responders / ok), bit5 the reply carries an error-code header
 *   line 1        "<METHOD> <path>[?query]"
 *   header lines  "Name: value" until an empty line
 *   body          up to "\n--reply--\n"; the rest is the bus reply's body
 * Properties (abort = crash): every request ends with exactly one response, status 200..599, a
 * JSON body whenever the content type says JSON; a request reaching the bus is a JSON object on
 * "ib.rpc.*" and never for a route the token may not use. */
#include <libwebsockets.h>

#include "../../adapter/http/http_rest.c"

#define CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "FUZZ PROPERTY VIOLATED: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            abort(); \
        } \
    } while (0)

#define MAXH 16
struct lws {
    int method; /* M_* */
    char uri[512], args[512];
    char hname[MAXH][40], hval[MAXH][600];
    int nh;
    httpSess *pss;
    int status_written, headers_final, body_written;
    char ctype[64];
    char body[1 << 16];
    size_t body_len;
};

static httpApp g_app;
static httpConfig g_cfg;
static struct lws_context *g_ctx = (struct lws_context *)&g_app; /* never dereferenced */

/* ---- the bus stub ---- */
static struct {
    httpBusReplyFn fn;
    void *arg;
    int fail, calls;
    char subject[160];
} g_bus;

ibbStatus httpBus_Request(httpBus *b, const char *subject, const void *body, size_t len, int timeout_ms,
                          httpBusReplyFn fn, void *arg, uint64_t *handle)
{
    (void)b;
    (void)timeout_ms;
    CHECK(strncmp(subject, "ib.rpc.", 7) == 0, "subject %s", subject);
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    CHECK(j && json_is_object(j), "published a non-object: %.*s", (int)len, (const char *)body);
    json_decref(j);
    g_bus.calls++;
    if (g_bus.fail)
        return IBB_ERR_IO;
    snprintf(g_bus.subject, sizeof g_bus.subject, "%s", subject);
    g_bus.fn = fn;
    g_bus.arg = arg;
    *handle = 1;
    return IBB_OK;
}
void httpBus_Cancel(httpBus *b, uint64_t handle)
{
    (void)b;
    (void)handle;
    g_bus.fn = NULL;
}
int httpBus_Connected(httpBus *b)
{
    (void)b;
    return 1;
}
int httpBus_Pending(httpBus *b)
{
    (void)b;
    return 0;
}
/* http_instances.c's $SRV.PING round: nothing answers here */
ibbStatus httpBus_Subscribe(httpBus *b, const char *subject, httpBusMsgFn fn, void *arg, uint64_t *handle)
{
    (void)b, (void)subject, (void)fn, (void)arg;
    *handle = 0;
    return IBB_OK;
}
void httpBus_PrivateSubject(httpBus *b, const char *name, char *out, size_t cap)
{
    (void)b;
    snprintf(out, cap, "_INBOX.fuzz.%s", name);
}
ibbStatus httpBus_Publish(httpBus *b, const char *subject, const char *reply, const void *data, size_t len)
{
    (void)b, (void)subject, (void)reply, (void)data, (void)len;
    return IBB_OK;
}
void httpBus_Unsubscribe(httpBus *b, uint64_t handle)
{
    (void)b, (void)handle;
}

/* ---- the WebSocket hub (http_ws.c is not linked): weak, so a real one would win ---- */
__attribute__((weak)) void httpHub_Touch(httpHub *hub, const char *sym)
{
    (void)hub;
    (void)sym;
}

/* ---- the lws stubs ---- */
static const char *hdr_name(enum lws_token_indexes h)
{
    switch (h) {
    case WSI_TOKEN_HTTP_AUTHORIZATION:
        return "authorization";
    case WSI_TOKEN_ORIGIN:
        return "origin";
    case WSI_TOKEN_HTTP_CONTENT_LENGTH:
        return "content-length";
    case WSI_TOKEN_HTTP_TRANSFER_ENCODING:
        return "transfer-encoding";
    case WSI_TOKEN_HTTP_CONTENT_TYPE:
        return "content-type";
    case WSI_TOKEN_HOST:
        return "host";
    default:
        return NULL;
    }
}
static const char *find_hdr(struct lws *w, const char *name)
{
    for (int i = 0; i < w->nh; i++)
        if (strcasecmp(w->hname[i], name) == 0)
            return w->hval[i];
    return NULL;
}
int lws_hdr_total_length(struct lws *w, enum lws_token_indexes h)
{
    static const struct {
        enum lws_token_indexes t;
        int m;
    } uris[] = {{WSI_TOKEN_GET_URI, M_GET},
                {WSI_TOKEN_POST_URI, M_POST},
                {WSI_TOKEN_PATCH_URI, M_PATCH},
                {WSI_TOKEN_DELETE_URI, M_DELETE},
                {WSI_TOKEN_OPTIONS_URI, M_OPTIONS}};
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++)
        if (uris[i].t == h)
            return w->method == uris[i].m ? (int)strlen(w->uri) : 0;
    const char *n = hdr_name(h), *v = n ? find_hdr(w, n) : NULL;
    return v ? (int)strlen(v) : 0;
}
static int copy_out(char *dest, int len, const char *v)
{
    size_t n = strlen(v);
    if (len <= 0 || n + 1 > (size_t)len)
        return -1;
    memcpy(dest, v, n + 1);
    return (int)n;
}
int lws_hdr_copy(struct lws *w, char *dest, int len, enum lws_token_indexes h)
{
    const char *n = hdr_name(h), *v = n ? find_hdr(w, n) : NULL;
    if (!v) {
        if (len > 0)
            dest[0] = '\0';
        return 0;
    }
    return copy_out(dest, len, v);
}
int lws_hdr_custom_copy(struct lws *w, char *dst, int len, const char *name, int nlen)
{
    char n[64];
    snprintf(n, sizeof n, "%.*s", nlen > 0 && name[nlen - 1] == ':' ? nlen - 1 : nlen, name);
    const char *v = find_hdr(w, n);
    return v ? copy_out(dst, len, v) : -1;
}
static const char *arg_frag(struct lws *w, int idx, size_t *n)
{
    const char *p = w->args;
    for (int i = 0; *p; i++) {
        const char *e = strchr(p, '&');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (i == idx) {
            *n = l;
            return p;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return NULL;
}
int lws_hdr_copy_fragment(struct lws *w, char *dest, int len, enum lws_token_indexes h, int idx)
{
    size_t n;
    const char *f = h == WSI_TOKEN_HTTP_URI_ARGS ? arg_frag(w, idx, &n) : NULL;
    if (!f || len <= 0 || n + 1 > (size_t)len)
        return -1;
    memcpy(dest, f, n);
    dest[n] = '\0';
    return (int)n;
}
const char *lws_get_urlarg_by_name(struct lws *w, const char *name, char *buf, int len)
{
    size_t nl = strlen(name), n;
    const char *f;
    for (int i = 0; (f = arg_frag(w, i, &n)) != NULL; i++)
        if (n >= nl && strncmp(f, name, nl) == 0 && len > 0 && n - nl + 1 <= (size_t)len) {
            memcpy(buf, f + nl, n - nl);
            buf[n - nl] = '\0';
            return buf;
        }
    return NULL;
}
void lws_set_timeout(struct lws *w, enum pending_timeout r, int secs)
{
    (void)w;
    (void)r;
    (void)secs;
}
int lws_callback_on_writable(struct lws *w)
{
    (void)w;
    return 0;
}
void *lws_wsi_user(struct lws *w) { return w->pss; }
struct lws_context *lws_get_context(const struct lws *w)
{
    (void)w;
    return g_ctx;
}
void *lws_context_user(struct lws_context *c)
{
    (void)c;
    return &g_app;
}
static int put(unsigned char **p, unsigned char *end, const char *s, size_t n)
{
    if ((size_t)(end - *p) < n)
        return 1;
    memcpy(*p, s, n);
    *p += n;
    return 0;
}
int lws_add_http_common_headers(struct lws *w, unsigned int code, const char *content_type, lws_filepos_t len,
                                unsigned char **p, unsigned char *end)
{
    CHECK(!w->status_written, "two responses for one request");
    CHECK(code >= 200 && code <= 599, "status %u", code);
    w->status_written = (int)code;
    snprintf(w->ctype, sizeof w->ctype, "%s", content_type ? content_type : "");
    char line[160];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %u\r\ncontent-type: %s\r\ncontent-length: %llu\r\n", code,
                     content_type ? content_type : "", (unsigned long long)len);
    return put(p, end, line, (size_t)n);
}
int lws_add_http_header_by_name(struct lws *w, const unsigned char *name, const unsigned char *value,
                                int length, unsigned char **p, unsigned char *end)
{
    (void)w;
    CHECK(length >= 0 && !memchr(value, '\r', (size_t)length) && !memchr(value, '\n', (size_t)length),
          "header %s carries CR/LF", (const char *)name);
    return put(p, end, (const char *)name, strlen((const char *)name)) ||
           put(p, end, (const char *)value, (size_t)length);
}
int lws_finalize_write_http_header(struct lws *w, unsigned char *start, unsigned char **p, unsigned char *end)
{
    (void)start;
    (void)p;
    (void)end;
    w->headers_final = 1;
    return 0;
}
int lws_write(struct lws *w, unsigned char *buf, size_t len, enum lws_write_protocol proto)
{
    (void)proto;
    CHECK(w->headers_final, "body before headers");
    size_t n = len < sizeof w->body - w->body_len ? len : sizeof w->body - w->body_len;
    memcpy(w->body + w->body_len, buf, n);
    w->body_len += n;
    w->body_written = 1;
    return (int)len;
}
int lws_http_transaction_completed(struct lws *w)
{
    (void)w;
    return 0;
}

/* ---- the harness ---- */
static void setup(void)
{
    static char *read_tok[] = {"rtok"}, *trade_tok[] = {"ttok"}, *origins[] = {"http://ok.example"};
    g_cfg.read_tokens = (ibbStrList){read_tok, 1};
    g_cfg.trade_tokens = (ibbStrList){trade_tok, 1};
    g_cfg.cors_origins = (ibbStrList){origins, 1};
    g_cfg.body_limit = 4096;
    g_cfg.request_timeout_ms = 5000;
    g_cfg.nats.subject_prefix = "ib";
    g_app.cfg = &g_cfg;
    httpMetrics_Init(&g_app.metrics);
    http_restInit(&g_app);
    ibbLog_SetLevel(IBB_LOG_OFF);
}

static const char *next_line(const char **p, const char *end, size_t *n)
{
    const char *s = *p;
    if (s >= end)
        return NULL;
    const char *e = memchr(s, '\n', (size_t)(end - s));
    *n = e ? (size_t)(e - s) : (size_t)(end - s);
    *p = e ? e + 1 : end;
    if (*n && s[*n - 1] == '\r')
        (*n)--;
    return s;
}

static int parse(struct lws *w, const char *d, size_t size, const char **body, size_t *blen, const char **rep,
                 size_t *rlen)
{
    const char *p = d, *end = d + size, *l;
    size_t n;
    if (!(l = next_line(&p, end, &n)))
        return -1;
    static const struct {
        const char *s;
        int m;
    } M[] = {{"GET ", M_GET},
             {"POST ", M_POST},
             {"PATCH ", M_PATCH},
             {"DELETE ", M_DELETE},
             {"OPTIONS ", M_OPTIONS}};
    w->method = M_OTHER;
    size_t skip = 0;
    for (size_t i = 0; i < sizeof M / sizeof M[0]; i++)
        if (n >= strlen(M[i].s) && memcmp(l, M[i].s, strlen(M[i].s)) == 0) {
            w->method = M[i].m;
            skip = strlen(M[i].s);
        }
    if (!skip) {
        const char *sp = memchr(l, ' ', n);
        skip = sp ? (size_t)(sp - l) + 1 : n;
    }
    const char *u = l + skip;
    size_t ul = n - skip;
    const char *q = memchr(u, '?', ul);
    size_t pl = q ? (size_t)(q - u) : ul;
    if (pl >= sizeof w->uri || memchr(u, 0, ul))
        return -1;
    memcpy(w->uri, u, pl);
    w->uri[pl] = '\0';
    if (q) {
        size_t al = ul - pl - 1;
        if (al >= sizeof w->args)
            return -1;
        memcpy(w->args, q + 1, al);
        w->args[al] = '\0';
    }
    while ((l = next_line(&p, end, &n)) && n) {
        const char *c = memchr(l, ':', n);
        if (!c || w->nh == MAXH || memchr(l, 0, n))
            continue;
        size_t kl = (size_t)(c - l), vl = n - kl - 1;
        const char *v = c + 1;
        while (vl && *v == ' ')
            v++, vl--;
        if (kl >= sizeof w->hname[0] || vl >= sizeof w->hval[0])
            continue;
        memcpy(w->hname[w->nh], l, kl);
        w->hname[w->nh][kl] = '\0';
        memcpy(w->hval[w->nh], v, vl);
        w->hval[w->nh][vl] = '\0';
        w->nh++;
    }
    static const char SEP[] = "\n--reply--\n";
    *body = p;
    const char *r = NULL;
    for (const char *s = p; s + sizeof SEP - 1 <= end; s++)
        if (memcmp(s, SEP, sizeof SEP - 1) == 0) {
            r = s;
            break;
        }
    *blen = (size_t)((r ? r : end) - p);
    *rep = r ? r + sizeof SEP - 1 : "";
    *rlen = r ? (size_t)(end - *rep) : 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 2)
        return 0;
    static struct lws w;
    memset(&w, 0, sizeof w);
    httpSess pss = {0};
    w.pss = &pss;
    uint8_t flags = data[0];
    const char *body, *rep;
    size_t blen, rlen;
    if (parse(&w, (const char *)data + 1, size - 1, &body, &blen, &rep, &rlen) != 0)
        return 0;
    g_app.auth_on = flags & 1;
    g_app.draining = (flags >> 1) & 1;
    memset(&g_bus, 0, sizeof g_bus);
    g_bus.fail = (flags >> 2) & 1;

    int rc = http_restBegin(&g_app, &w, &pss, w.uri);
    httpReq *r = pss.req;
    if (rc == 0 && r && !r->ready && !r->bus_handle && r->expect_body) {
        for (size_t off = 0; off < blen && pss.req && !pss.req->ready;) {
            size_t n = blen - off < 97 ? blen - off : 97; /* lws hands the body over in pieces */
            http_restBody(&g_app, &w, &pss, body + off, n);
            off += n;
        }
        http_restBodyDone(&g_app, &w, &pss);
    }
    r = pss.req;
    if (g_bus.calls && r && r->route && r->route->access != HTTP_ACC_PUBLIC) {
        int lvl = http_authLevel(&g_app, &w);
        CHECK(lvl >= r->route->access, "bus request for %s with access %d", r->route->label, lvl);
    }
    if (g_bus.fn && r && r->bus_handle) {
        static char *const codes[] = {"400", "503", "abc", "404"};
        httpBusReply reply = {.status = IBB_OK,
                              .data = rep,
                              .len = rlen,
                              .err_code = (flags & 32) ? codes[(flags >> 6) & 3] : NULL,
                              .err_text = (flags & 32) ? "text" : NULL,
                              .rtt_us = 100};
        int kind = (flags >> 3) & 3;
        if (kind == 1)
            reply.status = IBB_ERR_TIMEOUT, reply.len = 0, reply.data = "";
        else if (kind == 2)
            reply.status = IBB_ERR_NOT_FOUND, reply.len = 0, reply.data = "";
        httpBusReplyFn fn = g_bus.fn;
        g_bus.fn = NULL;
        fn(g_bus.arg, &reply);
    }
    r = pss.req;
    bool expect_response = r && r->ready;
    if (expect_response)
        http_restWriteable(&g_app, &w, &pss);
    if (expect_response) {
        CHECK(w.status_written, "ready but no response");
        /* A 200 whose body is the bus reply byte for byte is http_rest.c's pass-through hot path
         * (a JSON success reply is not parsed): its validity is ib-bridge's; everything the
         * gateway writes itself must be JSON. */
        bool passthrough = w.status_written == 200 && w.body_len == rlen && memcmp(w.body, rep, rlen) == 0;
        if (strncmp(w.ctype, "application/json", 16) == 0 && w.body_len && !passthrough) {
            json_error_t je;
            json_t *j = json_loadb(w.body, w.body_len,
                                   JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
            CHECK(j != NULL, "status %d JSON body does not parse (%s): %.*s", w.status_written, je.text,
                  (int)(w.body_len < 300 ? w.body_len : 300), w.body);
            json_decref(j);
        }
    } else {
        /* the only way to have no response: a bus request still in flight (reply dropped above never
         * happens), or a body still awaited */
        CHECK(!r || r->bus_handle || (r->expect_body && !r->ready), "request left without a response");
    }
    http_restClosed(&g_app, &pss);
    CHECK(pss.req == NULL, "closed left a request");
    return 0;
}
