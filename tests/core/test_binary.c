/* test_binary.c — the real ib-bridge process against a scripted IB server: it reaches ready,
 * logs each state change, and shuts down gracefully on SIGTERM (exit 0, socket closed). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "testutil.h"

typedef struct binScript {
    int64_t client_id;
    bool ready_sent;
    atomic_bool eof;
} binScript;

static void script_ready_then_wait(testPeer *p, void *arg)
{
    binScript *b = arg;
    int fd = peer_Accept(p, 15000);
    if (fd < 0 || !peer_OpenReady(p, fd, &b->client_id))
        return;
    b->ready_sent = true;
    if (peer_WaitEof(p, fd, 30000))
        atomic_store(&b->eof, true);
}

static bool wait_log(const char *path, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        char *s = test_ReadFile(path);
        bool found = strstr(s, needle) != NULL;
        free(s);
        if (found)
            return true;
        usleep(20 * 1000);
    }
    return false;
}

Test(binary, runs_until_sigterm, .timeout = 60)
{
    static binScript b;
    memset(&b, 0, sizeof b);
    testPeer *peer = peer_Start(script_ready_then_wait, &b);
    cr_assert_not_null(peer);
    char port[32], log_path[] = "/tmp/ibb-core-bin-XXXXXX";
    snprintf(port, sizeof port, "IB_PORT=%d", peer_Port(peer));
    int lfd = mkstemp(log_path);
    cr_assert(lfd >= 0);
    close(lfd);
    const char *argv[] = {IBB_BRIDGE_BIN, "--config", IBB_EXAMPLE_CONF, NULL};
    const char *env[] = {port, "IB_SIMULATOR=true", "IB_CLIENT_ID=21", NULL};
    pid_t pid = test_SpawnLogged(argv, env, log_path);
    cr_assert(pid > 0);
    bool ready = wait_log(log_path, "ib.ready", 15000);
    char *log = test_ReadFile(log_path);
    if (!ready)
        fprintf(stderr, "%s", log);
    free(log);
    if (!ready) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    cr_assert(ready, "ib-bridge never logged ib.ready");
    cr_expect_eq(b.client_id, 21, "IB_CLIENT_ID did not reach startApi");

    cr_assert_eq(kill(pid, SIGTERM), 0);
    int rc = test_Wait(pid, 10000);
    if (rc == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    log = test_ReadFile(log_path);
    cr_expect_eq(rc, 0, "exit code %d after SIGTERM\n%s", rc, log);
    const char *must[] = {"bridge.start",
                          "ib.state from=disconnected to=connecting",
                          "ib.state from=connecting to=handshaking",
                          "ib.state from=handshaking to=ready",
                          "bridge.signal",
                          "ib.state from=ready to=disconnected",
                          "bridge.stopped clean=true"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        cr_expect(strstr(log, must[i]) != NULL, "log lacks \"%s\":\n%s", must[i], log);
    free(log);
    for (int i = 0; i < 200 && !atomic_load(&b.eof); i++)
        usleep(10 * 1000);
    cr_expect(atomic_load(&b.eof), "the IB socket was not closed");
    peer_Stop(peer);
    unlink(log_path);
}

Test(binary, refuses_bad_config_before_connecting)
{
    char out[4096], err[4096];
    const char *argv[] = {IBB_BRIDGE_BIN, NULL};
    const char *env[] = {"IB_TRADING_MODE=live", "IB_PORT=4002", NULL};
    int rc = test_Run(argv, env, out, sizeof out, err, sizeof err, 10000);
    cr_expect_eq(rc, 2, "live on a paper port must not start: %d\n%s", rc, err);
    cr_expect(strstr(err, "ib.trading_mode") != NULL, "%s", err);
    cr_expect(strstr(err, "ib.connecting") == NULL, "it tried to connect:\n%s", err);
}
