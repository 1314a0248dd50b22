/* st_ratewin.c — sliding-window request limiter (st_ratewin.h). */
#include <string.h>

#include "st_ratewin.h"

void stRateWin_Init(stRateWin *w, int max, int64_t window_ms)
{
    memset(w, 0, sizeof *w);
    w->max = max < 1 ? 1 : max > ST_RATEWIN_MAX ? ST_RATEWIN_MAX : max;
    w->window_ms = window_ms;
}

int64_t stRateWin_WaitMs(const stRateWin *w, int64_t now_ms)
{
    if (w->n < w->max)
        return 0;
    int64_t oldest = w->at[w->head]; /* the ring is full: head is the oldest send */
    int64_t wait = oldest + w->window_ms - now_ms;
    return wait > 0 ? wait : 0;
}

void stRateWin_Note(stRateWin *w, int64_t now_ms)
{
    if (w->n < w->max) {
        w->at[(w->head + w->n) % w->max] = now_ms;
        w->n++;
        return;
    }
    w->at[w->head] = now_ms;
    w->head = (w->head + 1) % w->max;
}

int stRateWin_Used(const stRateWin *w, int64_t now_ms)
{
    int used = 0;
    for (int i = 0; i < w->n; i++)
        used += w->at[(w->head + i) % w->max] > now_ms - w->window_ms;
    return used;
}
