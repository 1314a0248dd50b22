/* test_candle_terms.c — the terms of an ib.rpc.candles request without a network: what IB accepts is
 * turned into IB's canonical words, what IB would refuse is refused here with a sentence naming the
 * field (so no request that IB must refuse ever costs a pacing slot). */
#include <criterion/criterion.h>
#include <string.h>

#include "br_candles_terms.h"

#define S(x) x, strlen(x)

Test(candle_terms, durations_become_seconds_and_ib_text)
{
    char out[16], err[200];
    cr_assert_eq(brq_parseDuration(S("1 D"), out, sizeof out, err, sizeof err), 86400);
    cr_assert_str_eq(out, "1 D");
    cr_assert_eq(brq_parseDuration(S(" 3 w"), out, sizeof out, err, sizeof err), 3 * 604800, "lower case unit");
    cr_assert_str_eq(out, "3 W");
    cr_assert_eq(brq_parseDuration(S("1800 S"), out, sizeof out, err, sizeof err), 1800);
    cr_assert_eq(brq_parseDuration(S("20 Y"), out, sizeof out, err, sizeof err), 20 * 31536000LL);
}

Test(candle_terms, bad_durations_name_the_field)
{
    char out[16], err[200];
    const char *bad[] = {"", "D", "1", "1 X", "0 D", "366 D", "21 Y", "1 DD", "-1 D", "1.5 D", "86401 S"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_assert_eq(brq_parseDuration(S(bad[i]), out, sizeof out, err, sizeof err), 0, "\"%s\" accepted", bad[i]);
        cr_assert(strstr(err, "'duration'"), "\"%s\": %s", bad[i], err);
    }
}

Test(candle_terms, bar_sizes_are_ibs_own)
{
    char out[16], err[300];
    cr_assert_eq(brq_parseBarSize(S("5 mins"), out, sizeof out, err, sizeof err), 300);
    cr_assert_str_eq(out, "5 mins");
    cr_assert_eq(brq_parseBarSize(S("1 min"), out, sizeof out, err, sizeof err), 60);
    cr_assert_str_eq(out, "1 min", "IB's singular");
    cr_assert_eq(brq_parseBarSize(S("5 min"), out, sizeof out, err, sizeof err), 300);
    cr_assert_str_eq(out, "5 mins", "plural restored");
    cr_assert_eq(brq_parseBarSize(S("1 hours"), out, sizeof out, err, sizeof err), 3600);
    cr_assert_str_eq(out, "1 hour");
    cr_assert_eq(brq_parseBarSize(S("1 SEC"), out, sizeof out, err, sizeof err), 1);
    cr_assert_str_eq(out, "1 secs", "IB writes seconds in the plural");
    const char *bad[] = {"", "7 mins", "2 days", "mins", "5", "5 fortnights", "4 secs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(brq_parseBarSize(S(bad[i]), out, sizeof out, err, sizeof err), 0, "\"%s\" accepted", bad[i]);
        cr_assert(strstr(err, "'bar_size'") && strstr(err, "1 month"), "\"%s\": %s", bad[i], err);
    }
}

Test(candle_terms, ibs_step_table)
{
    char err[300];
    cr_assert(brq_checkSteps(1800, 1, "1800 S", "1 secs", err, sizeof err));
    cr_assert_not(brq_checkSteps(3600, 1, "3600 S", "1 secs", err, sizeof err), "1-second bars over an hour");
    cr_assert(strstr(err, "at most 1800 S"), "%s", err);
    cr_assert(brq_checkSteps(28800, 30, "28800 S", "30 secs", err, sizeof err));
    cr_assert_not(brq_checkSteps(86400, 30, "1 D", "30 secs", err, sizeof err));
    cr_assert_not(brq_checkSteps(86400, 604800, "1 D", "1 week", err, sizeof err), "a bar longer than the duration");
    cr_assert(strstr(err, "longer than the duration"), "%s", err);
    cr_assert_not(brq_checkSteps(20 * 31536000LL, 60, "20 Y", "1 min", err, sizeof err), "millions of bars");
    cr_assert(strstr(err, "limit of 100000"), "%s", err);
    cr_assert(brq_checkSteps(20 * 31536000LL, 86400, "20 Y", "1 day", err, sizeof err));
}

Test(candle_terms, what_to_show_canonical)
{
    char out[32];
    cr_assert(brq_matchWhatToShow(S("trades"), out, sizeof out));
    cr_assert_str_eq(out, "TRADES");
    cr_assert(brq_matchWhatToShow(S("Bid_Ask"), out, sizeof out));
    cr_assert_str_eq(out, "BID_ASK");
    cr_assert_not(brq_matchWhatToShow(S("TRADE"), out, sizeof out), "a prefix is not a name");
    cr_assert_not(brq_matchWhatToShow(S("TRADESX"), out, sizeof out));
    cr_assert_not(brq_matchWhatToShow(S(""), out, sizeof out));
}

Test(candle_terms, iso_end_times)
{
    int64_t t;
    cr_assert(brq_parseIso(S("2024-01-05"), &t));
    cr_assert_eq(t, 1704412800);
    cr_assert(brq_parseIso(S("2024-01-05T16:00:00Z"), &t));
    cr_assert_eq(t, 1704470400);
    cr_assert(brq_parseIso(S("2024-01-05T16:00"), &t), "no seconds, no zone = UTC");
    cr_assert_eq(t, 1704470400);
    cr_assert(brq_parseIso(S("2024-01-05T11:00:00.250-05:00"), &t), "fraction and offset");
    cr_assert_eq(t, 1704470400);
    cr_assert(brq_parseIso(S("2024-01-05T21:30+0530"), &t), "offset without colon");
    cr_assert_eq(t, 1704470400);
    const char *bad[] = {"", "2024", "2024-13-01", "2024-02-31", "2024-01-05T25:00", "2024-01-05T16:00:00Q",
                         "2024-01-05T16", "24-01-05", "2024-01-05T16:00+15:00", "2024/01/05"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(brq_parseIso(S(bad[i]), &t), "\"%s\" accepted", bad[i]);
}

Test(candle_terms, bar_times_as_ib_sends_them)
{
    int64_t t;
    cr_assert(brq_parseBarTime("1704470400", &t), "formatDate 2: epoch seconds");
    cr_assert_eq(t, 1704470400);
    cr_assert(brq_parseBarTime("20240105", &t), "a daily bar");
    cr_assert_eq(t, 1704412800);
    cr_assert(brq_parseBarTime("20240105 16:00:00", &t));
    cr_assert_eq(t, 1704470400);
    cr_assert(brq_parseBarTime("20240105-16:00:00", &t));
    cr_assert_eq(t, 1704470400);
    cr_assert_not(brq_parseBarTime("", &t));
    cr_assert_not(brq_parseBarTime("2024-01-05", &t), "not IB's form");
    cr_assert_not(brq_parseBarTime("20240105 1x:00", &t));
}
