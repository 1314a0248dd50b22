/* http_buf.c — growable buffer and JSON string helpers (see http_buf.h). */
#include "http_buf.h"

#include "ibb_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void httpBuf_Init(httpBuf *b, size_t pre)
{
    memset(b, 0, sizeof *b);
    b->pre = pre;
}

void httpBuf_Free(httpBuf *b)
{
    free(b->mem);
    b->mem = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void httpBuf_Reset(httpBuf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->mem)
        b->mem[b->pre] = '\0';
}

static int reserve(httpBuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->mem && b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *m = realloc(b->mem, b->pre + cap);
    if (!m) {
        b->oom = 1;
        return -1;
    }
    b->mem = m;
    b->cap = cap;
    return 0;
}

char *httpBuf_Data(httpBuf *b)
{
    if (!b->mem && reserve(b, 0) != 0)
        return NULL;
    b->mem[b->pre + b->len] = '\0';
    return b->mem + b->pre;
}

void httpBuf_Append(httpBuf *b, const void *p, size_t n)
{
    if (reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->mem + b->pre + b->len, p, n);
    b->len += n;
    b->mem[b->pre + b->len] = '\0';
}

void httpBuf_Puts(httpBuf *b, const char *s)
{
    httpBuf_Append(b, s, strlen(s));
}

void httpBuf_Printf(httpBuf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[256];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        httpBuf_Append(b, tmp, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->mem + b->pre + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, surrogates or > U+10FFFF),
 * or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Invalid UTF-8 (e.g. a jansson error message quoting a client's truncated bytes) becomes U+FFFD,
 * so the output is always valid JSON. */
void httpBuf_JsonStr(httpBuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (reserve(b, n + 2) != 0)
        return;
    httpBuf_Append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t u = utf8_len((const unsigned char *)s + i, n - i);
            if (u) {
                i += u - 1;
                continue;
            }
            httpBuf_Append(b, s + run, i - run);
            run = i + 1;
            httpBuf_Append(b, "\\ufffd", 6);
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        httpBuf_Append(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"': httpBuf_Append(b, "\\\"", 2); break;
        case '\\': httpBuf_Append(b, "\\\\", 2); break;
        case '\n': httpBuf_Append(b, "\\n", 2); break;
        case '\r': httpBuf_Append(b, "\\r", 2); break;
        case '\t': httpBuf_Append(b, "\\t", 2); break;
        default: httpBuf_Append(b, esc, 6); break;
        }
    }
    httpBuf_Append(b, s + run, n - run);
    httpBuf_Append(b, "\"", 1);
}

void httpBuf_JsonNum(httpBuf *b, double v)
{
    if (!isfinite(v)) {
        httpBuf_Puts(b, "null");
        return;
    }
    char tmp[40];
    httpBuf_Append(b, tmp, ibbFmt_Double(tmp, sizeof tmp, v));
}

int64_t http_nowUs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
