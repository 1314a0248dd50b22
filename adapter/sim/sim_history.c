/* sim_history.c — historical bars, IB's pacing rules (error 162), keepUpToDate (historicalDataUpdate)
 * and cancelHistoricalData (366 for an unknown id).
 *
 * Prices: a deterministic function of (seed, conId, time): smooth value noise at six scales from
 * a week down to 15 s, anchored at 2024-01-01. Bars sample it, so any bar size, duration, end date,
 * whatToShow and useRTH give consistent OHLC (a 1-hour bar's open/close equal the first 5-min
 * bar's open and the last one's close); the same request always gives the same bars. The live
 * walk starts each UTC day from this function's value at 00:00 UTC.
 *
 * Times: an end date without a zone is UTC (the simulated TWS runs in UTC); bars are labelled in
 * US/Eastern ("yyyymmdd hh:mm:ss US/Eastern", daily bars "yyyymmdd") or epoch seconds for
 * formatDate=2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim.h"

#define ANCHOR_EPOCH 1704067200LL
#define MAX_BARS 100000
#define BAR_DAY 86400
#define BAR_WEEK (7 * 86400)
#define BAR_MONTH (31 * 86400)

/* ---- the price function ------------------------------------------------------------------------- */

static const double SCALES[6] = { 604800, 86400, 7200, 900, 120, 15 };
static const double AMPS[6] = { 0.08, 0.025, 0.008, 0.003, 0.0012, 0.0004 };

static double knot(const simServer *srv, const simInstrument *in, int level, int64_t k)
{
    uint64_t h = sim_hash(srv->cfg.seed, (uint64_t)in->con_id, (uint64_t)level + 0x48495354, (uint64_t)k);
    return (double)(h >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static double walk(const simServer *srv, const simInstrument *in, int64_t t)
{
    double w = 0;
    for (int l = 0; l < 6; l++) {
        double x = (double)t / SCALES[l];
        int64_t k = (int64_t)floor(x);
        double f = x - (double)k;
        f = f * f * (3 - 2 * f);
        double a = knot(srv, in, l, k), b = knot(srv, in, l, k + 1);
        w += AMPS[l] * (a + (b - a) * f);
    }
    double vol = in->session == SIM_SESS_FX ? 0.3 : (in->session == SIM_SESS_FUT ? 0.8 : 1.0);
    return w * vol;
}

double sim_histPrice(const simServer *srv, const simInstrument *in, int64_t t)
{
    return in->base_price * exp(walk(srv, in, t) - walk(srv, in, ANCHOR_EPOCH));
}

static double round_tick(const simInstrument *in, double p)
{
    int64_t t = (int64_t)llround(p / in->min_tick);
    if (t < 1)
        t = 1;
    return sim_tickPrice(in, t);
}

/* ---- parsing ------------------------------------------------------------------------------------ */

static int bar_seconds(const char *s)
{
    static const struct { const char *name; int secs; } T[] = {
        {"1 secs", 1}, {"1 sec", 1}, {"5 secs", 5}, {"10 secs", 10}, {"15 secs", 15}, {"30 secs", 30},
        {"1 min", 60}, {"2 mins", 120}, {"3 mins", 180}, {"5 mins", 300}, {"10 mins", 600},
        {"15 mins", 900}, {"20 mins", 1200}, {"30 mins", 1800}, {"1 hour", 3600}, {"2 hours", 7200},
        {"3 hours", 10800}, {"4 hours", 14400}, {"8 hours", 28800}, {"1 day", BAR_DAY},
        {"1 week", BAR_WEEK}, {"1 month", BAR_MONTH}, {"1 W", BAR_WEEK}, {"1 M", BAR_MONTH},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (s && strcasecmp(s, T[i].name) == 0)
            return T[i].secs;
    return 0;
}

static int64_t duration_seconds(const char *s)
{
    long long n;
    char unit, extra;
    if (!s || sscanf(s, "%lld %c%c", &n, &unit, &extra) != 2 || n <= 0)
        return 0;
    switch (unit) {
    case 'S': return n;
    case 'D': return n * 86400;
    case 'W': return n * 7 * 86400;
    case 'M': return n * 30 * 86400;
    case 'Y': return n * 365 * 86400;
    default: return 0;
    }
}

static int tz_offset(const char *tz, int64_t approx, bool *ok)
{
    *ok = true;
    if (!tz || !*tz || !strcasecmp(tz, "UTC") || !strcasecmp(tz, "GMT") || !strcasecmp(tz, "Etc/UTC"))
        return 0;
    if (!strcasecmp(tz, "US/Eastern") || !strcasecmp(tz, "America/New_York") || !strcasecmp(tz, "EST5EDT"))
        return sim_etOffset(approx);
    if (!strcasecmp(tz, "US/Central") || !strcasecmp(tz, "America/Chicago") || !strcasecmp(tz, "CST6CDT"))
        return sim_etOffset(approx) - 3600;
    if (!strcasecmp(tz, "EST"))
        return -5 * 3600;
    if (!strcasecmp(tz, "Europe/London"))
        return sim_etOffset(approx) == -4 * 3600 ? 3600 : 0;
    *ok = false;
    return 0;
}

/* "", "yyyymmdd", "yyyymmdd hh:mm:ss[ tz]", "yyyymmdd-hh:mm:ss" (UTC). */
static bool parse_end(const char *s, int64_t *out)
{
    if (!s || !*s) {
        *out = sim_epoch();
        return true;
    }
    int y, mo, d, h = 23, mi = 59, se = 59;
    char sep = 0, tz[48] = "";
    int n = sscanf(s, "%4d%2d%2d%c%2d:%2d:%2d %47s", &y, &mo, &d, &sep, &h, &mi, &se, tz);
    if (n < 3 || (n > 3 && n < 7) || (n >= 4 && sep != ' ' && sep != '-') || mo < 1 || mo > 12 || d < 1 ||
        d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    int64_t local = (int64_t)timegm(&tm);
    bool ok;
    int off =
        n == 3 ? sim_etOffset(local + 5 * 3600) : tz_offset(sep == '-' ? "UTC" : tz, local + 5 * 3600, &ok);
    if (n > 3 && !ok)
        return false;
    *out = local - off;
    return true;
}

/* ---- bars ----------------------------------------------------------------------------------------- */

typedef struct barSlot { int64_t start, end; } barSlot;

typedef struct barSet {
    barSlot *slots;
    int n, cap;
} barSet;

static bool add_slot(barSet *b, int64_t s, int64_t e)
{
    if (e <= s)
        return true;
    if (b->n >= MAX_BARS)
        return false;
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 256;
        barSlot *ns = realloc(b->slots, (size_t)cap * sizeof *ns);
        if (!ns)
            return false;
        b->slots = ns;
        b->cap = cap;
    }
    b->slots[b->n++] = (barSlot){ s, e };
    return true;
}

static int64_t local_day(int64_t t)
{
    int64_t l = t + sim_etOffset(t);
    return (l >= 0 ? l : l - 86399) / 86400;
}

static bool intraday_slots(const simInstrument *in, int64_t ws, int64_t we, int bar, bool rth, barSet *b)
{
    for (int64_t day = local_day(ws) - 1; day <= local_day(we) + 1; day++) {
        int64_t iv[2];
        if (!sim_sessionIntervals(in, day, rth, iv))
            continue;
        int64_t a = iv[0] > ws ? iv[0] : ws, z = iv[1] < we ? iv[1] : we;
        if (z <= a)
            continue;
        int off = sim_etOffset(a);
        int64_t sl = ((a + off) / bar) * bar - off;
        for (int64_t s = sl; s < z; s += bar) {
            int64_t bs = s > a ? s : a, be = s + bar < z ? s + bar : z;
            if (!add_slot(b, bs, be))
                return false;
        }
    }
    return true;
}

/* Daily, weekly and monthly bars: one per session, or sessions grouped by week / month. */
static bool period_slots(const simInstrument *in, int64_t ws, int64_t we, int bar, bool rth, barSet *b)
{
    int64_t cur_key = INT64_MIN, cs = 0, ce = 0;
    for (int64_t day = local_day(ws) - 1; day <= local_day(we) + 1; day++) {
        int64_t iv[2];
        if (!sim_sessionIntervals(in, day, rth, iv) || iv[1] <= ws || iv[0] >= we)
            continue;
        int64_t e = iv[1] < we ? iv[1] : we;
        int64_t key = day;
        if (bar == BAR_WEEK)
            key = (day + 3) / 7;            /* weeks start on Monday */
        else if (bar == BAR_MONTH) {
            time_t tt = (time_t)(day * 86400);
            struct tm tm;
            gmtime_r(&tt, &tm);
            key = tm.tm_year * 12 + tm.tm_mon;
        }
        if (key != cur_key) {
            if (cur_key != INT64_MIN && !add_slot(b, cs, ce))
                return false;
            cur_key = key;
            cs = iv[0];
        }
        ce = e;
    }
    return cur_key == INT64_MIN || add_slot(b, cs, ce);
}

typedef enum { WHAT_TRADES, WHAT_MIDPOINT, WHAT_BID, WHAT_ASK, WHAT_BID_ASK } whatKind;

static int parse_what(const char *s)
{
    if (!s) return -1;
    if (!strcasecmp(s, "TRADES") || !strcasecmp(s, "ADJUSTED_LAST")) return WHAT_TRADES;
    if (!strcasecmp(s, "MIDPOINT")) return WHAT_MIDPOINT;
    if (!strcasecmp(s, "BID")) return WHAT_BID;
    if (!strcasecmp(s, "ASK")) return WHAT_ASK;
    if (!strcasecmp(s, "BID_ASK")) return WHAT_BID_ASK;
    return -1;
}

static void make_bar(const simServer *srv, const simInstrument *in, barSlot s, int what, bool rth, ibBar *bar)
{
    double lo = 1e300, hi = -1e300;
    const int N = 12;
    double first = 0, last = 0;
    for (int i = 0; i <= N; i++) {
        int64_t t = s.start + (s.end - s.start) * i / N;
        double p = sim_histPrice(srv, in, t);
        if (i == 0) first = p;
        if (i == N) last = p;
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
    }
    double half = in->min_tick;
    double o = first, c = last, h = hi, l = lo;
    switch (what) {
    case WHAT_BID: o -= half; c -= half; h -= half; l -= half; break;
    case WHAT_ASK: o += half; c += half; h += half; l += half; break;
    case WHAT_BID_ASK: o = first - half; c = last + half; h = hi + half; l = lo - half; break;
    default: break;
    }
    bar->open = round_tick(in, o);
    bar->close = round_tick(in, c);
    bar->high = round_tick(in, h);
    bar->low = round_tick(in, l);
    if (bar->high < bar->open) bar->high = bar->open;
    if (bar->high < bar->close) bar->high = bar->close;
    if (bar->low > bar->open) bar->low = bar->open;
    if (bar->low > bar->close) bar->low = bar->close;
    if (what != WHAT_TRADES) {
        bar->volume = -1;
        bar->wap = -1;
        bar->count = -1;
        return;
    }
    uint64_t h64 = sim_hash(srv->cfg.seed, (uint64_t)in->con_id, 0x564f4c, (uint64_t)s.start);
    double u = 0.5 + (double)(h64 >> 11) / 9007199254740992.0;
    double per_sec = in->daily_volume / 23400.0 * (rth ? 1.0 : 0.6);
    double lot = in->session == SIM_SESS_STK ? 100 : 1;
    bar->volume = floor(per_sec * (double)(s.end - s.start) * u / lot) * lot;
    bar->wap = round((bar->high + bar->low + bar->close) / 3.0 * 10000.0) / 10000.0;
    bar->count = (int64_t)(bar->volume / (lot * 1.5)) + 1;
}

static void label(int64_t t, bool daily, int format_date, char *out, size_t cap)
{
    if (format_date == 2 && !daily) {
        snprintf(out, cap, "%lld", (long long)t);
        return;
    }
    sim_formatTime(out, cap, t + sim_etOffset(t), daily ? "%Y%m%d" : "%Y%m%d %H:%M:%S", false);
    if (!daily) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " US/Eastern");
    }
}

/* ---- pacing (PROTOCOL.md §5.3) --------------------------------------------------------------------- */

static const char *pacing_check(simServer *srv, uint64_t key, uint64_t ckey, int weight)
{
    uint64_t now = sim_nowMs();
    int k = 0, same_contract = 0;
    for (int i = 0; i < srv->n_hist; i++) {
        simHistRecord *r = &srv->hist[i];
        if (now - r->t_ms >= 600000)
            continue;
        srv->hist[k++] = *r;
    }
    srv->n_hist = k;
    if (!srv->cfg.hist_pacing)
        return NULL;
    for (int i = 0; i < srv->n_hist; i++) {
        simHistRecord *r = &srv->hist[i];
        if (r->key == key && now - r->t_ms < 15000)
            return "identical request within 15 seconds";
        if (r->contract_key == ckey && now - r->t_ms < 2000)
            same_contract++;
    }
    if (same_contract + weight > 5)
        return "six or more requests for the same contract within 2 seconds";
    if (srv->n_hist + weight > 60)
        return "more than 60 requests within 10 minutes";
    return NULL;
}

static void pacing_record(simServer *srv, uint64_t key, uint64_t ckey, int weight)
{
    for (int w = 0; w < weight; w++) {
        if (srv->n_hist == srv->cap_hist) {
            int cap = srv->cap_hist ? srv->cap_hist * 2 : 128;
            simHistRecord *nr = realloc(srv->hist, (size_t)cap * sizeof *nr);
            if (!nr)
                return;
            srv->hist = nr;
            srv->cap_hist = cap;
        }
        srv->hist[srv->n_hist++] = (simHistRecord){ sim_nowMs(), key, ckey };
    }
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* ---- requests ------------------------------------------------------------------------------------- */

static void invalid(simConn *c, int64_t id, const char *cause)
{
    char msg[200];
    snprintf(msg, sizeof msg, "Error validating request.-'bX' : cause - %s", cause);
    sim_sendError(c, id, 321, msg);
}

static void hmds_error(simConn *c, int64_t id, const char *detail)
{
    char msg[200];
    snprintf(msg, sizeof msg, "Historical Market Data Service error message:%s", detail);
    sim_sendError(c, id, 162, msg);
}

static int open_hist_subs(simServer *srv)
{
    int n = 0;
    for (simConn *c = srv->conns; c; c = c->next)
        n += c->n_hsubs;
    return n;
}

void sim_handleHistorical(simConn *c, const ibReqHistoricalData *r)
{
    simServer *srv = c->srv;
    srv->stat_hist_requests++;
    int inst = sim_resolveContract(c, &r->contract, r->req_id);
    if (inst < 0)
        return;
    const simInstrument *in = &srv->insts[inst];
    int bar = bar_seconds(r->bar_size);
    int64_t dur = duration_seconds(r->duration);
    int what = parse_what(r->what_to_show);
    int64_t end;
    if (!bar)
        { invalid(c, r->req_id, "Historical data bar size setting is invalid."); return; }
    if (!dur)
        { invalid(c, r->req_id, "Historical data query duration is invalid."); return; }
    if (what < 0)
        { invalid(c, r->req_id, "What to show field is missing or incorrect."); return; }
    if (r->keep_up_to_date && r->end_date_time && *r->end_date_time)
        { invalid(c, r->req_id, "End date not supported with live updates."); return; }
    if (r->keep_up_to_date && bar >= BAR_DAY)
        { invalid(c, r->req_id, "Live updates are not supported for bars of a day or more."); return; }
    if (!parse_end(r->end_date_time, &end))
        { invalid(c, r->req_id, "End Date/Time: The date, time, or time-zone entered is invalid."); return; }
    if (what == WHAT_TRADES && in->session == SIM_SESS_FX) {
        char d[96];
        snprintf(d, sizeof d, "No historical market data for %s/CASH@%s Last %d", in->symbol, in->exchange,
                 bar);
        { hmds_error(c, r->req_id, d); return; }
    }
    if (r->keep_up_to_date && open_hist_subs(srv) >= 50)
        { hmds_error(c, r->req_id, "Historical data request pacing violation"); return; }
    char keybuf[400];
    snprintf(keybuf, sizeof keybuf, "%lld|%s|%s|%s|%s|%s|%d|%lld|%d", (long long)in->con_id,
             r->contract.exchange ? r->contract.exchange : "", r->what_to_show, r->bar_size, r->duration,
             r->end_date_time ? r->end_date_time : "", r->use_rth, (long long)r->format_date,
             r->keep_up_to_date);
    uint64_t key = str_hash(keybuf);
    snprintf(keybuf, sizeof keybuf, "%lld|%s|%s", (long long)in->con_id,
             r->contract.exchange ? r->contract.exchange : "", r->what_to_show);
    uint64_t ckey = str_hash(keybuf);
    int weight = what == WHAT_BID_ASK ? 2 : 1;
    const char *why = pacing_check(srv, key, ckey, weight);
    if (why) {
        IBB_INFO("sim.pacing_violation", "client=%lld req=%lld rule=\"%s\"", (long long)c->client_id,
                 (long long)r->req_id, why);
        { hmds_error(c, r->req_id, "Historical data request pacing violation"); return; }
    }
    pacing_record(srv, key, ckey, weight);

    barSet set = { 0 };
    bool ok = bar >= BAR_DAY ? period_slots(in, end - dur, end, bar, r->use_rth, &set)
                             : intraday_slots(in, end - dur, end, bar, r->use_rth, &set);
    if (!ok) {
        free(set.slots);
        { hmds_error(c, r->req_id, "Time length exceed max."); return; }
    }
    ibBar *bars = calloc((size_t)(set.n ? set.n : 1), sizeof *bars);
    char (*dates)[48] = calloc((size_t)(set.n ? set.n : 1), sizeof *dates);
    if (!bars || !dates) {
        free(bars);
        free(dates);
        free(set.slots);
        { hmds_error(c, r->req_id, "HMDS query returned no data"); return; }
    }
    bool daily = bar >= BAR_DAY;
    for (int i = 0; i < set.n; i++) {
        make_bar(srv, in, set.slots[i], what, r->use_rth, &bars[i]);
        label(set.slots[i].start, daily, (int)r->format_date, dates[i], sizeof dates[i]);
        bars[i].date = dates[i];
    }
    char start_s[48], end_s[48];
    label(end - dur, false, 1, start_s, sizeof start_s);
    label(end, false, 1, end_s, sizeof end_s);
    ibReply rep = { .id = IB_MSG_HISTORICAL_DATA };
    rep.u.historical.req_id = r->req_id;
    rep.u.historical.start = start_s;
    rep.u.historical.end = end_s;
    rep.u.historical.bar_count = set.n;
    sim_send(c, &rep, bars);
    free(bars);
    free(dates);
    free(set.slots);
    if (r->keep_up_to_date) {
        if (c->n_hsubs == c->cap_hsubs) {
            int cap = c->cap_hsubs ? c->cap_hsubs * 2 : 4;
            simHistSub *ns = realloc(c->hsubs, (size_t)cap * sizeof *ns);
            if (!ns)
                return;
            c->hsubs = ns;
            c->cap_hsubs = cap;
        }
        simHistSub *s = &c->hsubs[c->n_hsubs++];
        *s = (simHistSub){ .req_id = r->req_id, .inst = inst, .bar_secs = bar,
                           .format_date = (int)r->format_date, .use_rth = r->use_rth };
        snprintf(s->what, sizeof s->what, "%s", r->what_to_show);
    }
}

void sim_handleCancelHistorical(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_hsubs; i++) {
        if (c->hsubs[i].req_id == req_id) {
            c->hsubs[i] = c->hsubs[--c->n_hsubs];
            return;
        }
    }
    char msg[80];
    snprintf(msg, sizeof msg, "No historical data query found for ticker id:%lld", (long long)req_id);
    sim_sendError(c, req_id, 366, msg);
}

/* ---- keepUpToDate ---------------------------------------------------------------------------------- */

static void on_hist_timer(uv_timer_t *t)
{
    simServer *srv = t->data;
    if (srv->md_paused)
        return;
    int64_t now = sim_epoch();
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing)
            continue;
        for (int i = 0; i < c->n_hsubs; i++) {
            simHistSub *s = &c->hsubs[i];
            const simInstrument *in = &srv->insts[s->inst];
            int off = sim_etOffset(now);
            int64_t start = ((now + off) / s->bar_secs) * s->bar_secs - off;
            ibBar bar;
            memset(&bar, 0, sizeof bar);
            make_bar(srv, in, (barSlot){start, now > start ? now : start + 1}, parse_what(s->what),
                     s->use_rth, &bar);
            char date[48];
            label(start, false, s->format_date, date, sizeof date);
            bar.date = date;
            ibReply rep = { .id = IB_MSG_HISTORICAL_DATA_UPDATE };
            rep.u.historical_update.req_id = s->req_id;
            rep.u.historical_update.bar_count = -1;
            rep.u.historical_update.bar = bar;
            sim_send(c, &rep, NULL);
        }
    }
    sim_flushAll(srv);
}

/* ---- real-time bars (§3.14) ---------------------------------------------------------------------- */

#define RTB_SECS 5

void sim_handleRealTimeBars(simConn *c, const ibReqRealTimeBars *r)
{
    simServer *srv = c->srv;
    for (int i = 0; i < c->n_rsubs; i++) {
        if (c->rsubs[i].req_id == r->req_id) {
            sim_sendError(c, r->req_id, 322, "Error processing request.-'bW' : cause - Duplicate ticker id");
            return;
        }
    }
    int what = parse_what(r->what_to_show);
    if (what < 0 || what == WHAT_BID_ASK) {
        invalid(c, r->req_id, "What to show field is missing or incorrect.");
        return;
    }
    if (r->bar_size != RTB_SECS) {
        invalid(c, r->req_id, "Invalid bar size: only 5 second bars are supported.");
        return;
    }
    int inst = sim_resolveContract(c, &r->contract, r->req_id);
    if (inst < 0)
        return;
    uint64_t now = sim_nowMs();
    uint64_t oldest = srv->rtb_req_ms[srv->rtb_req_pos];  /* the 60th request before this one */
    if (srv->cfg.hist_pacing && oldest && now - oldest < 600000u) {
        hmds_error(c, r->req_id, "Historical data request pacing violation");
        return;
    }
    if (sim_linesInUse(srv) >= srv->cfg.max_lines) {
        sim_sendError(c, r->req_id, 101, "Max number of tickers has been reached");
        return;
    }
    if (c->n_rsubs == c->cap_rsubs) {
        int cap = c->cap_rsubs ? c->cap_rsubs * 2 : 4;
        simRtbSub *n = realloc(c->rsubs, (size_t)cap * sizeof *n);
        if (!n)
            return;
        c->rsubs = n;
        c->cap_rsubs = cap;
    }
    srv->rtb_req_ms[srv->rtb_req_pos] = now;
    srv->rtb_req_pos = (srv->rtb_req_pos + 1) % 60;
    int64_t t = sim_epoch();
    c->rsubs[c->n_rsubs++] = (simRtbSub){ .req_id = r->req_id, .inst = inst, .what = what,
                                          .use_rth = r->use_rth, .next_start = t - t % RTB_SECS };
    srv->insts[inst].lines++;
}

static void remove_rsub(simConn *c, int i)
{
    c->srv->insts[c->rsubs[i].inst].lines--;
    c->rsubs[i] = c->rsubs[--c->n_rsubs];
}

void sim_handleCancelRealTimeBars(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_rsubs; i++) {
        if (c->rsubs[i].req_id == req_id) {
            remove_rsub(c, i);
            return;
        }
    }
}

void sim_dropConnRealTimeBars(simConn *c)
{
    while (c->n_rsubs > 0)
        remove_rsub(c, c->n_rsubs - 1);
}

int sim_realTimeBarsInUse(const simServer *srv)
{
    int n = 0;
    for (const simConn *c = srv->conns; c; c = c->next)
        n += c->closing ? 0 : c->n_rsubs;
    return n;
}

/* Every second: each subscription gets the bars whose 5 s have ended (none while paused). */
static void on_rtb_timer(uv_timer_t *t)
{
    simServer *srv = t->data;
    int64_t now = sim_epoch();
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        for (int i = 0; i < c->n_rsubs; i++) {
            simRtbSub *s = &c->rsubs[i];
            if (srv->md_paused || srv->stalled) {
                s->next_start = now - now % RTB_SECS;   /* bars of a pause are lost, as at IB */
                continue;
            }
            while (s->next_start + RTB_SECS <= now) {
                ibBar bar;
                memset(&bar, 0, sizeof bar);
                make_bar(srv, &srv->insts[s->inst], (barSlot){ s->next_start, s->next_start + RTB_SECS },
                         s->what, s->use_rth, &bar);
                ibReply rep = { .id = IB_MSG_REAL_TIME_BAR };
                rep.u.real_time_bar = (ibRealTimeBar){ .req_id = s->req_id, .time = s->next_start,
                                                       .open = bar.open, .high = bar.high, .low = bar.low,
                                                       .close = bar.close, .volume = bar.volume,
                                                       .wap = bar.wap, .count = bar.count };
                sim_send(c, &rep, NULL);
                srv->stat_rt_bars++;
                s->next_start += RTB_SECS;
            }
        }
    }
    sim_flushAll(srv);
}

void sim_historyStart(simServer *srv)
{
    uv_timer_init(srv->loop, &srv->rtb_timer);
    srv->rtb_timer.data = srv;
    uv_timer_start(&srv->rtb_timer, on_rtb_timer, 250, 250);
    uv_timer_init(srv->loop, &srv->hist_timer);
    srv->hist_timer.data = srv;
    uint64_t ms = srv->cfg.hist_update_ms > 0 ? (uint64_t)srv->cfg.hist_update_ms : 5000;
    uv_timer_start(&srv->hist_timer, on_hist_timer, ms, ms);
}
