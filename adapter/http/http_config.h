/* http_config.h — ib-bridge-http configuration: its rows of options plus the NATS rows both binaries
 * share (common/ibb_nats_config.h), read by the engine of common/ibb_config.h from an optional libconfig
 * file (`--config FILE`) and then overridden by environment variables (NATS_URL, HTTP_PORT, ...). Every
 * option has a default, so the gateway also runs with no file at all.
 *
 * httpConfig owns all its strings; httpConfig_Free releases them. Loaded once at start-up, then
 * read-only (shared by the loop thread and, for the NATS options, by http_bus at creation). */
#ifndef HTTP_CONFIG_H
#define HTTP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ibb_config.h"
#include "ibb_nats_config.h"
#include "ibb_status.h"

typedef struct httpConfig {
    /* nats: the shared rows (url, auth, TLS, subject prefix), then the gateway's own */
    ibbNatsConfig nats;
    char *nats_url;              /* nats.url joined with commas (derived, for the bus and logs) */
    char *nats_name;             /* connection name shown by the server */
    int64_t request_timeout_ms;  /* deadline of each bus request; past it the HTTP answer is 504 */
    /* http */
    char *listen;                /* interface or address; "" = all; default 127.0.0.1 */
    int64_t port;
    int64_t body_limit;          /* request bodies above this get 413 */
    int64_t max_header;          /* bytes of request headers lws keeps */
    ibbStrList read_tokens;      /* bearer tokens for read routes */
    ibbStrList trade_tokens;     /* bearer tokens for read + order routes */
    bool allow_anonymous;        /* a non-loopback listen without tokens is allowed (else refused) */
    ibbStrList cors_origins;     /* allowed Origin values; "*" = any */
    /* ws */
    int64_t ws_max_symbols;      /* symbols one WebSocket client may follow */
    int64_t ws_max_clients;
    int64_t ws_ping_s, ws_idle_s; /* ping after ping_s idle, hang up after idle_s without a pong */
    int64_t ws_lease_ttl_s;      /* ttl asked for each symbol's lease; renewed at half of it */
    int64_t ws_max_message;      /* largest client message accepted (else close 1009) */
    /* log */
    char *log_level;

    unsigned char source[IBB_CONFIG_MAX_OPTS]; /* per row: IBB_SRC_* (for --check-config) */
} httpConfig;

/* Defaults, then FILE (may be NULL), then the environment. On error writes one line per problem,
 * each naming the key, to `err`. cfg is always safe to httpConfig_Free. */
ibbStatus httpConfig_Load(httpConfig *cfg, const char *file, FILE *err);
void httpConfig_Free(httpConfig *cfg);
/* Prints every option: its file key, default, type, range, environment variable and meaning. */
void httpConfig_PrintHelp(FILE *out);
/* The effective configuration, secrets masked (--check-config). */
void httpConfig_Print(const httpConfig *cfg, FILE *out);

#endif
