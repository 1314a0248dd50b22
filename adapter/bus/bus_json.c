/* bus_json.c — MessagePack checker, MessagePack -> JSON writer, JSON -> MessagePack; see bus_json.h. */
#include "bus_json.h"

#include "ibb_fmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ------------------------------------------------------------------------------------------------
 * busBuf */

void busBuf_Init(busBuf *b) { busBuf_InitPre(b, 0); }

void busBuf_InitPre(busBuf *b, size_t pre)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
    b->pre = pre;
}

void busBuf_Free(busBuf *b)
{
    free(b->data ? b->data - b->pre : NULL);
    busBuf_InitPre(b, b->pre);
}

static bool buf_reserve(busBuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->cap - b->len > extra)
        return true;
    size_t want = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data ? b->data - b->pre : NULL, b->pre + cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    b->data = p + b->pre;
    b->cap = cap;
    return true;
}

void busBuf_Append(busBuf *b, const void *p, size_t n)
{
    if (n == 0 || !buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void buf_putc(busBuf *b, char c)
{
    if (b->cap - b->len > 1 || buf_reserve(b, 1))
        b->data[b->len++] = c;
}

void busBuf_Puts(busBuf *b, const char *s) { busBuf_Append(b, s, strlen(s)); }

void busBuf_Printf(busBuf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[256];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        busBuf_Append(b, tmp, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *busBuf_CStr(busBuf *b)
{
    if (!buf_reserve(b, 1))
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

/* ------------------------------------------------------------------------------------------------
 * JSON pieces */

static const char hexdig[] = "0123456789abcdef";

static void put_u_escape(busBuf *out, unsigned cp)
{
    char e[6] = {'\\', 'u', hexdig[(cp >> 12) & 15], hexdig[(cp >> 8) & 15], hexdig[(cp >> 4) & 15],
                 hexdig[cp & 15]};
    busBuf_Append(out, e, 6);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid UTF-8. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t need;
    unsigned v, min;
    if (c < 0xc2)
        return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xe0) { need = 2; v = c & 0x1f; min = 0x80; }
    else if (c < 0xf0) { need = 3; v = c & 0x0f; min = 0x800; }
    else if (c < 0xf5) { need = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return need;
}

void busJson_String(busBuf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    buf_putc(out, '"');
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        unsigned cp = 0;
        size_t k = c >= 0x80 ? utf8_seq(s + i, n - i, &cp) : 0;
        if (k > 0 && cp != 0x2028 && cp != 0x2029) {
            i += k; /* valid multi-byte sequence: copied as is */
            continue;
        }
        busBuf_Append(out, s + run, i - run);
        if (k > 0) {
            put_u_escape(out, cp); /* U+2028/2029: legal JSON, but not legal JavaScript source */
            i += k;
        } else if (c >= 0x80) {
            busBuf_Append(out, "\\ufffd", 6); /* invalid byte: one replacement character */
            i++;
        } else {
            switch (c) {
            case '"': busBuf_Append(out, "\\\"", 2); break;
            case '\\': busBuf_Append(out, "\\\\", 2); break;
            case '\b': busBuf_Append(out, "\\b", 2); break;
            case '\f': busBuf_Append(out, "\\f", 2); break;
            case '\n': busBuf_Append(out, "\\n", 2); break;
            case '\r': busBuf_Append(out, "\\r", 2); break;
            case '\t': busBuf_Append(out, "\\t", 2); break;
            default: put_u_escape(out, c); break;
            }
            i++;
        }
        run = i;
    }
    busBuf_Append(out, s + run, n - run);
    buf_putc(out, '"');
}

/* Makes "123" read back as a double ("123.0"); leaves "1e+20", "0.5" alone. */
static size_t mark_double(char *t, size_t n, size_t cap)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] == '.' || t[i] == 'e' || t[i] == 'E')
            return n;
    if (n + 2 < cap) {
        t[n++] = '.';
        t[n++] = '0';
        t[n] = '\0';
    }
    return n;
}

void busJson_Double(busBuf *out, double v)
{
    if (!isfinite(v)) {
        busBuf_Append(out, "null", 4);
        return;
    }
    char t[40];
    size_t n = ibbFmt_Double(t, sizeof t - 3, v);
    busBuf_Append(out, t, mark_double(t, n, sizeof t));
}

static void json_float32(busBuf *out, float f)
{
    if (!isfinite(f)) {
        busBuf_Append(out, "null", 4);
        return;
    }
    char t[40];
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(t, sizeof t - 3, "%.*g", prec, (double)f);
        if (prec == 9 || strtof(t, NULL) == f)
            break;
    }
    busBuf_Append(out, t, mark_double(t, (size_t)n, sizeof t));
}

static void json_base64(busBuf *out, const unsigned char *s, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_putc(out, '"');
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63]};
        busBuf_Append(out, q, 4);
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0u);
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], i + 1 < n ? tbl[(v >> 6) & 63] : '=', '='};
        busBuf_Append(out, q, 4);
    }
    buf_putc(out, '"');
}

/* ------------------------------------------------------------------------------------------------
 * The MessagePack walker: one pass that checks structure and, when out != NULL, writes JSON. */

typedef struct mpWalk {
    const unsigned char *start, *p, *end;
    busBuf *out;         /* NULL: check only */
    bool str_keys;
    char *err;
    size_t errcap;
} mpWalk;

static ibbStatus walk_fail(mpWalk *w, ibbStatus st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ibbStatus walk_fail(mpWalk *w, ibbStatus st, const char *fmt, ...)
{
    if (w->err && w->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errcap, fmt, ap);
        va_end(ap);
    }
    return st;
}

static inline size_t left(const mpWalk *w) { return (size_t)(w->end - w->p); }
static inline size_t at(const mpWalk *w) { return (size_t)(w->p - w->start); }

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static ibbStatus need(mpWalk *w, size_t n)
{
    if (left(w) < n)
        return walk_fail(w, IBB_ERR_TRUNCATED, "MessagePack body truncated at byte %zu (needs %zu more)",
                         at(w), n - left(w));
    return IBB_OK;
}

static ibbStatus walk_value(mpWalk *w, int depth, bool is_key);

static ibbStatus walk_container(mpWalk *w, int depth, uint64_t n, bool map)
{
    if (depth >= BUS_MAX_DEPTH)
        return walk_fail(w, IBB_ERR_LIMIT, "body nested deeper than %d levels", BUS_MAX_DEPTH);
    /* every element takes at least one byte: a count beyond the bytes left is a lie */
    if (n > left(w) || (map && n > left(w) / 2))
        return walk_fail(w, IBB_ERR_TRUNCATED,
                         "MessagePack %s at byte %zu claims %llu entries, only %zu bytes left",
                         map ? "map" : "array", at(w), (unsigned long long)n, left(w));
    if (w->out)
        buf_putc(w->out, map ? '{' : '[');
    for (uint64_t i = 0; i < n; i++) {
        if (i > 0 && w->out)
            buf_putc(w->out, ',');
        ibbStatus st = walk_value(w, depth + 1, map);
        if (st != IBB_OK)
            return st;
        if (map) {
            if (w->out)
                buf_putc(w->out, ':');
            if ((st = walk_value(w, depth + 1, false)) != IBB_OK)
                return st;
        }
    }
    if (w->out)
        buf_putc(w->out, map ? '}' : ']');
    return IBB_OK;
}

static void put_i64(busBuf *out, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    busBuf_Append(out, t, (size_t)n);
}

static void put_u64(busBuf *out, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    busBuf_Append(out, t, (size_t)n);
}

static ibbStatus walk_bytes(mpWalk *w, int lenbytes, bool str)
{
    size_t off = at(w) - 1;
    ibbStatus st = need(w, (size_t)lenbytes);
    if (st != IBB_OK)
        return st;
    uint64_t n = be(w->p, lenbytes);
    w->p += lenbytes;
    if (n > left(w))
        return walk_fail(w, IBB_ERR_TRUNCATED, "MessagePack %s at byte %zu claims %llu bytes, only %zu left",
                         str ? "string" : "bin", off, (unsigned long long)n, left(w));
    if (w->out) {
        if (str)
            busJson_String(w->out, (const char *)w->p, (size_t)n);
        else
            json_base64(w->out, w->p, (size_t)n);
    }
    w->p += n;
    return IBB_OK;
}

static ibbStatus walk_scalar(mpWalk *w, unsigned c)
{
    ibbStatus st;
    if (c >= 0xcc && c <= 0xd3) { /* uint8..64, int8..64 */
        int n = 1 << ((c - 0xcc) & 3);
        if ((st = need(w, (size_t)n)) != IBB_OK)
            return st;
        uint64_t v = be(w->p, n);
        w->p += n;
        if (w->out) {
            if (c <= 0xcf)
                put_u64(w->out, v);
            else if (n == 1)
                put_i64(w->out, (int8_t)v);
            else if (n == 2)
                put_i64(w->out, (int16_t)v);
            else if (n == 4)
                put_i64(w->out, (int32_t)v);
            else
                put_i64(w->out, (int64_t)v);
        }
        return IBB_OK;
    }
    if (c == 0xca || c == 0xcb) {
        int n = c == 0xca ? 4 : 8;
        if ((st = need(w, (size_t)n)) != IBB_OK)
            return st;
        uint64_t v = be(w->p, n);
        w->p += n;
        if (w->out) {
            if (n == 4) {
                uint32_t u = (uint32_t)v;
                float f;
                memcpy(&f, &u, 4);
                json_float32(w->out, f);
            } else {
                double d;
                memcpy(&d, &v, 8);
                busJson_Double(w->out, d);
            }
        }
        return IBB_OK;
    }
    /* ext: fixext 1/2/4/8/16 (d4..d8) and ext 8/16/32 (c7..c9) */
    size_t off = at(w) - 1;
    uint64_t n;
    if (c >= 0xd4 && c <= 0xd8) {
        n = 1u << (c - 0xd4);
    } else {
        int lb = 1 << (c - 0xc7);
        if ((st = need(w, (size_t)lb)) != IBB_OK)
            return st;
        n = be(w->p, lb);
        w->p += lb;
    }
    if ((st = need(w, 1)) != IBB_OK)
        return st;
    w->p++; /* type byte */
    if (n > left(w))
        return walk_fail(w, IBB_ERR_TRUNCATED, "MessagePack ext at byte %zu truncated", off);
    w->p += n;
    if (w->out)
        return walk_fail(w, IBB_ERR_INVALID_ARG, "MessagePack ext type at byte %zu has no JSON form", off);
    return IBB_OK;
}

static ibbStatus walk_value(mpWalk *w, int depth, bool is_key)
{
    ibbStatus st = need(w, 1);
    if (st != IBB_OK)
        return st;
    unsigned c = *w->p++;
    bool is_str = (c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb);
    if (is_key && !is_str && (w->str_keys || w->out))
        return walk_fail(w, IBB_ERR_INVALID_ARG, "map key at byte %zu is not a string (keys must be strings)",
                         at(w) - 1);
    if (c <= 0x7f) {
        if (w->out)
            put_i64(w->out, (int64_t)c);
    } else if (c >= 0xe0) {
        if (w->out)
            put_i64(w->out, (int8_t)c);
    } else if (c <= 0x8f) {
        return walk_container(w, depth, c & 0x0f, true);
    } else if (c <= 0x9f) {
        return walk_container(w, depth, c & 0x0f, false);
    } else if (c <= 0xbf) {
        size_t n = c & 0x1f;
        if (n > left(w))
            return walk_fail(w, IBB_ERR_TRUNCATED, "MessagePack string at byte %zu truncated", at(w) - 1);
        if (w->out)
            busJson_String(w->out, (const char *)w->p, n);
        w->p += n;
    } else if (c == 0xc0) {
        if (w->out)
            busBuf_Append(w->out, "null", 4);
    } else if (c == 0xc1) {
        return walk_fail(w, IBB_ERR_PROTOCOL, "byte 0x%02x at %zu is not valid MessagePack", c, at(w) - 1);
    } else if (c == 0xc2 || c == 0xc3) {
        if (w->out)
            busBuf_Append(w->out, c == 0xc3 ? "true" : "false", c == 0xc3 ? 4 : 5);
    } else if (c >= 0xc4 && c <= 0xc6) {
        return walk_bytes(w, 1 << (c - 0xc4), false);
    } else if (c >= 0xd9 && c <= 0xdb) {
        return walk_bytes(w, 1 << (c - 0xd9), true);
    } else if (c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf) {
        int lb = (c == 0xdc || c == 0xde) ? 2 : 4;
        if ((st = need(w, (size_t)lb)) != IBB_OK)
            return st;
        uint64_t n = be(w->p, lb);
        w->p += lb;
        return walk_container(w, depth, n, c >= 0xde);
    } else {
        return walk_scalar(w, c);
    }
    return IBB_OK;
}

static ibbStatus walk_all(mpWalk *w)
{
    if (w->p == w->end)
        return walk_fail(w, IBB_ERR_TRUNCATED, "empty MessagePack body");
    ibbStatus st = walk_value(w, 0, false);
    if (st == IBB_OK && w->p != w->end)
        st = walk_fail(w, IBB_ERR_TRAILING, "%zu bytes after the end of the MessagePack object (at byte %zu)",
                       left(w), at(w));
    if (st == IBB_OK && w->out && w->out->oom)
        st = walk_fail(w, IBB_ERR_NOMEM, "out of memory");
    return st;
}

ibbStatus busMsgpack_Check(const char *mp, size_t len, bool str_keys, char *err, size_t errcap)
{
    if (mp == NULL && len > 0)
        return IBB_ERR_INVALID_ARG;
    mpWalk w = {(const unsigned char *)mp, (const unsigned char *)mp, (const unsigned char *)mp + len, NULL,
                str_keys, err, errcap};
    return walk_all(&w);
}

ibbStatus busJson_FromMsgpack(busBuf *out, const char *mp, size_t len)
{
    if (out == NULL || (mp == NULL && len > 0))
        return IBB_ERR_INVALID_ARG;
    mpWalk w = {(const unsigned char *)mp, (const unsigned char *)mp, (const unsigned char *)mp + len, out,
                true, NULL, 0};
    return walk_all(&w);
}

/* ------------------------------------------------------------------------------------------------
 * JSON -> MessagePack */

static int pack_json(msgpack_packer *pk, json_t *v, int depth)
{
    if (depth > BUS_MAX_DEPTH)
        return -2;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t klen;
        json_t *val;
        if (msgpack_pack_map(pk, json_object_size(v)) != 0)
            return -1;
        json_object_keylen_foreach(v, key, klen, val) {
            if (msgpack_pack_str_with_body(pk, key, klen) != 0)
                return -1;
            int rc = pack_json(pk, val, depth + 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (msgpack_pack_array(pk, n) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            int rc = pack_json(pk, json_array_get(v, i), depth + 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    case JSON_STRING:
        return msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v));
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    }
    return -1;
}

ibbStatus busJson_ToMsgpack(msgpack_sbuffer *out, const char *json, size_t len, char *err, size_t errcap)
{
    if (out == NULL || (json == NULL && len > 0))
        return IBB_ERR_INVALID_ARG;
    json_error_t je;
    json_t *root =
        json_loadb(json ? json : "", len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        if (err && errcap)
            snprintf(err, errcap, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        return IBB_ERR_PROTOCOL;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = pack_json(&pk, root, 0);
    json_decref(root);
    if (rc == -2) {
        if (err && errcap)
            snprintf(err, errcap, "body nested deeper than %d levels", BUS_MAX_DEPTH);
        return IBB_ERR_LIMIT;
    }
    if (rc != 0) {
        if (err && errcap)
            snprintf(err, errcap, "out of memory");
        return IBB_ERR_NOMEM;
    }
    return IBB_OK;
}
