/* test_ratewin.c — the sliding-window limiter: 60 per 10 minutes, 1 per 15 s. */
#include <criterion/criterion.h>

#include "st_ratewin.h"

Test(ratewin, sixty_per_ten_minutes)
{
    stRateWin w;
    stRateWin_Init(&w, 60, 600000);
    for (int i = 0; i < 60; i++) {
        cr_assert_eq(stRateWin_WaitMs(&w, 1000 + i * 1000), 0);
        stRateWin_Note(&w, 1000 + i * 1000);
    }
    cr_assert_eq(stRateWin_Used(&w, 61000), 60);
    /* the 61st waits until the first leaves the window */
    cr_assert_eq(stRateWin_WaitMs(&w, 61000), 1000 + 600000 - 61000);
    cr_assert_eq(stRateWin_WaitMs(&w, 601000), 0);
    stRateWin_Note(&w, 601000);
    cr_assert_eq(stRateWin_WaitMs(&w, 601000), 2000 + 600000 - 601000);
    cr_assert_eq(stRateWin_Used(&w, 601000), 60);
    cr_assert_eq(stRateWin_Used(&w, 2000000), 0);
}

Test(ratewin, one_per_fifteen_seconds)
{
    stRateWin w;
    stRateWin_Init(&w, 0, 15000);
    cr_assert_eq(w.max, 1, "max is clamped");
    cr_assert_eq(stRateWin_WaitMs(&w, 0), 0);
    stRateWin_Note(&w, 100);
    cr_assert_eq(stRateWin_WaitMs(&w, 5100), 10000);
    cr_assert_eq(stRateWin_WaitMs(&w, 15100), 0);
    stRateWin_Note(&w, 15100);
    cr_assert_eq(stRateWin_WaitMs(&w, 15100), 15000);
}
