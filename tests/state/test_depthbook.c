/* test_depthbook.c — IB's depth row operations: inserts and deletes shift, updates replace, bad
 * operations are refused without changing the book, 317 clears. */
#include <criterion/criterion.h>
#include <string.h>

#include "st_depthbook.h"

static stDepthBook bk;

Test(depthbook, insert_update_delete_shift_rows)
{
    stDepthBook_Init(&bk, 5);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_BID, ST_DEPTH_INSERT, 0, 100.0, 300, "NSDQ"), IBB_OK);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_BID, ST_DEPTH_INSERT, 1, 99.99, 200, "ARCA"), IBB_OK);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_BID, ST_DEPTH_INSERT, 0, 100.01, 100, NULL), IBB_OK);
    cr_assert_eq(bk.count[ST_DEPTH_BID], 3);
    cr_assert_eq(bk.side[ST_DEPTH_BID][0].price, 100.01);
    cr_assert_str_eq(bk.side[ST_DEPTH_BID][0].market_maker, "");
    cr_assert_eq(bk.side[ST_DEPTH_BID][1].price, 100.0);
    cr_assert_str_eq(bk.side[ST_DEPTH_BID][2].market_maker, "ARCA");
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_BID, ST_DEPTH_UPDATE, 1, 100.0, 700, "IEX"), IBB_OK);
    cr_assert_eq(bk.side[ST_DEPTH_BID][1].size, 700);
    cr_assert_str_eq(bk.side[ST_DEPTH_BID][1].market_maker, "IEX");
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_BID, ST_DEPTH_DELETE, 0, 0, 0, NULL), IBB_OK);
    cr_assert_eq(bk.count[ST_DEPTH_BID], 2);
    cr_assert_eq(bk.side[ST_DEPTH_BID][0].price, 100.0);
    cr_assert_eq(bk.side[ST_DEPTH_BID][1].price, 99.99);
    cr_assert_eq(bk.count[ST_DEPTH_ASK], 0, "sides are independent");
    cr_assert_eq(bk.ops, 5);
}

Test(depthbook, bad_operations_are_refused_and_change_nothing)
{
    stDepthBook_Init(&bk, 3);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, 0, 10, 1, "X"), IBB_OK);
    stDepthBook before = bk;
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, 2, 10, 1, NULL), IBB_ERR_PROTOCOL);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_UPDATE, 1, 10, 1, NULL), IBB_ERR_PROTOCOL);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_DELETE, 1, 0, 0, NULL), IBB_ERR_PROTOCOL);
    cr_assert_eq(stDepthBook_Apply(&bk, 2, ST_DEPTH_INSERT, 0, 10, 1, NULL), IBB_ERR_PROTOCOL);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, 3, 0, 10, 1, NULL), IBB_ERR_PROTOCOL);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_UPDATE, -1, 10, 1, NULL), IBB_ERR_PROTOCOL);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, 1000, 10, 1, NULL), IBB_ERR_PROTOCOL);
    cr_assert_eq(memcmp(&before, &bk, sizeof bk), 0);
}

Test(depthbook, insert_then_delete_at_the_bottom_of_a_full_book)
{
    stDepthBook_Init(&bk, ST_DEPTH_MAX_ROWS);
    for (int i = 0; i < ST_DEPTH_MAX_ROWS; i++)
        cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, i, 10 + i, 1, NULL), IBB_OK);
    /* the inside improves: IB inserts at the top, then deletes the row pushed past `rows` */
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, 0, 9.5, 1, NULL), IBB_OK);
    cr_assert_eq(bk.count[ST_DEPTH_ASK], ST_DEPTH_MAX_ROWS + 1);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_DELETE, ST_DEPTH_MAX_ROWS, 0, 0, NULL), IBB_OK);
    cr_assert_eq(bk.count[ST_DEPTH_ASK], ST_DEPTH_MAX_ROWS);
    cr_assert_eq(bk.side[ST_DEPTH_ASK][0].price, 9.5);
    cr_assert_eq(bk.side[ST_DEPTH_ASK][ST_DEPTH_MAX_ROWS - 1].price, 10 + ST_DEPTH_MAX_ROWS - 2);
    /* a full side still takes an insert (the last row falls off) */
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, 0, 9.0, 1, NULL), IBB_OK);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, 0, 8.0, 1, NULL), IBB_OK);
    cr_assert_eq(bk.count[ST_DEPTH_ASK], ST_DEPTH_CAP);
}

Test(depthbook, reset_clears_and_rebuilds)
{
    stDepthBook_Init(&bk, 0);
    cr_assert_eq(bk.rows, 1, "rows are clamped");
    stDepthBook_Init(&bk, 10);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_BID, ST_DEPTH_INSERT, 0, 5, 1, "A"), IBB_OK);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_ASK, ST_DEPTH_INSERT, 0, 6, 1, "B"), IBB_OK);
    stDepthBook_Clear(&bk);
    cr_assert_eq(bk.count[0] + bk.count[1], 0);
    cr_assert_eq(bk.rows, 10);
    cr_assert_eq(stDepthBook_Apply(&bk, ST_DEPTH_BID, ST_DEPTH_INSERT, 0, 5.5, 2, "C"), IBB_OK);
    cr_assert_eq(bk.side[ST_DEPTH_BID][0].price, 5.5);
}
