/* http_config.h — ib-bridge-http configuration: one declarative option table, read from an optional
 * libconfig file (`--config FILE`) and then overridden by environment variables (NATS_URL,
 * HTTP_PORT, ...). Every option has a default, so the gateway also runs with no file at all.
 *
 * httpConfig owns all its strings; httpConfig_Free releases them. Loaded once at start-up, then
 * read-only (shared by the loop thread and, for the NATS options, by http_bus at creation). */
#ifndef HTTP_CONFIG_H
#define HTTP_CONFIG_H

#include <stdio.h>

#include "ibb_status.h"

typedef struct httpStrList {
    char **v;
    int n;
} httpStrList;

typedef struct httpConfig {
    /* nats */
    char *nats_url, *nats_user, *nats_password, *nats_token, *nats_creds;
    char *nats_nkey, *nats_nkey_seed; /* NKey user public key "U..." + path of its seed file */
    char *nats_tls_ca, *nats_tls_cert, *nats_tls_key, *nats_name;
    char *prefix;                /* nats.subject_prefix: "ib" or e.g. "ib.paper" (alias nats.prefix) */
    int request_timeout_ms;      /* deadline of each bus request; past it the HTTP answer is 504 */
    /* http */
    char *listen;                /* interface or address; "" = all; default 127.0.0.1 */
    int port;
    int body_limit;              /* request bodies above this get 413 */
    int max_header;              /* bytes of request headers lws keeps */
    httpStrList read_tokens;     /* bearer tokens for read routes */
    httpStrList trade_tokens;    /* bearer tokens for read + order routes */
    int allow_anonymous;         /* a non-loopback listen without tokens is allowed (else refused) */
    httpStrList cors_origins;    /* allowed Origin values; "*" = any */
    /* ws */
    int ws_max_symbols;          /* symbols one WebSocket client may follow */
    int ws_max_clients;
    int ws_ping_s, ws_idle_s;    /* ping after ping_s idle, hang up after idle_s without a pong */
    int ws_lease_ttl_s;          /* ttl asked for each symbol's lease; renewed at half of it */
    int ws_max_message;          /* largest client message accepted (else close 1009) */
    /* log */
    char *log_level;
} httpConfig;

/* Defaults, then FILE (may be NULL), then the environment. On error writes a line to `err`. */
ibbStatus httpConfig_Load(httpConfig *cfg, const char *file, FILE *err);
void httpConfig_Free(httpConfig *cfg);
/* Prints every option: its file path, env variable, default and meaning. */
void httpConfig_PrintHelp(FILE *out);
/* 1 when `tok` is in the list (constant-time compare per entry). */
int httpStrList_Has(const httpStrList *l, const char *tok, size_t n);

#endif
