/* test_conn.c — busConn options against a real nats-server: option conflicts are refused with
 * IBB_ERR_CONFIG, user/password and token auth connect (and the wrong secret does not), events fire. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "bus_conn.h"
#include "ibb_log.h"

extern char **environ;
static pid_t server_pid;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Starts nats-server with extra args; returns its pid, sets *port. */
static pid_t start_nats(int *port, const char *a1, const char *a2, const char *a3, const char *a4)
{
    *port = free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", *port);
    const char *bin = getenv("NATS_SERVER") ? getenv("NATS_SERVER") : "nats-server";
    char *argv[12] = {(char *)bin, "-a", "127.0.0.1", "-p", p};
    int n = 5;
    const char *extra[] = {a1, a2, a3, a4};
    for (int i = 0; i < 4 && extra[i]; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 0, 0);
    pid_t pid;
    cr_assert_eq(posix_spawnp(&pid, bin, &fa, NULL, argv, environ), 0, "cannot start %s", bin);
    server_pid = pid;
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 200 && !port_open(*port); i++)
        usleep(50000);
    cr_assert(port_open(*port), "nats-server did not listen on %d", *port);
    return pid;
}

static void stop_nats(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    server_pid = 0;
}

/* a failed assertion ends the test early: never leave its server behind */
static void reap(void)
{
    if (server_pid > 0)
        stop_nats(server_pid);
}

static void quiet(void)
{
    ibbLog_SetLevel(getenv("BUS_TEST_LOG") ? IBB_LOG_DEBUG : IBB_LOG_OFF);
}

TestSuite(conn, .init = quiet, .fini = reap);

Test(conn, conflicting_options_refused)
{
    busConnOptions o;
    busConn *c = NULL;
    busConnOptions_Init(&o);
    o.token = "t";
    o.user = "u";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG);
    busConnOptions_Init(&o);
    o.nkey = "UABC";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "nkey without seed file");
    busConnOptions_Init(&o);
    o.creds_file = "/nonexistent/x.creds";
    o.nkey = "UABC";
    o.nkey_seed_file = "/nonexistent/seed";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "creds and nkey together");
    busConnOptions_Init(&o);
    o.tls_ca_file = "/nonexistent/ca.pem";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "missing CA file");
    busConnOptions_Init(&o);
    o.tls_cert_file = "/nonexistent/cert.pem";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "cert without key");
    cr_assert_null(c);
}

typedef struct evLog {
    int connected, disconnected, closed;
} evLog;

static void on_ev(busConn *c, busConnEvent ev, const char *detail, void *arg)
{
    (void)c;
    (void)detail;
    evLog *l = arg;
    if (ev == BUS_CONN_CONNECTED)
        __atomic_add_fetch(&l->connected, 1, __ATOMIC_SEQ_CST);
    if (ev == BUS_CONN_DISCONNECTED)
        __atomic_add_fetch(&l->disconnected, 1, __ATOMIC_SEQ_CST);
    if (ev == BUS_CONN_CLOSED)
        __atomic_add_fetch(&l->closed, 1, __ATOMIC_SEQ_CST);
}

static ibbStatus try_connect(int port, const char *user, const char *pass, const char *token, evLog *l)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = url;
    o.user = user;
    o.password = pass;
    o.token = token;
    o.retry_on_failed_connect = false;
    o.max_reconnect = 0;
    o.on_event = on_ev;
    o.event_arg = l;
    busConn *c = NULL;
    ibbStatus st = busConn_Create(&c, &o);
    if (st == IBB_OK) {
        cr_assert(busConn_IsConnected(c));
        cr_assert_eq(natsConnection_Publish(busConn_Nats(c), "x.y", "hi", 2), NATS_OK);
        cr_assert_eq(natsConnection_FlushTimeout(busConn_Nats(c), 2000), NATS_OK);
        busConn_Destroy(c);
    }
    return st;
}

Test(conn, user_password_auth)
{
    int port;
    pid_t pid = start_nats(&port, "--user", "alice", "--pass", "s3cret");
    evLog l = {0};
    cr_assert_eq(try_connect(port, "alice", "s3cret", NULL, &l), IBB_OK);
    cr_assert_eq(l.connected, 1, "one connected event");
    cr_assert_eq(l.closed, 1, "Destroy waits for the closed event");
    cr_assert_neq(try_connect(port, "alice", "wrong", NULL, &l), IBB_OK, "wrong password must not connect");
    stop_nats(pid);
    bus_Shutdown(2000);
}

Test(conn, token_auth)
{
    int port;
    pid_t pid = start_nats(&port, "--auth", "tok-123", NULL, NULL);
    evLog l = {0};
    cr_assert_eq(try_connect(port, NULL, NULL, "tok-123", &l), IBB_OK);
    cr_assert_neq(try_connect(port, NULL, NULL, "nope", &l), IBB_OK);
    stop_nats(pid);
    bus_Shutdown(2000);
}

Test(conn, several_urls_first_dead)
{
    int port;
    pid_t pid = start_nats(&port, NULL, NULL, NULL, NULL);
    char urls[128];
    snprintf(urls, sizeof urls, "nats://127.0.0.1:%d,nats://127.0.0.1:%d", free_port(), port);
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = urls;
    o.retry_on_failed_connect = false;
    busConn *c = NULL;
    cr_assert_eq(busConn_Create(&c, &o), IBB_OK, "second URL must be tried");
    cr_assert(busConn_IsConnected(c));
    busConn_Destroy(c);
    stop_nats(pid);
    bus_Shutdown(2000);
}

Test(conn, no_server_without_retry_is_io_error_with_retry_is_ok)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", free_port());
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = url;
    o.retry_on_failed_connect = false;
    o.connect_timeout_ms = 500;
    busConn *c = NULL;
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_IO);
    o.retry_on_failed_connect = true;
    cr_assert_eq(busConn_Create(&c, &o), IBB_OK, "retry mode starts without a server");
    cr_assert_not(busConn_IsConnected(c));
    busConn_Destroy(c);
    bus_Shutdown(2000);
}
