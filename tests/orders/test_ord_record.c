/* test_ord_record.c — the order ledger's record states without a network: their order (a durable write
 * never replaces a higher-ranked state), which of them a start must repair, and that only a record
 * that never left "pending" counts as never sent. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "br_ord_store.h"

static brOrdRecord rec(const char *state, const char *status)
{
    brOrdRecord r;
    memset(&r, 0, sizeof r);
    snprintf(r.state, sizeof r.state, "%s", state);
    snprintf(r.status, sizeof r.status, "%s", status);
    return r;
}

Test(ord_record, states_only_go_forward)
{
    brOrdRecord pending = rec("pending", ""), sending = rec("sending", ""), unknown = rec("unknown", "Unknown"),
                working = rec("acked", "Submitted"), filled = rec("acked", "Filled"),
                cancelled = rec("acked", "Cancelled"), rejected = rec("rejected", "Rejected"),
                unacked = rec("unacknowledged", "Unacknowledged");
    cr_assert_lt(brOrdRecord_Rank(&pending), brOrdRecord_Rank(&sending));
    cr_assert_lt(brOrdRecord_Rank(&sending), brOrdRecord_Rank(&unknown), "a sent order in doubt is past sending");
    cr_assert_lt(brOrdRecord_Rank(&unknown), brOrdRecord_Rank(&working), "IB's word replaces Unknown");
    cr_assert_lt(brOrdRecord_Rank(&working), brOrdRecord_Rank(&filled), "a final status replaces a working one");
    cr_assert_eq(brOrdRecord_Rank(&filled), brOrdRecord_Rank(&cancelled));
    cr_assert_eq(brOrdRecord_Rank(&filled), brOrdRecord_Rank(&rejected));
    cr_assert_eq(brOrdRecord_Rank(&filled), brOrdRecord_Rank(&unacked));
}

Test(ord_record, a_start_repairs_what_is_not_final)
{
    const char *open[][2] = {{"pending", ""}, {"sending", ""}, {"unknown", "Unknown"}, {"acked", "Submitted"},
                             {"acked", "PreSubmitted"}};
    const char *final[][2] = {{"acked", "Filled"}, {"acked", "Cancelled"}, {"acked", "Inactive"},
                              {"rejected", "Rejected"}, {"unacknowledged", "Unacknowledged"}};
    for (size_t i = 0; i < sizeof open / sizeof open[0]; i++) {
        brOrdRecord r = rec(open[i][0], open[i][1]);
        cr_assert(brOrdRecord_NeedsRepair(&r), "%s/%s must be repaired", open[i][0], open[i][1]);
    }
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
        brOrdRecord r = rec(final[i][0], final[i][1]);
        cr_assert(!brOrdRecord_NeedsRepair(&r), "%s/%s is final", final[i][0], final[i][1]);
    }
}
