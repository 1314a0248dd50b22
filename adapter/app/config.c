/* config.c — the option table and everything it drives; see config.h.
 *
 * One row per option (Redis-style): file key, type, default (as text, parsed like an environment
 * value), range or choices, environment variable, where the value lives in appConfig, flags,
 * help. Nothing else in this file names an option except the cross-checks at the end. */
#include "config.h"
#include "ibb_log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

typedef enum optType { OPT_STR, OPT_INT, OPT_DOUBLE, OPT_BOOL, OPT_ENUM, OPT_LIST } optType;

enum {
    OPT_SECRET = 1u,   /* masked by --check-config */
    OPT_PATH = 2u,     /* when set, must name a readable file */
    OPT_NONEMPTY = 4u, /* strings: must not be empty; lists: at least one item */
    OPT_TOKENS = 8u,   /* list items are instrument keys: no '.', space, '*', '>' */
    OPT_SECRET_FILE = 16u, /* the file named holds a secret: warned about when group/others can read it */
};

typedef struct optDef {
    const char *name; /* libconfig path, e.g. "ib.pacing.rate" */
    optType type;
    const char *def; /* default as text ("" = empty string / empty list) */
    double min, max; /* INT, DOUBLE: value range; LIST: max items in `max` */
    const char *env;
    size_t off; /* offset in appConfig */
    unsigned flags;
    const char *choices; /* ENUM: "a|b|c" */
    const char *help;
} optDef;

#define F(field) offsetof(appConfig, field)

static const optDef options[] = {
    {"ib.host", OPT_STR, "127.0.0.1", 0, 0, "IB_HOST", F(ib_host), OPT_NONEMPTY, NULL,
     "IB Gateway / TWS host name or address"},
    {"ib.port", OPT_INT, "4002", 1, 65535, "IB_PORT", F(ib_port), 0, NULL,
     "API port: 4002 Gateway paper, 7497 TWS paper, 4001 Gateway live, 7496 TWS live (4004 / 4003: the paper "
     "/ live relays of the IB Gateway container)"},
    {"ib.client_id", OPT_INT, "1", 0, 2147483647, "IB_CLIENT_ID", F(ib_client_id), 0, NULL,
     "API client id; must not be used by any other API client of the same gateway (else error 326)"},
    {"ib.trading_mode", OPT_ENUM, "paper", 0, 0, "IB_TRADING_MODE", F(ib_trading_mode), 0, "paper|live",
     "paper (default) or live; live also needs a live port (4001/7496/4003)"},
    {"ib.simulator", OPT_BOOL, "false", 0, 0, "IB_SIMULATOR", F(ib_simulator), 0, NULL,
     "the peer is ib-sim: allows any non-live port in paper mode"},
    {"ib.read_only", OPT_BOOL, "false", 0, 0, "IBB_READ_ONLY", F(ib_read_only), 0, NULL,
     "refuse every order request (quotes and queries only)"},
    {"ib.handshake_timeout_ms", OPT_INT, "10000", 100, 600000, "IBB_HANDSHAKE_TIMEOUT_MS",
     F(ib_handshake_timeout_ms), 0, NULL, "connect + handshake must finish within this time"},
    {"ib.keepalive_idle_ms", OPT_INT, "30000", 50, 3600000, "IBB_KEEPALIVE_IDLE_MS", F(ib_keepalive_idle_ms),
     0, NULL, "send a reqCurrentTime keep-alive after this much silence from the gateway"},
    {"ib.stall_timeout_ms", OPT_INT, "90000", 100, 7200000, "IBB_STALL_TIMEOUT_MS", F(ib_stall_timeout_ms), 0,
     NULL, "no byte from the gateway for this long = stalled: reconnect (> ib.keepalive_idle_ms)"},
    {"ib.backoff_min_ms", OPT_INT, "1000", 10, 600000, "IBB_BACKOFF_MIN_MS", F(ib_backoff_min_ms), 0, NULL,
     "first reconnect delay; doubles per failed attempt, with jitter"},
    {"ib.backoff_max_ms", OPT_INT, "60000", 10, 3600000, "IBB_BACKOFF_MAX_MS", F(ib_backoff_max_ms), 0, NULL,
     "longest reconnect delay"},
    {"ib.pacing.rate", OPT_DOUBLE, "45", 1, 50, "IBB_PACING_RATE", F(ib_pacing_rate), 0, NULL,
     "outbound messages per second (IB disconnects above 50)"},
    {"ib.pacing.burst", OPT_INT, "5", 1, 49, "IBB_PACING_BURST", F(ib_pacing_burst), 0, NULL,
     "token bucket size; rate + burst must stay <= 50"},
    {"ib.pacing.max_queue", OPT_INT, "10000", 1, 1000000, "IBB_PACING_MAX_QUEUE", F(ib_pacing_max_queue), 0,
     NULL, "outbound requests that may wait for the pacer; more are refused"},
    {"ib.md_line_budget", OPT_INT, "100", 1, 10000, "IBB_MD_LINE_BUDGET", F(ib_md_line_budget), 0, NULL,
     "market-data lines ib-bridge may use (the account's limit, default 100)"},
    {"ib.watchlist", OPT_LIST, "", 0, 10000, "IBB_WATCHLIST", F(ib_watchlist), OPT_TOKENS, NULL,
     "instrument keys subscribed at start-up (env: comma-separated)"},
    {"nats.urls", OPT_LIST, "nats://127.0.0.1:4222", 0, 64, "NATS_URL", F(nats_urls), OPT_NONEMPTY, NULL,
     "NATS server URLs (env: comma-separated)"},
    {"nats.user", OPT_STR, "", 0, 0, "NATS_USER", F(nats_user), 0, NULL, "NATS user name"},
    {"nats.password", OPT_STR, "", 0, 0, "NATS_PASSWORD", F(nats_password), OPT_SECRET, NULL,
     "NATS password (needs nats.user)"},
    {"nats.token", OPT_STR, "", 0, 0, "NATS_TOKEN", F(nats_token), OPT_SECRET, NULL, "NATS auth token"},
    {"nats.creds", OPT_STR, "", 0, 0, "NATS_CREDS", F(nats_creds), OPT_PATH | OPT_SECRET_FILE, NULL,
     "path to a NATS .creds file (exclusive with nats.nkey)"},
    {"nats.nkey", OPT_STR, "", 0, 0, "NATS_NKEY", F(nats_nkey), 0, NULL,
     "NKey user public key (\"U...\", 56 characters) of a NATS user; needs nats.nkey_seed"},
    {"nats.nkey_seed", OPT_STR, "", 0, 0, "NATS_NKEY_SEED", F(nats_nkey_seed), OPT_PATH | OPT_SECRET_FILE,
     NULL, "path to the file holding that NKey's seed (\"SU...\"; keep it mode 600); needs nats.nkey"},
    {"nats.tls_ca", OPT_STR, "", 0, 0, "NATS_TLS_CA", F(nats_tls_ca), OPT_PATH, NULL,
     "path to the CA bundle that signed the NATS server certificate"},
    {"nats.subject_prefix", OPT_STR, "ib", 0, 0, "IBB_SUBJECT_PREFIX", F(nats_subject_prefix), OPT_NONEMPTY,
     NULL, "first subject tokens, e.g. \"ib\" or \"ib.paper\""},
    {"nats.request_timeout_ms", OPT_INT, "5000", 100, 600000, "IBB_REQUEST_TIMEOUT_MS",
     F(nats_request_timeout_ms), 0, NULL, "every request gets a reply within this time"},
    {"nats.quote_encoding", OPT_ENUM, "msgpack", 0, 0, "IBB_QUOTE_ENCODING", F(nats_quote_encoding), 0,
     "msgpack|json|both",
     "encoding of ib.quote.* streams (both: MessagePack plus a JSON mirror on ib.json.quote.*)"},
    {"nats.js_replicas", OPT_INT, "1", 1, 5, "IBB_JS_REPLICAS", F(nats_js_replicas), 0, NULL,
     "copies of every JetStream stream and KV bucket ib-bridge creates (3 on a three-node cluster); an "
     "existing stream with fewer is raised, or the start refuses naming it"},
    {"ha.enabled", OPT_BOOL, "false", 0, 0, "IBB_HA", F(ha_enabled), 0, NULL,
     "hot standby: several ib-bridges with the same prefix, IB host and client id; one holds the lease in KV "
     "bucket <prefix>_leader and the IB session, the others wait"},
    {"ha.lease_ms", OPT_INT, "3000", 300, 60000, "IBB_HA_LEASE_MS", F(ha_lease_ms), 0, NULL,
     "a leader that has not renewed for this long is replaced (judged by the standby's own clock)"},
    {"ha.renew_ms", OPT_INT, "1000", 50, 20000, "IBB_HA_RENEW_MS", F(ha_renew_ms), 0, NULL,
     "the leader renews its lease this often (at most ha.lease_ms / 3)"},
    {"risk.max_order_qty", OPT_DOUBLE, "1000", 0.0001, 1e9, "IBB_MAX_ORDER_QTY", F(risk_max_order_qty), 0,
     NULL, "largest quantity of one order"},
    {"risk.max_order_notional", OPT_DOUBLE, "100000", 1, 1e12, "IBB_MAX_ORDER_NOTIONAL",
     F(risk_max_order_notional), 0, NULL, "largest quantity x price of one order"},
    {"risk.max_orders_per_minute", OPT_INT, "60", 1, 10000, "IBB_MAX_ORDERS_PER_MINUTE",
     F(risk_max_orders_per_minute), 0, NULL, "orders placed per rolling minute"},
    {"risk.allowed_symbols", OPT_LIST, "", 0, 10000, "IBB_ALLOWED_SYMBOLS", F(risk_allowed_symbols),
     OPT_TOKENS, NULL, "instrument keys that may be traded; empty = any (env: comma-separated)"},
    {"log.level", OPT_ENUM, "info", 0, 0, "IBB_LOG_LEVEL", F(log_level), 0, "debug|info|warn|error",
     "log threshold"},
};

#define N_OPTIONS (sizeof options / sizeof options[0])
_Static_assert(N_OPTIONS <= sizeof(((appConfig *)0)->source), "appConfig.source too small");

/* ---------------------------------------------------------------------------------------------- */
/* errors                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

typedef struct errCtx {
    char *buf;
    size_t cap, len;
    int count;
    bool nomem;
} errCtx;

static void add_err(errCtx *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_err(errCtx *e, const char *fmt, ...)
{
    e->count++;
    if (!e->buf || e->cap == 0 || e->len + 1 >= e->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    e->len += (size_t)n < e->cap - e->len ? (size_t)n : e->cap - e->len - 1;
    if (e->len + 1 < e->cap) {
        e->buf[e->len++] = '\n';
        e->buf[e->len] = '\0';
    }
}

/* " (from env IB_PORT)" / " (from FILE:LINE)" / "" */
typedef struct srcInfo {
    int kind; /* APP_SRC_* */
    const char *env;
    const char *file;
    int line;
} srcInfo;

static const char *src_text(const srcInfo *s, char *buf, size_t cap)
{
    if (s->kind == APP_SRC_ENV)
        snprintf(buf, cap, " (from env %s)", s->env);
    else if (s->kind == APP_SRC_FILE && s->file)
        snprintf(buf, cap, " (from %s:%d)", s->file, s->line);
    else
        buf[0] = '\0';
    return buf;
}

/* ---------------------------------------------------------------------------------------------- */
/* typed slots                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static void *slot(appConfig *cfg, const optDef *o) { return (char *)cfg + o->off; }
static const void *cslot(const appConfig *cfg, const optDef *o) { return (const char *)cfg + o->off; }

static void list_free(appStrList *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static bool list_push(appStrList *l, const char *s, size_t len)
{
    char **ni = realloc(l->items, (l->n + 1) * sizeof *ni);
    if (!ni)
        return false;
    l->items = ni;
    char *c = strndup(s, len);
    if (!c)
        return false;
    l->items[l->n++] = c;
    return true;
}

static bool set_str(char **dst, const char *s)
{
    char *c = strdup(s);
    if (!c)
        return false;
    free(*dst);
    *dst = c;
    return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* value checks shared by every source                                                            */
/* ---------------------------------------------------------------------------------------------- */

static bool in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        p += len + (bar ? 1 : 0);
    }
    return false;
}

static bool check_int(errCtx *e, const optDef *o, int64_t v, const srcInfo *si)
{
    char sb[300];
    if ((double)v < o->min || (double)v > o->max) {
        add_err(e, "%s: %" PRId64 " is out of range %.0f..%.0f%s", o->name, v, o->min, o->max,
                src_text(si, sb, sizeof sb));
        return false;
    }
    return true;
}

static bool check_double(errCtx *e, const optDef *o, double v, const srcInfo *si)
{
    char sb[300];
    if (!isfinite(v) || v < o->min || v > o->max) {
        add_err(e, "%s: %.15g is out of range %.15g..%.15g%s", o->name, v, o->min, o->max,
                src_text(si, sb, sizeof sb));
        return false;
    }
    return true;
}

static bool check_string(errCtx *e, const optDef *o, const char *v, const srcInfo *si)
{
    char sb[300];
    if (o->type == OPT_ENUM && !in_choices(o->choices, v)) {
        add_err(e, "%s: \"%s\" is not one of %s%s", o->name, v, o->choices, src_text(si, sb, sizeof sb));
        return false;
    }
    if ((o->flags & OPT_NONEMPTY) && !*v) {
        add_err(e, "%s: must not be empty%s", o->name, src_text(si, sb, sizeof sb));
        return false;
    }
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            add_err(e, "%s: contains a control character%s", o->name, src_text(si, sb, sizeof sb));
            return false;
        }
    return true;
}

static bool check_item(errCtx *e, const optDef *o, const char *v, const srcInfo *si)
{
    char sb[300];
    if (!*v) {
        add_err(e, "%s: empty list item%s", o->name, src_text(si, sb, sizeof sb));
        return false;
    }
    for (const char *p = v; *p; p++) {
        bool bad = (unsigned char)*p <= 0x20 || *p == 0x7f;
        if (o->flags & OPT_TOKENS)
            bad = bad || *p == '.' || *p == '*' || *p == '>';
        if (bad) {
            add_err(e, "%s: item \"%s\" has a character not allowed here (%s)%s", o->name, v,
                    (o->flags & OPT_TOKENS) ? "no space, '.', '*' or '>' in an instrument key"
                                            : "no whitespace",
                    src_text(si, sb, sizeof sb));
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* text values (defaults and environment)                                                         */
/* ---------------------------------------------------------------------------------------------- */

static bool parse_bool_text(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Sets option o from text. Returns false (with an error added) when the text is not valid. */
/* Checks a parsed list option (non-empty, item count) and stores it, or frees it; ok = the items
 * themselves were valid. One place for the file and the text (environment, default) paths. */
static bool commit_list(appConfig *cfg, errCtx *e, const optDef *o, appStrList *l, const srcInfo *si, bool ok)
{
    char sb[300];
    if (ok && l->n == 0 && (o->flags & OPT_NONEMPTY)) {
        add_err(e, "%s: needs at least one item%s", o->name, src_text(si, sb, sizeof sb));
        ok = false;
    }
    if (ok && (double)l->n > o->max) {
        add_err(e, "%s: %zu items, at most %.0f allowed%s", o->name, l->n, o->max, src_text(si, sb, sizeof sb));
        ok = false;
    }
    if (!ok) {
        list_free(l);
        return false;
    }
    list_free((appStrList *)slot(cfg, o));
    *(appStrList *)slot(cfg, o) = *l;
    return true;
}

static bool set_from_text(appConfig *cfg, errCtx *e, const optDef *o, const char *text, const srcInfo *si)
{
    char sb[300];
    switch (o->type) {
    case OPT_INT: {
        errno = 0;
        char *end;
        long long v = strtoll(text, &end, 10);
        if (end == text || *end != '\0' || errno == ERANGE) {
            add_err(e, "%s: \"%s\" is not an integer%s", o->name, text, src_text(si, sb, sizeof sb));
            return false;
        }
        if (!check_int(e, o, (int64_t)v, si))
            return false;
        *(int64_t *)slot(cfg, o) = (int64_t)v;
        return true;
    }
    case OPT_DOUBLE: {
        char *end;
        double v = strtod(text, &end);
        if (end == text || *end != '\0') {
            add_err(e, "%s: \"%s\" is not a number%s", o->name, text, src_text(si, sb, sizeof sb));
            return false;
        }
        if (!check_double(e, o, v, si))
            return false;
        *(double *)slot(cfg, o) = v;
        return true;
    }
    case OPT_BOOL: {
        bool v;
        if (!parse_bool_text(text, &v)) {
            add_err(e, "%s: \"%s\" is not a boolean (true/false)%s", o->name, text,
                    src_text(si, sb, sizeof sb));
            return false;
        }
        *(bool *)slot(cfg, o) = v;
        return true;
    }
    case OPT_STR:
    case OPT_ENUM:
        if (!check_string(e, o, text, si))
            return false;
        if (!set_str((char **)slot(cfg, o), text))
            e->nomem = true;
        return true;
    case OPT_LIST: {
        appStrList l = {0};
        for (const char *p = text; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            while (len && isspace((unsigned char)*p)) {
                p++;
                len--;
            }
            size_t tl = len;
            while (tl && isspace((unsigned char)p[tl - 1]))
                tl--;
            if (tl && !list_push(&l, p, tl))
                e->nomem = true;
            p += len + (comma ? 1 : 0);
        }
        bool ok = true;
        for (size_t i = 0; i < l.n && ok; i++)
            ok = check_item(e, o, l.items[i], si);
        return commit_list(cfg, e, o, &l, si, ok);
    }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------------- */
/* file values                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

/* libconfig 1.5 reads a decimal integer above INT_MAX without an L suffix as a wrapped 32-bit
 * value, silently. Re-read the literal on its source line: when none of the "leaf = <number>"
 * literals there equals what libconfig returned, report the literal's real value. */
static bool literal_mismatch(const char *file, int line, const char *leaf, int64_t got, char *lit,
                             size_t litcap)
{
    if (!file || line <= 0 || !leaf)
        return false;
    FILE *f = fopen(file, "r");
    if (!f)
        return false;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = 0;
    for (int i = 0; i < line && (n = getline(&buf, &cap, f)) >= 0; i++)
        ;
    fclose(f);
    bool mismatch = false, matched = false;
    size_t ll = strlen(leaf);
    for (char *p = n >= 0 ? buf : NULL; p && (p = strstr(p, leaf)) != NULL; p += ll) {
        bool word_start = p == buf || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-');
        char *q = p + ll;
        if (!word_start || isalnum((unsigned char)*q) || *q == '_' || *q == '-')
            continue;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=' && *q != ':')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        char *end;
        errno = 0;
        const char *digits = (*q == '-' || *q == '+') ? q + 1 : q;
        int base = (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) ? 16 : 10;
        long long v = strtoll(q, &end, base);
        if (end == q)
            continue;
        if (errno != ERANGE && (int64_t)v == got) {
            matched = true;
            break;
        }
        if (!mismatch) {
            size_t l = (size_t)(end - q) < litcap - 1 ? (size_t)(end - q) : litcap - 1;
            memcpy(lit, q, l);
            lit[l] = '\0';
            mismatch = true;
        }
    }
    free(buf);
    return mismatch && !matched;
}

static bool set_from_setting(appConfig *cfg, errCtx *e, const optDef *o, config_setting_t *st,
                             const srcInfo *si)
{
    char sb[300];
    int t = config_setting_type(st);
    const char *leaf = config_setting_name(st);
    switch (o->type) {
    case OPT_INT:
    case OPT_DOUBLE:
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
            int64_t v = config_setting_get_int64(st);
            char lit[64];
            if (t == CONFIG_TYPE_INT && literal_mismatch(si->file, si->line, leaf, v, lit, sizeof lit)) {
                add_err(e, "%s: %s is out of range %.0f..%.0f%s (libconfig reads it as %" PRId64 ")", o->name,
                        lit, o->min, o->max, src_text(si, sb, sizeof sb), v);
                return false;
            }
            if (o->type == OPT_INT) {
                if (!check_int(e, o, v, si))
                    return false;
                *(int64_t *)slot(cfg, o) = v;
            } else {
                if (!check_double(e, o, (double)v, si))
                    return false;
                *(double *)slot(cfg, o) = (double)v;
            }
            return true;
        }
        if (t == CONFIG_TYPE_FLOAT && o->type == OPT_DOUBLE) {
            double v = config_setting_get_float(st);
            if (!check_double(e, o, v, si))
                return false;
            *(double *)slot(cfg, o) = v;
            return true;
        }
        add_err(e, "%s: expected %s%s", o->name, o->type == OPT_INT ? "an integer" : "a number",
                src_text(si, sb, sizeof sb));
        return false;
    case OPT_BOOL:
        if (t != CONFIG_TYPE_BOOL) {
            add_err(e, "%s: expected true or false%s", o->name, src_text(si, sb, sizeof sb));
            return false;
        }
        *(bool *)slot(cfg, o) = config_setting_get_bool(st) != 0;
        return true;
    case OPT_STR:
    case OPT_ENUM:
        if (t != CONFIG_TYPE_STRING) {
            add_err(e, "%s: expected a string in double quotes%s", o->name, src_text(si, sb, sizeof sb));
            return false;
        }
        return set_from_text(cfg, e, o, config_setting_get_string(st), si);
    case OPT_LIST: {
        if (t == CONFIG_TYPE_STRING)
            return set_from_text(cfg, e, o, config_setting_get_string(st), si);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
            add_err(e, "%s: expected a list of strings, e.g. [\"a\", \"b\"]%s", o->name,
                    src_text(si, sb, sizeof sb));
            return false;
        }
        int n = config_setting_length(st);
        appStrList l = {0};
        bool ok = true;
        for (int i = 0; i < n && ok; i++) {
            config_setting_t *it = config_setting_get_elem(st, (unsigned)i);
            if (!it || config_setting_type(it) != CONFIG_TYPE_STRING) {
                add_err(e, "%s: item %d is not a string%s", o->name, i + 1, src_text(si, sb, sizeof sb));
                ok = false;
                break;
            }
            const char *v = config_setting_get_string(it);
            ok = check_item(e, o, v, si);
            if (ok && !list_push(&l, v, strlen(v)))
                e->nomem = true;
        }
        return commit_list(cfg, e, o, &l, si, ok);
    }
    }
    return false;
}

static const optDef *find_option(const char *name)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

static bool is_group_prefix(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strncmp(options[i].name, path, n) == 0 && options[i].name[n] == '.')
            return true;
    return false;
}

/* Refuses keys the table does not know (a typo must not silently fall back to a default). */
static void check_unknown(errCtx *e, config_setting_t *group, const char *prefix, const char *file)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *st = config_setting_get_elem(group, (unsigned)i);
        const char *name = st ? config_setting_name(st) : NULL;
        if (!name)
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
        int line = config_setting_source_line(st);
        if (config_setting_is_group(st)) {
            if (!is_group_prefix(path))
                add_err(e, "%s: unknown group (from %s:%d); see ib-bridge --help", path, file, line);
            else
                check_unknown(e, st, path, file);
        } else if (!find_option(path)) {
            add_err(e, "%s: unknown option (from %s:%d); see ib-bridge --help", path, file, line);
        }
    }
}

static void load_file(appConfig *cfg, errCtx *e, const char *path)
{
    if (access(path, R_OK) != 0) {
        add_err(e, "--config %s: cannot read the file: %s", path, strerror(errno));
        return;
    }
    config_t lc;
    config_init(&lc);
    if (!config_read_file(&lc, path)) {
        const char *f = config_error_file(&lc);
        add_err(e, "%s:%d: %s", f ? f : path, config_error_line(&lc), config_error_text(&lc));
        config_destroy(&lc);
        return;
    }
    check_unknown(e, config_root_setting(&lc), "", path);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const optDef *o = &options[i];
        config_setting_t *st = config_lookup(&lc, o->name);
        if (!st)
            continue;
        const char *sf = config_setting_source_file(st);
        srcInfo si = {APP_SRC_FILE, NULL, sf ? sf : path, config_setting_source_line(st)};
        if (set_from_setting(cfg, e, o, st, &si))
            cfg->source[i] = APP_SRC_FILE;
    }
    config_destroy(&lc);
}

/* ---------------------------------------------------------------------------------------------- */
/* cross-checks                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

/* IB Gateway 4001 / TWS 7496 are live, 4002 / 7497 paper. The containerised IB Gateway that
 * docker-compose.yml runs relays live on 4003 and paper on 4004 (socat in front of 4001/4002). */
static bool is_live_port(int64_t p) { return p == 4001 || p == 7496 || p == 4003; }
static bool is_paper_port(int64_t p) { return p == 4002 || p == 7497 || p == 4004; }

static void check_trading_mode(const appConfig *c, errCtx *e)
{
    bool live = strcmp(c->ib_trading_mode, "live") == 0;
    if (live) {
        if (c->ib_simulator)
            add_err(e, "ib.simulator: true cannot be combined with ib.trading_mode = \"live\"");
        else if (!is_live_port(c->ib_port))
            add_err(e,
                    "ib.trading_mode: \"live\" needs a live port (IB Gateway 4001, TWS 7496) but ib.port is "
                    "%" PRId64,
                    c->ib_port);
        return;
    }
    if (is_live_port(c->ib_port))
        add_err(e,
                "ib.port: %" PRId64 " is a live-trading port but ib.trading_mode is \"paper\"; use 4002 "
                "(Gateway) or 7497 (TWS) for paper, or set ib.trading_mode = \"live\" to trade real money",
                c->ib_port);
    else if (!is_paper_port(c->ib_port) && !c->ib_simulator)
        add_err(e,
                "ib.port: %" PRId64
                " is not a paper-trading port (IB Gateway 4002, TWS 7497); if the peer is "
                "ib-sim set ib.simulator = true",
                c->ib_port);
}

static void check_prefix(const appConfig *c, errCtx *e)
{
    const char *p = c->nats_subject_prefix;
    bool ok = *p && p[0] != '.' && p[strlen(p) - 1] != '.' && !strstr(p, "..");
    for (const char *q = p; ok && *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == '*' || *q == '>' || *q == 0x7f)
            ok = false;
    if (!ok)
        add_err(e,
                "nats.subject_prefix: \"%s\" is not a valid subject prefix (dot-separated tokens without "
                "spaces, '*' or '>')",
                p);
}

/* NKey text uses base32 (RFC 4648 alphabet, upper case, no padding). */
static bool is_b32(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7'); }

/* A user public key: "U" and 55 more base32 characters. */
static bool is_user_pubkey(const char *k)
{
    size_t n = strlen(k);
    bool ok = n == 56 && k[0] == 'U';
    for (size_t i = 0; ok && i < n; i++)
        ok = is_b32(k[i]);
    return ok;
}

/* True when the file holds a user seed: "SU" and 56 more base32 characters, standing alone (the
 * `nk -gen user` form, or the seed block of a .creds-style file). The seed is wiped after use. */
static bool file_has_user_seed(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    bool found = false;
    for (size_t i = 0; !found && i + 58 <= n; i++) {
        if (buf[i] != 'S' || buf[i + 1] != 'U' || (i > 0 && is_b32(buf[i - 1])))
            continue;
        size_t k = 2;
        while (k < 58 && is_b32(buf[i + k]))
            k++;
        found = k == 58 && !is_b32(buf[i + 58]);
    }
    explicit_bzero(buf, sizeof buf);
    return found;
}

/* NKey login: the public key (nats.nkey) and the file with its seed (nats.nkey_seed) go together, and
 * exclude a .creds file (which carries its own seed). Values are never echoed: a seed pasted into the
 * wrong key must not reach a log. */
static void check_nkey(const appConfig *c, errCtx *e)
{
    bool pub = *c->nats_nkey, seed = *c->nats_nkey_seed;
    if (pub && !seed)
        add_err(e, "nats.nkey: set without nats.nkey_seed; an NKey login needs both nats.nkey (the user's "
                   "public key \"U...\") and nats.nkey_seed (the path of the file holding its seed)");
    if (seed && !pub)
        add_err(e, "nats.nkey_seed: set without nats.nkey; an NKey login needs both nats.nkey (the user's "
                   "public key \"U...\") and nats.nkey_seed (the path of the file holding its seed)");
    if (pub && !is_user_pubkey(c->nats_nkey))
        add_err(e, "nats.nkey: not an NKey user public key (56 characters starting with \"U\")%s",
                c->nats_nkey[0] == 'S' ? "; it looks like a seed: put the seed in a file (mode 600) named "
                                         "by nats.nkey_seed, never in nats.nkey"
                : strchr(c->nats_nkey, '/') ? "; it looks like a path: the seed file's path goes in "
                                              "nats.nkey_seed, the public key in nats.nkey"
                                            : "");
    if (seed && access(c->nats_nkey_seed, R_OK) == 0 && !file_has_user_seed(c->nats_nkey_seed))
        add_err(e,
                "nats.nkey_seed: \"%s\" holds no NKey user seed (a line of 58 characters starting with "
                "\"SU\", as `nk -gen user` writes it)",
                c->nats_nkey_seed);
    if (*c->nats_creds && (pub || seed))
        add_err(e, "nats.creds: use either nats.creds or nats.nkey/nats.nkey_seed, not both");
}

static void check_cross(const appConfig *c, errCtx *e)
{
    check_trading_mode(c, e);
    if (c->ib_stall_timeout_ms <= c->ib_keepalive_idle_ms)
        add_err(e, "ib.stall_timeout_ms: %" PRId64 " must be greater than ib.keepalive_idle_ms (%" PRId64 ")",
                c->ib_stall_timeout_ms, c->ib_keepalive_idle_ms);
    if (c->ib_backoff_max_ms < c->ib_backoff_min_ms)
        add_err(e, "ib.backoff_max_ms: %" PRId64 " is below ib.backoff_min_ms (%" PRId64 ")",
                c->ib_backoff_max_ms, c->ib_backoff_min_ms);
    if (c->ib_pacing_rate + (double)c->ib_pacing_burst > 50.0)
        add_err(e,
                "ib.pacing.burst: ib.pacing.rate (%g) + ib.pacing.burst (%" PRId64 ") must not exceed 50, "
                "IB's limit of messages per second",
                c->ib_pacing_rate, c->ib_pacing_burst);
    if (c->ha_renew_ms * 3 > c->ha_lease_ms)
        add_err(e, "ha.renew_ms: %" PRId64 " must be at most a third of ha.lease_ms (%" PRId64 ") so a leader "
                   "fences itself before its lease can expire",
                c->ha_renew_ms, c->ha_lease_ms);
    check_prefix(c, e);
    for (size_t i = 0; i < c->nats_urls.n; i++)
        if (!strstr(c->nats_urls.items[i], "://"))
            add_err(e, "nats.urls: \"%s\" is not a URL (expected nats://host:port or tls://host:port)",
                    c->nats_urls.items[i]);
    if (*c->nats_password && !*c->nats_user)
        add_err(e, "nats.password: set without nats.user");
    if (*c->nats_token && *c->nats_user)
        add_err(e, "nats.token: use either nats.token or nats.user/nats.password, not both");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const optDef *o = &options[i];
        const char *v = (o->flags & OPT_PATH) ? *(char *const *)cslot(c, o) : NULL;
        if (v && *v && access(v, R_OK) != 0)
            add_err(e, "%s: cannot read \"%s\": %s", o->name, v, strerror(errno));
    }
    check_nkey(c, e);
}

/* ---------------------------------------------------------------------------------------------- */
/* public                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/* A secret taken from a file that group or others can read deserves a warning (never the value). */
static void warn_readable_secrets(const appConfig *cfg, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
        return;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((options[i].flags & OPT_SECRET) && cfg->source[i] == APP_SRC_FILE)
            IBB_WARN("config.secret_readable",
                     "path=%s key=%s mode=%03o hint=\"chmod 600 the file, or pass the "
                     "secret in %s instead\"",
                     path, options[i].name, (unsigned)(st.st_mode & 0777),
                     options[i].env ? options[i].env : "the environment");
}

/* A file holding a secret itself (a .creds file, an NKey seed) gets the same warning. */
static void warn_readable_secret_files(const appConfig *cfg)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const optDef *o = &options[i];
        const char *v = (o->flags & OPT_SECRET_FILE) ? *(char *const *)cslot(cfg, o) : NULL;
        struct stat st;
        if (!v || !*v || stat(v, &st) != 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
            continue;
        IBB_WARN("config.secret_readable", "path=%s key=%s mode=%03o hint=\"chmod 600 %s\"", v, o->name,
                 (unsigned)(st.st_mode & 0777), v);
    }
}

ibbStatus appConfig_Load(appConfig *cfg, const char *path, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    errCtx e = {err, errlen, 0, 0, false};
    if (err && errlen)
        err[0] = '\0';
    for (size_t i = 0; i < N_OPTIONS; i++) {
        srcInfo si = {APP_SRC_DEFAULT, NULL, NULL, 0};
        if (!set_from_text(cfg, &e, &options[i], options[i].def, &si))
            add_err(&e, "%s: bad built-in default (a bug)", options[i].name);
    }
    if (path)
        load_file(cfg, &e, path);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *v = options[i].env ? getenv(options[i].env) : NULL;
        if (!v || !*v) /* an empty variable is treated as unset */
            continue;
        srcInfo si = {APP_SRC_ENV, options[i].env, NULL, 0};
        if (set_from_text(cfg, &e, &options[i], v, &si))
            cfg->source[i] = APP_SRC_ENV;
    }
    if (e.count == 0 && !e.nomem)
        check_cross(cfg, &e);
    if (path)
        warn_readable_secrets(cfg, path);
    if (e.count == 0 && !e.nomem)
        warn_readable_secret_files(cfg);
    if (e.nomem)
        return IBB_ERR_NOMEM;
    return e.count ? IBB_ERR_CONFIG : IBB_OK;
}

void appConfig_Free(appConfig *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const optDef *o = &options[i];
        if (o->type == OPT_STR || o->type == OPT_ENUM) {
            char **p = (char **)slot(cfg, o);
            free(*p);
            *p = NULL;
        } else if (o->type == OPT_LIST) {
            list_free((appStrList *)slot(cfg, o));
        }
    }
}

bool appConfig_IsLive(const appConfig *cfg)
{
    return cfg && cfg->ib_trading_mode && strcmp(cfg->ib_trading_mode, "live") == 0;
}

static void print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void appConfig_Print(const appConfig *cfg, FILE *out)
{
    fprintf(out, "# ib-bridge effective configuration (secrets masked)\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const optDef *o = &options[i];
        const void *v = cslot(cfg, o);
        fprintf(out, "%s = ", o->name);
        switch (o->type) {
        case OPT_INT: fprintf(out, "%" PRId64, *(const int64_t *)v); break;
        case OPT_DOUBLE: fprintf(out, "%.17g", *(const double *)v); break;
        case OPT_BOOL: fputs(*(const bool *)v ? "true" : "false", out); break;
        case OPT_STR:
        case OPT_ENUM: {
            const char *s = *(char *const *)v;
            print_quoted(out, (o->flags & OPT_SECRET) && *s ? "****" : s);
            break;
        }
        case OPT_LIST: {
            const appStrList *l = v;
            fputc('[', out);
            for (size_t k = 0; k < l->n; k++) {
                fputs(k ? ", " : " ", out);
                print_quoted(out, l->items[k]);
            }
            fputs(l->n ? " ]" : "]", out);
            break;
        }
        }
        int src = cfg->source[i];
        fprintf(out, ";  # %s%s\n",
                src == APP_SRC_ENV    ? "env "
                : src == APP_SRC_FILE ? "file"
                                      : "default",
                src == APP_SRC_ENV ? o->env : "");
    }
}

static const char *type_name(const optDef *o)
{
    static const char *const names[] = {"string", "int", "number", "bool", "choice", "list"};
    return names[o->type];
}

void appConfig_PrintHelp(FILE *out)
{
    fprintf(out, "Configuration options (file key = default; environment variable wins over the file):\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const optDef *o = &options[i];
        char range[96] = "";
        if (o->type == OPT_INT || o->type == OPT_DOUBLE)
            snprintf(range, sizeof range, ", %.15g..%.15g", o->min, o->max);
        else if (o->type == OPT_ENUM)
            snprintf(range, sizeof range, ", %s", o->choices);
        fprintf(out, "  %s = %s%s%s  (%s%s%s%s)\n      %s\n", o->name, o->type == OPT_LIST ? "[" : "", o->def,
                o->type == OPT_LIST ? "]" : "", type_name(o), range, o->env ? ", env " : "",
                o->env ? o->env : "", o->help);
    }
}
