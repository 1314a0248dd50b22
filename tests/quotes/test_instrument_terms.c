/* test_instrument_terms.c — the bridge's instrument words without a network: how a request body names
 * an instrument (br_keyFromBody: "symbol", "key" or a "contract" map, each bad form refused with a
 * sentence), the contract map a reply carries (br_packContract), and how IB's codes on a quote line
 * become the quote's status and whether the line is given up (brQt_statusSlug / brQt_terminalError). */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "br_internal.h"
#include "br_quotes_int.h"

/* body from a tiny JSON-ish list of string pairs: k1, v1, k2, v2, ..., NULL */
static msgpack_unpacked body_of(msgpack_sbuffer *sb, const char *const *kv)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    size_t n = 0;
    while (kv[2 * n])
        n++;
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        busPack_Str(&pk, kv[2 * i]);
        busPack_Str(&pk, kv[2 * i + 1]);
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
    return u;
}

static ibbStatus key_of(const char *const *kv, char *key, char *err)
{
    msgpack_sbuffer sb;
    msgpack_unpacked u = body_of(&sb, kv);
    ibbStatus s = br_keyFromBody(&u.data, key, ST_KEY_MAX, err, 300);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

Test(instrument_terms, keys_are_canonical)
{
    char key[ST_KEY_MAX], err[300];
    cr_assert_eq(key_of((const char *[]){"symbol", "AAPL", NULL}, key, err), IBB_OK, "%s", err);
    cr_assert_str_eq(key, "AAPL");
    cr_assert_eq(key_of((const char *[]){"key", "FUT:ES:CME:USD:202612", NULL}, key, err), IBB_OK, "%s", err);
    cr_assert_str_eq(key, "FUT:ES:CME:USD:202612");
    cr_assert_eq(key_of((const char *[]){"symbol", "CASH:EUR:IDEALPRO:USD", NULL}, key, err), IBB_OK, "%s", err);
    cr_assert_str_eq(key, "CASH:EUR:IDEALPRO:USD");
}

Test(instrument_terms, bad_keys_are_refused_with_a_sentence)
{
    char key[ST_KEY_MAX], err[300];
    err[0] = '\0';
    cr_assert_eq(key_of((const char *[]){"symbol", "", NULL}, key, err), IBB_ERR_INVALID_ARG);
    cr_assert(strstr(err, "'symbol'"), "%s", err);
    cr_assert_eq(key_of((const char *[]){"symbol", "FUT:ES", NULL}, key, err), IBB_ERR_INVALID_ARG);
    cr_assert(strstr(err, "not a valid instrument key"), "%s", err);
    cr_assert_eq(key_of((const char *[]){"side", "BUY", NULL}, key, err), IBB_ERR_NOT_FOUND, "no instrument at all");
    cr_assert(strstr(err, "'symbol'") && strstr(err, "'contract'"), "%s", err);
}

Test(instrument_terms, a_contract_map_names_an_instrument)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    busPack_Str(&pk, "contract");
    msgpack_pack_map(&pk, 2);
    busPack_KeyStr(&pk, "symbol", "MSFT");
    busPack_KeyStr(&pk, "currency", "USD");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    char key[ST_KEY_MAX], err[300];
    cr_assert_eq(br_keyFromBody(&u.data, key, sizeof key, err, sizeof err), IBB_OK, "%s", err);
    cr_assert_str_eq(key, "MSFT", "STK on SMART in USD keeps the short form");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

Test(instrument_terms, contract_map_round_trip)
{
    stInstrumentSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.con_id = 265598;
    snprintf(spec.symbol, sizeof spec.symbol, "AAPL");
    snprintf(spec.sec_type, sizeof spec.sec_type, "STK");
    snprintf(spec.exchange, sizeof spec.exchange, "SMART");
    snprintf(spec.primary_exchange, sizeof spec.primary_exchange, "NASDAQ");
    snprintf(spec.currency, sizeof spec.currency, "USD");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    br_packContract(&pk, &spec);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(u.data.via.map.size, 8, "a stock has no derivative fields");
    int64_t con_id = 0;
    char prim[32];
    cr_assert_eq(busObj_Int(&u.data, "con_id", &con_id), IBB_OK);
    cr_assert_eq(con_id, 265598);
    cr_assert_eq(busObj_StrCopy(&u.data, "primary_exchange", prim, sizeof prim), IBB_OK);
    cr_assert_str_eq(prim, "NASDAQ");
    cr_assert_null(busObj_Get(&u.data, "strike"));
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

Test(instrument_terms, ib_codes_on_a_quote_line)
{
    cr_assert_str_eq(brQt_statusSlug(0), "ok");
    cr_assert_str_eq(brQt_statusSlug(200), "unknown_symbol");
    cr_assert_str_eq(brQt_statusSlug(101), "line_limit");
    cr_assert_str_eq(brQt_statusSlug(354), "forbidden", "not subscribed to the market data");
    cr_assert_str_eq(brQt_statusSlug(10167), "delayed_data");
    cr_assert_str_eq(brQt_statusSlug(322), "ib_error");
    cr_assert(brQt_terminalError(200), "an unknown contract ends the line");
    cr_assert(brQt_terminalError(354));
    cr_assert_not(brQt_terminalError(10167), "delayed data still flows");
    cr_assert_not(brQt_terminalError(2104), "a farm notice is not an error of the line");
}
