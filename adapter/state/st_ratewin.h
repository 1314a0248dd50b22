/* st_ratewin.h — a sliding-window request limiter: at most `max` requests in any `window_ms`.
 *
 * The pacing rules of IB's streams beyond level 1 (PROTOCOL.md §3.13, §3.14, §5.2): 60 new
 * real-time-bar requests in 10 minutes, one tick-by-tick request per instrument in 15 s (one window
 * of max 1 per instrument). Like the history governor (st_histgov.c) a request waits for its turn
 * and is never sent to violate: stRateWin_WaitMs says how long, stRateWin_Note records a send.
 *
 * Caller-allocated, no heap; time is passed in (ms, monotonic). Single-threaded. */
#ifndef ST_RATEWIN_H
#define ST_RATEWIN_H

#include <stdint.h>

#define ST_RATEWIN_MAX 64

typedef struct stRateWin {
    int max;                         /* 1..ST_RATEWIN_MAX */
    int64_t window_ms;
    int n, head;                     /* ring of the last `max` send times */
    int64_t at[ST_RATEWIN_MAX];
} stRateWin;

/* max is clamped to 1..ST_RATEWIN_MAX. */
void stRateWin_Init(stRateWin *w, int max, int64_t window_ms);
/* 0 when a request may go at now_ms, else how many ms until it may. */
int64_t stRateWin_WaitMs(const stRateWin *w, int64_t now_ms);
/* Records a request sent at now_ms. */
void stRateWin_Note(stRateWin *w, int64_t now_ms);
/* Requests inside the window ending at now_ms. */
int stRateWin_Used(const stRateWin *w, int64_t now_ms);

#endif
