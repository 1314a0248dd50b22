/* ibb_status.c — names for ibbStatus values. */
#include "ibb_status.h"

#include <stddef.h>

static const char *const status_names[IBB_STATUS_COUNT] = {
    [IBB_OK] = "ok",
    [IBB_NEED_MORE] = "need_more",
    [IBB_ERR_NOMEM] = "nomem",
    [IBB_ERR_INVALID_ARG] = "invalid_arg",
    [IBB_ERR_PROTOCOL] = "protocol",
    [IBB_ERR_FRAME_TOO_LARGE] = "frame_too_large",
    [IBB_ERR_TRUNCATED] = "truncated",
    [IBB_ERR_BAD_NUMBER] = "bad_number",
    [IBB_ERR_TRAILING] = "trailing_fields",
    [IBB_ERR_UNKNOWN_MSG] = "unknown_msg",
    [IBB_ERR_UNSUPPORTED_VERSION] = "unsupported_version",
    [IBB_ERR_IO] = "io",
    [IBB_ERR_TIMEOUT] = "timeout",
    [IBB_ERR_CLOSED] = "closed",
    [IBB_ERR_CONFIG] = "config",
    [IBB_ERR_NOT_FOUND] = "not_found",
    [IBB_ERR_LIMIT] = "limit",
    [IBB_ERR_STATE] = "state",
    [IBB_ERR_CONFLICT] = "conflict",
};

const char *ibbStatus_Name(ibbStatus s)
{
    if ((int)s < 0 || s >= IBB_STATUS_COUNT || status_names[s] == NULL)
        return "unknown";
    return status_names[s];
}
