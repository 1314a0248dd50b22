/* test_histgov.c — the pacing governor never breaks IB's rules, under a virtual clock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "st_histgov.h"

typedef struct rec { int64_t ts; char pace[32]; char key[64]; int weight; } rec;
static rec sends[1000];
static int nsends;
static int64_t clock_ms;
static int64_t next_req = 1;

static void on_send(void *ud, stHistJob *j)
{
    (void)ud;
    cr_assert_lt(nsends, 1000);
    rec *r = &sends[nsends++];
    r->ts = clock_ms;
    snprintf(r->pace, sizeof r->pace, "%s", j->pace_key);
    snprintf(r->key, sizeof r->key, "%s", j->key);
    r->weight = j->weight;
    j->req_id = next_req++;
}

/* Checks every rule of PROTOCOL.md §5.3 over the recorded sends. */
static void assert_ib_rules_kept(void)
{
    for (int i = 0; i < nsends; i++) {
        int in10 = 0, in2 = 0;
        for (int k = 0; k <= i; k++) {
            if (sends[k].ts > sends[i].ts - 600000)
                in10 += sends[k].weight;
            if (sends[k].ts > sends[i].ts - 2000 && strcmp(sends[k].pace, sends[i].pace) == 0)
                in2 += sends[k].weight;
            if (k < i && strcmp(sends[k].key, sends[i].key) == 0)
                cr_assert_geq(sends[i].ts - sends[k].ts, 15000, "identical %s within 15 s", sends[i].key);
        }
        cr_assert_leq(in10, 60, "more than 60 in 10 minutes at send %d", i);
        cr_assert_lt(in2, 6, "six or more for %s within 2 s", sends[i].pace);
    }
}

static int answered;
static void on_answer(void *ud, void *waiter, stHistJob *j) { (void)ud; (void)waiter; (void)j; answered++; }

Test(histgov, burst_of_100_different_requests_respects_every_rule)
{
    stHistGov *g;
    cr_assert_eq(stHistGov_Create(&g, NULL), IBB_OK);
    nsends = 0;
    clock_ms = 0;
    static int waiters[100];
    for (int i = 0; i < 100; i++) {
        char key[64], pace[32];
        snprintf(pace, sizeof pace, "SYM%d|SMART|TRADES", i % 7);
        snprintf(key, sizeof key, "%s|1 D|5 mins|%d", pace, i);
        stHistJob *j;
        stHistOutcome o;
        cr_assert_eq(stHistGov_Submit(g, key, pace, i % 10 == 0 ? 2 : 1, &waiters[i], 0, &j, &o), IBB_OK);
        cr_assert_eq(o, ST_HIST_QUEUED);
    }
    cr_assert_eq(stHistGov_QueueDepth(g), 100);
    /* run the virtual clock: poll when due, answer each request 300 ms after it went out */
    answered = 0;
    for (int steps = 0; steps < 100000 && answered < 100; steps++) {
        stHistGov_Poll(g, clock_ms, on_send, NULL);
        for (int i = 0; i < nsends; i++) {
            stHistJob *j = stHistGov_FindByReqId(g, (int64_t)i + 1);
            if (j && sends[i].ts + 300 <= clock_ms)
                stHistGov_Complete(g, j, "bars", 4, clock_ms, on_answer, NULL);
        }
        int64_t due = stHistGov_NextDue(g, clock_ms);
        clock_ms = (due != INT64_MAX && due > clock_ms && due < clock_ms + 300) ? due : clock_ms + 100;
    }
    cr_assert_eq(answered, 100, "every request answered");
    cr_assert_eq(nsends, 100);
    assert_ib_rules_kept();
    /* 110 weighted units > 60: the last ones had to wait for the 10-minute window */
    cr_assert_geq(sends[99].ts, 600000);
    stHistGov_Destroy(g);
}

Test(histgov, identical_requests_share_one_ib_request_and_the_cache)
{
    stHistGov *g;
    stHistGov_Create(&g, NULL);
    nsends = 0;
    clock_ms = 1000;
    static int w[50];
    stHistJob *first = NULL, *j;
    stHistOutcome o;
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(stHistGov_Submit(g, "AAPL|1 D|5 mins|TRADES", "AAPL|SMART|TRADES", 1, &w[i], clock_ms, &j, &o), IBB_OK);
        cr_assert_eq(o, i == 0 ? ST_HIST_QUEUED : ST_HIST_JOINED);
        if (i == 0)
            first = j;
        cr_assert_eq(j, first);
    }
    cr_assert_eq(stHistGov_Poll(g, clock_ms, on_send, NULL), 1);
    cr_assert_eq(nsends, 1, "50 identical concurrent requests, one IB request");
    stHistOutcome o2;
    cr_assert_eq(stHistGov_Submit(g, "AAPL|1 D|5 mins|TRADES", "AAPL|SMART|TRADES", 1, &w[0], clock_ms + 10, &j, &o2), IBB_OK);
    cr_assert_eq(o2, ST_HIST_JOINED, "in flight: joins");
    answered = 0;
    stHistGov_Complete(g, first, "BARS", 4, clock_ms + 500, on_answer, NULL);
    cr_assert_eq(answered, 51);
    cr_assert_eq(stHistGov_Submit(g, "AAPL|1 D|5 mins|TRADES", "AAPL|SMART|TRADES", 1, &w[1], clock_ms + 9000, &j, &o), IBB_OK);
    cr_assert_eq(o, ST_HIST_CACHED);
    cr_assert_eq(j->result_len, 4);
    cr_assert(memcmp(j->result, "BARS", 4) == 0);
    /* after the cache window a new IB request goes out, never within 15 s of the last send */
    cr_assert_eq(stHistGov_Submit(g, "AAPL|1 D|5 mins|TRADES", "AAPL|SMART|TRADES", 1, &w[2], clock_ms + 15600, &j, &o), IBB_OK);
    cr_assert_eq(o, ST_HIST_QUEUED);
    clock_ms += 15600;
    cr_assert_eq(stHistGov_Poll(g, clock_ms, on_send, NULL), 1);
    cr_assert_eq(nsends, 2);
    assert_ib_rules_kept();
    stHistGov_Destroy(g);
}

Test(histgov, failed_request_is_not_repeated_within_15s_and_detach_drops_queued)
{
    stHistGov *g;
    stHistGov_Create(&g, NULL);
    nsends = 0;
    clock_ms = 0;
    int a, b;
    stHistJob *j;
    stHistOutcome o;
    stHistGov_Submit(g, "K", "P", 1, &a, 0, &j, &o);
    stHistGov_Poll(g, 0, on_send, NULL);
    answered = 0;
    stHistGov_Fail(g, j, on_answer, NULL);
    cr_assert_eq(answered, 1);
    stHistGov_Submit(g, "K", "P", 1, &b, 1000, &j, &o);
    cr_assert_eq(o, ST_HIST_QUEUED);
    cr_assert_eq(stHistGov_Poll(g, 1000, on_send, NULL), 0, "identical within 15 s must wait");
    cr_assert_eq(stHistGov_NextDue(g, 1000), 15000);
    cr_assert_geq(stHistGov_EarliestStart(g, "P", 1, 1000), 1000);
    stHistGov_Detach(g, j, &b);
    cr_assert_eq(stHistGov_QueueDepth(g), 0, "a queued job nobody waits for is dropped");
    cr_assert_eq(stHistGov_NextDue(g, 1000), INT64_MAX);
    stHistGov_Destroy(g);
}

Test(histgov, earliest_start_sees_the_queue)
{
    stHistGov *g;
    stHistGov_Create(&g, NULL);
    int w[80];
    stHistJob *j;
    stHistOutcome o;
    for (int i = 0; i < 70; i++) {
        char key[32], pace[32];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(pace, sizeof pace, "p%d", i);
        stHistGov_Submit(g, key, pace, 1, &w[i], 0, &j, &o);
    }
    cr_assert_eq(stHistGov_EarliestStart(g, "new", 1, 0), 600000, "71 > 60: the new one waits a window");
    nsends = 0;
    clock_ms = 0;
    cr_assert_eq(stHistGov_Poll(g, 0, on_send, NULL), 50, "at most 50 in flight");
    cr_assert_eq(stHistGov_InFlight(g), 50);
    cr_assert_eq(stHistGov_WindowUsed(g, 0), 50);
    stHistGov_Destroy(g);
}
