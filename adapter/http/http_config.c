/* http_config.c — ib-bridge-http's option rows; the engine is common/ibb_config.c and the NATS rows
 * (same keys and variables as ib-bridge's, incl. the deprecated nats.prefix / IBB_PREFIX) are
 * common/ibb_nats_config.c. */
#include "http_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define F(f) offsetof(httpConfig, f)

static const ibbOptDef HTTP_ROWS[] = {
    {"nats.name", IBB_OPT_STR, "ib-bridge-http", 0, 0, "NATS_NAME", F(nats_name), 0, NULL,
     "connection name shown by the NATS server", NULL},
    {"nats.request_timeout_ms", IBB_OPT_INT, "6000", 10, 600000, "HTTP_REQUEST_TIMEOUT_MS",
     F(request_timeout_ms), 0, NULL, "deadline of each bus request (then 504); keep it above ib-bridge's own",
     NULL},
    {"http.listen", IBB_OPT_STR, "127.0.0.1", 0, 0, "HTTP_LISTEN", F(listen), 0, NULL,
     "interface or address to bind (\"\" = all); not loopback needs tokens or auth.allow_anonymous", NULL},
    {"http.port", IBB_OPT_INT, "8080", 0, 65535, "HTTP_PORT", F(port), 0, NULL, "TCP port (0 = any free port)",
     NULL},
    {"http.body_limit", IBB_OPT_INT, "65536", 16, 16 << 20, "HTTP_BODY_LIMIT", F(body_limit), 0, NULL,
     "largest request body (else 413)", NULL},
    {"http.max_header", IBB_OPT_INT, "4096", 1024, 65535, "HTTP_MAX_HEADER", F(max_header), 0, NULL,
     "largest request header block", NULL},
    {"auth.read_tokens", IBB_OPT_LIST, "", 0, 1000, "HTTP_READ_TOKENS", F(read_tokens),
     IBB_OPT_SECRET | IBB_OPT_RAW_ITEMS, NULL,
     "bearer tokens for read routes (empty with trade_tokens empty = no auth)", NULL},
    {"auth.trade_tokens", IBB_OPT_LIST, "", 0, 1000, "HTTP_TRADE_TOKENS", F(trade_tokens),
     IBB_OPT_SECRET | IBB_OPT_RAW_ITEMS, NULL,
     "bearer tokens for read and order routes (needed for orders when ib-bridge trades live)", NULL},
    {"auth.allow_anonymous", IBB_OPT_BOOL, "false", 0, 0, "HTTP_ALLOW_ANONYMOUS", F(allow_anonymous), 0, NULL,
     "allow a non-loopback http.listen without tokens (anyone reaching it may trade paper)", NULL},
    {"cors.allow_origins", IBB_OPT_LIST, "", 0, 1000, "HTTP_CORS_ORIGINS", F(cors_origins), 0, NULL,
     "allowed browser origins (\"*\" = any)", NULL},
    {"ws.max_symbols", IBB_OPT_INT, "100", 1, 10000, "HTTP_WS_MAX_SYMBOLS", F(ws_max_symbols), 0, NULL,
     "symbols one WebSocket client may follow", NULL},
    {"ws.max_clients", IBB_OPT_INT, "10000", 1, 1000000, "HTTP_WS_MAX_CLIENTS", F(ws_max_clients), 0, NULL,
     "WebSocket clients at once (more are closed with 1013)", NULL},
    {"ws.ping_s", IBB_OPT_INT, "20", 1, 3600, "HTTP_WS_PING_S", F(ws_ping_s), 0, NULL, "ping an idle client after",
     NULL},
    {"ws.idle_s", IBB_OPT_INT, "60", 2, 7200, "HTTP_WS_IDLE_S", F(ws_idle_s), 0, NULL,
     "hang up without a pong after", NULL},
    {"ws.lease_ttl_s", IBB_OPT_INT, "60", 2, 86400, "HTTP_WS_LEASE_TTL_S", F(ws_lease_ttl_s), 0, NULL,
     "ttl of each symbol's stream lease (renewed at half)", NULL},
    {"ws.max_message", IBB_OPT_INT, "4096", 64, 1 << 20, "HTTP_WS_MAX_MESSAGE", F(ws_max_message), 0, NULL,
     "largest client WebSocket message (else close 1009)", NULL},
    {"log.level", IBB_OPT_ENUM, "info", 0, 0, "LOG_LEVEL", F(log_level), 0, "debug|info|warn|error|off",
     "log threshold", NULL},
};

static void check_cross(const void *cfg, ibbConfigErr *e)
{
    ibbNatsConfig_Check(&((const httpConfig *)cfg)->nats, e);
}

static const ibbConfigSection SECTIONS[] = {
    {IBB_NATS_ROWS, IBB_NATS_NROWS, offsetof(httpConfig, nats)},
    {HTTP_ROWS, sizeof HTTP_ROWS / sizeof HTTP_ROWS[0], 0},
};
static const ibbConfigSpec SPEC = {"ib-bridge-http", SECTIONS, 2, check_cross};

ibbStatus httpConfig_Load(httpConfig *cfg, const char *file, FILE *err)
{
    memset(cfg, 0, sizeof *cfg);
    char buf[4096];
    ibbStatus st = ibbConfig_Load(&SPEC, cfg, cfg->source, file, buf, sizeof buf);
    if (st == IBB_OK && !(cfg->nats_url = ibbStrList_Join(&cfg->nats.url, ",")))
        st = IBB_ERR_NOMEM;
    if (st != IBB_OK) {
        for (char *line = buf, *nl; *line; line = nl + 1) {   /* one "config: ..." line per problem */
            nl = strchr(line, '\n');
            fprintf(err, "config: %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
            if (!nl)
                break;
        }
        if (st == IBB_ERR_NOMEM)
            fprintf(err, "config: out of memory\n");
    }
    return st;
}

void httpConfig_Free(httpConfig *cfg)
{
    ibbConfig_Free(&SPEC, cfg);
    free(cfg->nats_url);
    cfg->nats_url = NULL;
}

void httpConfig_PrintHelp(FILE *out)
{
    ibbConfig_PrintHelp(&SPEC, out);
}

void httpConfig_Print(const httpConfig *cfg, FILE *out)
{
    ibbConfig_Print(&SPEC, cfg, cfg->source, out);
}
