/* sim_main.c — ib-sim: command line, start-up, signals. See ib-sim --help and README.md. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static simServer g_srv; /* static: everything stays reachable until exit */

static void usage(FILE *f)
{
    fprintf(f,
"Usage: ib-sim [options]\n"
"An IB Gateway simulator speaking the TWS API wire protocol (text protocol, server version <= 176).\n"
"\n"
"Options:\n"
"  --port N              client port (default 4002, like a paper IB Gateway; 0 = any free port)\n"
"  --host ADDR           address to listen on (default 127.0.0.1)\n"
"  --control-port N      line-based control port (default off; 0 = any free port)\n"
"  --seed N              seed of every random walk (default 1): same seed + same requests = same data\n"
"  --accounts LIST       comma-separated account ids (default DU1234567)\n"
"  --server-version N    highest server version to claim, 100..176 (default 176); the reply is\n"
"                        min(N, the client's maximum)\n"
"  --tick-rate N         quote updates per second per subscribed instrument (default 4; each update\n"
"                        is 2 messages, a trade 4); e.g. 50 instruments x 1000 gives > 100,000 ticks/s\n"
"  --tick-interval-ms N  tick timer period, 1..1000 (default 10): every period each client gets the\n"
"                        updates due in one write; instruments are phase-shifted, not in lockstep\n"
"  --max-lines N         market-data line limit, error 101 past it (default 100)\n"
"  --max-clients N       simultaneous API clients (default 32)\n"
"  --rate-limit N        client messages per second before error 100 (default 50; 0 = off)\n"
"  --rate-strikes N      seconds with a violation within 10 s before disconnecting (default 3)\n"
"  --no-hist-pacing      do not enforce historical pacing (error 162)\n"
"  --hist-update-ms N    keepUpToDate update interval (default 5000)\n"
"  --summary-interval N  account summary / updates refresh in seconds (default 180)\n"
"  --start-cash X        starting cash per account in USD (default 1000000)\n"
"  --extra-stocks N      add N synthetic US stocks SIM0001..SIMnnnn to the built-in universe\n"
"  --max-depth N         simultaneous market-depth subscriptions, error 309 past it (default 3)\n"
"  --max-tick-by-tick N  simultaneous tick-by-tick subscriptions, error 10190 past it (default 5)\n"
"  --tbt-pacing-s N      one tick-by-tick request per instrument per N s, error 322 (default 15; 0 = off)\n"
"  --log-level L         debug, info, warn, error, off (default info; logs go to stderr)\n"
"  --help, --version\n"
"\n"
"On start it prints one line to stdout: \"ib-sim ready port=N control_port=M\".\n"
"\n"
"Control port commands (one per line, each answered by one line \"ok ...\" or \"error ...\"):\n"
"  stats                         JSON counters: connections, clients, requests by type, market-data\n"
"                                lines in use, errors sent by code, orders, fills, ticks\n"
"  drop                          close every client connection\n"
"  restart <secs>                close all connections and the listener, listen again after secs\n"
"  reset <1101|1102> <secs>      nightly reset: 1100, market data paused, then 1101 (data lost:\n"
"                                subscriptions dropped) or 1102 (data maintained)\n"
"  stall <secs>                  stop reading and writing every connection for secs\n"
"  garbage [frame|length|fields] send a malformed frame to every client\n"
"  inject <code> <request>       answer the next <request> (e.g. reqHistoricalData or 20) with error <code>\n"
"  depthreset                    error 317 on every depth subscription, then the book again\n"
"  inject clear | help | quit\n");
}

static bool parse_accounts(simConfig *cfg, const char *list)
{
    cfg->n_accounts = 0;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
        if (!*tok || strlen(tok) >= sizeof cfg->accounts[0] || cfg->n_accounts >= SIM_MAX_ACCOUNTS)
            return false;
        snprintf(cfg->accounts[cfg->n_accounts++], sizeof cfg->accounts[0], "%s", tok);
    }
    return cfg->n_accounts > 0;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static int parse_args(simConfig *cfg, int argc, char **argv)
{
    enum { O_PORT = 1000, O_HOST, O_CONTROL, O_SEED, O_ACCOUNTS, O_SV, O_TICK, O_LINES, O_CLIENTS, O_RATE,
           O_STRIKES, O_NOPACING, O_HISTMS, O_SUMMARY, O_CASH, O_LOG, O_HELP, O_VERSION, O_EXTRA, O_TICKMS,
           O_DEPTH, O_TBT, O_TBTPACE };
    static const struct option opts[] = {
        {"port", required_argument, 0, O_PORT},
        {"host", required_argument, 0, O_HOST},
        {"control-port", required_argument, 0, O_CONTROL},
        {"seed", required_argument, 0, O_SEED},
        {"accounts", required_argument, 0, O_ACCOUNTS},
        {"server-version", required_argument, 0, O_SV},
        {"tick-rate", required_argument, 0, O_TICK},
        {"tick-interval-ms", required_argument, 0, O_TICKMS},
        {"max-lines", required_argument, 0, O_LINES},
        {"max-clients", required_argument, 0, O_CLIENTS},
        {"rate-limit", required_argument, 0, O_RATE},
        {"rate-strikes", required_argument, 0, O_STRIKES},
        {"no-hist-pacing", no_argument, 0, O_NOPACING},
        {"hist-update-ms", required_argument, 0, O_HISTMS},
        {"summary-interval", required_argument, 0, O_SUMMARY},
        {"start-cash", required_argument, 0, O_CASH},
        {"log-level", required_argument, 0, O_LOG},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {"extra-stocks", required_argument, 0, O_EXTRA},
        {"max-depth", required_argument, 0, O_DEPTH},
        {"max-tick-by-tick", required_argument, 0, O_TBT},
        {"tbt-pacing-s", required_argument, 0, O_TBTPACE},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *a = optarg;
        bool ok = true;
        switch (o) {
        case O_PORT: ok = parse_int(a, 0, 65535, &cfg->port); break;
        case O_HOST: cfg->host = a; break;
        case O_CONTROL: ok = parse_int(a, 0, 65535, &cfg->control_port); break;
        case O_SEED: { char *end; cfg->seed = strtoull(a, &end, 10); ok = *a && !*end; break; }
        case O_ACCOUNTS: ok = parse_accounts(cfg, a); break;
        case O_SV: ok = parse_int(a, IB_SV_MIN_CLIENT, IB_SV_TARGET, &cfg->server_version); break;
        case O_TICK: { char *end; cfg->tick_rate = strtod(a, &end); ok = *a && !*end && cfg->tick_rate >= 0 &&
                                                                       cfg->tick_rate <= 100000; break; }
        case O_TICKMS: ok = parse_int(a, 1, 1000, &cfg->tick_period_ms); break;
        case O_LINES: ok = parse_int(a, 0, 1000000, &cfg->max_lines); break;
        case O_CLIENTS: ok = parse_int(a, 1, 1024, &cfg->max_clients); break;
        case O_RATE: ok = parse_int(a, 0, 100000, &cfg->rate_limit); break;
        case O_STRIKES: ok = parse_int(a, 1, 8, &cfg->rate_strikes); break;
        case O_NOPACING: cfg->hist_pacing = false; break;
        case O_HISTMS: ok = parse_int(a, 10, 3600000, &cfg->hist_update_ms); break;
        case O_SUMMARY: ok = parse_int(a, 1, 86400, &cfg->summary_interval_s); break;
        case O_CASH: { char *end; cfg->start_cash = strtod(a, &end); ok = *a && !*end; break; }
        case O_EXTRA: ok = parse_int(a, 0, 9999, &cfg->extra_stocks); break;
        case O_DEPTH: ok = parse_int(a, 0, 1000, &cfg->max_depth); break;
        case O_TBT: ok = parse_int(a, 0, 1000, &cfg->max_tick_by_tick); break;
        case O_TBTPACE: ok = parse_int(a, 0, 3600, &cfg->tbt_pacing_s); break;
        case O_LOG: {
            int l = ibbLog_ParseLevel(a);
            ok = l >= 0;
            if (ok)
                ibbLog_SetLevel((ibbLogLevel)l);
            break;
        }
        case 'h': case O_HELP: usage(stdout); return 0;
        case O_VERSION: printf("ib-sim %s\n", IBB_VERSION); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "ib-sim: invalid value '%s' for --%s\n", a ? a : "", opts[o - O_PORT].name);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ib-sim: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    return -1;
}

static void on_signal(uv_signal_t *h, int signum)
{
    simServer *srv = h->data;
    IBB_INFO("sim.signal", "signal=%d", signum);
    sim_closeAll(srv);
    uv_stop(srv->loop);
}

int main(int argc, char **argv)
{
    simServer *srv = &g_srv;
    simConfig *cfg = &srv->cfg;
    cfg->host = "127.0.0.1";
    cfg->port = 4002;
    cfg->control_port = -1;
    cfg->seed = 1;
    parse_accounts(cfg, "DU1234567");
    cfg->server_version = IB_SV_TARGET;
    cfg->tick_rate = 4;
    cfg->tick_period_ms = SIM_TICK_PERIOD_MS;
    cfg->max_lines = 100;
    cfg->max_clients = 32;
    cfg->rate_limit = 50;
    cfg->rate_strikes = 3;
    cfg->hist_pacing = true;
    cfg->hist_update_ms = 5000;
    cfg->summary_interval_s = 180;
    cfg->start_cash = 1000000;
    cfg->max_depth = 3;                 /* IB's default (PROTOCOL.md §3.12) */
    cfg->max_tick_by_tick = 5;
    cfg->tbt_pacing_s = 15;
    int rc = parse_args(cfg, argc, argv);
    if (rc >= 0)
        return rc;

    signal(SIGPIPE, SIG_IGN); /* a write to a peer that vanished is an error to handle, not a death */
    srv->loop = uv_default_loop();
    srv->next_perm_id = 600000000 + (int64_t)(cfg->seed % 100000) * 1000;
    sim_accountsInit(srv);
    if (sim_universeInit(srv) != IBB_OK || sim_serverStart(srv) != IBB_OK ||
        sim_controlStart(srv) != IBB_OK) {
        fprintf(stderr, "ib-sim: start-up failed (see log)\n");
        return 1;
    }
    sim_marketStart(srv);
    sim_historyStart(srv);
    sim_accountStart(srv);
    sim_pnlStart(srv);
    uv_signal_init(srv->loop, &srv->sig_int);
    uv_signal_init(srv->loop, &srv->sig_term);
    srv->sig_int.data = srv->sig_term.data = srv;
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    printf("ib-sim ready port=%d control_port=%d\n", srv->bound_port,
           cfg->control_port < 0 ? -1 : srv->control_port);
    fflush(stdout);
    uv_run(srv->loop, UV_RUN_DEFAULT);
    IBB_INFO("sim.exit", NULL);
    return 0;
}
