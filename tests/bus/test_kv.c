/* test_kv.c — busJs revision-checked KV writes against a real nats-server with JetStream: create-only,
 * update at the expected revision, a stale update refused as IBB_ERR_CONFLICT (nothing written), a
 * revision-checked delete, and IBB_ERR_IO (never a false success) while the server is down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <uv.h>

#include "bus_conn.h"
#include "bus_js.h"
#include "ibb_log.h"
#include "nats_proc.h"

static void quiet(void) { ibbLog_SetLevel(getenv("BUS_TEST_LOG") ? IBB_LOG_DEBUG : IBB_LOG_OFF); }

TestSuite(kv, .init = quiet, .fini = natsProc_Reap);

typedef struct fixture {
    char dir[64];
    int port;
    pid_t pid;
    busConn *conn;
    busJs *js;
    uv_loop_t loop;
} fixture;

static void fixture_start(fixture *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/ibb-kv-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    f->port = 0;
    f->pid = natsProc_Start(&f->port, "-js", "-sd", f->dir, NULL);
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", f->port);
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = url;
    cr_assert_eq(busConn_Create(&f->conn, &o), IBB_OK);
    uv_loop_init(&f->loop);
    busJsOptions jo;
    busJsOptions_Init(&jo);
    jo.wait_ms = 1000;
    cr_assert_eq(busJs_Create(&f->js, f->conn, &f->loop, &jo), IBB_OK);
    busJsKvConfig kc = {.bucket = "t_kv", .history = 1};
    char err[200] = "";
    cr_assert_eq(busJs_EnsureKv(f->js, &kc, err, sizeof err), IBB_OK, "%s", err);
}

static void fixture_stop(fixture *f)
{
    busJs_Close(f->js);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    busJs_Destroy(f->js);
    uv_loop_close(&f->loop);
    busConn_Destroy(f->conn);
    if (f->pid)
        natsProc_Stop(f->pid);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    cr_assert_eq(system(cmd), 0);
    bus_Shutdown(2000);
}

Test(kv, revision_checked_update_and_delete)
{
    fixture f;
    fixture_start(&f);
    char err[200] = "";
    uint64_t r1 = 0, r2 = 0, r3 = 0, rr = 0;
    cr_assert_eq(busJs_KvUpdate(f.js, "k", "one", 3, 0, &r1, err, sizeof err), IBB_OK, "%s", err);
    cr_assert_gt(r1, 0);
    cr_assert_eq(busJs_KvUpdate(f.js, "k", "two", 3, 0, &r2, err, sizeof err), IBB_ERR_CONFLICT,
                 "create-only over an existing key");
    cr_assert_eq(busJs_KvUpdate(f.js, "k", "two", 3, r1, &r2, err, sizeof err), IBB_OK, "%s", err);
    cr_assert_gt(r2, r1);
    cr_assert_eq(busJs_KvUpdate(f.js, "k", "old", 3, r1, &r3, err, sizeof err), IBB_ERR_CONFLICT,
                 "a stale revision must not overwrite a newer state");
    cr_assert(strstr(err, "changed"), "%s", err);
    char *v = NULL;
    size_t n = 0;
    cr_assert_eq(busJs_KvGetRev(f.js, "k", &v, &n, &rr, err, sizeof err), IBB_OK);
    cr_assert_str_eq(v, "two", "the stale write left the newer value");
    cr_assert_eq(rr, r2);
    free(v);
    cr_assert_eq(busJs_KvDeleteRev(f.js, "k", r1, err, sizeof err), IBB_ERR_CONFLICT);
    cr_assert_eq(busJs_KvDeleteRev(f.js, "k", r2, err, sizeof err), IBB_OK, "%s", err);
    cr_assert_eq(busJs_KvGetRev(f.js, "k", &v, &n, &rr, err, sizeof err), IBB_ERR_NOT_FOUND);
    cr_assert_eq(busJs_KvUpdate(f.js, "k", "new", 3, 0, &r3, err, sizeof err), IBB_OK,
                 "create-only after a delete: %s", err);
    fixture_stop(&f);
}

Test(kv, server_down_is_io_never_success)
{
    fixture f;
    fixture_start(&f);
    char err[200] = "";
    uint64_t r1 = 0, r2 = 0;
    cr_assert_eq(busJs_KvUpdate(f.js, "k", "one", 3, 0, &r1, err, sizeof err), IBB_OK, "%s", err);
    natsProc_Stop(f.pid);
    f.pid = 0;
    ibbStatus st = busJs_KvUpdate(f.js, "k", "two", 3, r1, &r2, err, sizeof err);
    cr_assert(st == IBB_ERR_IO || st == IBB_ERR_STATE, "got %s", ibbStatus_Name(st));
    cr_assert_eq(r2, 0);
    cr_assert_neq(busJs_KvDeleteRev(f.js, "k", r1, err, sizeof err), IBB_OK);
    fixture_stop(&f);
}
