/* bus_obj.h — request bodies: decoding (MessagePack or JSON into one msgpack_object), typed getters
 * for handlers, and small packing helpers for replies. No NATS, no loop, no IB.
 *
 * Encoding rule (BRIEF "Encoding"): a JSON body, an empty body, or a Content-Type header starting
 * with application/json gets a JSON reply; a MessagePack body gets MessagePack. A body whose first
 * byte is below 0x80 is JSON (no MessagePack map starts there; whitespace, '{' and '[' all do).
 * "Content-Type: application/msgpack" forces MessagePack.
 *
 * Ownership: busBody is caller-allocated (busBody_Init / busBody_Free). After a successful
 * busBody_Decode the root object's strings point into EITHER the input bytes (MessagePack: keep
 * them alive as long as the body) OR the body's own re-packed buffer (JSON). Copy what you keep.
 * Getters borrow: *s points into the body. Threads: reentrant; one body belongs to one thread. */
#ifndef BUS_OBJ_H
#define BUS_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ibb_status.h"

typedef enum busEncoding {
    BUS_ENC_MSGPACK = 0,
    BUS_ENC_JSON = 1,
} busEncoding;

const char *busEncoding_Name(busEncoding e); /* "msgpack" / "json" */

/* The encoding a body is read in and answered in (the rule above). content_type may be NULL. */
busEncoding busEncoding_Detect(const char *data, size_t len, const char *content_type);

typedef struct busBody {
    busEncoding enc;
    msgpack_object root;      /* always a MAP after a successful decode */
    msgpack_unpacked up;      /* owns the zone of root's arrays/maps */
    msgpack_sbuffer repacked; /* JSON bodies re-packed as MessagePack */
} busBody;

void busBody_Init(busBody *b);
void busBody_Free(busBody *b);

/* Decodes a request body. Returns:
 *   IBB_OK                    root is a map (an empty body is an empty map)
 *   IBB_ERR_FRAME_TOO_LARGE   len > max_len (max_len 0 = no limit)       -> slug payload_too_large
 *   IBB_ERR_PROTOCOL etc.     malformed, not a map, non-string keys, too deep -> slug bad_request
 * b->enc is set even on error (so the error reply goes out in the request's encoding), and err
 * gets a sentence for the error message. */
ibbStatus busBody_Decode(busBody *b, const char *data, size_t len, const char *content_type, size_t max_len,
                         char *err, size_t errcap);

/* ------------------------------------------------------------------------------------------------
 * Getters on a map. All return:
 *   IBB_OK               found with the right type (out-parameters set)
 *   IBB_ERR_NOT_FOUND    key absent, or present as nil/null (out-parameters untouched)
 *   IBB_ERR_INVALID_ARG  present with the wrong type (or map is not a map)
 *   IBB_ERR_BAD_NUMBER   a number that does not fit (Int: not integral or outside int64)
 *   IBB_ERR_LIMIT        StrCopy: longer than the buffer, or contains a NUL byte */
const msgpack_object *busObj_Get(const msgpack_object *map, const char *key);
ibbStatus busObj_Str(const msgpack_object *map, const char *key, const char **s, size_t *len);
ibbStatus busObj_StrCopy(const msgpack_object *map, const char *key, char *buf, size_t cap);
/* Accepts integers, and floats with an integral value in range (JSON clients write 1e3). */
ibbStatus busObj_Int(const msgpack_object *map, const char *key, int64_t *v);
/* Accepts floats and integers. */
ibbStatus busObj_Double(const msgpack_object *map, const char *key, double *v);
ibbStatus busObj_Bool(const msgpack_object *map, const char *key, bool *v);
ibbStatus busObj_Array(const msgpack_object *map, const char *key, const msgpack_object_array **arr);
ibbStatus busObj_Map(const msgpack_object *map, const char *key, const msgpack_object **obj);

/* "field 'qty' is required (integer)" / "field 'qty' must be an integer" / ... for a getter
 * status; writes into buf and returns buf. want names the expected type ("string", "integer"). */
const char *busObj_FieldError(char *buf, size_t cap, const char *key, ibbStatus st, const char *want);

/* ------------------------------------------------------------------------------------------------
 * Packing helpers (NUL-terminated strings; NULL packs nil). */
int busPack_Str(msgpack_packer *pk, const char *s);
int busPack_KeyStr(msgpack_packer *pk, const char *key, const char *val);
int busPack_KeyInt(msgpack_packer *pk, const char *key, int64_t val);
int busPack_KeyDouble(msgpack_packer *pk, const char *key, double val);
int busPack_KeyBool(msgpack_packer *pk, const char *key, bool val);

#endif
