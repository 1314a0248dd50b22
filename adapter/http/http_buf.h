/* http_buf.h — a growable byte buffer with a reserved head room, and JSON string escaping.
 *
 * The head room (`pre` bytes before the data) lets a buffer go straight to lws_write(), which needs
 * LWS_PRE writable bytes in front of the payload. The buffer owns its memory; httpBuf_Free releases
 * it. A failed allocation sets a sticky `oom` flag and further appends are ignored: check once at
 * the end. Loop-thread only, like everything in http/ except http_bus.c's nats.c callbacks. */
#ifndef HTTP_BUF_H
#define HTTP_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct httpBuf {
    char *mem;        /* pre + cap bytes, or NULL */
    size_t pre;       /* head room in front of the data */
    size_t len, cap;  /* data bytes used / available after the head room */
    int oom;
} httpBuf;

void httpBuf_Init(httpBuf *b, size_t pre);
void httpBuf_Free(httpBuf *b);
void httpBuf_Reset(httpBuf *b);                        /* len = 0, keeps memory */
char *httpBuf_Data(httpBuf *b);                        /* NUL-terminated while !oom */
void httpBuf_Append(httpBuf *b, const void *p, size_t n);
void httpBuf_Puts(httpBuf *b, const char *s);
void httpBuf_Printf(httpBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (n bytes) as a quoted JSON string, escaping control characters, '"' and '\\'. */
void httpBuf_JsonStr(httpBuf *b, const char *s, size_t n);
/* Appends a double in the shortest of %.15g / %.16g / %.17g that reads back exactly (ibbFmt_Double);
 * NaN/Inf as null. */
void httpBuf_JsonNum(httpBuf *b, double v);

/* Monotonic clock in microseconds. */
int64_t http_nowUs(void);

#endif
