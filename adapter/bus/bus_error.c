/* bus_error.c — slug <-> status table and the error body; see bus_error.h. */
#include "bus_error.h"

#include <string.h>

#include "bus_obj.h"

static const struct {
    const char *slug;
    int status;
} error_table[] = {
    {"bad_request", 400},   {"unauthorized", 401}, {"forbidden", 403},       {"not_found", 404},
    {"conflict", 409},      {"payload_too_large", 413}, {"unprocessable", 422}, {"rate_limited", 429},
    {"internal", 500},      {"not_implemented", 501}, {"ib_error", 502},     {"unavailable", 503},
    {"timeout", 504},
    /* ib-bridge's own slugs (after the generic ones: busError_Slug returns the first match) */
    {"unknown_symbol", 404}, {"ambiguous", 422},      {"order_rejected", 422}, {"risk_limit", 422},
    {"read_only", 403},      {"line_limit", 429},     {"pacing", 429},         {"ib_unavailable", 503},
};

int busError_Status(const char *slug)
{
    for (size_t i = 0; slug && i < sizeof error_table / sizeof error_table[0]; i++)
        if (strcmp(slug, error_table[i].slug) == 0)
            return error_table[i].status;
    return 500;
}

const char *busError_Slug(int status)
{
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
        if (error_table[i].status == status)
            return error_table[i].slug;
    return "internal";
}

int busError_Pack(msgpack_packer *pk, const char *slug, const char *message, int ib_code)
{
    return busError_PackRetry(pk, slug, message, ib_code, 0);
}

int busError_PackRetry(msgpack_packer *pk, const char *slug, const char *message, int ib_code,
                       int64_t retry_after_ms)
{
    int rc = msgpack_pack_map(pk, 1);
    rc |= busPack_Str(pk, "error");
    rc |= msgpack_pack_map(pk, 2 + (ib_code != 0) + (retry_after_ms > 0));
    rc |= busPack_KeyStr(pk, "code", slug ? slug : "internal");
    rc |= busPack_KeyStr(pk, "message", message ? message : "");
    if (ib_code != 0)
        rc |= busPack_KeyInt(pk, "ib_code", ib_code);
    if (retry_after_ms > 0)
        rc |= busPack_KeyInt(pk, "retry_after_ms", retry_after_ms);
    return rc;
}
