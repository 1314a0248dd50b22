/* sim_universe.c — the built-in universe (US stocks and ETFs, CME/NYMEX/COMEX futures, IDEALPRO
 * forex), contract lookup, contract details (error 200 for anything else), session hours.
 *
 * Contract ids are the simulator's own (AAPL keeps 265598 as in the captures); futures expiries
 * are the next two contract months from today. The universe is built once at start-up. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim.h"

typedef struct stockDef {
    const char *symbol; int64_t con_id; const char *primary; double price; double volume_m;
    const char *name; const char *industry; const char *category; bool etf;
} stockDef;

static const stockDef STOCKS[] = {
    {"AAPL", 265598, "NASDAQ", 185.0, 55, "APPLE INC", "Technology", "Computers", false},
    {"MSFT", 272093, "NASDAQ", 410.0, 22, "MICROSOFT CORP", "Technology", "Software", false},
    {"AMZN", 3691937, "NASDAQ", 175.0, 40, "AMAZON.COM INC", "Communications", "Internet", false},
    {"NVDA", 4815747, "NASDAQ", 120.0, 250, "NVIDIA CORP", "Technology", "Semiconductors", false},
    {"GOOGL", 208813719, "NASDAQ", 165.0, 25, "ALPHABET INC-CL A", "Communications", "Internet", false},
    {"GOOG", 208813720, "NASDAQ", 166.0, 18, "ALPHABET INC-CL C", "Communications", "Internet", false},
    {"META", 107113386, "NASDAQ", 500.0, 15, "META PLATFORMS INC-CLASS A", "Communications", "Internet",
     false},
    {"TSLA", 76792991, "NASDAQ", 240.0, 90, "TESLA INC", "Consumer, Cyclical", "Auto Manufacturers", false},
    {"AVGO", 1002001, "NASDAQ", 160.0, 20, "BROADCOM INC", "Technology", "Semiconductors", false},
    {"COST", 1002002, "NASDAQ", 850.0, 2, "COSTCO WHOLESALE CORP", "Consumer, Non-cyclical", "Retail", false},
    {"NFLX", 15124833, "NASDAQ", 650.0, 3, "NETFLIX INC", "Communications", "Internet", false},
    {"AMD", 4391, "NASDAQ", 155.0, 45, "ADVANCED MICRO DEVICES", "Technology", "Semiconductors", false},
    {"INTC", 270639, "NASDAQ", 30.0, 40, "INTEL CORP", "Technology", "Semiconductors", false},
    {"CSCO", 268084, "NASDAQ", 50.0, 18, "CISCO SYSTEMS INC", "Communications", "Telecommunications", false},
    {"PEP", 11017, "NASDAQ", 170.0, 5, "PEPSICO INC", "Consumer, Non-cyclical", "Beverages", false},
    {"ADBE", 265768, "NASDAQ", 520.0, 3, "ADOBE INC", "Technology", "Software", false},
    {"QCOM", 1002003, "NASDAQ", 170.0, 8, "QUALCOMM INC", "Technology", "Semiconductors", false},
    {"TXN", 1002004, "NASDAQ", 190.0, 5, "TEXAS INSTRUMENTS INC", "Technology", "Semiconductors", false},
    {"AMGN", 1002005, "NASDAQ", 310.0, 2.5, "AMGEN INC", "Consumer, Non-cyclical", "Biotechnology", false},
    {"SBUX", 1002006, "NASDAQ", 90.0, 8, "STARBUCKS CORP", "Consumer, Cyclical", "Retail", false},
    {"PYPL", 1002007, "NASDAQ", 65.0, 12, "PAYPAL HOLDINGS INC", "Financial", "Diversified Finan Serv",
     false},
    {"ADP", 1002008, "NASDAQ", 250.0, 1.8, "AUTOMATIC DATA PROCESSING", "Technology", "Software", false},
    {"INTU", 1002009, "NASDAQ", 620.0, 1.5, "INTUIT INC", "Technology", "Software", false},
    {"MU", 1002010, "NASDAQ", 110.0, 20, "MICRON TECHNOLOGY INC", "Technology", "Semiconductors", false},
    {"JPM", 1520593, "NYSE", 200.0, 9, "JPMORGAN CHASE & CO", "Financial", "Banks", false},
    {"V", 49462172, "NYSE", 275.0, 6, "VISA INC-CLASS A SHARES", "Financial", "Diversified Finan Serv",
     false},
    {"MA", 1002011, "NYSE", 460.0, 3, "MASTERCARD INC - A", "Financial", "Diversified Finan Serv", false},
    {"JNJ", 8719, "NYSE", 155.0, 7, "JOHNSON & JOHNSON", "Consumer, Non-cyclical", "Pharmaceuticals", false},
    {"WMT", 13824, "NYSE", 68.0, 15, "WALMART INC", "Consumer, Cyclical", "Retail", false},
    {"PG", 15016, "NYSE", 165.0, 6, "PROCTER & GAMBLE CO/THE", "Consumer, Non-cyclical",
     "Cosmetics/Personal Care", false},
    {"UNH", 13096, "NYSE", 520.0, 3, "UNITEDHEALTH GROUP INC", "Consumer, Non-cyclical",
     "Healthcare-Services", false},
    {"HD", 1002012, "NYSE", 350.0, 3.5, "HOME DEPOT INC", "Consumer, Cyclical", "Retail", false},
    {"XOM", 13977, "NYSE", 115.0, 15, "EXXON MOBIL CORP", "Energy", "Oil&Gas", false},
    {"CVX", 1002013, "NYSE", 155.0, 7, "CHEVRON CORP", "Energy", "Oil&Gas", false},
    {"BAC", 10098, "NYSE", 38.0, 35, "BANK OF AMERICA CORP", "Financial", "Banks", false},
    {"KO", 8894, "NYSE", 62.0, 12, "COCA-COLA CO/THE", "Consumer, Non-cyclical", "Beverages", false},
    {"PFE", 11809, "NYSE", 28.0, 30, "PFIZER INC", "Consumer, Non-cyclical", "Pharmaceuticals", false},
    {"MRK", 1002014, "NYSE", 125.0, 8, "MERCK & CO. INC.", "Consumer, Non-cyclical", "Pharmaceuticals",
     false},
    {"ABBV", 1002015, "NYSE", 170.0, 5, "ABBVIE INC", "Consumer, Non-cyclical", "Pharmaceuticals", false},
    {"ORCL", 272800, "NYSE", 125.0, 8, "ORACLE CORP", "Technology", "Software", false},
    {"CRM", 1002016, "NYSE", 270.0, 5, "SALESFORCE INC", "Technology", "Software", false},
    {"DIS", 6459, "NYSE", 100.0, 9, "WALT DISNEY CO/THE", "Communications", "Media", false},
    {"IBM", 8314, "NYSE", 180.0, 4, "INTL BUSINESS MACHINES CORP", "Technology", "Computers", false},
    {"GE", 1002017, "NYSE", 160.0, 6, "GENERAL ELECTRIC CO", "Industrial", "Aerospace/Defense", false},
    {"CAT", 1002018, "NYSE", 340.0, 2.5, "CATERPILLAR INC", "Industrial", "Machinery-Constr&Mining", false},
    {"BA", 1002019, "NYSE", 180.0, 7, "BOEING CO/THE", "Industrial", "Aerospace/Defense", false},
    {"GS", 1002020, "NYSE", 460.0, 2.2, "GOLDMAN SACHS GROUP INC", "Financial", "Banks", false},
    {"MS", 1002021, "NYSE", 95.0, 7, "MORGAN STANLEY", "Financial", "Banks", false},
    {"WFC", 1002022, "NYSE", 58.0, 16, "WELLS FARGO & CO", "Financial", "Banks", false},
    {"NKE", 1002023, "NYSE", 90.0, 9, "NIKE INC -CL B", "Consumer, Cyclical", "Apparel", false},
    {"MCD", 1002024, "NYSE", 270.0, 3, "MCDONALD'S CORP", "Consumer, Cyclical", "Retail", false},
    {"T", 1002025, "NYSE", 17.5, 30, "AT&T INC", "Communications", "Telecommunications", false},
    {"VZ", 1002026, "NYSE", 40.0, 18, "VERIZON COMMUNICATIONS INC", "Communications", "Telecommunications",
     false},
    {"F", 1002027, "NYSE", 12.0, 50, "FORD MOTOR CO", "Consumer, Cyclical", "Auto Manufacturers", false},
    {"SPY", 756733, "ARCA", 520.0, 70, "SPDR S&P 500 ETF TRUST", "Funds", "Equity Fund", true},
    {"QQQ", 320227571, "NASDAQ", 440.0, 45, "INVESCO QQQ TRUST SERIES 1", "Funds", "Equity Fund", true},
    {"IWM", 9579970, "ARCA", 205.0, 30, "ISHARES RUSSELL 2000 ETF", "Funds", "Equity Fund", true},
    {"DIA", 73128548, "ARCA", 390.0, 3, "SPDR DJIA TRUST", "Funds", "Equity Fund", true},
    {"GLD", 51529211, "ARCA", 215.0, 8, "SPDR GOLD SHARES", "Funds", "Commodity Fund", true},
    {"TLT", 15547841, "NASDAQ", 92.0, 35, "ISHARES 20+ YEAR TREASURY BD", "Funds", "Debt Fund", true},
};

typedef struct futDef {
    const char *symbol; const char *exchange; const char *mult; double tick; double price; double volume_m;
    const char *name;
    int64_t under_con_id;
    const char *under_type;
    int cycle; /* 3 = quarterly, 1 = monthly */
} futDef;

static const futDef FUTURES[] = {
    {"ES", "CME", "50", 0.25, 5300.0, 1.5, "E-mini S&P 500", 11004968, "IND", 3},
    {"NQ", "CME", "20", 0.25, 18500.0, 0.6, "E-mini NASDAQ 100", 11004958, "IND", 3},
    {"CL", "NYMEX", "1000", 0.01, 78.0, 0.4, "Light Sweet Crude Oil", 17340715, "IND", 1},
    {"GC", "COMEX", "100", 0.1, 2350.0, 0.2, "Gold", 69067924, "IND", 1},
};

typedef struct fxDef { const char *base, *quote; double price; double tick; const char *name; } fxDef;

static const fxDef FOREX[] = {
    {"EUR", "USD", 1.08, 0.00005, "European Monetary Union Euro"},
    {"GBP", "USD", 1.27, 0.00005, "British pound"},
    {"USD", "JPY", 150.0, 0.005, "US Dollar"},
    {"AUD", "USD", 0.66, 0.00005, "Australian dollar"},
    {"USD", "CAD", 1.36, 0.00005, "US Dollar"},
    {"USD", "CHF", 0.88, 0.00005, "US Dollar"},
};

static const char STK_EXCHANGES[] =
    "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,ISLAND,DRCTEDGE,BEX,BATS,EDGEA,BYX,IEX,FOXRIVER,PEARL,NYSENAT,"
    "LTSE,MEMX,IBEOS,OVERNIGHT,PSX";
static const char STK_ORDER_TYPES[] =
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AON,AVGCOST,BASKET,BENCHPX,CASHQTY,COND,CONDORDER,DARKONLY,"
    "DARKPOLL,DAY,DEACT,DEACTDIS,DEACTEOD,DIS,DUR,GAT,GTC,GTD,GTT,HID,IBKRATS,ICE,IMB,IOC,LIT,LMT,LOC,MIDPX,"
    "MIT,MKT,MOC,MTL,NGCOMB,NODARK,NONALGO,OCA,OPG,OPGREROUT,PEGBENCH,PEGMID,POSTATS,POSTONLY,PREOPGRTH,"
    "PRICECHK,REL,REL2MID,RELPCTOFS,RPI,RTH,SCALE,SCALEODD,SCALERST,SIZECHK,SNAPMID,SNAPMKT,SNAPREL,STP,"
    "STPLMT,SWEEP,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF";
static const char FUT_ORDER_TYPES[] =
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,BENCHPX,COND,CONDORDER,DAY,DEACT,DEACTDIS,DEACTEOD,"
    "GAT,GTC,GTD,GTT,HID,ICE,IOC,LIT,LMT,LTH,MIT,MKT,MTL,NGCOMB,NONALGO,OCA,PEGBENCH,SCALE,SCALERST,SNAPMID,"
    "SNAPMKT,SNAPREL,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF";
static const char FX_ORDER_TYPES[] =
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,CASHQTY,COND,CONDORDER,DAY,DEACT,DEACTDIS,DEACTEOD,"
    "GAT,GTC,GTD,GTT,HID,IOC,LIT,LMT,MIT,MKT,NONALGO,OCA,REL,RELPCTOFS,SCALE,SCALERST,STP,STPLMT,TRAIL,"
    "TRAILLIT,TRAILLMT,TRAILMIT,WHATIF";

/* ---- time zones and sessions ----------------------------------------------------------------------- */

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int weekday(int64_t day) { return (int)(((day % 7) + 11) % 7); } /* 0 = Sunday */

/* Day number of the n-th Sunday of a month. */
static int64_t nth_sunday(int y, int m, int n)
{
    int64_t first = days_from_civil(y, m, 1);
    int64_t s = first + (7 - weekday(first)) % 7;
    return s + 7 * (n - 1);
}

int sim_etOffset(int64_t t)
{
    int y, m, d;
    civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &m, &d);
    int64_t start = nth_sunday(y, 3, 2) * 86400 + 7 * 3600;  /* 02:00 EST */
    int64_t end = nth_sunday(y, 11, 1) * 86400 + 6 * 3600;   /* 02:00 EDT */
    return (t >= start && t < end) ? -4 * 3600 : -5 * 3600;
}

/* ---- building the universe ------------------------------------------------------------------------- */

static void set_common(simInstrument *in, const char *sym, const char *sec, const char *ex, const char *ccy)
{
    snprintf(in->symbol, sizeof in->symbol, "%s", sym);
    snprintf(in->sec_type, sizeof in->sec_type, "%s", sec);
    snprintf(in->exchange, sizeof in->exchange, "%s", ex);
    snprintf(in->currency, sizeof in->currency, "%s", ccy);
}

static const char MONTH_CODES[] = "FGHJKMNQUVXZ";

static void add_future(simInstrument *in, const futDef *f, int y, int m, uint64_t seed)
{
    set_common(in, f->symbol, "FUT", f->exchange, "USD");
    /* third Friday of the contract month */
    int64_t first = days_from_civil(y, m, 1);
    int64_t fri = first + (5 - weekday(first) + 7) % 7 + 14;
    int yy, mm, dd;
    civil_from_days(fri, &yy, &mm, &dd);
    snprintf(in->last_trade_date, sizeof in->last_trade_date, "%04d%02d%02d", yy, mm, dd);
    snprintf(in->contract_month, sizeof in->contract_month, "%04d%02d", y, m);
    snprintf(in->local_symbol, sizeof in->local_symbol, "%s%c%d", f->symbol, MONTH_CODES[m - 1], y % 10);
    snprintf(in->trading_class, sizeof in->trading_class, "%s", f->symbol);
    snprintf(in->multiplier, sizeof in->multiplier, "%s", f->mult);
    snprintf(in->long_name, sizeof in->long_name, "%s", f->name);
    snprintf(in->valid_exchanges, sizeof in->valid_exchanges, "%s,QBALGO", f->exchange);
    snprintf(in->under_symbol, sizeof in->under_symbol, "%s", f->symbol);
    snprintf(in->under_sec_type, sizeof in->under_sec_type, "%s", f->under_type);
    in->under_con_id = f->under_con_id;
    in->con_id =
        600000000 + (int64_t)(sim_hash(0, (uint64_t)f->under_con_id, (uint64_t)(y * 100 + m), 7) % 90000000);
    in->min_tick = f->tick;
    in->mult = atof(f->mult);
    in->base_price = f->price;
    in->daily_volume = f->volume_m * 1e6;
    in->session = SIM_SESS_FUT;
    (void)seed;
}

ibbStatus sim_universeInit(simServer *srv)
{
    int n_stk = (int)(sizeof STOCKS / sizeof STOCKS[0]);
    int n_fut = (int)(sizeof FUTURES / sizeof FUTURES[0]) * 2;
    int n_fx = (int)(sizeof FOREX / sizeof FOREX[0]);
    int n_extra = srv->cfg.extra_stocks;
    srv->insts = calloc((size_t)(n_stk + n_fut + n_fx + n_extra), sizeof *srv->insts);
    if (!srv->insts)
        return IBB_ERR_NOMEM;
    int n = 0;
    for (int i = 0; i < n_stk; i++, n++) {
        const stockDef *s = &STOCKS[i];
        simInstrument *in = &srv->insts[n];
        set_common(in, s->symbol, "STK", "SMART", "USD");
        snprintf(in->primary_exchange, sizeof in->primary_exchange, "%s", s->primary);
        snprintf(in->local_symbol, sizeof in->local_symbol, "%s", s->symbol);
        snprintf(in->trading_class, sizeof in->trading_class, "%s",
                 strcmp(s->primary, "NASDAQ") == 0 ? "NMS" : s->symbol);
        snprintf(in->long_name, sizeof in->long_name, "%s", s->name);
        snprintf(in->industry, sizeof in->industry, "%s", s->industry);
        snprintf(in->category, sizeof in->category, "%s", s->category);
        snprintf(in->valid_exchanges, sizeof in->valid_exchanges, "SMART,%s", s->primary);
        in->con_id = s->con_id;
        in->min_tick = 0.01;
        in->mult = 1;
        in->base_price = s->price;
        in->daily_volume = s->volume_m * 1e6;
        in->session = SIM_SESS_STK;
    }
    /* futures: the next two contract months of each */
    int y, m, d;
    civil_from_days(sim_epoch() / 86400, &y, &m, &d);
    for (int i = 0; i < n_fut / 2; i++) {
        const futDef *f = &FUTURES[i];
        int cy = y, cm = m;
        for (int k = 0; k < 2; k++) {
            /* next month in the cycle whose third Friday is still ahead */
            for (;;) {
                if ((cm - 1) % f->cycle == f->cycle - 1 || f->cycle == 1) {
                    int64_t first = days_from_civil(cy, cm, 1);
                    int64_t fri = first + (5 - weekday(first) + 7) % 7 + 14;
                    if (fri > sim_epoch() / 86400)
                        break;
                }
                if (++cm > 12) { cm = 1; cy++; }
            }
            add_future(&srv->insts[n++], f, cy, cm, srv->cfg.seed);
            if (++cm > 12) { cm = 1; cy++; }
        }
    }
    for (int i = 0; i < n_fx; i++, n++) {
        const fxDef *f = &FOREX[i];
        simInstrument *in = &srv->insts[n];
        set_common(in, f->base, "CASH", "IDEALPRO", f->quote);
        snprintf(in->local_symbol, sizeof in->local_symbol, "%s.%s", f->base, f->quote);
        snprintf(in->trading_class, sizeof in->trading_class, "%s.%s", f->base, f->quote);
        snprintf(in->long_name, sizeof in->long_name, "%s", f->name);
        snprintf(in->valid_exchanges, sizeof in->valid_exchanges, "IDEALPRO");
        snprintf(in->category, sizeof in->category, "Currency");
        in->con_id = 12087792 + i * 1000003;
        in->min_tick = f->tick;
        in->mult = 1;
        in->base_price = f->price;
        in->daily_volume = 5e9;
        in->session = SIM_SESS_FX;
    }
    for (int i = 0; i < n_extra; i++, n++) {
        simInstrument *in = &srv->insts[n];
        char sym[16];
        snprintf(sym, sizeof sym, "SIM%04d", i + 1);
        set_common(in, sym, "STK", "SMART", "USD");
        snprintf(in->primary_exchange, sizeof in->primary_exchange, "NASDAQ");
        snprintf(in->local_symbol, sizeof in->local_symbol, "%s", sym);
        snprintf(in->trading_class, sizeof in->trading_class, "NMS");
        snprintf(in->long_name, sizeof in->long_name, "IB-SIM SYNTHETIC STOCK %d", i + 1);
        snprintf(in->valid_exchanges, sizeof in->valid_exchanges, "SMART,NASDAQ");
        snprintf(in->category, sizeof in->category, "Synthetic");
        in->con_id = 900000000 + i;
        in->min_tick = 0.01;
        in->mult = 1;
        in->base_price = 20.0 + (double)(sim_hash(srv->cfg.seed, (uint64_t)i, 0x535953, 0) % 30000) / 100.0;
        in->daily_volume = 5e6;
        in->session = SIM_SESS_STK;
    }
    srv->n_insts = n;
    for (int i = 0; i < n; i++) {
        srv->insts[i].index = i;
        sim_marketInitInstrument(srv, &srv->insts[i]);
    }
    IBB_INFO("sim.universe", "instruments=%d stocks=%d futures=%d forex=%d extra=%d", n, n_stk, n_fut, n_fx,
             n_extra);
    return IBB_OK;
}

void sim_universeFree(simServer *srv)
{
    free(srv->insts);
    srv->insts = NULL;
    srv->n_insts = 0;
}

/* ---- lookup --------------------------------------------------------------------------------------- */

static bool empty(const char *s) { return !s || !*s; }

/* Case-insensitive strstr (strcasestr is a GNU extension). */
static const char *ci_find(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static bool exchange_ok(const simInstrument *in, const char *ex)
{
    if (empty(ex) || strcasecmp(ex, in->exchange) == 0 || strcasecmp(ex, in->primary_exchange) == 0)
        return true;
    size_t n = strlen(ex);
    for (const char *p = in->valid_exchanges; (p = ci_find(p, ex)) != NULL; p += n)
        if ((p == in->valid_exchanges || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    if (in->session == SIM_SESS_STK && strcasecmp(ex, "SMART") != 0)
        return ci_find(STK_EXCHANGES, ex) != NULL;
    return false;
}

static bool matches(const simInstrument *in, const ibContract *c)
{
    if (c->con_id > 0)
        return c->con_id == in->con_id && (empty(c->symbol) || strcasecmp(c->symbol, in->symbol) == 0);
    bool by_local = !empty(c->local_symbol) && strcasecmp(c->local_symbol, in->local_symbol) == 0;
    if (!by_local && (empty(c->symbol) || strcasecmp(c->symbol, in->symbol) != 0))
        return false;
    if (!empty(c->sec_type)) {
        bool contfut = strcasecmp(c->sec_type, "CONTFUT") == 0 && strcmp(in->sec_type, "FUT") == 0;
        if (!contfut && strcasecmp(c->sec_type, in->sec_type) != 0)
            return false;
    }
    if (!empty(c->currency) && strcasecmp(c->currency, in->currency) != 0)
        return false;
    if (!exchange_ok(in, c->exchange))
        return false;
    if (!empty(c->last_trade_date) &&
        strncmp(in->last_trade_date, c->last_trade_date, strlen(c->last_trade_date)) != 0 &&
        strncmp(in->contract_month, c->last_trade_date, strlen(c->last_trade_date)) != 0)
        return false;
    if (!empty(c->local_symbol) && !by_local)
        return false;
    if (!empty(c->trading_class) && strcasecmp(c->trading_class, in->trading_class) != 0)
        return false;
    if (!empty(c->primary_exchange) && !empty(in->primary_exchange) &&
        strcasecmp(c->primary_exchange, in->primary_exchange) != 0)
        return false;
    if (!empty(c->multiplier) && atof(c->multiplier) != in->mult)
        return false;
    return true;
}

int sim_matchContract(simServer *srv, const ibContract *c, int *out, int max)
{
    int n = 0;
    bool contfut = !empty(c->sec_type) && strcasecmp(c->sec_type, "CONTFUT") == 0;
    for (int i = 0; i < srv->n_insts; i++) {
        if (matches(&srv->insts[i], c)) {
            if (n < max)
                out[n] = i;
            n++;
            if (contfut)
                break;                      /* the front month */
        }
    }
    return n;
}

int sim_resolveContract(simConn *conn, const ibContract *c, int64_t req_id)
{
    int idx[4];
    int n = sim_matchContract(conn->srv, c, idx, 4);
    if (n == 1)
        return idx[0];
    if (n == 0) {
        sim_sendError(conn, req_id, 200, "No security definition has been found for the request");
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "The contract description specified for %s is ambiguous.",
                 c->symbol ? c->symbol : "");
        sim_sendError(conn, req_id, 200, msg);
    }
    return -1;
}

void sim_fillContract(const simInstrument *in, ibContract *c)
{
    memset(c, 0, sizeof *c);
    c->con_id = in->con_id;
    c->symbol = in->symbol;
    c->sec_type = in->sec_type;
    c->last_trade_date = in->last_trade_date;
    c->strike = 0.0;
    c->right = "";
    c->multiplier = in->multiplier;
    c->exchange = in->exchange;
    c->primary_exchange = in->primary_exchange;
    c->currency = in->currency;
    c->local_symbol = in->local_symbol;
    c->trading_class = in->trading_class;
}

/* ---- contract details ------------------------------------------------------------------------------ */

/* Session [open, close) in ET local minutes for the local day, or false when closed. */
static bool session_minutes(const simInstrument *in, int wd, bool liquid, int *open, int *close)
{
    if (wd == 0 || wd == 6)
        return false;
    switch (in->session) {
    case SIM_SESS_STK: *open = liquid ? 570 : 240; *close = liquid ? 960 : 1200; return true;
    case SIM_SESS_FUT:
        if (liquid) { *open = 570; *close = 960; } else { *open = 1080 - 1440; *close = 1020; }
        return true;
    case SIM_SESS_FX: *open = 1035 - 1440; *close = 1020; return true;
    }
    return false;
}

static void hours_string(const simInstrument *in, bool liquid, char *out, size_t cap)
{
    int64_t now = sim_epoch();
    int64_t today = (now + sim_etOffset(now)) / 86400;
    size_t len = 0;
    out[0] = '\0';
    for (int64_t day = today; day < today + 7 && len + 40 < cap; day++) {
        int y, m, d, py, pm, pd, o, c;
        civil_from_days(day, &y, &m, &d);
        civil_from_days(day - 1, &py, &pm, &pd);
        const char *sep = len ? ";" : "";
        if (!session_minutes(in, weekday(day), liquid, &o, &c)) {
            len += (size_t)snprintf(out + len, cap - len, "%s%04d%02d%02d:CLOSED", sep, y, m, d);
            continue;
        }
        if (o < 0)
            len +=
                (size_t)snprintf(out + len, cap - len, "%s%04d%02d%02d:%02d%02d-%04d%02d%02d:%02d%02d", sep,
                                 py, pm, pd, (o + 1440) / 60, (o + 1440) % 60, y, m, d, c / 60, c % 60);
        else
            len += (size_t)snprintf(out + len, cap - len, "%s%04d%02d%02d:%02d%02d-%04d%02d%02d:%02d%02d",
                                    sep, y, m, d, o / 60, o % 60, y, m, d, c / 60, c % 60);
    }
}

/* Trading sessions overlapping the local day `day`, as epoch intervals; used by sim_history.c. */
int sim_sessionIntervals(const simInstrument *in, int64_t day, bool rth, int64_t out[2])
{
    int o, c;
    if (!session_minutes(in, weekday(day), rth, &o, &c))
        return 0;
    int64_t lo = day * 86400 + (int64_t)o * 60, hi = day * 86400 + (int64_t)c * 60;
    out[0] = lo - sim_etOffset(lo + 5 * 3600);
    out[1] = hi - sim_etOffset(hi + 5 * 3600);
    return 1;
}

/* One contractData for `in` (or, with opt, for that option of in's chain). */
static void send_details(simConn *c, const ibReqContractDetails *r, const simInstrument *in,
                         const simMktSub *opt)
{
    static char trading[1024], liquid[1024], rules[256];
    ibReply rep;
    memset(&rep, 0, sizeof rep);
    rep.id = IB_MSG_CONTRACT_DATA;
    ibContractData *d = &rep.u.contract_data;
    d->req_id = r->req_id;
    sim_fillContract(in, &d->contract);
    if (in->session == SIM_SESS_STK)
        d->contract.exchange =
            (r->contract.exchange && *r->contract.exchange) ? r->contract.exchange : "SMART";
    d->market_name = in->trading_class;
    d->min_tick = in->min_tick;
    bool stk = in->session == SIM_SESS_STK, fut = in->session == SIM_SESS_FUT;
    d->order_types = stk ? STK_ORDER_TYPES : (fut ? FUT_ORDER_TYPES : FX_ORDER_TYPES);
    d->valid_exchanges = stk ? STK_EXCHANGES : in->valid_exchanges;
    d->price_magnifier = 1;
    d->under_con_id = in->under_con_id;
    d->long_name = in->long_name;
    d->contract_month = in->contract_month;
    d->industry = in->industry;
    d->category = in->category;
    d->subcategory = "";
    d->time_zone_id = "US/Eastern";
    hours_string(in, false, trading, sizeof trading);
    hours_string(in, true, liquid, sizeof liquid);
    d->trading_hours = trading;
    d->liquid_hours = in->session == SIM_SESS_FX ? trading : liquid;
    d->ev_rule = "";
    d->ev_multiplier = IB_UNSET_DOUBLE;
    d->agg_group = stk ? 1 : (fut ? 2 : 4);
    d->under_symbol = in->under_symbol;
    d->under_sec_type = in->under_sec_type;
    int nrules = 1;
    for (const char *p = d->valid_exchanges; *p; p++)
        nrules += *p == ',';
    const char *rule = stk ? "26" : (fut ? "67" : "239");
    size_t len = 0;
    rules[0] = '\0';
    for (int i = 0; i < nrules && len + 8 < sizeof rules; i++)
        len += (size_t)snprintf(rules + len, sizeof rules - len, "%s%s", i ? "," : "", rule);
    d->market_rule_ids = rules;
    d->real_expiration_date = in->last_trade_date;
    d->stock_type =
        stk ? (strcmp(in->category, "Equity Fund") == 0 || strstr(in->category, "Fund") ? "ETF"
                                                                                        : "COMMON")
            : "";
    d->min_size = stk ? 0.0001 : 1;
    d->size_increment = stk ? 0.0001 : 1;
    d->suggested_size_increment = stk ? 100 : 1;
    if (opt)
        sim_optionDetails(in, opt, d);
    sim_send(c, &rep, NULL);
}

static void send_details_end(simConn *c, int64_t req_id)
{
    ibReply end;
    memset(&end, 0, sizeof end);
    end.id = IB_MSG_CONTRACT_DATA_END;
    end.u.end.req_id = req_id;
    sim_send(c, &end, NULL);
}

void sim_handleContractDetails(simConn *c, const ibReqContractDetails *r)
{
    if (sim_isOptionContract(&r->contract)) {
        simMktSub opt = {.req_id = r->req_id};
        int und = sim_resolveOption(c, &r->contract, r->req_id, &opt); /* 200 when not in a chain */
        if (und >= 0) {
            send_details(c, r, &c->srv->insts[und], &opt);
            send_details_end(c, r->req_id);
        }
        return;
    }
    int idx[16];
    int n = sim_matchContract(c->srv, &r->contract, idx, 16);
    if (n == 0) {
        sim_sendError(c, r->req_id, 200, "No security definition has been found for the request");
        return;
    }
    if (n > 16)
        n = 16;
    for (int k = 0; k < n; k++)
        send_details(c, r, &c->srv->insts[idx[k]], NULL);
    send_details_end(c, r->req_id);
}
