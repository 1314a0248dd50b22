/* ib_wire.h — TWS API wire layer: framing, field writer, field reader (PROTOCOL.md §1, §2.1).
 *
 * A building block: no NATS, no config, no event loop. Used by the adapter and by ib-sim.
 *
 *   frame   = uint32_be(N) + N bytes of payload, N <= IB_MAX_FRAME
 *   payload = field "\0" field "\0" ... (every field NUL-terminated, the last one too)
 *
 * Ownership:
 *   ibWriter  caller-allocated (libuv style): ibWriter_Init, then ibWriter_Free. It owns its buffer.
 *   ibReader  caller-allocated, owns nothing: it reads a payload the caller keeps alive.
 *   ibFramer  opaque, ibFramer_Create / ibFramer_Destroy (NULL-safe). A payload returned by
 *             ibFramer_Next stays valid until the next ibFramer_Feed, ibFramer_Reset or Destroy. */
#ifndef IB_WIRE_H
#define IB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"

#define IB_MAX_FRAME 0xFFFFFFu

/* Unset sentinels (PROTOCOL.md §1.4). Readers map every unset spelling to these. */
#define IB_UNSET_INT ((int64_t)2147483647)
#define IB_UNSET_LONG INT64_MAX
#define IB_UNSET_DOUBLE 1.7976931348623157e308 /* DBL_MAX */

static inline bool ib_isUnsetInt(int64_t v) { return v == IB_UNSET_INT || v == IB_UNSET_LONG; }
static inline bool ib_isUnsetDouble(double v) { return v == IB_UNSET_DOUBLE; }

/* ------------------------------------------------------------------------------------------------
 * ibWriter: builds one or more frames in a growable buffer. Errors are sticky: after an allocation
 * failure or an oversized frame every call is a no-op and ibWriter_End reports the error. */
typedef struct ibWriter {
    char *buf;
    size_t len, cap;
    size_t msg_start;   /* offset of the current frame's length prefix */
    ibbStatus err;
} ibWriter;

void ibWriter_Init(ibWriter *w);
void ibWriter_Free(ibWriter *w);
/* Forgets all bytes (keeps the allocation) and clears the error. */
void ibWriter_Reset(ibWriter *w);

/* The client's opening bytes: "API\0" + uint32_be(L) + "v<min>..<max>[ <opts>]" (no NUL). */
ibbStatus ibWriter_Handshake(ibWriter *w, int min_version, int max_version, const char *connect_opts);

/* Starts a frame; fields follow; ibWriter_End patches the length prefix. */
void ibWriter_Begin(ibWriter *w);
ibbStatus ibWriter_End(ibWriter *w);

void ibWriter_Str(ibWriter *w, const char *s);        /* NULL writes "" */
void ibWriter_StrN(ibWriter *w, const char *s, size_t n);
void ibWriter_Int(ibWriter *w, int64_t v);            /* decimal */
void ibWriter_IntMax(ibWriter *w, int64_t v);         /* unset (2^31-1 or INT64_MAX) -> "" */
void ibWriter_Bool(ibWriter *w, bool v);              /* "1" / "0" */
/* Doubles in the official Python client's spelling: shortest round-trip text, always with a
 * '.' or exponent ("185.5", "0.0", "1.7976931348623157e+308"). Never locale dependent. */
void ibWriter_Double(ibWriter *w, double v);
void ibWriter_DoubleMax(ibWriter *w, double v);       /* unset -> "", +inf -> "Infinity" */
/* A Decimal quantity ("100", "0.5"): integers without ".0"; unset -> "". */
void ibWriter_Decimal(ibWriter *w, double v);

/* Bytes written so far (all complete frames once End has returned IBB_OK). */
static inline const char *ibWriter_Data(const ibWriter *w) { return w->buf; }
static inline size_t ibWriter_Len(const ibWriter *w) { return w->len; }

/* Formats a double like ibWriter_Double into out (>= 32 bytes); returns the length. */
size_t ib_formatDouble(char *out, size_t cap, double v);

/* ------------------------------------------------------------------------------------------------
 * ibReader: sequential field reader over one payload. Errors are sticky: after the first problem
 * every read returns a zero value and ibReader_Status tells what went wrong, so a decoder reads
 * all its fields and checks once at the end. Strings point into the payload (NUL-terminated). */
typedef struct ibReader {
    const char *p, *end;
    int index;          /* fields consumed so far */
    ibbStatus err;
    int err_index;      /* field index of the first error (-1 if none) */
} ibReader;

/* payload must end with a NUL (ibFramer_Next guarantees it). */
void ibReader_Init(ibReader *r, const char *payload, size_t len);
static inline ibbStatus ibReader_Status(const ibReader *r) { return r->err; }
/* Number of fields left. */
int ibReader_Remaining(const ibReader *r);
bool ibReader_AtEnd(const ibReader *r);
/* Fails the reader with `err` (used by decoders for semantic errors such as absurd counts). */
void ibReader_Fail(ibReader *r, ibbStatus err);

const char *ibReader_Str(ibReader *r);         /* "" after an error */
int64_t ibReader_Int(ibReader *r);             /* "" -> 0 */
int64_t ibReader_IntMax(ibReader *r);          /* "" or a sentinel -> IB_UNSET_INT */
bool ibReader_Bool(ibReader *r);               /* "" -> false; any non-zero integer -> true */
double ibReader_Double(ibReader *r);           /* "" -> 0 */
double ibReader_DoubleMax(ibReader *r);        /* "" or a sentinel -> IB_UNSET_DOUBLE */
double ibReader_Decimal(ibReader *r);          /* "" or a sentinel -> IB_UNSET_DOUBLE */
void ibReader_Skip(ibReader *r, int n);
/* Reads a count for a repeated block; fails with IBB_ERR_PROTOCOL when negative or larger than
 * `max` or than the fields left divided by `fields_each` (absurd counts never allocate). */
int ibReader_Count(ibReader *r, int max, int fields_each);

/* ------------------------------------------------------------------------------------------------
 * ibFramer: incremental frame decoder. Feed it whatever the socket gave, in any chunking, then
 * call Next until it says IBB_NEED_MORE. The same frames come out however the bytes were split. */
typedef struct ibFramer ibFramer;

typedef enum ibFramerMode {
    IB_FRAMER_CLIENT = 0,   /* reads server frames */
    IB_FRAMER_SERVER = 1,   /* reads "API\0" + the version-range string first, then client frames */
} ibFramerMode;

ibbStatus ibFramer_Create(ibFramer **out, ibFramerMode mode);
void ibFramer_Destroy(ibFramer *f);
void ibFramer_Reset(ibFramer *f);
/* Appends bytes. IBB_ERR_NOMEM, or IBB_OK. */
ibbStatus ibFramer_Feed(ibFramer *f, const void *data, size_t len);
/* IBB_OK with the next payload (NUL-terminated fields; *len includes the final NUL),
 * IBB_NEED_MORE, or a protocol error (IBB_ERR_FRAME_TOO_LARGE, IBB_ERR_PROTOCOL) after which the
 * connection must be reset. In IB_FRAMER_SERVER mode the first payload is the version-range text
 * (e.g. "v100..176"), NUL-terminated by the framer; *is_handshake tells (may be NULL). */
ibbStatus ibFramer_Next(ibFramer *f, const char **payload, size_t *len, bool *is_handshake);
/* Bytes buffered and not yet returned. */
size_t ibFramer_Pending(const ibFramer *f);

/* Parses "v<min>..<max>[ opts]" (or "v<n>"); IBB_ERR_PROTOCOL when malformed. */
ibbStatus ib_parseVersionRange(const char *text, int *min_version, int *max_version);

#endif
