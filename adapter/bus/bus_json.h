/* bus_json.h — the bus encodings: a MessagePack checker, the MessagePack -> JSON writer, and the
 * JSON -> MessagePack reader (jansson). Pure functions: no NATS, no loop, no IB.
 *
 * A payload on the bus is a MessagePack map with string keys, or the same object as JSON. Handlers
 * only ever see MessagePack: JSON bodies are parsed with jansson and re-packed (64-bit integers
 * kept exact). Replies are packed once; a JSON reply is written straight from the packed bytes.
 *
 * Ownership: busBuf is caller-allocated (busBuf_Init / busBuf_Free) and owns its bytes; it keeps its
 * allocation across busBuf_Reset, so a long-lived busBuf costs no allocation per message.
 * Threads: every function here is reentrant; a busBuf belongs to one thread at a time. */
#ifndef BUS_JSON_H
#define BUS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "ibb_status.h"

/* Deepest container nesting accepted anywhere (msgpack-c's unpacker stops at 32). */
#define BUS_MAX_DEPTH 24

/* A growable byte buffer with a sticky allocation error — the one buffer type of bus/ and http/.
 * Optional head room: `pre` writable bytes in front of data (busBuf_InitPre), so a buffer can go
 * straight to lws_write(), which needs LWS_PRE bytes before the payload. */
typedef struct busBuf {
    char *data;
    size_t len, cap;
    bool oom;
    size_t pre;       /* head room in front of data (kept across Reset and Free) */
} busBuf;

void busBuf_Init(busBuf *b);
void busBuf_InitPre(busBuf *b, size_t pre);
void busBuf_Free(busBuf *b);
static inline void busBuf_Reset(busBuf *b) { b->len = 0; b->oom = false; }
void busBuf_Append(busBuf *b, const void *p, size_t n);
void busBuf_Puts(busBuf *b, const char *s);
void busBuf_Printf(busBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes data NUL-terminated (not counted in len); returns data or NULL after an allocation error. */
const char *busBuf_CStr(busBuf *b);

/* Checks that [mp, mp+len) is exactly one well-formed MessagePack object: every length inside the
 * input, nesting <= BUS_MAX_DEPTH, no trailing bytes, no reserved byte 0xc1, and (when str_keys)
 * every map key a string. Container counts are checked against the bytes left, so unpacking a
 * checked buffer with msgpack-c never asks for absurd amounts of memory.
 * On error, err (may be NULL) gets a sentence a person can act on ("truncated at byte 7"). */
ibbStatus busMsgpack_Check(const char *mp, size_t len, bool str_keys, char *err, size_t errcap);

/* Appends the JSON text of one MessagePack object to out. Strings are escaped per RFC 8259
 * (control characters as \u00XX; invalid UTF-8 becomes U+FFFD), integers are exact (the full
 * int64/uint64 range), doubles use the shortest of %.15g/%.16g/%.17g that reads back identically
 * and always carry '.' or an exponent (1.0, not 1), NaN and infinities become null, bin becomes
 * a base64 string. Map keys must be strings and ext types are refused (IBB_ERR_INVALID_ARG).
 * Malformed input gives IBB_ERR_PROTOCOL / IBB_ERR_TRUNCATED / IBB_ERR_TRAILING / IBB_ERR_LIMIT;
 * out may then hold a partial text (the caller resets it). */
ibbStatus busJson_FromMsgpack(busBuf *out, const char *mp, size_t len);

/* Appends one double as JSON (see above). */
void busJson_Double(busBuf *out, double v);
/* Appends s[0..n) as a quoted, escaped JSON string. */
void busJson_String(busBuf *out, const char *s, size_t n);

/* Parses JSON text and packs the value into out (appended). Duplicate keys are refused, "\u0000"
 * is allowed inside strings. Integers outside int64 are refused by the parser. On error err gets
 * jansson's message with line and column. IBB_ERR_PROTOCOL for malformed JSON. */
ibbStatus busJson_ToMsgpack(msgpack_sbuffer *out, const char *json, size_t len, char *err, size_t errcap);

#endif
