/* test_quotebook.c — tick merging, delayed ids, batching into one event per read, seq. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "st_quotebook.h"

static ibReply price(int64_t id, int type, double px, double sz)
{
    ibReply r = {.id = IB_MSG_TICK_PRICE};
    r.u.tick_price = (ibTickPrice){.req_id = id, .tick_type = type, .price = px, .size = sz};
    return r;
}
static ibReply size(int64_t id, int type, double sz)
{
    ibReply r = {.id = IB_MSG_TICK_SIZE};
    r.u.tick_size = (ibTickSize){.req_id = id, .tick_type = type, .size = sz};
    return r;
}

static int flushed;
static stQuote *last_flushed;
static void on_flush(void *ud, stQuote *q)
{
    (void)ud;
    flushed++;
    last_flushed = q;
}

Test(quotebook, merges_ticks_and_batches_per_read)
{
    stQuoteBook *qb;
    cr_assert_eq(stQuoteBook_Create(&qb), IBB_OK);
    stQuote *q = stQuoteBook_Add(qb, "AAPL", NULL);
    cr_assert_not_null(q);
    cr_assert(isnan(q->bid) && isnan(q->ask));
    cr_assert_eq(stQuoteBook_Bind(qb, q, 1001), IBB_OK);
    ibReply ticks[] = {price(1001, IB_TICK_BID, 185.1, 300), price(1001, IB_TICK_ASK, 185.2, 200),
                       size(1001, IB_TICK_VOLUME, 12345), price(1001, IB_TICK_LAST, 185.15, 100)};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(stQuoteBook_Apply(qb, &ticks[i], 42), q);
    flushed = 0;
    cr_assert_eq(stQuoteBook_Flush(qb, on_flush, NULL), 1, "one read, one instrument: one event");
    cr_assert_eq(flushed, 1);
    cr_assert_eq(last_flushed->seq, 1);
    cr_assert_float_eq(q->bid, 185.1, 1e-9);
    cr_assert_float_eq(q->bid_size, 300, 1e-9);
    cr_assert_float_eq(q->ask, 185.2, 1e-9);
    cr_assert_float_eq(q->ask_size, 200, 1e-9);
    cr_assert_float_eq(q->last, 185.15, 1e-9);
    cr_assert_float_eq(q->volume, 12345, 1e-9);
    cr_assert_eq(q->recv_ts_ns, 42);
    cr_assert_eq(stQuoteBook_Flush(qb, on_flush, NULL), 0, "nothing new, nothing published");
    ibReply same = price(1001, IB_TICK_BID, 185.1, 300);
    cr_assert_null(stQuoteBook_Apply(qb, &same, 43), "an unchanged tick is not an event");
    ibReply moved = price(1001, IB_TICK_BID, 185.0, IB_UNSET_DOUBLE);
    cr_assert_eq(stQuoteBook_Apply(qb, &moved, 44), q);
    cr_assert_eq(stQuoteBook_Flush(qb, on_flush, NULL), 1);
    cr_assert_eq(q->seq, 2);
    cr_assert_float_eq(q->bid_size, 300, 1e-9, "an unset size in tickPrice keeps the old size");
    stQuoteBook_Destroy(qb);
}

Test(quotebook, delayed_ids_types_strings_and_unknown_ids)
{
    stQuoteBook *qb;
    stQuoteBook_Create(&qb);
    stQuote *a = stQuoteBook_Add(qb, "AAPL", NULL), *m = stQuoteBook_Add(qb, "MSFT", NULL);
    stQuoteBook_Bind(qb, a, 1);
    stQuoteBook_Bind(qb, m, 2);
    ibReply mdt = {.id = IB_MSG_MARKET_DATA_TYPE, .u.market_data_type = {.req_id = 2, .market_data_type = 3}};
    ibReply d = price(2, IB_TICK_DELAYED_BID, 410.5, 7);
    ibReply ts = {.id = IB_MSG_TICK_STRING, .u.tick_string = {.req_id = 1, .tick_type = IB_TICK_LAST_TIMESTAMP,
                                                              .value = "1752606307"}};
    ibReply halted = {.id = IB_MSG_TICK_GENERIC, .u.tick_generic = {.req_id = 1, .tick_type = IB_TICK_HALTED, .value = 1}};
    ibReply stray = price(99, IB_TICK_BID, 1, 1);
    ibReply nobid = price(1, IB_TICK_BID, -1, 0);
    cr_assert_eq(stQuoteBook_Apply(qb, &mdt, 1), m);
    cr_assert_eq(stQuoteBook_Apply(qb, &d, 1), m);
    cr_assert_eq(stQuoteBook_Apply(qb, &ts, 1), a);
    cr_assert_eq(stQuoteBook_Apply(qb, &halted, 1), a);
    cr_assert_null(stQuoteBook_Apply(qb, &stray, 1), "ticks for an unknown id are ignored");
    stQuoteBook_Apply(qb, &nobid, 1);
    cr_assert(isnan(a->bid), "-1 means no price: bid stays unknown");
    cr_assert_float_eq(a->bid_size, 0, 1e-9, "its size still counts");
    cr_assert_eq(m->market_data_type, ST_MD_DELAYED);
    cr_assert_str_eq(stMarketDataType_Name(m->market_data_type), "delayed");
    cr_assert_float_eq(m->bid, 410.5, 1e-9);
    cr_assert_eq(a->last_trade_ts, 1752606307);
    cr_assert_eq(a->halted, 1);
    cr_assert_eq(stQuoteBook_Flush(qb, NULL, NULL), 2);
    stQuoteBook_UnbindAll(qb);
    ibReply again = price(1, IB_TICK_BID, 5, 5);
    cr_assert_null(stQuoteBook_Apply(qb, &again, 1), "after a reconnect old ids route nowhere");
    cr_assert_eq(stQuoteBook_FindByReqId(qb, 1), NULL);
    stQuoteBook_Bind(qb, a, 7);
    cr_assert_eq(stQuoteBook_FindByReqId(qb, 7), a);
    stQuote_SetStatus(qb, a, 354, "Requested market data is not subscribed.");
    stQuoteBook_Remove(qb, "AAPL");
    cr_assert_eq(stQuoteBook_Flush(qb, NULL, NULL), 0, "a removed quote is not flushed");
    cr_assert_null(stQuoteBook_Find(qb, "AAPL"));
    cr_assert_eq(stQuoteBook_Count(qb), 1);
    stQuoteBook_Destroy(qb);
}
