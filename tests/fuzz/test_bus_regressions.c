/* test_bus_regressions.c — inputs the bus/HTTP fuzzers (fuzz_bus_body, fuzz_bus_json,
 * fuzz_http_request) found, kept as Criterion tests in the normal build (and the ASan+UBSan one,
 * where the undefined behaviour itself is reported).
 *
 * 1. fuzz_bus_body, input 03 '{"":1000}': msgpack-c gives a zero-length string a NULL ptr, and
 *    busObj_Get called memcmp(NULL, key, 0) (UB: memcmp's arguments are declared nonnull);
 *    busObj_StrCopy had the same with memchr/memcpy on an empty value ({"symbol": ""}).
 *    Fixed in adapter/bus/bus_obj.c (length checked before the call). */
#include <criterion/criterion.h>
#include <string.h>

#include "bus_obj.h"

static const char MP_EMPTY_KEY[] = {'\x81', '\xa0', '\xcd', '\x03', '\xe8'}; /* {"": 1000} */
static const char MP_EMPTY_VAL[] = {'\x81', '\xa6', 's', 'y',   'm',
                                    'b',    'o',    'l', '\xa0'}; /* {"symbol": ""} */

static void decode(busBody *b, const char *data, size_t len)
{
    char err[160] = "";
    busBody_Init(b);
    cr_assert_eq(busBody_Decode(b, data, len, NULL, 0, err, sizeof err), IBB_OK, "%s", err);
}

Test(bus_regressions, empty_key_lookup_json_and_msgpack)
{
    const char *json = "{\"\":1000}";
    const struct {
        const char *p;
        size_t n;
    } in[] = {{json, strlen(json)}, {MP_EMPTY_KEY, sizeof MP_EMPTY_KEY}};
    for (size_t i = 0; i < 2; i++) {
        busBody b;
        decode(&b, in[i].p, in[i].n);
        int64_t v = 0;
        cr_assert_eq(busObj_Int(&b.root, "", &v), IBB_OK, "input %zu", i);
        cr_assert_eq(v, 1000);
        cr_assert_eq(busObj_Get(&b.root, "x"), NULL);
        busBody_Free(&b);
    }
}

Test(bus_regressions, empty_string_value_strcopy)
{
    const char *json = "{\"symbol\":\"\"}";
    const struct {
        const char *p;
        size_t n;
    } in[] = {{json, strlen(json)}, {MP_EMPTY_VAL, sizeof MP_EMPTY_VAL}};
    for (size_t i = 0; i < 2; i++) {
        busBody b;
        decode(&b, in[i].p, in[i].n);
        char buf[8] = "xxxxxxx";
        cr_assert_eq(busObj_StrCopy(&b.root, "symbol", buf, sizeof buf), IBB_OK, "input %zu", i);
        cr_assert_str_eq(buf, "");
        const char *s = "not touched";
        size_t n = 99;
        cr_assert_eq(busObj_Str(&b.root, "symbol", &s, &n), IBB_OK);
        cr_assert_eq(n, 0);
        busBody_Free(&b);
    }
}
