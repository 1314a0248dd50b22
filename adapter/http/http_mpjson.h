/* http_mpjson.h — MessagePack to JSON text appended to a busBuf (for quote streams and MessagePack
 * replies): ibb_bus' busJson_FromMsgpack, which defines the rules (bin as base64, NaN as null, string
 * keys only), with its output dropped again on failure. */
#ifndef HTTP_MPJSON_H
#define HTTP_MPJSON_H

#include <stddef.h>

#include "bus_json.h"
#include "ibb_status.h"

/* Appends the JSON form of the one MessagePack object in data[0..len) to out (nothing on failure).
 * IBB_ERR_PROTOCOL for malformed or trailing input; IBB_ERR_NOMEM. */
ibbStatus http_msgpackToJson(const char *data, size_t len, busBuf *out);

#endif
