/* br_candles_terms.c — the terms of an ib.rpc.candles request in IB's words: duration, bar size,
 * what_to_show, IB's step table, ISO end times, and the bar times IB answers with. Pure functions (no
 * network, no bridge state): tests/queries/test_candle_terms.c checks them alone. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "br_candles_terms.h"

static const char *const WHAT_TO_SHOW[] = {
    "TRADES",
    "MIDPOINT",
    "BID",
    "ASK",
    "BID_ASK",
    "ADJUSTED_LAST",
    "HISTORICAL_VOLATILITY",
    "OPTION_IMPLIED_VOLATILITY",
    "REBATE_RATE",
    "FEE_RATE",
    "YIELD_BID",
    "YIELD_ASK",
    "YIELD_BID_ASK",
    "YIELD_LAST",
    "AGGTRADES",
};

/* "1 D" -> seconds of calendar time; canonical text into out. 0 with a reason on error. */
int64_t brq_parseDuration(const char *s, size_t n, char *out, size_t cap, char *err, size_t errcap)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf) {
        snprintf(err, errcap,
                 "field 'duration' must look like \"1 D\": an integer, a space, and S, D, W, M or Y");
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *p = buf, *end;
    while (*p == ' ')
        p++;
    if (!isdigit((unsigned char)*p)) {
        snprintf(err, errcap,
                 "field 'duration' must look like \"1 D\": an integer, a space, and S, D, W, M or Y");
        return 0;
    }
    long long v = strtoll(p, &end, 10);
    while (*end == ' ')
        end++;
    char unit = (char)toupper((unsigned char)*end);
    bool ok = end[0] && end[1] == '\0';
    static const struct {
        char u;
        int64_t secs;
        long long max;
        const char *name;
    } U[] = {
        {'S', 1, 86400, "seconds"},   {'D', 86400, 365, "days"},    {'W', 604800, 52, "weeks"},
        {'M', 2592000, 12, "months"}, {'Y', 31536000, 20, "years"},
    };
    for (size_t i = 0; ok && i < sizeof U / sizeof U[0]; i++) {
        if (U[i].u != unit)
            continue;
        if (v < 1 || v > U[i].max) {
            snprintf(err, errcap, "field 'duration': %lld %s is out of range (1 to %lld %s)", v, U[i].name,
                     U[i].max, U[i].name);
            return 0;
        }
        snprintf(out, cap, "%d %c", (int)v, unit); /* v <= 86400 here */
        return v * U[i].secs;
    }
    snprintf(err, errcap,
             "field 'duration' must look like \"1 D\": an integer, a space, and S, D, W, M or Y");
    return 0;
}

/* "5 mins" (and "5 min", "1 sec", "1 hours" ...) -> seconds; IB's canonical text into out. */
int64_t brq_parseBarSize(const char *s, size_t n, char *out, size_t cap, char *err, size_t errcap)
{
    static const struct {
        const char *unit;
        int64_t secs;
        const char *one, *many;
        int allowed[8];
    } U[] = {
        {"sec", 1, "secs", "secs", {1, 5, 10, 15, 30}},
        {"min", 60, "min", "mins", {1, 2, 3, 5, 10, 15, 20, 30}},
        {"hour", 3600, "hour", "hours", {1, 2, 3, 4, 8}},
        {"day", 86400, "day", "days", {1}},
        {"week", 604800, "week", "weeks", {1}},
        {"month", 2592000, "month", "months", {1}},
    };
    char buf[32];
    const char *list =
        "1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins, 10 mins, 15 mins, "
        "20 mins, 30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day, 1 week, 1 month";
    if (n == 0 || n >= sizeof buf) {
        snprintf(err, errcap, "field 'bar_size' must be one of IB's bar sizes: %s", list);
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    if (!isdigit((unsigned char)buf[0])) {
        snprintf(err, errcap, "field 'bar_size' must be one of IB's bar sizes: %s", list);
        return 0;
    }
    long v = strtol(buf, &end, 10);
    while (*end == ' ')
        end++;
    size_t ulen = strlen(end);
    if (ulen && (end[ulen - 1] == 's' || end[ulen - 1] == 'S'))
        ulen--;
    for (size_t i = 0; i < sizeof U / sizeof U[0]; i++) {
        if (ulen != strlen(U[i].unit) || strncasecmp(end, U[i].unit, ulen) != 0)
            continue;
        for (int k = 0; k < 8 && U[i].allowed[k]; k++)
            if (U[i].allowed[k] == v) {
                snprintf(out, cap, "%ld %s", v, v == 1 ? U[i].one : U[i].many);
                return v * U[i].secs;
            }
    }
    snprintf(err, errcap, "field 'bar_size' \"%s\" is not one of IB's bar sizes: %s", buf, list);
    return 0;
}

/* IB's step table (historical_limitations): seconds bars only over short durations; a bar never
 * longer than the duration; at most MAX_CALENDAR_BARS bars. */
bool brq_checkSteps(int64_t dur, int64_t bar, const char *dtext, const char *btext, char *err,
                        size_t errcap)
{
    int64_t max_dur = 0;
    switch (bar) {
    case 1: max_dur = 1800; break;
    case 5: max_dur = 3600; break;
    case 10:
    case 15: max_dur = 14400; break;
    case 30: max_dur = 28800; break;
    default: break;
    }
    if (max_dur && dur > max_dur) {
        snprintf(err, errcap,
                 "bar_size \"%s\" allows a duration of at most %" PRId64 " S (IB's step table); "
                 "\"%s\" is longer: ask for a larger bar size or a shorter duration",
                 btext, max_dur, dtext);
        return false;
    }
    if (bar > dur) {
        snprintf(err, errcap, "bar_size \"%s\" is longer than the duration \"%s\"", btext, dtext);
        return false;
    }
    if (dur / bar > MAX_CALENDAR_BARS) {
        snprintf(err, errcap,
                 "\"%s\" of \"%s\" bars is %" PRId64 " bars of calendar time, over ib-bridge's limit of %d: "
                 "ask for a larger bar size or a shorter duration",
                 dtext, btext, dur / bar, MAX_CALENDAR_BARS);
        return false;
    }
    return true;
}

static int two(const char *p)
{
    return isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) ? (p[0] - '0') * 10 + (p[1] - '0')
                                                                        : -1;
}

/* ISO-8601 ("2024-01-05", "2024-01-05T16:00[:00[.123]][Z|+hh:mm|-hh:mm]"; no zone = UTC) -> epoch s. */
bool brq_parseIso(const char *s, size_t n, int64_t *out)
{
    char b[48];
    if (n < 10 || n >= sizeof b)
        return false;
    memcpy(b, s, n);
    b[n] = '\0';
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)b[i]))
            return false;
    int y = atoi(b), mo = two(b + 5), d = two(b + 8), h = 0, mi = 0, se = 0, off = 0;
    if (b[4] != '-' || b[7] != '-' || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    const char *p = b + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        h = two(p + 1);
        if (h < 0 || p[3] != ':' || (mi = two(p + 4)) < 0)
            return false;
        p += 6;
        if (*p == ':') {
            if ((se = two(p + 1)) < 0)
                return false;
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p))
                    return false;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh = two(p + 1), om = 0;
            const char *q = p + 3;
            if (*q == ':')
                q++;
            if (*q) {
                om = two(q);
                q += 2;
            }
            if (oh < 0 || oh > 14 || om < 0 || om > 59)
                return false;
            off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
            p = q;
        }
    }
    if (*p || h > 23 || mi > 59 || se > 60)
        return false;
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    int64_t t = (int64_t)timegm(&tm);
    struct tm back;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &back);
    if (back.tm_mday != d && se < 60) /* 2024-02-31 */
        return false;
    *out = t - off;
    return true;
}

bool brq_matchWhatToShow(const char *s, size_t n, char *out, size_t cap)
{
    for (size_t i = 0; i < sizeof WHAT_TO_SHOW / sizeof WHAT_TO_SHOW[0]; i++)
        if (n == strlen(WHAT_TO_SHOW[i]) && strncasecmp(s, WHAT_TO_SHOW[i], n) == 0) {
            snprintf(out, cap, "%s", WHAT_TO_SHOW[i]);
            return true;
        }
    return false;
}

bool brq_parseBarTime(const char *d, int64_t *t)
{
    size_t n = strlen(d);
    if (n == 0)
        return false;
    size_t digits = strspn(d, "0123456789");
    if (digits == n && n != 8) { /* epoch seconds (formatDate 2) */
        *t = strtoll(d, NULL, 10);
        return true;
    }
    if (digits < 8)
        return false;
    struct tm tm = {0};
    tm.tm_year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0') - 1900;
    tm.tm_mon = two(d + 4) - 1;
    tm.tm_mday = two(d + 6);
    const char *p = d + 8;
    while (*p == ' ' || *p == '-')
        p++;
    if (*p) { /* a time of day without a usable zone: taken as UTC (only when IB ignored formatDate 2) */
        if (two(p) < 0 || p[2] != ':' || two(p + 3) < 0)
            return false;
        tm.tm_hour = two(p);
        tm.tm_min = two(p + 3);
        tm.tm_sec = p[5] == ':' && two(p + 6) >= 0 ? two(p + 6) : 0;
    }
    *t = (int64_t)timegm(&tm);
    return true;
}
