/* bus_error.h — the bus error convention (BRIEF "Errors"), shared by ib-bridge and ib-bridge-http.
 *
 *   body:    {"error": {"code": "<slug>", "message": "<text a person can act on>", "ib_code": <n>}}
 *            (ib_code absent when 0: IB never sends error code 0), in the request's encoding
 *   headers: Nats-Service-Error-Code: <status>   (the number below, as in NATS micro)
 *            Nats-Service-Error: <message>
 *
 * Slugs and statuses (HTTP meaning; ib-bridge-http answers with the same number):
 *   bad_request 400, unauthorized 401, forbidden 403, not_found 404, conflict 409,
 *   payload_too_large 413, unprocessable 422, rate_limited 429, internal 500, not_implemented 501,
 *   ib_error 502, unavailable 503, timeout 504. Unknown slugs map to 500.
 * Pure functions, reentrant. schemas/error.json describes the body. */
#ifndef BUS_ERROR_H
#define BUS_ERROR_H

#include <msgpack.h>
#include <stdint.h>

#define BUS_HDR_ERROR_CODE "Nats-Service-Error-Code"
#define BUS_HDR_ERROR "Nats-Service-Error"
#define BUS_HDR_CONTENT_TYPE "Content-Type"

/* The status number for a slug (500 when unknown or NULL). */
int busError_Status(const char *slug);
/* The slug for a status number ("internal" when none matches). */
const char *busError_Slug(int status);

/* Packs the whole error body. message NULL packs "". Returns 0 or the packer's error. */
int busError_Pack(msgpack_packer *pk, const char *slug, const char *message, int ib_code);
/* Same, with "retry_after_ms" in the error object when retry_after_ms > 0 (e.g. `pacing`: when a
 * retry may be served). */
int busError_PackRetry(msgpack_packer *pk, const char *slug, const char *message, int ib_code,
                       int64_t retry_after_ms);

#endif
