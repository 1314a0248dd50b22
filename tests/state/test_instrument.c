/* test_instrument.c — instrument keys: defaults, escapes, round trips, rejects. */
#include <criterion/criterion.h>
#include <string.h>

#include "st_instrument.h"

static void round_trip(const char *key)
{
    stInstrumentSpec s;
    const char *why = NULL;
    cr_assert_eq(stInstrument_ParseKey(key, &s, &why), IBB_OK, "%s: %s", key, why ? why : "");
    char out[ST_KEY_MAX];
    cr_assert_eq(stInstrument_FormatKey(&s, out, sizeof out), IBB_OK);
    cr_assert_str_eq(out, key);
    for (const char *p = out; *p; p++)
        cr_assert(!strchr(". *>", *p), "key %s holds a NATS-unsafe byte", out);
}

Test(instrument, default_stock_is_its_symbol)
{
    stInstrumentSpec s;
    cr_assert_eq(stInstrument_ParseKey("AAPL", &s, NULL), IBB_OK);
    cr_assert_str_eq(s.sec_type, "STK");
    cr_assert_str_eq(s.symbol, "AAPL");
    cr_assert_str_eq(s.exchange, "SMART");
    cr_assert_str_eq(s.currency, "USD");
    round_trip("AAPL");
}

Test(instrument, other_instruments_round_trip)
{
    round_trip("STK:SAP:IBIS:EUR");
    round_trip("FUT:ES:CME:USD:202512");
    round_trip("CASH:EUR:IDEALPRO:USD");
    round_trip("OPT:AAPL:SMART:USD:20251219:C:187p5:100");
    round_trip("OPT:AAPL:SMART:USD:20251219:P:200:100");
    round_trip("@265598");
}

Test(instrument, escapes_unsafe_bytes)
{
    stInstrumentSpec s;
    memset(&s, 0, sizeof s);
    strcpy(s.sec_type, "STK");
    strcpy(s.symbol, "BRK B");
    strcpy(s.exchange, "SMART");
    strcpy(s.currency, "USD");
    char out[ST_KEY_MAX];
    cr_assert_eq(stInstrument_FormatKey(&s, out, sizeof out), IBB_OK);
    cr_assert_str_eq(out, "BRK~20B");
    strcpy(s.symbol, "BRK.B");
    stInstrument_FormatKey(&s, out, sizeof out);
    cr_assert_str_eq(out, "BRK~2EB");
    stInstrumentSpec back;
    cr_assert_eq(stInstrument_ParseKey(out, &back, NULL), IBB_OK);
    cr_assert_str_eq(back.symbol, "BRK.B");
    round_trip("BRK~2EB");
    round_trip("STK:A~2AB:IBIS:EUR");
    /* a non-canonical spelling parses, and formats to the canonical key */
    stInstrumentSpec c;
    char canon[ST_KEY_MAX];
    cr_assert_eq(stInstrument_ParseKey("STK:A~2AB:SMART:USD", &c, NULL), IBB_OK);
    stInstrument_FormatKey(&c, canon, sizeof canon);
    cr_assert_str_eq(canon, "A~2AB");
}

Test(instrument, rejects_malformed_keys)
{
    static const char *const bad[] = {"", "AA.PL", "A B", "A*", "A>", "FOO:AAPL:SMART:USD", "STK:AAPL:SMART",
                                      "STK:AAPL:SMART:US", "STK::SMART:USD", "OPT:AAPL:SMART:USD:2025:X:1:100",
                                      "OPT:AAPL:SMART:USD:2025:C:abc:100", "BRK~2", "BRK~ZZ", "BRK~00",
                                      "@", "@-5", "@12x", "A:B:C:D:E:F:G:H:I", NULL};
    for (int i = 0; bad[i]; i++) {
        stInstrumentSpec s;
        const char *why = NULL;
        cr_expect_eq(stInstrument_ParseKey(bad[i], &s, &why), IBB_ERR_INVALID_ARG, "'%s' accepted", bad[i]);
        cr_expect(why != NULL && *why, "'%s' has no reason", bad[i]);
    }
    char longkey[300];
    memset(longkey, 'A', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    stInstrumentSpec s;
    cr_assert_eq(stInstrument_ParseKey(longkey, &s, NULL), IBB_ERR_INVALID_ARG);
}

Test(instrument, contract_conversion)
{
    ibContract c = {.con_id = 265598, .symbol = "AAPL", .sec_type = "STK", .exchange = "SMART",
                    .primary_exchange = "NASDAQ", .currency = "USD", .local_symbol = "AAPL",
                    .trading_class = "NMS", .right = "?", .strike = 0.0};
    stInstrumentSpec s;
    stInstrument_FromContract(&s, &c);
    cr_assert_eq(s.con_id, 265598);
    cr_assert_str_eq(s.right, "", "IB's '?' means no right");
    char key[ST_KEY_MAX];
    stInstrument_FormatKey(&s, key, sizeof key);
    cr_assert_str_eq(key, "AAPL");
    ibContract back;
    stInstrument_ToContract(&s, &back);
    cr_assert_eq(back.con_id, 265598);
    cr_assert_str_eq(back.primary_exchange, "NASDAQ");
    cr_assert(ib_isUnsetDouble(back.strike), "no strike for a stock");
}
