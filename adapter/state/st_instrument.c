/* st_instrument.c — instrument keys; see st_instrument.h. */
#include "st_instrument.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sec_types[] = {"STK", "FUT", "CASH", "OPT", "IND", "CFD", "BOND", "CMDTY",
                                        "FOP", "WAR", "CRYPTO", "FUND", "CONTFUT", NULL};

static bool is_plain(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '+' || c == '#' || c == '=';
}

static bool known_sec_type(const char *s)
{
    for (int i = 0; sec_types[i]; i++)
        if (strcmp(s, sec_types[i]) == 0)
            return true;
    return false;
}

/* Appends one escaped field; false when it does not fit. */
static bool put_field(char *out, size_t cap, size_t *len, const char *field, bool sep)
{
    static const char hex[] = "0123456789ABCDEF";
    if (sep) {
        if (*len + 1 >= cap)
            return false;
        out[(*len)++] = ':';
    }
    for (const unsigned char *p = (const unsigned char *)field; *p; p++) {
        size_t need = is_plain(*p) ? 1 : 3;
        if (*len + need >= cap)
            return false;
        if (need == 1) {
            out[(*len)++] = (char)*p;
        } else {
            out[(*len)++] = '~';
            out[(*len)++] = hex[*p >> 4];
            out[(*len)++] = hex[*p & 15];
        }
    }
    out[*len] = '\0';
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Unescapes src[0, n) into dst; false on a bad escape, a bad byte or overflow. */
static bool get_field(const char *src, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '~') {
            if (i + 2 >= n)
                return false; /* a ~ needs two hex digits */
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (!is_plain(c)) {
            return false;
        }
        if (o + 1 >= cap || c == '\0')
            return false;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return true;
}

static void format_strike(double strike, char *out, size_t cap)
{
    ib_formatDouble(out, cap, strike);
    size_t n = strlen(out);
    if (n > 2 && strcmp(out + n - 2, ".0") == 0)
        out[n - 2] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '.')
            *p = 'p';
}

static bool parse_strike(const char *text, double *out)
{
    char tmp[ST_FIELD_MAX];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof tmp)
        return false;
    for (size_t i = 0; i <= n; i++)
        tmp[i] = text[i] == 'p' ? '.' : text[i];
    char *endp;
    errno = 0;
    *out = strtod(tmp, &endp);
    return *endp == '\0' && errno == 0 && *out >= 0;
}

static bool is_default_stock(const stInstrumentSpec *s)
{
    return strcmp(s->sec_type, "STK") == 0 && strcmp(s->exchange, "SMART") == 0 &&
           strcmp(s->currency, "USD") == 0 && s->symbol[0] != '\0';
}

ibbStatus stInstrument_FormatKey(const stInstrumentSpec *s, char *out, size_t cap)
{
    if (!s || !out || cap == 0)
        return IBB_ERR_INVALID_ARG;
    size_t len = 0;
    out[0] = '\0';
    if (s->symbol[0] == '\0' && s->con_id > 0) {
        int n = snprintf(out, cap, "@%lld", (long long)s->con_id);
        return (n > 0 && (size_t)n < cap) ? IBB_OK : IBB_ERR_LIMIT;
    }
    if (is_default_stock(s))
        return put_field(out, cap, &len, s->symbol, false) ? IBB_OK : IBB_ERR_LIMIT;
    bool ok = put_field(out, cap, &len, s->sec_type, false) && put_field(out, cap, &len, s->symbol, true) &&
              put_field(out, cap, &len, s->exchange, true) && put_field(out, cap, &len, s->currency, true);
    bool option = s->right[0] != '\0';
    if (ok && (s->expiry[0] || option))
        ok = put_field(out, cap, &len, s->expiry, true);
    if (ok && option) {
        char strike[ST_FIELD_MAX];
        format_strike(s->strike, strike, sizeof strike);
        ok = put_field(out, cap, &len, s->right, true) && put_field(out, cap, &len, strike, true) &&
             put_field(out, cap, &len, s->multiplier, true);
    }
    return ok ? IBB_OK : IBB_ERR_LIMIT;
}

static ibbStatus fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return IBB_ERR_INVALID_ARG;
}

ibbStatus stInstrument_ParseKey(const char *key, stInstrumentSpec *out, const char **why)
{
    if (!key || !out)
        return fail(why, "no key");
    memset(out, 0, sizeof *out);
    size_t klen = strlen(key);
    if (klen == 0 || klen >= ST_KEY_MAX)
        return fail(why, "a key has 1 to 127 characters");
    if (key[0] == '@') {
        char *endp;
        errno = 0;
        long long id = strtoll(key + 1, &endp, 10);
        if (endp == key + 1 || *endp || errno || id <= 0)
            return fail(why, "@ must be followed by a positive conId");
        out->con_id = id;
        return IBB_OK;
    }
    /* Split on ':' into at most 8 fields. */
    char fields[8][ST_FIELD_MAX];
    int nf = 0;
    const char *start = key;
    for (const char *p = key;; p++) {
        if (*p == ':' || *p == '\0') {
            if (nf == 8)
                return fail(why, "too many ':'-separated fields");
            if (!get_field(start, (size_t)(p - start), fields[nf], ST_FIELD_MAX))
                return fail(why, "a field has a bad character, a bad ~XX escape, or is too long");
            nf++;
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    if (nf == 1) {
        if (!fields[0][0])
            return fail(why, "empty symbol");
        snprintf(out->sec_type, sizeof out->sec_type, "STK");
        memcpy(out->symbol, fields[0], sizeof out->symbol);
        snprintf(out->exchange, sizeof out->exchange, "SMART");
        snprintf(out->currency, sizeof out->currency, "USD");
        return IBB_OK;
    }
    if (nf != 4 && nf != 5 && nf != 8)
        return fail(why, "expected SYMBOL, or SECTYPE:SYMBOL:EXCHANGE:CURRENCY[:EXPIRY[:RIGHT:STRIKE:MULT]]");
    if (!known_sec_type(fields[0]))
        return fail(why, "unknown security type");
    if (!fields[1][0] || !fields[2][0] || strlen(fields[3]) != 3)
        return fail(why, "symbol and exchange must be set and the currency has 3 letters");
    snprintf(out->sec_type, sizeof out->sec_type, "%.7s", fields[0]); /* known: <= 7 chars */
    memcpy(out->symbol, fields[1], sizeof out->symbol);
    memcpy(out->exchange, fields[2], sizeof out->exchange);
    snprintf(out->currency, sizeof out->currency, "%.3s", fields[3]);
    if (nf >= 5)
        snprintf(out->expiry, sizeof out->expiry, "%.15s", fields[4]);
    if (nf == 8) {
        if (strcmp(fields[5], "C") != 0 && strcmp(fields[5], "P") != 0)
            return fail(why, "right must be C or P");
        snprintf(out->right, sizeof out->right, "%.1s", fields[5]);
        if (!parse_strike(fields[6], &out->strike))
            return fail(why, "strike must be a number with 'p' for the decimal point, e.g. 187p5");
        snprintf(out->multiplier, sizeof out->multiplier, "%.15s", fields[7]);
    }
    return IBB_OK;
}

static void copy_str(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

void stInstrument_FromContract(stInstrumentSpec *s, const ibContract *c)
{
    memset(s, 0, sizeof *s);
    s->con_id = c->con_id;
    copy_str(s->sec_type, sizeof s->sec_type, c->sec_type);
    copy_str(s->symbol, sizeof s->symbol, c->symbol);
    copy_str(s->exchange, sizeof s->exchange, c->exchange);
    copy_str(s->primary_exchange, sizeof s->primary_exchange, c->primary_exchange);
    copy_str(s->currency, sizeof s->currency, c->currency);
    copy_str(s->expiry, sizeof s->expiry, c->last_trade_date);
    copy_str(s->right, sizeof s->right, (c->right && strcmp(c->right, "?") != 0) ? c->right : "");
    s->strike = ib_isUnsetDouble(c->strike) ? 0.0 : c->strike;
    copy_str(s->multiplier, sizeof s->multiplier, c->multiplier);
    copy_str(s->local_symbol, sizeof s->local_symbol, c->local_symbol);
    copy_str(s->trading_class, sizeof s->trading_class, c->trading_class);
}

void stInstrument_ToContract(const stInstrumentSpec *s, ibContract *c)
{
    memset(c, 0, sizeof *c);
    c->con_id = s->con_id;
    c->symbol = s->symbol;
    c->sec_type = s->sec_type;
    c->last_trade_date = s->expiry;
    c->strike = s->right[0] ? s->strike : IB_UNSET_DOUBLE;
    c->right = s->right;
    c->multiplier = s->multiplier;
    c->exchange = s->exchange;
    c->primary_exchange = s->primary_exchange;
    c->currency = s->currency;
    c->local_symbol = s->local_symbol;
    c->trading_class = s->trading_class;
    c->sec_id_type = "";
    c->sec_id = "";
    c->issuer_id = "";
}
