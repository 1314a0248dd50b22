/* ib_wire.c — framing, field writer and field reader; see ib_wire.h. */
#include "ib_wire.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================== */
/* ibWriter                                                                                        */
/* ============================================================================================== */

void ibWriter_Init(ibWriter *w) { memset(w, 0, sizeof *w); }

void ibWriter_Free(ibWriter *w)
{
    if (!w)
        return;
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void ibWriter_Reset(ibWriter *w)
{
    w->len = 0;
    w->msg_start = 0;
    w->err = IBB_OK;
}

static bool reserve(ibWriter *w, size_t extra)
{
    if (w->err != IBB_OK)
        return false;
    if (w->len + extra <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + extra)
        cap *= 2;
    char *nb = realloc(w->buf, cap);
    if (!nb) {
        w->err = IBB_ERR_NOMEM;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

ibbStatus ibWriter_Handshake(ibWriter *w, int min_version, int max_version, const char *connect_opts)
{
    char text[128];
    int n = (min_version == max_version) ? snprintf(text, sizeof text, "v%d", min_version)
                                         : snprintf(text, sizeof text, "v%d..%d", min_version, max_version);
    if (connect_opts && *connect_opts)
        n += snprintf(text + n, sizeof text - (size_t)n, " %s", connect_opts);
    if (n <= 0 || (size_t)n >= sizeof text)
        return IBB_ERR_INVALID_ARG;
    if (!reserve(w, 8 + (size_t)n))
        return w->err;
    memcpy(w->buf + w->len, "API\0", 4);
    put_be32(w->buf + w->len + 4, (uint32_t)n);
    memcpy(w->buf + w->len + 8, text, (size_t)n);
    w->len += 8 + (size_t)n;
    return IBB_OK;
}

void ibWriter_Begin(ibWriter *w)
{
    if (!reserve(w, 4))
        return;
    w->msg_start = w->len;
    w->len += 4;
}

ibbStatus ibWriter_End(ibWriter *w)
{
    if (w->err != IBB_OK)
        return w->err;
    size_t n = w->len - w->msg_start - 4;
    if (n > IB_MAX_FRAME) {
        w->len = w->msg_start; /* drop the oversized frame, keep earlier ones */
        w->err = IBB_ERR_FRAME_TOO_LARGE;
        return w->err;
    }
    put_be32(w->buf + w->msg_start, (uint32_t)n);
    return IBB_OK;
}

void ibWriter_StrN(ibWriter *w, const char *s, size_t n)
{
    if (!reserve(w, n + 1))
        return;
    if (n)
        memcpy(w->buf + w->len, s, n);
    w->buf[w->len + n] = '\0';
    w->len += n + 1;
}

void ibWriter_Str(ibWriter *w, const char *s) { ibWriter_StrN(w, s ? s : "", s ? strlen(s) : 0); }

void ibWriter_Int(ibWriter *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    ibWriter_StrN(w, tmp, (size_t)n);
}

void ibWriter_IntMax(ibWriter *w, int64_t v)
{
    if (ib_isUnsetInt(v))
        ibWriter_StrN(w, "", 0);
    else
        ibWriter_Int(w, v);
}

void ibWriter_Bool(ibWriter *w, bool v) { ibWriter_StrN(w, v ? "1" : "0", 1); }

/* Shortest digit count that round-trips, and the decimal exponent of the first digit. */
static int shortest_digits(double v, int *exp10)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) {
            *exp10 = atoi(strchr(tmp, 'e') + 1);
            return prec;
        }
    }
    snprintf(tmp, sizeof tmp, "%.16e", v);
    *exp10 = atoi(strchr(tmp, 'e') + 1);
    return 17;
}

size_t ib_formatDouble(char *out, size_t cap, double v)
{
    int n;
    if (isnan(v))
        n = snprintf(out, cap, "nan");
    else if (isinf(v))
        n = snprintf(out, cap, v > 0 ? "inf" : "-inf");
    else if (v == 0.0)
        n = snprintf(out, cap, signbit(v) ? "-0.0" : "0.0");
    else {
        /* Python repr: fixed notation when -4 <= exponent < 16, else scientific. */
        int e10, digits = shortest_digits(v, &e10);
        if (e10 >= -4 && e10 < 16) {
            int decimals = digits - 1 - e10;
            n = snprintf(out, cap, "%.*f", decimals > 0 ? decimals : 0, v);
            if (n > 0 && (size_t)n + 2 < cap && decimals <= 0) {
                memcpy(out + n, ".0", 3);
                n += 2;
            }
        } else {
            n = snprintf(out, cap, "%.*e", digits - 1, v);
        }
    }
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

void ibWriter_Double(ibWriter *w, double v)
{
    char tmp[48];
    size_t n = ib_formatDouble(tmp, sizeof tmp, v);
    ibWriter_StrN(w, tmp, n);
}

void ibWriter_DoubleMax(ibWriter *w, double v)
{
    if (ib_isUnsetDouble(v))
        ibWriter_StrN(w, "", 0);
    else if (isinf(v) && v > 0)
        ibWriter_Str(w, "Infinity");
    else
        ibWriter_Double(w, v);
}

void ibWriter_Decimal(ibWriter *w, double v)
{
    if (ib_isUnsetDouble(v) || isnan(v)) {
        ibWriter_StrN(w, "", 0);
    } else if (v == floor(v) && fabs(v) < 1e15) {
        ibWriter_Int(w, (int64_t)v);
    } else {
        ibWriter_Double(w, v);
    }
}

/* ============================================================================================== */
/* ibReader                                                                                        */
/* ============================================================================================== */

void ibReader_Init(ibReader *r, const char *payload, size_t len)
{
    r->p = payload;
    r->end = payload + len;
    r->index = 0;
    r->err = IBB_OK;
    r->err_index = -1;
    if (len == 0 || payload[len - 1] != '\0')
        ibReader_Fail(r, IBB_ERR_PROTOCOL);
}

void ibReader_Fail(ibReader *r, ibbStatus err)
{
    if (r->err == IBB_OK) {
        r->err = err;
        r->err_index = r->index;
    }
}

int ibReader_Remaining(const ibReader *r)
{
    int n = 0;
    for (const char *p = r->p; p < r->end; p++)
        n += (*p == '\0');
    return n;
}

bool ibReader_AtEnd(const ibReader *r) { return r->p >= r->end; }

/* Next raw field; NULL (and a sticky error) when none is left. */
static const char *next_field(ibReader *r, size_t *len)
{
    if (r->err != IBB_OK)
        return NULL;
    if (r->p >= r->end) {
        ibReader_Fail(r, IBB_ERR_TRUNCATED);
        return NULL;
    }
    const char *s = r->p;
    const char *nul = memchr(s, '\0', (size_t)(r->end - s));
    /* ibReader_Init checked the final NUL, so nul is never NULL here. */
    *len = (size_t)(nul - s);
    r->p = nul + 1;
    r->index++;
    return s;
}

const char *ibReader_Str(ibReader *r)
{
    size_t len;
    const char *s = next_field(r, &len);
    return s ? s : "";
}

static bool parse_i64(const char *s, int64_t *out)
{
    errno = 0;
    char *endp;
    long long v = strtoll(s, &endp, 10);
    if (endp == s || *endp != '\0' || errno == ERANGE)
        return false;
    *out = (int64_t)v;
    return true;
}

/* Reads an integer field; *empty tells whether it was "". */
static int64_t read_int(ibReader *r, bool *empty)
{
    size_t len;
    const char *s = next_field(r, &len);
    *empty = (s == NULL || len == 0);
    if (*empty)
        return 0;
    int64_t v;
    if (!parse_i64(s, &v)) {
        r->index--; /* report the bad field's own index */
        ibReader_Fail(r, IBB_ERR_BAD_NUMBER);
        r->index++;
        return 0;
    }
    return v;
}

int64_t ibReader_Int(ibReader *r)
{
    bool empty;
    return read_int(r, &empty);
}

int64_t ibReader_IntMax(ibReader *r)
{
    bool empty;
    int64_t v = read_int(r, &empty);
    return (empty || ib_isUnsetInt(v)) ? IB_UNSET_INT : v;
}

bool ibReader_Bool(ibReader *r) { return ibReader_Int(r) != 0; }

static double read_double(ibReader *r, bool *empty)
{
    size_t len;
    const char *s = next_field(r, &len);
    *empty = (s == NULL || len == 0);
    if (*empty)
        return 0.0;
    if (strcmp(s, "Infinity") == 0 || strcmp(s, "Infinite") == 0)
        return INFINITY;
    if (strcmp(s, "-Infinity") == 0)
        return -INFINITY;
    char *endp;
    double v = strtod(s, &endp);
    if (endp == s || *endp != '\0') {
        r->index--;
        ibReader_Fail(r, IBB_ERR_BAD_NUMBER);
        r->index++;
        return 0.0;
    }
    return v;
}

double ibReader_Double(ibReader *r)
{
    bool empty;
    return read_double(r, &empty);
}

double ibReader_DoubleMax(ibReader *r)
{
    bool empty;
    double v = read_double(r, &empty);
    return (empty || v >= DBL_MAX) ? IB_UNSET_DOUBLE : v;
}

double ibReader_Decimal(ibReader *r)
{
    bool empty;
    double v = read_double(r, &empty);
    /* "", 2147483647, 2^63-1, -2^63, DBL_MAX and 2^127-1 all mean unset (PROTOCOL.md §1.3). */
    if (empty || v == 2147483647.0 || fabs(v) >= 9.2233720368547e18)
        return IB_UNSET_DOUBLE;
    return v;
}

void ibReader_Skip(ibReader *r, int n)
{
    size_t len;
    for (int i = 0; i < n && r->err == IBB_OK; i++)
        next_field(r, &len);
}

int ibReader_Count(ibReader *r, int max, int fields_each)
{
    int64_t v = ibReader_Int(r);
    if (r->err != IBB_OK)
        return 0;
    if (v < 0 || v > max || (fields_each > 0 && v > ibReader_Remaining(r) / fields_each)) {
        r->index--;
        ibReader_Fail(r, IBB_ERR_PROTOCOL);
        r->index++;
        return 0;
    }
    return (int)v;
}

/* ============================================================================================== */
/* ibFramer                                                                                        */
/* ============================================================================================== */

#define HANDSHAKE_MAX 1024u

struct ibFramer {
    ibFramerMode mode;
    int stage;          /* server mode: 0 = want "API\0", 1 = want version text, 2 = frames */
    char *buf;
    size_t start, len, cap; /* unread bytes are buf[start .. start+len) */
    char handshake[HANDSHAKE_MAX + 1];
};

ibbStatus ibFramer_Create(ibFramer **out, ibFramerMode mode)
{
    if (!out)
        return IBB_ERR_INVALID_ARG;
    ibFramer *f = calloc(1, sizeof *f);
    if (!f)
        return IBB_ERR_NOMEM;
    f->mode = mode;
    f->stage = (mode == IB_FRAMER_SERVER) ? 0 : 2;
    *out = f;
    return IBB_OK;
}

void ibFramer_Destroy(ibFramer *f)
{
    if (!f)
        return;
    free(f->buf);
    free(f);
}

void ibFramer_Reset(ibFramer *f)
{
    if (!f)
        return;
    f->start = f->len = 0;
    f->stage = (f->mode == IB_FRAMER_SERVER) ? 0 : 2;
}

size_t ibFramer_Pending(const ibFramer *f) { return f ? f->len : 0; }

ibbStatus ibFramer_Feed(ibFramer *f, const void *data, size_t len)
{
    if (!f || (!data && len))
        return IBB_ERR_INVALID_ARG;
    if (f->start > 0 && (f->start + f->len + len > f->cap || f->len == 0)) {
        memmove(f->buf, f->buf + f->start, f->len); /* compact before growing */
        f->start = 0;
    }
    if (f->start + f->len + len > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->start + f->len + len)
            cap *= 2;
        char *nb = realloc(f->buf, cap);
        if (!nb)
            return IBB_ERR_NOMEM;
        f->buf = nb;
        f->cap = cap;
    }
    if (len)
        memcpy(f->buf + f->start + f->len, data, len);
    f->len += len;
    return IBB_OK;
}

static uint32_t get_be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) | ((uint32_t)u[2] << 8) | u[3];
}

static void consume(ibFramer *f, size_t n)
{
    f->start += n;
    f->len -= n;
}

ibbStatus ibFramer_Next(ibFramer *f, const char **payload, size_t *len, bool *is_handshake)
{
    if (!f || !payload || !len)
        return IBB_ERR_INVALID_ARG;
    if (is_handshake)
        *is_handshake = false;
    if (f->len == 0)
        return IBB_NEED_MORE; /* nothing buffered (buf may still be NULL) */
    const char *p = f->buf + f->start;
    if (f->stage == 0) {
        size_t have = f->len < 4 ? f->len : 4;
        if (memcmp(p, "API", have < 3 ? have : 3) != 0 || (have == 4 && p[3] != '\0'))
            return IBB_ERR_PROTOCOL;
        if (have < 4)
            return IBB_NEED_MORE;
        consume(f, 4);
        f->stage = 1;
        p = f->buf + f->start;
    }
    if (f->len < 4)
        return IBB_NEED_MORE;
    uint32_t n = get_be32(p);
    if (f->stage == 1) {
        if (n == 0 || n > HANDSHAKE_MAX)
            return IBB_ERR_PROTOCOL;
        if (f->len < 4 + (size_t)n)
            return IBB_NEED_MORE;
        memcpy(f->handshake, p + 4, n);
        f->handshake[n] = '\0';
        consume(f, 4 + (size_t)n);
        f->stage = 2;
        *payload = f->handshake;
        *len = (size_t)n + 1;
        if (is_handshake)
            *is_handshake = true;
        return IBB_OK;
    }
    if (n > IB_MAX_FRAME)
        return IBB_ERR_FRAME_TOO_LARGE;
    if (n == 0)
        return IBB_ERR_PROTOCOL;
    if (f->len < 4 + (size_t)n)
        return IBB_NEED_MORE;
    if (p[4 + n - 1] != '\0')
        return IBB_ERR_PROTOCOL; /* every field, the last one too, ends with NUL */
    *payload = p + 4;
    *len = n;
    consume(f, 4 + (size_t)n);
    return IBB_OK;
}

ibbStatus ib_parseVersionRange(const char *text, int *min_version, int *max_version)
{
    if (!text || text[0] != 'v')
        return IBB_ERR_PROTOCOL;
    char *endp;
    long lo = strtol(text + 1, &endp, 10);
    if (endp == text + 1 || lo <= 0 || lo > 100000)
        return IBB_ERR_PROTOCOL;
    long hi = lo;
    if (endp[0] == '.' && endp[1] == '.') {
        const char *q = endp + 2;
        hi = strtol(q, &endp, 10);
        if (endp == q || hi < lo || hi > 100000)
            return IBB_ERR_PROTOCOL;
    }
    if (*endp != '\0' && *endp != ' ')
        return IBB_ERR_PROTOCOL;
    *min_version = (int)lo;
    *max_version = (int)hi;
    return IBB_OK;
}
