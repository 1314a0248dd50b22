/* config.h — the ib-bridge configuration: its rows of options plus the NATS rows both binaries share
 * drive the engine of common/ibb_config.h (libconfig file, environment overrides, validation, --help
 * and --check-config).
 *
 * Precedence: built-in default < file (--config FILE) < environment variable. Every value is
 * validated (type, range, choices) wherever it came from, then the cross-checks run (trading
 * mode vs port, timeouts, pacing, NKey pair). Any problem refuses to start with a message naming the key.
 * Secret files (nats.creds, nats.nkey_seed) and a config file holding a secret that group or others
 * can read get a config.secret_readable warning (never the value).
 *
 * Ownership: appConfig is caller-allocated; appConfig_Load fills it (strings and lists are heap
 * copies) and appConfig_Free releases them. Not thread-safe (start-up only). */
#ifndef APP_CONFIG_H
#define APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ibb_nats_config.h"
#include "ibb_status.h"

typedef ibbStrList appStrList;

typedef struct appConfig {
    /* ib: the gateway session */
    char *ib_host;
    int64_t ib_port;
    int64_t ib_client_id;
    char *ib_trading_mode; /* "paper" | "live" */
    bool ib_simulator;     /* the peer is ib-sim: any non-live port is allowed in paper mode */
    bool ib_read_only;     /* refuse order placement */
    int64_t ib_handshake_timeout_ms;
    int64_t ib_keepalive_idle_ms;
    int64_t ib_stall_timeout_ms;
    int64_t ib_backoff_min_ms;
    int64_t ib_backoff_max_ms;
    double ib_pacing_rate;
    int64_t ib_pacing_burst;
    int64_t ib_pacing_max_queue;
    int64_t ib_md_line_budget;
    int64_t ib_depth_budget;
    int64_t ib_tick_by_tick_budget;
    appStrList ib_watchlist;
    /* nats: the bus (the rows both binaries share: url, auth, TLS, subject prefix) */
    ibbNatsConfig nats;
    int64_t nats_request_timeout_ms;
    char *nats_quote_encoding; /* "msgpack" | "json" */
    int64_t nats_js_replicas;  /* copies of every stream / KV bucket (1; 3 on a cluster) */
    /* ha: hot standby */
    bool ha_enabled;
    int64_t ha_lease_ms;
    int64_t ha_renew_ms;
    /* risk: pre-trade limits */
    double risk_max_order_qty;
    double risk_max_order_notional;
    int64_t risk_max_orders_per_minute;
    appStrList risk_allowed_symbols; /* empty = any symbol */
    appStrList risk_account_limits;  /* "ACCOUNT:key=value[:...]" (bridge/br_ord_risk_accounts.c) */
    /* log */
    char *log_level; /* debug | info | warn | error */

    unsigned char source[IBB_CONFIG_MAX_OPTS]; /* per row: IBB_SRC_* (for --check-config) */
} appConfig;


/* Loads defaults, then `path` (may be NULL: defaults + environment only), then the environment,
 * then validates. On failure returns IBB_ERR_CONFIG (or IBB_ERR_NOMEM) and writes one line per
 * problem, each naming the key, into err. cfg is always safe to appConfig_Free. */
ibbStatus appConfig_Load(appConfig *cfg, const char *path, char *err, size_t errlen);
void appConfig_Free(appConfig *cfg);

/* The effective configuration in libconfig syntax, secrets masked, with where each value came
 * from as a comment. */
void appConfig_Print(const appConfig *cfg, FILE *out);
/* One entry per option: name, type, default, range or choices, environment variable, help. */
void appConfig_PrintHelp(FILE *out);

bool appConfig_IsLive(const appConfig *cfg);

#endif
