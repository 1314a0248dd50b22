/* test_wire.c — the wire layer: double spelling, writer framing, reader sentinels, framer chunking. */
#include <criterion/criterion.h>
#include <string.h>

#include "ib_wire.h"

static void fmt_is(double v, const char *want)
{
    char buf[64];
    ib_formatDouble(buf, sizeof buf, v);
    cr_expect_str_eq(buf, want, "format(%.17g)", v);
}

Test(wire, doubles_like_python_repr)
{
    fmt_is(185.5, "185.5");
    fmt_is(170.25, "170.25");
    fmt_is(0.0, "0.0");
    fmt_is(100.0, "100.0");
    fmt_is(1e-4, "0.0001");
    fmt_is(1e-5, "1e-05");
    fmt_is(1e16, "1e+16");
    fmt_is(-3.5, "-3.5");
    fmt_is(0.1, "0.1");
    fmt_is(IB_UNSET_DOUBLE, "1.7976931348623157e+308");
}

Test(wire, writer_frames_fields)
{
    ibWriter w;
    ibWriter_Init(&w);
    ibWriter_Begin(&w);
    ibWriter_Int(&w, 49);
    ibWriter_Int(&w, 1);
    cr_assert_eq(ibWriter_End(&w), IBB_OK);
    cr_assert_eq(ibWriter_Len(&w), 4 + 5);
    cr_assert(memcmp(ibWriter_Data(&w), "\0\0\0\x05" "49\0" "1\0", 9) == 0);
    ibWriter_Reset(&w);
    ibWriter_Begin(&w);
    ibWriter_IntMax(&w, IB_UNSET_INT);
    ibWriter_DoubleMax(&w, IB_UNSET_DOUBLE);
    ibWriter_Decimal(&w, 100.0);
    ibWriter_Decimal(&w, 0.5);
    ibWriter_Str(&w, NULL);
    cr_assert_eq(ibWriter_End(&w), IBB_OK);
    cr_assert(memcmp(ibWriter_Data(&w) + 4, "\0\0" "100\0" "0.5\0" "\0", 11) == 0);
    ibWriter_Free(&w);
}

Test(wire, handshake_bytes)
{
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ibWriter_Handshake(&w, 100, 176, NULL), IBB_OK);
    cr_assert_eq(ibWriter_Len(&w), 4 + 4 + 9);
    cr_assert(memcmp(ibWriter_Data(&w), "API\0\0\0\0\x09v100..176", 17) == 0);
    ibWriter_Free(&w);
    int lo, hi;
    cr_assert_eq(ib_parseVersionRange("v100..176", &lo, &hi), IBB_OK);
    cr_assert(lo == 100 && hi == 176);
    cr_assert_eq(ib_parseVersionRange("v100..176 +PACEAPI", &lo, &hi), IBB_OK);
    cr_assert_eq(ib_parseVersionRange("v157", &lo, &hi), IBB_OK);
    cr_assert(lo == 157 && hi == 157);
    cr_assert_neq(ib_parseVersionRange("x100..176", &lo, &hi), IBB_OK);
    cr_assert_neq(ib_parseVersionRange("v176..100", &lo, &hi), IBB_OK);
    cr_assert_neq(ib_parseVersionRange("v100..", &lo, &hi), IBB_OK);
}

Test(wire, reader_sentinels_and_errors)
{
    static const char p[] = "2147483647\0" "\0" "1.7976931348623157E308\0" "9223372036854775807\0"
                            "abc\0" "7\0";
    ibReader r;
    ibReader_Init(&r, p, sizeof p - 1);
    cr_assert_eq(ibReader_Remaining(&r), 6);
    cr_assert_eq(ibReader_IntMax(&r), IB_UNSET_INT);
    cr_assert_eq(ibReader_DoubleMax(&r), IB_UNSET_DOUBLE);
    cr_assert_eq(ibReader_DoubleMax(&r), IB_UNSET_DOUBLE);
    cr_assert_eq(ibReader_Decimal(&r), IB_UNSET_DOUBLE);
    cr_assert_eq(ibReader_Status(&r), IBB_OK);
    cr_assert_eq(ibReader_Int(&r), 0);
    cr_assert_eq(ibReader_Status(&r), IBB_ERR_BAD_NUMBER);
    cr_assert_eq(r.err_index, 4);
    cr_assert_eq(ibReader_Int(&r), 0, "errors are sticky");
    ibReader_Init(&r, "5\0", 2);
    cr_assert_eq(ibReader_Int(&r), 5);
    ibReader_Str(&r);
    cr_assert_eq(ibReader_Status(&r), IBB_ERR_TRUNCATED);
    ibReader_Init(&r, "5", 1);
    cr_assert_eq(ibReader_Status(&r), IBB_ERR_PROTOCOL, "a payload must end with NUL");
    ibReader_Init(&r, "1000000\0a\0", 10);
    cr_assert_eq(ibReader_Count(&r, 1000, 1), 0);
    cr_assert_eq(ibReader_Status(&r), IBB_ERR_PROTOCOL, "absurd counts are refused");
}

static int drain(ibFramer *f, char out[][64], int max)
{
    const char *p;
    size_t n;
    int k = 0;
    ibbStatus s;
    while ((s = ibFramer_Next(f, &p, &n, NULL)) == IBB_OK && k < max) {
        memcpy(out[k], p, n < 64 ? n : 64);
        k++;
    }
    cr_assert_eq(s, IBB_NEED_MORE);
    return k;
}

Test(wire, framer_any_chunking)
{
    static const char stream[] = "\0\0\0\x06" "9\0" "1\0" "5\0" "\0\0\0\x0f" "15\0" "1\0" "DU1234567\0";
    size_t total = sizeof stream - 1;
    for (size_t chunk = 1; chunk <= total; chunk++) {
        ibFramer *f;
        cr_assert_eq(ibFramer_Create(&f, IB_FRAMER_CLIENT), IBB_OK);
        char got[4][64];
        int k = 0;
        for (size_t off = 0; off < total; off += chunk) {
            size_t n = off + chunk <= total ? chunk : total - off;
            cr_assert_eq(ibFramer_Feed(f, stream + off, n), IBB_OK);
            k += drain(f, got + k, 4 - k);
        }
        cr_assert_eq(k, 2, "chunk %zu", chunk);
        cr_assert(memcmp(got[0], "9\0" "1\0" "5\0", 6) == 0);
        cr_assert(memcmp(got[1], "15\0" "1\0" "DU1234567\0", 15) == 0);
        cr_assert_eq(ibFramer_Pending(f), 0);
        ibFramer_Destroy(f);
    }
}

Test(wire, framer_rejects_bad_frames)
{
    ibFramer *f;
    const char *p;
    size_t n;
    ibFramer_Create(&f, IB_FRAMER_CLIENT);
    ibFramer_Feed(f, "\x01\0\0\0", 4); /* 16 MiB */
    cr_assert_eq(ibFramer_Next(f, &p, &n, NULL), IBB_ERR_FRAME_TOO_LARGE);
    ibFramer_Reset(f);
    ibFramer_Feed(f, "\0\0\0\x02" "ab", 6);
    cr_assert_eq(ibFramer_Next(f, &p, &n, NULL), IBB_ERR_PROTOCOL, "missing final NUL");
    ibFramer_Reset(f);
    ibFramer_Feed(f, "\0\0\0\0", 4);
    cr_assert_eq(ibFramer_Next(f, &p, &n, NULL), IBB_ERR_PROTOCOL, "empty frame");
    ibFramer_Destroy(f);
    ibFramer_Destroy(NULL);
}

Test(wire, framer_server_handshake)
{
    static const char stream[] = "API\0" "\0\0\0\x09" "v100..176" "\0\0\0\x09" "71\0" "2\0" "28\0" "\0";
    ibFramer *f;
    const char *p;
    size_t n;
    bool hs;
    ibFramer_Create(&f, IB_FRAMER_SERVER);
    for (size_t i = 0; i < sizeof stream - 1; i++)
        ibFramer_Feed(f, stream + i, 1);
    cr_assert_eq(ibFramer_Next(f, &p, &n, &hs), IBB_OK);
    cr_assert(hs);
    cr_assert_str_eq(p, "v100..176");
    cr_assert_eq(ibFramer_Next(f, &p, &n, &hs), IBB_OK);
    cr_assert(!hs);
    cr_assert_eq(n, 9);
    cr_assert_eq(ibFramer_Next(f, &p, &n, &hs), IBB_NEED_MORE);
    ibFramer_Reset(f);
    ibFramer_Feed(f, "GET / HTTP/1.1\r\n", 16);
    cr_assert_eq(ibFramer_Next(f, &p, &n, &hs), IBB_ERR_PROTOCOL, "not an API client");
    ibFramer_Destroy(f);
}
