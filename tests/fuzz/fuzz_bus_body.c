/* fuzz_bus_body.c — libFuzzer target: a NATS request body as ib-bridge's handlers read it
 * (adapter/bus/bus_obj.h): busBody_Decode in either encoding, then every typed getter on the keys
 * handlers use, arrays and nested maps walked, and the reply-side JSON writer on the decoded root.
 *
 * Input: byte 0 picks the Content-Type header (none, application/json, application/msgpack,
 * something else) and the size limit; bytes 1.. are the body. Properties (abort = crash):
 *   - a decode either succeeds with a MAP root or fails with a sentence in err;
 *   - an empty body decodes to an empty map (BRIEF: "or empty");
 *   - getters never return IBB_OK with an out-parameter of the wrong shape;
 *   - StrCopy's result is NUL-terminated within the buffer;
 *   - busJson_FromMsgpack accepts what busBody_Decode accepted, as long as it has no ext/bin
 *     surprises, and its text is valid JSON (jansson reads it back). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_json.h"
#include "bus_obj.h"

#define CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "FUZZ PROPERTY VIOLATED: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            abort(); \
        } \
    } while (0)

static const char *const KEYS[] = {"symbol",
                                   "symbols",
                                   "contract",
                                   "contracts",
                                   "qty",
                                   "side",
                                   "type",
                                   "ttl_s",
                                   "lease_id",
                                   "duration",
                                   "bar_size",
                                   "limit_price",
                                   "client_order_id",
                                   "order_id",
                                   "use_rth",
                                   "sec_type",
                                   "con_id",
                                   "underlying",
                                   "expiration",
                                   "right",
                                   "strikes",
                                   "window",
                                   "exchange",
                                   "",
                                   "a",
                                   NULL};

static void walk(const msgpack_object *map, int depth)
{
    if (depth > 4 || map->type != MSGPACK_OBJECT_MAP)
        return;
    for (const char *const *k = KEYS; *k; k++) {
        const char *s;
        size_t n;
        char buf[16], msg[160];
        int64_t i;
        double d;
        bool b;
        const msgpack_object_array *arr;
        const msgpack_object *sub;
        ibbStatus st = busObj_Str(map, *k, &s, &n);
        if (st == IBB_OK)
            CHECK(s != NULL || n == 0, "Str ok with NULL");
        busObj_FieldError(msg, sizeof msg, *k, st, "string");
        CHECK(memchr(msg, 0, sizeof msg), "FieldError not terminated");
        memset(buf, 'x', sizeof buf);
        if (busObj_StrCopy(map, *k, buf, sizeof buf) == IBB_OK)
            CHECK(memchr(buf, 0, sizeof buf) != NULL, "StrCopy not terminated");
        st = busObj_Int(map, *k, &i);
        busObj_FieldError(msg, sizeof msg, *k, st, "integer");
        (void)busObj_Double(map, *k, &d);
        (void)busObj_Bool(map, *k, &b);
        if (busObj_Array(map, *k, &arr) == IBB_OK) {
            CHECK(arr != NULL && (arr->size == 0 || arr->ptr != NULL), "Array ok without items");
            for (uint32_t j = 0; j < arr->size && j < 64; j++)
                walk(&arr->ptr[j], depth + 1);
        }
        if (busObj_Map(map, *k, &sub) == IBB_OK) {
            CHECK(sub && sub->type == MSGPACK_OBJECT_MAP, "Map ok with a non-map");
            walk(sub, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const CT[] = {NULL, "application/json", "application/msgpack",
                                     "text/plain; charset=x"};
    const char *ct = CT[data[0] & 3];
    size_t max_len = (data[0] & 4) ? 64 : 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    busBody b;
    busBody_Init(&b);
    char err[200] = "";
    ibbStatus st = busBody_Decode(&b, body, len, ct, max_len, err, sizeof err);
    if (st == IBB_OK) {
        CHECK(b.root.type == MSGPACK_OBJECT_MAP, "root type %d", (int)b.root.type);
        if (len == 0)
            CHECK(b.root.via.map.size == 0, "empty body is not an empty map");
        walk(&b.root, 0);
        /* The JSON writer on the same object, packed again (what a JSON reply echoing it would do). */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, b.root);
        busBuf out;
        busBuf_Init(&out);
        ibbStatus js = busJson_FromMsgpack(&out, sb.data, sb.size);
        if (js == IBB_OK) {
            json_error_t je;
            json_t *j = json_loadb(out.data, out.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
            /* INT_AS_REAL: uint64 above INT64_MAX is legal MessagePack and exact JSON, beyond jansson ints;
             * "\u0000" inside a key is valid JSON that jansson cannot hold (its limitation). */
            CHECK(j != NULL || strstr(je.text, "NUL byte in object key"),
                  "writer produced invalid JSON (%s): %.*s", je.text, (int)(out.len < 200 ? out.len : 200),
                  out.data);
            json_decref(j);
        } else {
            CHECK(js == IBB_ERR_INVALID_ARG, "FromMsgpack %d on a decoded body", (int)js);
        }
        busBuf_Free(&out);
        msgpack_sbuffer_destroy(&sb);
    } else {
        CHECK(err[0] != '\0', "error %d without a message", (int)st);
        CHECK(!(max_len && len > max_len) || st == IBB_ERR_FRAME_TOO_LARGE, "too large gave %d", (int)st);
    }
    busBody_Free(&b);
    return 0;
}
