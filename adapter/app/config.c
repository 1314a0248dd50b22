/* config.c — ib-bridge's option rows and cross-checks; see config.h. The engine (parsing, sources,
 * validation, printing) is common/ibb_config.c, the NATS rows common/ibb_nats_config.c.
 *
 * One row per option (Redis-style): file key, type, default (as text, parsed like an environment
 * value), range or choices, environment variable, where the value lives in appConfig, flags,
 * help. Nothing else in this file names an option except the cross-checks at the end. */
#include "config.h"

#include "br_bridge.h"

#include <inttypes.h>
#include <string.h>

#define F(field) offsetof(appConfig, field)

static const ibbOptDef APP_ROWS_1[] = {
    {"ib.host", IBB_OPT_STR, "127.0.0.1", 0, 0, "IB_HOST", F(ib_host), IBB_OPT_NONEMPTY, NULL,
     "IB Gateway / TWS host name or address", NULL},
    {"ib.port", IBB_OPT_INT, "4002", 1, 65535, "IB_PORT", F(ib_port), 0, NULL,
     "API port: 4002 Gateway paper, 7497 TWS paper, 4001 Gateway live, 7496 TWS live (4004 / 4003: the paper "
     "/ live relays of the IB Gateway container)", NULL},
    {"ib.client_id", IBB_OPT_INT, "1", 0, 2147483647, "IB_CLIENT_ID", F(ib_client_id), 0, NULL,
     "API client id; must not be used by any other API client of the same gateway (else error 326)", NULL},
    {"ib.trading_mode", IBB_OPT_ENUM, "paper", 0, 0, "IB_TRADING_MODE", F(ib_trading_mode), 0, "paper|live",
     "paper (default) or live; live also needs a live port (4001/7496/4003)", NULL},
    {"ib.simulator", IBB_OPT_BOOL, "false", 0, 0, "IB_SIMULATOR", F(ib_simulator), 0, NULL,
     "the peer is ib-sim: allows any non-live port in paper mode", NULL},
    {"ib.read_only", IBB_OPT_BOOL, "false", 0, 0, "IBB_READ_ONLY", F(ib_read_only), 0, NULL,
     "refuse every order request (quotes and queries only)", NULL},
    {"ib.handshake_timeout_ms", IBB_OPT_INT, "10000", 100, 600000, "IBB_HANDSHAKE_TIMEOUT_MS",
     F(ib_handshake_timeout_ms), 0, NULL, "connect + handshake must finish within this time", NULL},
    {"ib.keepalive_idle_ms", IBB_OPT_INT, "30000", 50, 3600000, "IBB_KEEPALIVE_IDLE_MS", F(ib_keepalive_idle_ms),
     0, NULL, "send a reqCurrentTime keep-alive after this much silence from the gateway", NULL},
    {"ib.stall_timeout_ms", IBB_OPT_INT, "90000", 100, 7200000, "IBB_STALL_TIMEOUT_MS", F(ib_stall_timeout_ms), 0,
     NULL, "no byte from the gateway for this long = stalled: reconnect (> ib.keepalive_idle_ms)", NULL},
    {"ib.backoff_min_ms", IBB_OPT_INT, "1000", 10, 600000, "IBB_BACKOFF_MIN_MS", F(ib_backoff_min_ms), 0, NULL,
     "first reconnect delay; doubles per failed attempt, with jitter", NULL},
    {"ib.backoff_max_ms", IBB_OPT_INT, "60000", 10, 3600000, "IBB_BACKOFF_MAX_MS", F(ib_backoff_max_ms), 0, NULL,
     "longest reconnect delay", NULL},
    {"ib.pacing.rate", IBB_OPT_DOUBLE, "45", 1, 50, "IBB_PACING_RATE", F(ib_pacing_rate), 0, NULL,
     "outbound messages per second (IB disconnects above 50)", NULL},
    {"ib.pacing.burst", IBB_OPT_INT, "5", 1, 49, "IBB_PACING_BURST", F(ib_pacing_burst), 0, NULL,
     "token bucket size; rate + burst must stay <= 50", NULL},
    {"ib.pacing.max_queue", IBB_OPT_INT, "10000", 1, 1000000, "IBB_PACING_MAX_QUEUE", F(ib_pacing_max_queue), 0,
     NULL, "outbound requests that may wait for the pacer; more are refused", NULL},
    {"ib.md_line_budget", IBB_OPT_INT, "100", 1, 10000, "IBB_MD_LINE_BUDGET", F(ib_md_line_budget), 0, NULL,
     "market-data lines ib-bridge may use (the account's limit, default 100)", NULL},
    {"ib.depth_budget", IBB_OPT_INT, "3", 1, 1000, "IBB_DEPTH_BUDGET", F(ib_depth_budget), 0, NULL,
     "market-depth subscriptions ib-bridge may hold (IB's limit: 3 unless the account has more; 309 past it)",
     NULL},
    {"ib.tick_by_tick_budget", IBB_OPT_INT, "3", 1, 1000, "IBB_TICK_BY_TICK_BUDGET", F(ib_tick_by_tick_budget), 0,
     NULL, "tick-by-tick subscriptions ib-bridge may hold (IB: the depth formula, 3 by default; 10190 past it)",
     NULL},
    {"ib.watchlist", IBB_OPT_LIST, "", 0, 10000, "IBB_WATCHLIST", F(ib_watchlist), IBB_OPT_TOKENS, NULL,
     "instrument keys subscribed at start-up (env: comma-separated)", NULL},
};

/* after the shared NATS rows (ibb_nats_config.c) */
static const ibbOptDef APP_ROWS_2[] = {
    {"nats.js_replicas", IBB_OPT_INT, "1", 1, 5, "IBB_JS_REPLICAS", F(nats_js_replicas), 0, NULL,
     "copies of every JetStream stream and KV bucket ib-bridge creates (3 on a three-node cluster); an "
     "existing stream with fewer is raised, or the start refuses naming it", NULL},
    {"ha.enabled", IBB_OPT_BOOL, "false", 0, 0, "IBB_HA", F(ha_enabled), 0, NULL,
     "hot standby: several ib-bridges with the same prefix, IB host and client id; one holds the lease in KV "
     "bucket <prefix>_leader and the IB session, the others wait", NULL},
    {"ha.lease_ms", IBB_OPT_INT, "2000", 300, 60000, "IBB_HA_LEASE_MS", F(ha_lease_ms), 0, NULL,
     "a leader that has not renewed for this long is replaced (judged by the standby's own clock)", NULL},
    {"ha.renew_ms", IBB_OPT_INT, "600", 50, 20000, "IBB_HA_RENEW_MS", F(ha_renew_ms), 0, NULL,
     "the leader renews its lease this often (at most ha.lease_ms / 3)", NULL},
    {"nats.request_timeout_ms", IBB_OPT_INT, "5000", 100, 600000, "IBB_REQUEST_TIMEOUT_MS",
     F(nats_request_timeout_ms), 0, NULL, "every request gets a reply within this time", NULL},
    {"nats.quote_encoding", IBB_OPT_ENUM, "msgpack", 0, 0, "IBB_QUOTE_ENCODING", F(nats_quote_encoding), 0,
     "msgpack|json|both",
     "encoding of ib.quote.* streams (both: MessagePack plus a JSON mirror on ib.json.quote.*)", NULL},
    {"risk.max_order_qty", IBB_OPT_DOUBLE, "1000", 0.0001, 1e9, "IBB_MAX_ORDER_QTY", F(risk_max_order_qty), 0,
     NULL, "largest quantity of one order", NULL},
    {"risk.max_order_notional", IBB_OPT_DOUBLE, "100000", 1, 1e12, "IBB_MAX_ORDER_NOTIONAL",
     F(risk_max_order_notional), 0, NULL, "largest quantity x price of one order", NULL},
    {"risk.max_orders_per_minute", IBB_OPT_INT, "60", 1, 10000, "IBB_MAX_ORDERS_PER_MINUTE",
     F(risk_max_orders_per_minute), 0, NULL, "orders placed per rolling minute", NULL},
    {"risk.allowed_symbols", IBB_OPT_LIST, "", 0, 10000, "IBB_ALLOWED_SYMBOLS", F(risk_allowed_symbols),
     IBB_OPT_TOKENS, NULL, "instrument keys that may be traded; empty = any (env: comma-separated)", NULL},
    {"risk.account_limits", IBB_OPT_LIST, "", 0, 1000, "IBB_RISK_ACCOUNT_LIMITS", F(risk_account_limits),
     IBB_OPT_TOKENS, NULL,
     "limits per account, checked after the global ones: "
     "\"DU222:max_order_qty=100:max_orders_per_minute=10\" "
     "(keys max_order_qty, max_order_notional, max_orders_per_minute; env: comma-separated)", NULL},
    {"log.level", IBB_OPT_ENUM, "info", 0, 0, "IBB_LOG_LEVEL", F(log_level), 0, "debug|info|warn|error",
     "log threshold", NULL},
};

/* IB Gateway 4001 / TWS 7496 are live, 4002 / 7497 paper. The containerised IB Gateway that
 * docker-compose.yml runs relays live on 4003 and paper on 4004 (socat in front of 4001/4002). */
static bool is_live_port(int64_t p) { return p == 4001 || p == 7496 || p == 4003; }
static bool is_paper_port(int64_t p) { return p == 4002 || p == 7497 || p == 4004; }

static void check_trading_mode(const appConfig *c, ibbConfigErr *e)
{
    bool live = strcmp(c->ib_trading_mode, "live") == 0;
    if (live) {
        if (c->ib_simulator)
            ibbConfigErr_Add(e, "ib.simulator: true cannot be combined with ib.trading_mode = \"live\"");
        else if (!is_live_port(c->ib_port))
            ibbConfigErr_Add(e,
                             "ib.trading_mode: \"live\" needs a live port (IB Gateway 4001, TWS 7496) but "
                             "ib.port is %" PRId64,
                             c->ib_port);
        return;
    }
    if (is_live_port(c->ib_port))
        ibbConfigErr_Add(e,
                         "ib.port: %" PRId64 " is a live-trading port but ib.trading_mode is \"paper\"; use 4002 "
                         "(Gateway) or 7497 (TWS) for paper, or set ib.trading_mode = \"live\" to trade real money",
                         c->ib_port);
    else if (!is_paper_port(c->ib_port) && !c->ib_simulator)
        ibbConfigErr_Add(e,
                         "ib.port: %" PRId64
                         " is not a paper-trading port (IB Gateway 4002, TWS 7497); if the peer is "
                         "ib-sim set ib.simulator = true",
                         c->ib_port);
}

static void check_cross(const void *cfg, ibbConfigErr *e)
{
    const appConfig *c = cfg;
    check_trading_mode(c, e);
    if (c->ib_stall_timeout_ms <= c->ib_keepalive_idle_ms)
        ibbConfigErr_Add(e, "ib.stall_timeout_ms: %" PRId64 " must be greater than ib.keepalive_idle_ms (%" PRId64 ")",
                         c->ib_stall_timeout_ms, c->ib_keepalive_idle_ms);
    if (c->ib_backoff_max_ms < c->ib_backoff_min_ms)
        ibbConfigErr_Add(e, "ib.backoff_max_ms: %" PRId64 " is below ib.backoff_min_ms (%" PRId64 ")",
                         c->ib_backoff_max_ms, c->ib_backoff_min_ms);
    if (c->ib_pacing_rate + (double)c->ib_pacing_burst > 50.0)
        ibbConfigErr_Add(e,
                         "ib.pacing.burst: ib.pacing.rate (%g) + ib.pacing.burst (%" PRId64 ") must not exceed "
                         "50, IB's limit of messages per second",
                         c->ib_pacing_rate, c->ib_pacing_burst);
    ibbNatsConfig_Check(&c->nats, e);
    for (size_t i = 0; i < c->risk_account_limits.n; i++) {
        char why[300];
        if (!brOptions_CheckAccountLimit(c->risk_account_limits.items[i], why, sizeof why))
            ibbConfigErr_Add(e, "risk.account_limits: %s", why);
    }
    if (c->ha_renew_ms * 3 > c->ha_lease_ms)
        ibbConfigErr_Add(e,
                         "ha.renew_ms: %" PRId64 " must be at most a third of ha.lease_ms (%" PRId64 ") so a "
                         "leader fences itself before its lease can expire",
                         c->ha_renew_ms, c->ha_lease_ms);
}

#define NROWS(rows) (sizeof rows / sizeof rows[0])
static const ibbConfigSection SECTIONS[] = {
    {APP_ROWS_1, NROWS(APP_ROWS_1), 0},
    {IBB_NATS_ROWS, IBB_NATS_NROWS, offsetof(appConfig, nats)},
    {APP_ROWS_2, NROWS(APP_ROWS_2), 0},
};
static const ibbConfigSpec SPEC = {"ib-bridge", SECTIONS, NROWS(SECTIONS), check_cross};

ibbStatus appConfig_Load(appConfig *cfg, const char *path, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    return ibbConfig_Load(&SPEC, cfg, cfg->source, path, err, errlen);
}

void appConfig_Free(appConfig *cfg)
{
    ibbConfig_Free(&SPEC, cfg);
}

bool appConfig_IsLive(const appConfig *cfg)
{
    return cfg && cfg->ib_trading_mode && strcmp(cfg->ib_trading_mode, "live") == 0;
}

void appConfig_Print(const appConfig *cfg, FILE *out)
{
    ibbConfig_Print(&SPEC, cfg, cfg->source, out);
}

void appConfig_PrintHelp(FILE *out)
{
    ibbConfig_PrintHelp(&SPEC, out);
}
