/* main.c — the ib-bridge binary: command line, configuration, the loop, signals.
 *
 * Runs the bridge (IB session + NATS) until SIGINT/SIGTERM. The first signal shuts down
 * gracefully (stop taking requests, answer those in flight, cancel IB subscriptions, disconnect,
 * drain NATS, exit 0); a second one exits at once. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "br_bridge.h"
#include "bus_conn.h"
#include "config.h"
#include "core_session.h"
#include "ibb_log.h"
#ifdef IBB_TEST_HOOKS
#include "test_hooks.h"
#endif

#ifndef IBB_VERSION
#define IBB_VERSION "0.0.0"
#endif

typedef struct appMain {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    brBridge *bridge;
    bool stopping;
} appMain;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: ib-bridge [--config FILE] [--check-config]\n"
            "       ib-bridge --help | --version\n\n"
            "Holds one Interactive Brokers Gateway/TWS API session and puts it on NATS.\n\n"
            "  -c, --config FILE   libconfig file (see ib-bridge.conf.example); environment variables\n"
            "                      override it, built-in defaults fill the rest\n"
            "      --check-config  validate, print the effective configuration (secrets masked), exit\n"
            "  -h, --help          this text and every configuration option\n"
            "  -V, --version       print the version\n\n"
            "Paper trading is the default. Live trading needs ib.trading_mode = \"live\" and a live\n"
            "port (4001/7496). Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n\n");
}

static void on_signal(uv_signal_t *h, int signum)
{
    appMain *m = h->data;
    if (m->stopping) {
        IBB_WARN("bridge.signal", "signal=%d action=exit_now", signum);
        _exit(128 + signum);
    }
    m->stopping = true;
    IBB_INFO("bridge.signal", "signal=%d action=shutdown", signum);
    brBridge_Stop(m->bridge, NULL, NULL);
}

static void fill_session_config(const appConfig *c, coreSessionConfig *sc)
{
    coreSessionConfig_Init(sc);
    sc->host = c->ib_host;
    sc->port = (int)c->ib_port;
    sc->client_id = c->ib_client_id;
    sc->handshake_timeout_ms = c->ib_handshake_timeout_ms;
    sc->keepalive_idle_ms = c->ib_keepalive_idle_ms;
    sc->stall_timeout_ms = c->ib_stall_timeout_ms;
    sc->backoff_min_ms = c->ib_backoff_min_ms;
    sc->backoff_max_ms = c->ib_backoff_max_ms;
    sc->pacing_rate = c->ib_pacing_rate;
    sc->pacing_burst = (int)c->ib_pacing_burst;
    sc->max_queue = (size_t)c->ib_pacing_max_queue;
}

/* brOptions borrow the config's strings: cfg outlives the bridge. */
static void fill_bridge_options(const appConfig *c, brOptions *o, char *urls)
{
    brOptions_Init(o);
    fill_session_config(c, &o->session);
    if (urls && *urls)
        o->nats.urls = urls;
    o->nats.user = c->nats.user;
    o->nats.password = c->nats.password;
    o->nats.token = c->nats.token;
    o->nats.creds_file = c->nats.creds;
    o->nats.nkey = c->nats.nkey;
    o->nats.nkey_seed_file = c->nats.nkey_seed;
    o->nats.tls_ca_file = c->nats.tls_ca;
    o->nats.tls_cert_file = c->nats.tls_cert;
    o->nats.tls_key_file = c->nats.tls_key;
    o->prefix = c->nats.subject_prefix;
    o->request_timeout_ms = c->nats_request_timeout_ms;
    int mode = busStreamMode_Parse(c->nats_quote_encoding);
    o->quote_mode = mode < 0 ? BUS_STREAM_MSGPACK : (busStreamMode)mode;
    o->md_line_budget = c->ib_md_line_budget;
    o->depth_budget = c->ib_depth_budget;
    o->tick_by_tick_budget = c->ib_tick_by_tick_budget;
    o->watchlist = (const char *const *)c->ib_watchlist.items;
    o->n_watchlist = c->ib_watchlist.n;
    o->risk.read_only = c->ib_read_only;
    o->risk.max_order_qty = c->risk_max_order_qty;
    o->risk.max_order_notional = c->risk_max_order_notional;
    o->risk.max_orders_per_minute = (int)c->risk_max_orders_per_minute;
    o->risk.allowed_symbols = (const char *const *)c->risk_allowed_symbols.items;
    o->risk.n_allowed = c->risk_allowed_symbols.n;
    o->risk_accounts = (const char *const *)c->risk_account_limits.items;
    o->n_risk_accounts = c->risk_account_limits.n;
    o->trading_mode = c->ib_trading_mode;
    o->simulator = c->ib_simulator;
    o->js_replicas = (int)c->nats_js_replicas;
    o->ha.enabled = c->ha_enabled;
    o->ha.lease_ms = c->ha_lease_ms;
    o->ha.renew_ms = c->ha_renew_ms;
#ifdef IBB_TEST_HOOKS
    o->test_hook = appTest_OrderHook();
#endif
}

static int run(const appConfig *cfg)
{
    appMain m;
    memset(&m, 0, sizeof m);
    int rc = uv_loop_init(&m.loop);
    if (rc < 0) {
        IBB_ERROR("bridge.loop_failed", "error=\"%s\"", uv_strerror(rc));
        return 1;
    }
    char *urls = ibbStrList_Join(&cfg->nats.url, ",");
    brOptions bo;
    fill_bridge_options(cfg, &bo, urls);
    bus_Init();
    ibbStatus st = brBridge_Create(&m.bridge, &m.loop, &bo);
    if (st != IBB_OK) {
        IBB_ERROR("bridge.create_failed", "status=%s", ibbStatus_Name(st));
        free(urls);
        uv_loop_close(&m.loop);
        bus_Shutdown(2000);
        return 1;
    }
    uv_signal_init(&m.loop, &m.sigint);
    uv_signal_init(&m.loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    /* Signals never keep the loop alive, the bridge's own handles do: a bridge that stopped (signal,
     * failed start, NATS closed for good) ends uv_run. A second signal still exits at once. */
    uv_unref((uv_handle_t *)&m.sigint);
    uv_unref((uv_handle_t *)&m.sigterm);

    IBB_INFO("bridge.start", "version=%s mode=%s host=%s port=%" PRId64 " client_id=%" PRId64 " simulator=%s",
             IBB_VERSION, cfg->ib_trading_mode, cfg->ib_host, cfg->ib_port, cfg->ib_client_id,
             cfg->ib_simulator ? "true" : "false");
    if (appConfig_IsLive(cfg))
        IBB_WARN("bridge.live_trading", "port=%" PRId64 " read_only=%s", cfg->ib_port,
                 cfg->ib_read_only ? "true" : "false");
    if (brBridge_Start(m.bridge) != IBB_OK) {
        brBridge_Stop(m.bridge, NULL, NULL);
        rc = 1;
    }
    uv_run(&m.loop, UV_RUN_DEFAULT);
    if (brBridge_Failed(m.bridge))
        rc = 1;

    brBridge_Destroy(m.bridge);
    free(urls);
    uv_close((uv_handle_t *)&m.sigint, NULL);
    uv_close((uv_handle_t *)&m.sigterm, NULL);
    uv_run(&m.loop, UV_RUN_DEFAULT);
    int closed = uv_loop_close(&m.loop);
    bus_Shutdown(2000);
    IBB_INFO("bridge.stopped", "clean=%s", closed == 0 ? "true" : "false");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    bool check_only = false;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'k': check_only = true; break;
        case 'h':
            usage(stdout);
            appConfig_PrintHelp(stdout);
            return 0;
        case 'V': printf("ib-bridge %s\n", IBB_VERSION); return 0;
        default:
            fprintf(stderr, "ib-bridge: unknown or incomplete option \"%s\"\n\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ib-bridge: unexpected argument \"%s\"\n\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    appConfig cfg;
    char err[8192];
    ibbStatus st = appConfig_Load(&cfg, config_path, err, sizeof err);
    if (st != IBB_OK) {
        fprintf(stderr, "ib-bridge: configuration refused (%s):\n", ibbStatus_Name(st));
        for (char *line = err, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl) {
                fprintf(stderr, "  %s\n", line);
                break;
            }
            fprintf(stderr, "  %.*s\n", (int)(nl - line), line);
        }
        appConfig_Free(&cfg);
        return 2;
    }
    ibbLog_SetLevel((ibbLogLevel)ibbLog_ParseLevel(cfg.log_level));
    if (check_only) {
        appConfig_Print(&cfg, stdout);
        appConfig_Free(&cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = run(&cfg);
    appConfig_Free(&cfg);
    return rc;
}
