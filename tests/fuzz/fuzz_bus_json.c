/* fuzz_bus_json.c — libFuzzer target: the bus' two converters (adapter/bus/bus_json.h).
 *
 * Byte 0 bit 0 picks the direction of the input, the rest is the text/bytes:
 *   0: JSON text -> busJson_ToMsgpack (what a JSON request goes through). When it succeeds the
 *      MessagePack must pass busMsgpack_Check (str keys) and convert back with busJson_FromMsgpack;
 *      that text must parse again and convert to the SAME MessagePack bytes (a fixed point).
 *   1: MessagePack bytes -> busMsgpack_Check, busJson_FromMsgpack (what a reply or a JSON mirror
 *      goes through). A buffer Check accepts must not give a framing error in FromMsgpack, and
 *      FromMsgpack's text must be valid JSON.
 * Errors must come with a message. Abort = a violated property. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_json.h"

#define CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "FUZZ PROPERTY VIOLATED: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            abort(); \
        } \
    } while (0)

static void from_json(const char *txt, size_t len)
{
    msgpack_sbuffer a, b;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    char err[200] = "";
    ibbStatus st = busJson_ToMsgpack(&a, txt, len, err, sizeof err);
    if (st != IBB_OK) {
        CHECK(err[0], "ToMsgpack %d without a message", (int)st);
        goto out;
    }
    CHECK(busMsgpack_Check(a.data, a.size, true, err, sizeof err) == IBB_OK,
          "ToMsgpack output fails Check: %s", err);
    busBuf j;
    busBuf_Init(&j);
    st = busJson_FromMsgpack(&j, a.data, a.size);
    CHECK(st == IBB_OK, "FromMsgpack %d on ToMsgpack output", (int)st);
    err[0] = '\0';
    st = busJson_ToMsgpack(&b, j.data, j.len, err, sizeof err);
    CHECK(st == IBB_OK, "the writer's JSON does not parse again: %s: %.*s", err,
          (int)(j.len < 300 ? j.len : 300), j.data);
    CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0,
          "JSON -> MessagePack -> JSON -> MessagePack changed: %.*s", (int)(j.len < 300 ? j.len : 300),
          j.data);
    busBuf_Free(&j);
out:
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}

static void from_msgpack(const char *mp, size_t len)
{
    char err[200] = "";
    ibbStatus chk = busMsgpack_Check(mp, len, false, err, sizeof err);
    if (chk != IBB_OK)
        CHECK(err[0], "Check %d without a message", (int)chk);
    busBuf j;
    busBuf_Init(&j);
    ibbStatus st = busJson_FromMsgpack(&j, mp, len);
    if (chk == IBB_OK)
        CHECK(st == IBB_OK || st == IBB_ERR_INVALID_ARG, "Check accepted, FromMsgpack gave %d", (int)st);
    if (st == IBB_OK) {
        json_error_t je;
        json_t *v =
            json_loadb(j.data, j.len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
        /* jansson cannot hold "\u0000" inside a key: valid JSON, its limitation */
        CHECK(v != NULL || strstr(je.text, "NUL byte in object key"),
              "FromMsgpack wrote invalid JSON (%s): %.*s", je.text, (int)(j.len < 300 ? j.len : 300), j.data);
        json_decref(v);
    }
    busBuf_Free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        from_msgpack((const char *)data + 1, size - 1);
    else
        from_json((const char *)data + 1, size - 1);
    return 0;
}
