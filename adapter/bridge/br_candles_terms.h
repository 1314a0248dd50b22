/* br_candles_terms.h — the terms of an ib.rpc.candles request (br_candles_terms.c): parsers that turn a
 * consumer's words into IB's canonical strings and check them against IB's documented limits, each
 * with a sentence naming the field on failure. Pure functions: no network, no bridge state; `out` and
 * `err` are the caller's buffers. */
#ifndef BR_CANDLES_TERMS_H
#define BR_CANDLES_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CALENDAR_BARS 100000 /* duration / bar size; beyond it the reply can never be sent */

/* "1 D" (S, D, W, M, Y within IB's ranges) -> seconds of calendar time, canonical text into out; 0 with
 * a reason in err. */
int64_t brq_parseDuration(const char *s, size_t n, char *out, size_t cap, char *err, size_t errcap);
/* "5 mins" (and "5 min", "1 sec", "1 hours" ...; IB's bar sizes only) -> seconds, IB's text into out;
 * 0 with a reason in err. */
int64_t brq_parseBarSize(const char *s, size_t n, char *out, size_t cap, char *err, size_t errcap);
/* IB's step table: seconds bars only over short durations, a bar never longer than the duration, at
 * most MAX_CALENDAR_BARS bars. false with a reason in err. */
bool brq_checkSteps(int64_t dur, int64_t bar, const char *dtext, const char *btext, char *err, size_t errcap);
/* A what_to_show IB knows (any case) -> its canonical name into out. */
bool brq_matchWhatToShow(const char *s, size_t n, char *out, size_t cap);
/* ISO-8601 ("2024-01-05", "2024-01-05T16:00[:00[.123]][Z|+hh:mm|-hh:mm]"; no zone = UTC) -> epoch s. */
bool brq_parseIso(const char *s, size_t n, int64_t *out);
/* A bar's date as IB sends it (epoch seconds, "yyyymmdd", "yyyymmdd hh:mm:ss" as UTC) -> epoch s. */
bool brq_parseBarTime(const char *d, int64_t *t);

#endif
