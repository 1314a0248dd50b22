/* main.c — the ib-bridge binary: command line, configuration, the loop, signals.
 *
 * For now it runs the IB session until SIGINT/SIGTERM. The first signal shuts down gracefully
 * (close the IB socket, let the loop drain, exit 0); a second one exits at once. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "core_session.h"
#include "ibb_log.h"

#ifndef IBB_VERSION
#define IBB_VERSION "0.0.0"
#endif

typedef struct appMain {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    coreSession *session;
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
    coreSession_Disconnect(m->session);
    /* Keep listening for a second signal, without keeping the loop alive. */
    uv_unref((uv_handle_t *)&m->sigint);
    uv_unref((uv_handle_t *)&m->sigterm);
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

static int run(const appConfig *cfg)
{
    appMain m;
    memset(&m, 0, sizeof m);
    int rc = uv_loop_init(&m.loop);
    if (rc < 0) {
        IBB_ERROR("bridge.loop_failed", "error=\"%s\"", uv_strerror(rc));
        return 1;
    }
    coreSessionConfig sc;
    fill_session_config(cfg, &sc);
    ibbStatus st = coreSession_Create(&m.session, &m.loop, &sc);
    if (st != IBB_OK) {
        IBB_ERROR("bridge.session_failed", "status=%s", ibbStatus_Name(st));
        uv_loop_close(&m.loop);
        return 1;
    }
    uv_signal_init(&m.loop, &m.sigint);
    uv_signal_init(&m.loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);

    IBB_INFO("bridge.start", "version=%s mode=%s host=%s port=%" PRId64 " client_id=%" PRId64 " simulator=%s",
             IBB_VERSION, cfg->ib_trading_mode, cfg->ib_host, cfg->ib_port, cfg->ib_client_id,
             cfg->ib_simulator ? "true" : "false");
    if (appConfig_IsLive(cfg))
        IBB_WARN("bridge.live_trading", "port=%" PRId64 " read_only=%s", cfg->ib_port,
                 cfg->ib_read_only ? "true" : "false");
    coreSession_Start(m.session);
    uv_run(&m.loop, UV_RUN_DEFAULT);

    coreSession_Destroy(m.session);
    uv_close((uv_handle_t *)&m.sigint, NULL);
    uv_close((uv_handle_t *)&m.sigterm, NULL);
    uv_run(&m.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&m.loop);
    IBB_INFO("bridge.stopped", "clean=%s", rc == 0 ? "true" : "false");
    return 0;
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
