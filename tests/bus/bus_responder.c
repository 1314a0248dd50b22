/* bus_responder.c — a toy service on the ibb_bus API, driven by the node tests (the tests/bus folder: service, micro, reconnect)
 * against a real nats-server. It is NOT ib-bridge: it has toy endpoints that exercise the bus.
 *
 *   echo      {"echo": <body>, "encoding": "json"|"msgpack"}
 *   types     reads symbol (string, required), qty (int), price (double), flag (bool), legs (array)
 *   slow      answers {"slept_ms": n} after body.delay_ms (answers after the deadline are no-ops)
 *   fail      answers the error body.code / body.message / body.ib_code
 *   hang      never answers (the deadline answers `timeout`)
 *   twice     answers twice (the second is refused and counted)
 *   badreply  builds a reply that is not MessagePack (`internal` error)
 *   counters  the service counters
 *   publish   publishes body.n quotes on <stream prefix>.quote.<body.key>, then answers
 * NATS link events are posted to the loop and published on <stream prefix>.evt.conn.
 *
 * usage: bus_responder --url URL [--prefix ib.rpc] [--stream-prefix ib] [--stream-mode msgpack|json|both]
 *                      [--timeout-ms N] [--max-payload N] [--id ID]
 * Prints "READY <id>" on stdout once subscribed. SIGTERM/SIGINT: graceful stop, exit 0. */
#include <pthread.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_conn.h"
#include "bus_error.h"
#include "bus_publisher.h"
#include "bus_service.h"
#include "ibb_log.h"

static uv_loop_t *loop;
static busService *svc;
static busPublisher *pub;
static pthread_mutex_t svc_mu = PTHREAD_MUTEX_INITIALIZER;
static busService *svc_for_events; /* set once the service exists; read by nats.c threads */
static uv_signal_t sigterm, sigint;
static uv_timer_t close_timer;
static int exit_code = 0;

typedef struct slowReq {
    uv_timer_t timer;
    busRequest *req;
    int64_t delay;
    struct slowReq *next, *prev;
} slowReq;
static slowReq *slow_head;

/* ------------------------------------------------------------------------------------------------ */

static void h_echo(busRequest *r, void *arg)
{
    (void)arg;
    msgpack_packer *pk = busRequest_Packer(r);
    msgpack_pack_map(pk, 2);
    busPack_Str(pk, "echo");
    msgpack_pack_object(pk, *busRequest_Body(r));
    busPack_KeyStr(pk, "encoding", busEncoding_Name(busRequest_Encoding(r)));
    busRequest_ReplyPacked(r);
    busRequest_Release(r);
}

static void h_types(busRequest *r, void *arg)
{
    (void)arg;
    const msgpack_object *b = busRequest_Body(r);
    char symbol[16];
    int64_t qty = 0;
    double price = 0;
    bool flag = false;
    const msgpack_object_array *legs = NULL;
    ibbStatus st;
    if ((st = busObj_StrCopy(b, "symbol", symbol, sizeof symbol)) != IBB_OK)
        busRequest_BadField(r, "symbol", st, "a string of at most 15 bytes");
    else if ((st = busObj_Int(b, "qty", &qty)) != IBB_OK && st != IBB_ERR_NOT_FOUND)
        busRequest_BadField(r, "qty", st, "an integer");
    else if ((st = busObj_Double(b, "price", &price)) != IBB_OK && st != IBB_ERR_NOT_FOUND)
        busRequest_BadField(r, "price", st, "a number");
    else if ((st = busObj_Bool(b, "flag", &flag)) != IBB_OK && st != IBB_ERR_NOT_FOUND)
        busRequest_BadField(r, "flag", st, "a boolean");
    else if ((st = busObj_Array(b, "legs", &legs)) != IBB_OK && st != IBB_ERR_NOT_FOUND)
        busRequest_BadField(r, "legs", st, "an array");
    else {
        msgpack_packer *pk = busRequest_Packer(r);
        msgpack_pack_map(pk, 5);
        busPack_KeyStr(pk, "symbol", symbol);
        busPack_KeyInt(pk, "qty", qty);
        busPack_KeyDouble(pk, "price", price);
        busPack_KeyBool(pk, "flag", flag);
        busPack_KeyInt(pk, "legs", legs ? (int64_t)legs->size : -1);
        busRequest_ReplyPacked(r);
    }
    busRequest_Release(r);
}

static void slow_closed(uv_handle_t *h) { free(h->data); }

static void slow_unlink(slowReq *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        slow_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

static void slow_fire(uv_timer_t *t)
{
    slowReq *s = t->data;
    msgpack_packer *pk = busRequest_Packer(s->req);
    msgpack_pack_map(pk, 1);
    busPack_KeyInt(pk, "slept_ms", s->delay);
    busRequest_ReplyPacked(s->req); /* IBB_ERR_STATE when the deadline answered first */
    busRequest_Release(s->req);
    slow_unlink(s);
    uv_close((uv_handle_t *)&s->timer, slow_closed);
}

static void h_slow(busRequest *r, void *arg)
{
    (void)arg;
    int64_t delay = 0;
    ibbStatus st = busObj_Int(busRequest_Body(r), "delay_ms", &delay);
    if (st != IBB_OK || delay < 0 || delay > 60000) {
        busRequest_BadField(r, "delay_ms", st == IBB_OK ? IBB_ERR_BAD_NUMBER : st, "an integer 0..60000");
        busRequest_Release(r);
        return;
    }
    slowReq *s = calloc(1, sizeof *s);
    s->req = r; /* keeps the handler's reference until the timer fires */
    s->delay = delay;
    s->next = slow_head;
    if (slow_head)
        slow_head->prev = s;
    slow_head = s;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, slow_fire, (uint64_t)delay, 0);
}

static void h_fail(busRequest *r, void *arg)
{
    (void)arg;
    const msgpack_object *b = busRequest_Body(r);
    char code[32] = "internal", message[200] = "failed on purpose";
    int64_t ib_code = 0;
    busObj_StrCopy(b, "code", code, sizeof code);
    busObj_StrCopy(b, "message", message, sizeof message);
    busObj_Int(b, "ib_code", &ib_code);
    busRequest_Error(r, code, message, (int)ib_code);
    busRequest_Release(r);
}

static void h_hang(busRequest *r, void *arg)
{
    (void)arg;
    busRequest_Release(r); /* never answered: the deadline will */
}

static void h_twice(busRequest *r, void *arg)
{
    (void)arg;
    msgpack_packer *pk = busRequest_Packer(r);
    msgpack_pack_map(pk, 1);
    busPack_KeyInt(pk, "answer", 1);
    ibbStatus a = busRequest_ReplyPacked(r);
    ibbStatus b = busRequest_Error(r, "internal", "second answer must never be sent", 0);
    if (a != IBB_OK || b != IBB_ERR_STATE)
        IBB_ERROR("responder.twice", "first=%s second=%s", ibbStatus_Name(a), ibbStatus_Name(b));
    busRequest_Release(r);
}

static void h_badreply(busRequest *r, void *arg)
{
    (void)arg;
    busRequest_Reply(r, "\xc1\x00", 2);
    busRequest_Release(r);
}

static void h_counters(busRequest *r, void *arg)
{
    (void)arg;
    busServiceCounters c;
    busService_Counters(svc, &c);
    msgpack_packer *pk = busRequest_Packer(r);
    msgpack_pack_map(pk, 7);
    busPack_KeyInt(pk, "requests", (int64_t)c.requests);
    busPack_KeyInt(pk, "replies", (int64_t)c.replies);
    busPack_KeyInt(pk, "errors", (int64_t)c.errors);
    busPack_KeyInt(pk, "timeouts", (int64_t)c.timeouts);
    busPack_KeyInt(pk, "late_replies", (int64_t)c.late_replies);
    busPack_KeyInt(pk, "envelope_errors", (int64_t)c.envelope_errors);
    busPack_KeyInt(pk, "in_flight", (int64_t)c.in_flight - 1); /* minus this request */
    busRequest_ReplyPacked(r);
    busRequest_Release(r);
}

static void h_publish(busRequest *r, void *arg)
{
    (void)arg;
    const msgpack_object *b = busRequest_Body(r);
    int64_t n = 0;
    char key[32], suffix[64];
    ibbStatus st;
    if ((st = busObj_Int(b, "n", &n)) != IBB_OK || n < 0 || n > 1000000) {
        busRequest_BadField(r, "n", st == IBB_OK ? IBB_ERR_BAD_NUMBER : st, "an integer 0..1000000");
    } else if ((st = busObj_StrCopy(b, "key", key, sizeof key)) != IBB_OK) {
        busRequest_BadField(r, "key", st, "a string");
    } else {
        snprintf(suffix, sizeof suffix, "quote.%s", key);
        uint64_t t0 = uv_hrtime();
        int64_t failed = 0;
        for (int64_t i = 1; i <= n; i++) {
            msgpack_packer *pk = busPublisher_Packer(pub);
            msgpack_pack_map(pk, 5);
            busPack_KeyStr(pk, "key", key);
            busPack_KeyInt(pk, "seq", i);
            busPack_KeyDouble(pk, "bid", 100.0 + (double)(i % 100) / 100.0);
            busPack_KeyDouble(pk, "ask", 100.25 + (double)(i % 100) / 100.0);
            busPack_KeyStr(pk, "note", "tab\t\"quoted\" \xc3\xa9");
            if (busPublisher_Send(pub, suffix) != IBB_OK)
                failed++;
        }
        uint64_t ns = uv_hrtime() - t0;
        msgpack_packer *pk = busRequest_Packer(r);
        msgpack_pack_map(pk, 3);
        busPack_KeyInt(pk, "published", n - failed);
        busPack_KeyInt(pk, "failed", failed);
        busPack_KeyInt(pk, "elapsed_ns", (int64_t)ns);
        busRequest_ReplyPacked(r);
    }
    busRequest_Release(r);
}

/* ------------------------------------------------------------------------------------------------
 * NATS link events: nats.c thread -> busService_Post -> loop -> publish <stream>.evt.conn */

typedef struct connEvt {
    busConnEvent ev;
    char detail[256];
    int64_t ts_ns;
} connEvt;

static void publish_conn_event(void *arg)
{
    connEvt *e = arg;
    static const char *const states[] = {"up", "down", "up", "down", "up"};
    busConnEvt ev = {.source = "nats", .event = busConnEvent_Name(e->ev), .state = states[e->ev],
                     .ts_ns = e->ts_ns};
    if (e->ev == BUS_CONN_CONNECTED || e->ev == BUS_CONN_RECONNECTED)
        ev.url = e->detail;
    else
        ev.message = e->detail;
    if (pub) {
        busConnEvt_Pack(busPublisher_Packer(pub), &ev);
        busPublisher_Send(pub, "evt.conn");
    }
    free(e);
}

static void on_conn_event(busConn *c, busConnEvent ev, const char *detail, void *user)
{
    (void)c;
    (void)user;
    connEvt *e = calloc(1, sizeof *e);
    if (e == NULL)
        return;
    e->ev = ev;
    e->ts_ns = bus_NowNs();
    snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
    pthread_mutex_lock(&svc_mu);
    ibbStatus st = svc_for_events ? busService_Post(svc_for_events, publish_conn_event, e) : IBB_ERR_STATE;
    pthread_mutex_unlock(&svc_mu);
    if (st != IBB_OK)
        free(e);
}

/* ------------------------------------------------------------------------------------------------
 * Shutdown */

static void on_svc_closed(busService *s, void *arg)
{
    (void)s;
    (void)arg;
    /* the slow timers still hold their requests (already answered `unavailable`): let them go */
    while (slow_head) {
        slowReq *x = slow_head;
        slow_unlink(x);
        uv_timer_stop(&x->timer);
        busRequest_Release(x->req);
        uv_close((uv_handle_t *)&x->timer, slow_closed);
    }
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&close_timer, NULL);
}

static void do_close(uv_timer_t *t)
{
    (void)t;
    pthread_mutex_lock(&svc_mu);
    svc_for_events = NULL;
    pthread_mutex_unlock(&svc_mu);
    busService_Close(svc, on_svc_closed, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    static int seen = 0;
    if (seen++) {
        IBB_WARN("responder.exit_now", "signal=%d", signum);
        _exit(1);
    }
    IBB_INFO("responder.stopping", "signal=%d", signum);
    busService_Stop(svc);
    uv_timer_start(&close_timer, do_close, 300, 0); /* in-flight requests get a moment to finish */
}

/* ------------------------------------------------------------------------------------------------ */

static const char *arg_value(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return dflt;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *lvl = getenv("IBB_LOG_LEVEL");
    if (lvl && ibbLog_ParseLevel(lvl) >= 0)
        ibbLog_SetLevel((ibbLogLevel)ibbLog_ParseLevel(lvl));
    loop = uv_default_loop();
    bus_Init();

    busConnOptions co;
    busConnOptions_Init(&co);
    co.urls = arg_value(argc, argv, "--url", "nats://127.0.0.1:4222");
    co.name = "bus-responder";
    co.reconnect_wait_ms = 250;
    co.on_event = on_conn_event;
    busConn *conn = NULL;
    if (busConn_Create(&conn, &co) != IBB_OK) {
        fprintf(stderr, "bus_responder: cannot connect to %s\n", co.urls);
        return 2;
    }

    busPublisherOptions po;
    busPublisherOptions_Init(&po);
    po.prefix = arg_value(argc, argv, "--stream-prefix", "ib");
    int mode = busStreamMode_Parse(arg_value(argc, argv, "--stream-mode", "msgpack"));
    po.mode = mode < 0 ? BUS_STREAM_MSGPACK : (busStreamMode)mode;
    busPublisher_Create(&pub, conn, &po);

    static const char *const meta[] = {"role", "test-responder", "lang", "c", NULL};
    busServiceOptions so;
    busServiceOptions_Init(&so);
    so.name = "ib-bridge";
    so.description = "bus test responder (toy endpoints)";
    so.subject_prefix = arg_value(argc, argv, "--prefix", "ib.rpc");
    so.request_timeout_ms = atoll(arg_value(argc, argv, "--timeout-ms", "5000"));
    so.max_payload = (size_t)atoll(arg_value(argc, argv, "--max-payload", "1048576"));
    so.id = arg_value(argc, argv, "--id", NULL);
    so.metadata = meta;
    if (busService_Create(&svc, conn, loop, &so) != IBB_OK) {
        fprintf(stderr, "bus_responder: service create failed\n");
        return 2;
    }
    const busEndpointDef eps[] = {
        {"echo", NULL, h_echo, NULL, 0},         {"types", NULL, h_types, NULL, 0},
        {"slow", NULL, h_slow, NULL, 0},         {"fail", NULL, h_fail, NULL, 0},
        {"hang", NULL, h_hang, NULL, 0},         {"twice", NULL, h_twice, NULL, 0},
        {"badreply", NULL, h_badreply, NULL, 0}, {"counters", NULL, h_counters, NULL, 0},
        {"publish", "stream.publish", h_publish, NULL, 0},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++)
        if (busService_AddEndpoint(svc, &eps[i]) != IBB_OK) {
            fprintf(stderr, "bus_responder: endpoint %s refused\n", eps[i].name);
            return 2;
        }
    if (busService_Start(svc) != IBB_OK)
        return 2;
    pthread_mutex_lock(&svc_mu);
    svc_for_events = svc;
    pthread_mutex_unlock(&svc_mu);

    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_timer_init(loop, &close_timer);

    printf("READY %s\n", busService_Id(svc));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);

    busPublisherCounters pc;
    busPublisher_Counters(pub, &pc);
    IBB_INFO("responder.exit", "published=%llu failed=%llu", (unsigned long long)pc.published,
             (unsigned long long)pc.failed);
    busPublisher_Destroy(pub);
    busConn_Destroy(conn);
    uv_loop_close(loop);
    bus_Shutdown(2000);
    return exit_code;
}
