/* ibb_status.h — the one status type every ib-bridge call returns.
 *
 * A building block: includes nothing of the project. IBB_OK is 0 so `if (s != IBB_OK)` reads
 * naturally; IBB_NEED_MORE is not an error (an incremental decoder wants more bytes). */
#ifndef IBB_STATUS_H
#define IBB_STATUS_H

typedef enum ibbStatus {
    IBB_OK = 0,
    IBB_NEED_MORE,            /* incremental input: call again with more bytes */
    IBB_ERR_NOMEM,
    IBB_ERR_INVALID_ARG,      /* a caller passed something the API does not accept */
    IBB_ERR_PROTOCOL,         /* the peer broke the wire protocol (bad frame, missing NUL, ...) */
    IBB_ERR_FRAME_TOO_LARGE,  /* a length prefix above the limit (0xFFFFFF for IB) */
    IBB_ERR_TRUNCATED,        /* a message ended before all its fields were read */
    IBB_ERR_BAD_NUMBER,       /* text where a number belongs, or out of range */
    IBB_ERR_TRAILING,         /* a message had fields left over after decoding */
    IBB_ERR_UNKNOWN_MSG,      /* a message id this build does not decode (skip it) */
    IBB_ERR_UNSUPPORTED_VERSION,
    IBB_ERR_IO,
    IBB_ERR_TIMEOUT,
    IBB_ERR_CLOSED,
    IBB_ERR_CONFIG,
    IBB_ERR_NOT_FOUND,
    IBB_ERR_LIMIT,            /* a configured or IB limit would be exceeded */
    IBB_ERR_STATE,            /* not allowed in the current state (e.g. not connected) */
    IBB_ERR_CONFLICT,         /* a revision-checked write lost: the stored value changed meanwhile */
    IBB_STATUS_COUNT
} ibbStatus;

/* A short, stable, lower-case name for a status ("ok", "protocol", ...). Never NULL. */
const char *ibbStatus_Name(ibbStatus s);

#endif
