/* test_config.c — the configuration table through the real binary: `ib-bridge --check-config`
 * with files and environment variables; exit codes and the messages operators read. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char out[65536], err[65536];

/* Writes text to a fresh temp config file; returns its path (static buffer per call site). */
static const char *write_conf(char *path, size_t cap, const char *text)
{
    snprintf(path, cap, "/tmp/ibb-core-conf-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Runs --check-config on `text` (NULL = no file) with env; returns the exit code. */
static int check(const char *text, const char *const env[])
{
    char path[64];
    int rc;
    if (text) {
        write_conf(path, sizeof path, text);
        const char *argv[] = {IBB_BRIDGE_BIN, "--config", path, "--check-config", NULL};
        rc = test_Run(argv, env, out, sizeof out, err, sizeof err, 20000);
        unlink(path);
    } else {
        const char *argv[] = {IBB_BRIDGE_BIN, "--check-config", NULL};
        rc = test_Run(argv, env, out, sizeof out, err, sizeof err, 20000);
    }
    return rc;
}

static void refused(const char *text, const char *const env[], const char *key)
{
    int rc = check(text, env);
    cr_expect_eq(rc, 2, "expected refusal (exit 2) for %s, got %d\nstdout: %s\nstderr: %s", key, rc, out,
                 err);
    cr_expect(strstr(err, key) != NULL, "stderr does not name %s:\n%s", key, err);
}

Test(config, example_file_parses)
{
    const char *argv[] = {IBB_BRIDGE_BIN, "--config", IBB_EXAMPLE_CONF, "--check-config", NULL};
    int rc = test_Run(argv, NULL, out, sizeof out, err, sizeof err, 20000);
    cr_assert_eq(rc, 0, "example refused:\n%s", err);
    cr_expect(strstr(out, "ib.port = 4002;") != NULL, "%s", out);
    cr_expect(strstr(out, "ib.trading_mode = \"paper\";") != NULL);
    cr_expect(strstr(out, "ib.pacing.rate = 45;") != NULL);
    cr_expect(strstr(out, "nats.url = [ \"nats://127.0.0.1:4222\" ];") != NULL);
    cr_expect(strstr(out, "nats.quote_encoding = \"msgpack\";") != NULL);
    cr_expect(strstr(out, "risk.max_orders_per_minute = 60;") != NULL);
    cr_expect(strstr(out, "# file") != NULL, "sources not shown");
}

Test(config, defaults_without_file_are_paper)
{
    cr_assert_eq(check(NULL, NULL), 0, "%s", err);
    cr_expect(strstr(out, "ib.trading_mode = \"paper\";  # default") != NULL, "%s", out);
    cr_expect(strstr(out, "ib.port = 4002;") != NULL);
    cr_expect(strstr(out, "nats.subject_prefix = \"ib\";") != NULL);
    cr_expect(strstr(out, "ib.md_line_budget = 100;") != NULL);
}

Test(config, environment_wins_over_file)
{
    const char *text = "ib = { host = \"gw.example\"; port = 4002; client_id = 3; };\n"
                       "nats = { urls = [\"nats://file:4222\"]; subject_prefix = \"ib.paper\"; };\n"
                       "log = { level = \"warn\"; };\n";
    const char *env[] = {"IB_PORT=7497",
                         "IB_CLIENT_ID=33",
                         "NATS_URL=nats://a:1, nats://b:2",
                         "IBB_LOG_LEVEL=debug",
                         "IBB_WATCHLIST=AAPL,MSFT",
                         "IB_HOST=",
                         NULL};
    cr_assert_eq(check(text, env), 0, "%s", err);
    cr_expect(strstr(out, "ib.port = 7497;  # env IB_PORT") != NULL, "%s", out);
    cr_expect(strstr(out, "ib.client_id = 33;  # env IB_CLIENT_ID") != NULL);
    /* the file spelled it nats.urls (deprecated alias of nats.url): still read, the variable wins */
    cr_expect(strstr(out, "nats.url = [ \"nats://a:1\", \"nats://b:2\" ];  # env NATS_URL") != NULL);
    cr_expect(strstr(out, "log.level = \"debug\";  # env IBB_LOG_LEVEL") != NULL);
    cr_expect(strstr(out, "ib.watchlist = [ \"AAPL\", \"MSFT\" ];") != NULL);
    /* An empty variable counts as unset: the file's value stays. */
    cr_expect(strstr(out, "ib.host = \"gw.example\";  # file") != NULL);
    cr_expect(strstr(out, "nats.subject_prefix = \"ib.paper\";  # file") != NULL);
}

Test(config, big_integers_do_not_wrap)
{
    /* libconfig 1.5 reads 4294967297 as 1 without the L suffix: that must be refused, not used. */
    refused("ib = { client_id = 4294967297; };\n", NULL, "ib.client_id");
    cr_expect(strstr(err, "4294967297") != NULL, "%s", err);
    refused("ib = { port = 4294971298; };\n", NULL, "ib.port");
    refused("ib = { client_id = 4294967297L; };\n", NULL, "ib.client_id");
    /* In range with an L suffix, or hex: accepted. */
    cr_expect_eq(check("ib = { client_id = 12L; };\nrisk = { max_order_notional = 5000000000L; };\n", NULL),
                 0, "%s", err);
    cr_expect(strstr(out, "ib.client_id = 12;") != NULL);
    cr_expect(strstr(out, "risk.max_order_notional = 5000000000;") != NULL);
    refused("risk = { max_order_notional = 5000000000000; };\n", NULL, "risk.max_order_notional");
}

Test(config, invalid_values_name_the_key)
{
    refused("ib = { port = 70000; };\n", NULL, "ib.port");
    refused("ib = { port = \"4002\"; };\n", NULL, "ib.port");
    refused("ib = { client_id = -1; };\n", NULL, "ib.client_id");
    refused("ib = { trading_mode = \"demo\"; };\n", NULL, "ib.trading_mode");
    refused("ib = { simulator = \"yes\"; };\n", NULL, "ib.simulator");
    refused("ib = { pacing = { rate = 51; }; };\n", NULL, "ib.pacing.rate");
    refused("ib = { pacing = { rate = 48; burst = 5; }; };\n", NULL, "ib.pacing.burst");
    refused("ib = { keepalive_idle_ms = 5000; stall_timeout_ms = 5000; };\n", NULL, "ib.stall_timeout_ms");
    refused("ib = { backoff_min_ms = 5000; backoff_max_ms = 1000; };\n", NULL, "ib.backoff_max_ms");
    refused("ib = { host = \"\"; };\n", NULL, "ib.host");
    refused("ib = { watchlist = [\"AAPL\", \"BAD.KEY\"]; };\n", NULL, "ib.watchlist");
    refused("nats = { quote_encoding = \"xml\"; };\n", NULL, "nats.quote_encoding");
    refused("nats = { subject_prefix = \"ib.>\"; };\n", NULL, "nats.subject_prefix");
    refused("nats = { urls = []; };\n", NULL, "nats.urls");
    refused("nats = { url = []; };\n", NULL, "nats.url");
    refused("nats = { url = [\"localhost:4222\"]; };\n", NULL, "nats.url");
    refused("nats = { tls_cert = \"/dev/null\"; };\n", NULL, "nats.tls_key");
    refused("nats = { urls = [\"localhost 4222\"]; };\n", NULL, "nats.urls");
    refused("nats = { password = \"x\"; };\n", NULL, "nats.password");
    refused("nats = { creds = \"/nonexistent/x.creds\"; };\n", NULL, "nats.creds");
    refused("nats = { request_timeout_ms = 10; };\n", NULL, "nats.request_timeout_ms");
    refused("risk = { max_order_qty = 0; };\n", NULL, "risk.max_order_qty");
    refused("risk = { allowed_symbols = (\"AAPL\", 5); };\n", NULL, "risk.allowed_symbols");
    refused("log = { level = \"loud\"; };\n", NULL, "log.level");
    refused("ib = { prot = 4002; };\n", NULL, "ib.prot");
    refused("ibb = { port = 4002; };\n", NULL, "ibb");
}

Test(config, invalid_environment_names_key_and_variable)
{
    const char *e1[] = {"IB_PORT=abc", NULL};
    refused(NULL, e1, "ib.port");
    cr_expect(strstr(err, "IB_PORT") != NULL, "%s", err);
    const char *e2[] = {"IBB_LOG_LEVEL=loud", NULL};
    refused(NULL, e2, "log.level");
    const char *e3[] = {"IBB_PACING_RATE=50.5", NULL};
    refused(NULL, e3, "ib.pacing.rate");
    const char *e4[] = {"IB_SIMULATOR=maybe", NULL};
    refused(NULL, e4, "ib.simulator");
}

Test(config, trading_mode_safety)
{
    /* paper (default) on a live port */
    refused("ib = { port = 4001; };\n", NULL, "ib.port");
    refused("ib = { port = 7496; trading_mode = \"paper\"; };\n", NULL, "ib.port");
    /* live on a paper port, by file or by environment */
    refused("ib = { trading_mode = \"live\"; port = 4002; };\n", NULL, "ib.trading_mode");
    const char *live_env[] = {"IB_TRADING_MODE=live", NULL};
    refused("ib = { port = 7497; };\n", live_env, "ib.trading_mode");
    /* live with the simulator flag */
    refused("ib = { trading_mode = \"live\"; port = 4001; simulator = true; };\n", NULL, "ib.simulator");
    /* paper on a port that is neither: only for a simulator named explicitly */
    refused("ib = { port = 5555; };\n", NULL, "ib.port");
    cr_expect_eq(check("ib = { port = 5555; simulator = true; };\n", NULL), 0, "%s", err);
    const char *sim_env[] = {"IB_SIMULATOR=true", "IB_PORT=5555", NULL};
    cr_expect_eq(check(NULL, sim_env), 0, "%s", err);
    /* and the accepted combinations */
    cr_expect_eq(check("ib = { trading_mode = \"live\"; port = 4001; };\n", NULL), 0, "%s", err);
    cr_expect_eq(check("ib = { trading_mode = \"live\"; port = 7496; };\n", NULL), 0, "%s", err);
    cr_expect_eq(check("ib = { port = 7497; };\n", NULL), 0, "%s", err);
    /* the gateway container's relays follow the same rule: 4004 paper, 4003 live */
    cr_expect_eq(check("ib = { port = 4004; };\n", NULL), 0, "%s", err);
    refused("ib = { port = 4003; };\n", NULL, "ib.port");
    refused("ib = { trading_mode = \"live\"; port = 4004; };\n", NULL, "ib.trading_mode");
    cr_expect_eq(check("ib = { trading_mode = \"live\"; port = 4003; };\n", NULL), 0, "%s", err);
}

Test(config, secrets_masked)
{
    const char *text = "nats = { user = \"svc\"; password = \"hunter2\"; };\n";
    const char *env[] = {"NATS_TOKEN=", NULL};
    cr_assert_eq(check(text, env), 0, "%s", err);
    cr_expect(strstr(out, "hunter2") == NULL, "password printed:\n%s", out);
    cr_expect(strstr(out, "nats.password = \"****\";") != NULL, "%s", out);
    cr_expect(strstr(out, "nats.user = \"svc\";") != NULL);
    const char *env2[] = {"NATS_TOKEN=s3cr3t-token", NULL};
    cr_assert_eq(check(NULL, env2), 0, "%s", err);
    cr_expect(strstr(out, "s3cr3t") == NULL, "token printed:\n%s", out);
}

Test(config, syntax_error_and_missing_file)
{
    int rc = check("ib = { port = ; };\n", NULL);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, ":1:") != NULL, "no line number: %s", err);
    const char *argv[] = {IBB_BRIDGE_BIN, "--config", "/nonexistent/ib-bridge.conf", "--check-config", NULL};
    rc = test_Run(argv, NULL, out, sizeof out, err, sizeof err, 20000);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "/nonexistent/ib-bridge.conf") != NULL, "%s", err);
}

Test(config, help_and_version)
{
    const char *argv[] = {IBB_BRIDGE_BIN, "--help", NULL};
    cr_assert_eq(test_Run(argv, NULL, out, sizeof out, err, sizeof err, 20000), 0);
    const char *must[] = {"--config",
                          "--check-config",
                          "ib.client_id",
                          "IB_CLIENT_ID",
                          "IB_HOST",
                          "IB_PORT",
                          "IB_TRADING_MODE",
                          "NATS_URL",
                          "IBB_LOG_LEVEL",
                          "risk.max_order_notional",
                          "nats.quote_encoding",
                          "msgpack|json",
                          "ib.pacing.rate"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        cr_expect(strstr(out, must[i]) != NULL, "--help lacks %s", must[i]);
    const char *argv2[] = {IBB_BRIDGE_BIN, "--version", NULL};
    cr_assert_eq(test_Run(argv2, NULL, out, sizeof out, err, sizeof err, 20000), 0);
    cr_expect(strncmp(out, "ib-bridge ", 10) == 0, "%s", out);
    const char *argv3[] = {IBB_BRIDGE_BIN, "--bogus", NULL};
    cr_expect_eq(test_Run(argv3, NULL, out, sizeof out, err, sizeof err, 20000), 2);
    cr_expect(strstr(err, "--bogus") != NULL, "%s", err);
}
