/* test_sim_wire.c — a real ib-sim process, spoken to with the adapter's own codec: requests from
 * ib_encodeRequest, every reply frame through ib_decodeReply (every field consumed). This is what
 * ib-bridge will see from ib-sim. IB_SIM_BIN is the binary (set by CMake). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ib_msgs.h"

static pid_t g_pid = -1;

static int start_sim(int *port)
{
    int out[2];
    cr_assert_eq(pipe(out), 0);
    g_pid = fork();
    cr_assert_geq(g_pid, 0);
    if (g_pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(IB_SIM_BIN, IB_SIM_BIN, "--port", "0", "--seed", "5", "--tick-rate", "50", "--hist-update-ms",
              "200", "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[256];
    size_t len = 0;
    struct pollfd pfd = { out[0], POLLIN, 0 };
    while (len + 1 < sizeof buf && poll(&pfd, 1, 10000) > 0) {
        ssize_t n = read(out[0], buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (strchr(buf, '\n'))
            break;
    }
    buf[len] = '\0';
    cr_assert(sscanf(buf, "ib-sim ready port=%d", port) == 1, "ib-sim did not start: '%s'", buf);
    return out[0];
}

static void stop_sim(void)
{
    if (g_pid <= 0)
        return;
    kill(g_pid, SIGTERM);
    int status = 0;
    waitpid(g_pid, &status, 0);
    g_pid = -1;
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ib-sim exits 0 on SIGTERM (status %d)", status);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, ibWriter *w)
{
    size_t off = 0;
    while (off < ibWriter_Len(w)) {
        ssize_t n = write(fd, ibWriter_Data(w) + off, ibWriter_Len(w) - off);
        cr_assert_gt(n, 0);
        off += (size_t)n;
    }
    ibWriter_Reset(w);
}

static void contract(ibContract *c, const char *sym, const char *type, const char *ex, const char *ccy)
{
    c->symbol = sym;
    c->sec_type = type;
    c->exchange = ex;
    c->currency = ccy;
}

static void queue_requests(ibWriter *w, int sv)
{
    ibRequest r;
#define SEND() cr_assert_eq(ib_encodeRequest(w, sv, &r), IBB_OK, "encode %d", (int)r.id)
    ibRequest_Init(&r, IB_REQ_CURRENT_TIME); SEND();
    ibRequest_Init(&r, IB_REQ_MANAGED_ACCTS); SEND();
    ibRequest_Init(&r, IB_REQ_IDS); r.u.req_ids.num_ids = 1; SEND();
    ibRequest_Init(&r, IB_REQ_MKT_DATA);
    r.u.mkt_data.req_id = 1;
    contract(&r.u.mkt_data.contract, "AAPL", "STK", "SMART", "USD");
    r.u.mkt_data.generic_ticks = "233,236";
    SEND();
    ibRequest_Init(&r, IB_REQ_MARKET_DATA_TYPE); r.u.market_data_type.market_data_type = 3; SEND();
    ibRequest_Init(&r, IB_REQ_MKT_DATA);
    r.u.mkt_data.req_id = 2;
    contract(&r.u.mkt_data.contract, "EUR", "CASH", "IDEALPRO", "USD");
    r.u.mkt_data.snapshot = true;
    SEND();
    ibRequest_Init(&r, IB_REQ_MARKET_DATA_TYPE); r.u.market_data_type.market_data_type = 1; SEND();
    const char *syms[3][4] = {
        {"AAPL", "STK", "SMART", "USD"}, {"ES", "FUT", "CME", "USD"}, {"EUR", "CASH", "IDEALPRO", "USD"}};
    for (int i = 0; i < 3; i++) {
        ibRequest_Init(&r, IB_REQ_CONTRACT_DETAILS);
        r.u.contract_details.req_id = 10 + i;
        contract(&r.u.contract_details.contract, syms[i][0], syms[i][1], syms[i][2], syms[i][3]);
        SEND();
    }
    ibRequest_Init(&r, IB_REQ_CONTRACT_DETAILS);
    r.u.contract_details.req_id = 13;
    contract(&r.u.contract_details.contract, "NOPE", "STK", "SMART", "USD");
    SEND();
    ibRequest_Init(&r, IB_REQ_HISTORICAL_DATA);
    r.u.historical.req_id = 20;
    contract(&r.u.historical.contract, "AAPL", "STK", "SMART", "USD");
    r.u.historical.end_date_time = "20240105 16:00:00 US/Eastern";
    r.u.historical.bar_size = "1 hour";
    r.u.historical.duration = "5 D";
    r.u.historical.use_rth = true;
    r.u.historical.what_to_show = "TRADES";
    SEND();
    ibRequest_Init(&r, IB_REQ_HISTORICAL_DATA);
    r.u.historical.req_id = 21;
    contract(&r.u.historical.contract, "ES", "CONTFUT", "CME", "USD");
    r.u.historical.end_date_time = "";
    r.u.historical.bar_size = "5 mins";
    r.u.historical.duration = "3600 S";
    r.u.historical.what_to_show = "BID_ASK";
    r.u.historical.format_date = 2;
    r.u.historical.keep_up_to_date = true;
    SEND();
    ibRequest_Init(&r, IB_REQ_PLACE_ORDER);
    contract(&r.u.place_order.contract, "AAPL", "STK", "SMART", "USD");
    r.u.place_order.order.order_id = 100;
    r.u.place_order.order.action = "BUY";
    r.u.place_order.order.total_qty = 300;
    r.u.place_order.order.order_type = "MKT";
    r.u.place_order.order.tif = "DAY";
    SEND();
    ibRequest_Init(&r, IB_REQ_PLACE_ORDER);
    contract(&r.u.place_order.contract, "MSFT", "STK", "SMART", "USD");
    r.u.place_order.order.order_id = 101;
    r.u.place_order.order.action = "SELL";
    r.u.place_order.order.total_qty = 10;
    r.u.place_order.order.order_type = "LMT";
    r.u.place_order.order.lmt_price = 9999.0;
    r.u.place_order.order.tif = "GTC";
    SEND();
    ibRequest_Init(&r, IB_REQ_OPEN_ORDERS); SEND();
    ibRequest_Init(&r, IB_REQ_CANCEL_ORDER);
    r.u.cancel_order.order_id = 101;
    r.u.cancel_order.manual_cancel_time = "";
    SEND();
    ibRequest_Init(&r, IB_REQ_ALL_OPEN_ORDERS); SEND();
    ibRequest_Init(&r, IB_REQ_EXECUTIONS); r.u.executions.req_id = 30; SEND();
    ibRequest_Init(&r, IB_REQ_COMPLETED_ORDERS); r.u.api_only = true; SEND();
    ibRequest_Init(&r, IB_REQ_POSITIONS); SEND();
    ibRequest_Init(&r, IB_REQ_ACCOUNT_SUMMARY);
    r.u.account_summary.req_id = 40;
    r.u.account_summary.group = "All";
    r.u.account_summary.tags = "NetLiquidation,TotalCashValue,BuyingPower,AvailableFunds,ExcessLiquidity,"
                               "GrossPositionValue,RealizedPnL,UnrealizedPnL,AccountType";
    SEND();
    ibRequest_Init(&r, IB_REQ_ACCOUNT_UPDATES);
    r.u.account_updates.subscribe = true;
    r.u.account_updates.account = "";
    SEND();
#undef SEND
}

Test(sim_wire, every_frame_from_ib_sim_decodes_with_the_adapter_codec, .timeout = 30)
{
    int port, out = start_sim(&port);
    int fd = connect_to(port);
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ibWriter_Handshake(&w, 100, 176, NULL), IBB_OK);
    send_all(fd, &w);
    ibFramer *f;
    cr_assert_eq(ibFramer_Create(&f, IB_FRAMER_CLIENT), IBB_OK);
    int counts[128] = { 0 }, completed[2] = { 0 }, errors[16] = { 0 }, nerr = 0, frames = 0, sv = 0;
    bool sent = false;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (el > 2.5)
            break;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof buf);
        cr_assert_gt(n, 0, "ib-sim closed the connection");
        cr_assert_eq(ibFramer_Feed(f, buf, (size_t)n), IBB_OK);
        const char *payload;
        size_t len;
        ibbStatus st;
        while ((st = ibFramer_Next(f, &payload, &len, NULL)) == IBB_OK) {
            frames++;
            if (!sv) {
                ibServerVersion v;
                cr_assert_eq(ib_decodeServerVersion(payload, len, &v), IBB_OK);
                sv = (int)v.server_version;
                cr_assert_eq(sv, 176);
                ibRequest r;
                ibRequest_Init(&r, IB_REQ_START_API);
                r.u.start_api.client_id = 9;
                r.u.start_api.optional_capabilities = "";
                cr_assert_eq(ib_encodeRequest(&w, sv, &r), IBB_OK);
                send_all(fd, &w);
                continue;
            }
            ibReply rep;
            st = ib_decodeReply(sv, payload, len, &rep);
            cr_expect_eq(st, IBB_OK, "reply id %d does not decode: %s (%.*s)", (int)rep.id,
                         ibbStatus_Name(st), (int)(len > 60 ? 60 : len), payload);
            if (st != IBB_OK)
                continue;
            if (rep.id > 0 && rep.id < 128)
                counts[rep.id]++;
            if (rep.id == IB_MSG_ERROR && nerr < 16)
                errors[nerr++] = (int)rep.u.error.code;
            if (rep.id == IB_MSG_NEXT_VALID_ID && !sent) {
                queue_requests(&w, sv);
                send_all(fd, &w);
                sent = true;
            }
            if (rep.id == IB_MSG_COMPLETED_ORDER) {   /* the filled MKT and the cancelled LMT */
                const ibCompletedOrder *co = &rep.u.completed_order;
                bool filled = strcmp(co->status, "Filled") == 0;
                completed[filled]++;
                cr_expect_str_eq(co->contract.symbol, filled ? "AAPL" : "MSFT");
                cr_expect_eq(co->filled_qty, filled ? 300 : 0);
                cr_expect_str_eq(co->completed_status, filled ? "Filled Size: 300" : "Cancelled by Trader");
                cr_expect_gt(co->perm_id, 0);
            }
            if (rep.id == IB_MSG_TICK_PRICE && rep.u.tick_price.req_id == 1)
                cr_expect_gt(rep.u.tick_price.price, 0);
        }
        cr_assert_eq(st, IBB_NEED_MORE, "framing: %s", ibbStatus_Name(st));
    }
    close(fd);
    ibFramer_Destroy(f);
    ibWriter_Free(&w);
    stop_sim();
    close(out);
    cr_assert(sent, "nextValidId arrived");
    static const int want[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 15, 17, 45, 46,
                               49, 52, 53, 54, 55, 57, 58, 59, 61, 62, 63, 64, 81, 90, 101, 102};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_gt(counts[want[i]], 0, "no message %d (%s) from ib-sim", want[i], ib_replyName(want[i]));
    bool saw200 = false, saw202 = false;
    for (int i = 0; i < nerr; i++) {
        saw200 |= errors[i] == 200;
        saw202 |= errors[i] == 202;
    }
    cr_expect(saw200 && saw202, "errors 200 (unknown contract) and 202 (cancel) sent");
    cr_expect_gt(frames, 100);
    cr_expect(completed[0] == 1 && completed[1] == 1, "completed orders: %d cancelled, %d filled",
              completed[0], completed[1]);
}
