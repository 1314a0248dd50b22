/* test_http_regressions.c — inputs fuzz_http_request found, kept as Criterion tests in the normal
 * build. The gateway's JSON strings are bus/bus_json.c's busJson_String since http/ and bus/ share
 * one buffer type (busBuf); these inputs now guard that writer.
 *
 * 1. fuzz_http_request, input "POST /candles/Ao" + Content-Length + body '{"\u' followed by 0xC3 0xA3
 *    (crash-e11b5f82...): the 400 answer quotes jansson's error text, whose "near '...'" context
 *    cut the UTF-8 sequence after 0xC3; the old httpBuf_JsonStr copied the lone byte, so the error body
 *    was not valid JSON (jansson: "unable to decode byte 0xc3"). Fixed then in the gateway's writer:
 *    invalid UTF-8 becomes \ufffd, valid sequences are copied unchanged. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "bus_json.h"

static const char *json_str(const char *s, size_t n, busBuf *b)
{
    busBuf_Init(b);
    busJson_String(b, s, n);
    return busBuf_CStr(b);
}

static void check_valid(const char *s, size_t n, const char *want_utf8)
{
    busBuf b;
    const char *out = json_str(s, n, &b);
    json_error_t je;
    json_t *j = json_loadb(out, b.len, JSON_DECODE_ANY, &je);
    cr_assert(j != NULL, "not valid JSON (%s): %s", je.text, out);
    cr_assert(json_is_string(j));
    if (want_utf8)
        cr_assert_str_eq(json_string_value(j), want_utf8);
    json_decref(j);
    busBuf_Free(&b);
}

Test(http_regressions, truncated_utf8_in_error_message)
{
    const char msg[] = "malformed JSON body: invalid escape near '\"\\u\xc3' (line 1, column 5)";
    check_valid(msg, strlen(msg), "malformed JSON body: invalid escape near '\"\\u\xef\xbf\xbd' (line 1, column 5)");
}

Test(http_regressions, invalid_utf8_families_become_replacement)
{
    static const char *const bad[] = {"\x80", "\xc0\x80", "\xed\xa0\x80", "\xf5\x80\x80\x80", "\xf4\x90\x80\x80",
                                      "\xe0\x80\xaf", "\xe2\x82", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_valid(bad[i], strlen(bad[i]), NULL);
}

Test(http_regressions, valid_utf8_and_escapes_unchanged)
{
    const char s[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \"q\" \\ \n\t\x01";
    check_valid(s, strlen(s), s);
}
