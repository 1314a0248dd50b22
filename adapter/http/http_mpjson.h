/* http_mpjson.h — MessagePack to JSON text into an httpBuf (for quote streams and MessagePack replies):
 * a thin adapter over ibb_bus' busJson_FromMsgpack, which defines the rules (bin as base64, NaN as
 * null, string keys only). */
#ifndef HTTP_MPJSON_H
#define HTTP_MPJSON_H

#include <stddef.h>

#include "http_buf.h"
#include "ibb_status.h"

/* Appends the JSON form of the one MessagePack object in data[0..len) to out.
 * IBB_ERR_PROTOCOL for malformed or trailing input; IBB_ERR_NOMEM. */
ibbStatus http_msgpackToJson(const char *data, size_t len, httpBuf *out);

#endif
