/* bus_obj.c — request body decoding, typed getters, packing helpers; see bus_obj.h. */
#include "bus_obj.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bus_json.h"

const char *busEncoding_Name(busEncoding e) { return e == BUS_ENC_JSON ? "json" : "msgpack"; }

static bool ct_is(const char *ct, const char *want)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

busEncoding busEncoding_Detect(const char *data, size_t len, const char *content_type)
{
    if (content_type && ct_is(content_type, "application/json"))
        return BUS_ENC_JSON;
    if (content_type &&
        (ct_is(content_type, "application/msgpack") || ct_is(content_type, "application/x-msgpack")))
        return BUS_ENC_MSGPACK;
    if (len == 0 || (unsigned char)data[0] < 0x80)
        return BUS_ENC_JSON;
    return BUS_ENC_MSGPACK;
}

void busBody_Init(busBody *b)
{
    memset(b, 0, sizeof *b);
    b->enc = BUS_ENC_JSON;
    msgpack_unpacked_init(&b->up);
    msgpack_sbuffer_init(&b->repacked);
    b->root.type = MSGPACK_OBJECT_MAP;
}

void busBody_Free(busBody *b)
{
    msgpack_unpacked_destroy(&b->up);
    msgpack_sbuffer_destroy(&b->repacked);
    msgpack_unpacked_init(&b->up);
    msgpack_sbuffer_init(&b->repacked);
}

static ibbStatus set_err(char *err, size_t cap, ibbStatus st, const char *msg)
{
    if (err && cap)
        snprintf(err, cap, "%s", msg);
    return st;
}

static bool all_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return false;
    return true;
}

static const char *type_name(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL: return "null";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a number";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    default: return "binary data";
    }
}

ibbStatus busBody_Decode(busBody *b, const char *data, size_t len, const char *content_type, size_t max_len,
                         char *err, size_t errcap)
{
    busBody_Free(b);
    b->enc = busEncoding_Detect(data, len, content_type);
    b->root.type = MSGPACK_OBJECT_MAP;
    b->root.via.map.size = 0;
    b->root.via.map.ptr = NULL;
    if (max_len && len > max_len) {
        if (err && errcap)
            snprintf(err, errcap, "request body is %zu bytes; the limit is %zu", len, max_len);
        return IBB_ERR_FRAME_TOO_LARGE;
    }
    if (data == NULL && len > 0)
        return set_err(err, errcap, IBB_ERR_INVALID_ARG, "no body");
    const char *mp = data;
    size_t mplen = len;
    if (b->enc == BUS_ENC_JSON) {
        if (all_space(data, len))
            return IBB_OK; /* empty body: an empty map */
        ibbStatus st = busJson_ToMsgpack(&b->repacked, data, len, err, errcap);
        if (st != IBB_OK)
            return st;
        mp = b->repacked.data;
        mplen = b->repacked.size;
    }
    char why[160];
    ibbStatus st = busMsgpack_Check(mp, mplen, true, why, sizeof why);
    if (st != IBB_OK) {
        if (err && errcap)
            snprintf(err, errcap, "malformed %s body: %s", busEncoding_Name(b->enc), why);
        return st == IBB_ERR_LIMIT ? IBB_ERR_LIMIT : IBB_ERR_PROTOCOL;
    }
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(&b->up, mp, mplen, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != mplen)
        return set_err(err, errcap, rc == MSGPACK_UNPACK_NOMEM_ERROR ? IBB_ERR_NOMEM : IBB_ERR_PROTOCOL,
                       "malformed MessagePack body");
    if (b->up.data.type != MSGPACK_OBJECT_MAP) {
        if (err && errcap)
            snprintf(err, errcap, "request body must be a map/object with string keys, got %s",
                     type_name(b->up.data.type));
        return IBB_ERR_PROTOCOL;
    }
    b->root = b->up.data;
    return IBB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Getters */

const msgpack_object *busObj_Get(const msgpack_object *map, const char *key)
{
    if (map == NULL || key == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        /* msgpack-c gives an empty string a NULL ptr: no memcmp/memchr/memcpy on it (UB) */
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            (klen == 0 || memcmp(k->via.str.ptr, key, klen) == 0))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static ibbStatus lookup(const msgpack_object *map, const char *key, const msgpack_object **v)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return IBB_ERR_INVALID_ARG;
    *v = busObj_Get(map, key);
    if (*v == NULL || (*v)->type == MSGPACK_OBJECT_NIL)
        return IBB_ERR_NOT_FOUND;
    return IBB_OK;
}

ibbStatus busObj_Str(const msgpack_object *map, const char *key, const char **s, size_t *len)
{
    const msgpack_object *v;
    ibbStatus st = lookup(map, key, &v);
    if (st != IBB_OK)
        return st;
    if (v->type != MSGPACK_OBJECT_STR)
        return IBB_ERR_INVALID_ARG;
    if (s)
        *s = v->via.str.ptr;
    if (len)
        *len = v->via.str.size;
    return IBB_OK;
}

ibbStatus busObj_StrCopy(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(map, key, &s, &n);
    if (st != IBB_OK)
        return st;
    if (buf == NULL || n >= cap || (n && memchr(s, '\0', n) != NULL))
        return IBB_ERR_LIMIT;
    if (n)
        memcpy(buf, s, n);
    buf[n] = '\0';
    return IBB_OK;
}

ibbStatus busObj_Int(const msgpack_object *map, const char *key, int64_t *out)
{
    const msgpack_object *v;
    ibbStatus st = lookup(map, key, &v);
    if (st != IBB_OK)
        return st;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (v->via.u64 > (uint64_t)INT64_MAX)
            return IBB_ERR_BAD_NUMBER;
        *out = (int64_t)v->via.u64;
        return IBB_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = v->via.i64;
        return IBB_OK;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        double d = v->via.f64;
        /* -2^63 <= d < 2^63 and integral */
        if (!isfinite(d) || floor(d) != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return IBB_ERR_BAD_NUMBER;
        *out = (int64_t)d;
        return IBB_OK;
    }
    default:
        return IBB_ERR_INVALID_ARG;
    }
}

ibbStatus busObj_Double(const msgpack_object *map, const char *key, double *out)
{
    const msgpack_object *v;
    ibbStatus st = lookup(map, key, &v);
    if (st != IBB_OK)
        return st;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)v->via.u64; return IBB_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)v->via.i64; return IBB_OK;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = v->via.f64; return IBB_OK;
    default: return IBB_ERR_INVALID_ARG;
    }
}

ibbStatus busObj_Bool(const msgpack_object *map, const char *key, bool *out)
{
    const msgpack_object *v;
    ibbStatus st = lookup(map, key, &v);
    if (st != IBB_OK)
        return st;
    if (v->type != MSGPACK_OBJECT_BOOLEAN)
        return IBB_ERR_INVALID_ARG;
    *out = v->via.boolean;
    return IBB_OK;
}

ibbStatus busObj_Array(const msgpack_object *map, const char *key, const msgpack_object_array **arr)
{
    const msgpack_object *v;
    ibbStatus st = lookup(map, key, &v);
    if (st != IBB_OK)
        return st;
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return IBB_ERR_INVALID_ARG;
    *arr = &v->via.array;
    return IBB_OK;
}

ibbStatus busObj_Map(const msgpack_object *map, const char *key, const msgpack_object **obj)
{
    const msgpack_object *v;
    ibbStatus st = lookup(map, key, &v);
    if (st != IBB_OK)
        return st;
    if (v->type != MSGPACK_OBJECT_MAP)
        return IBB_ERR_INVALID_ARG;
    *obj = v;
    return IBB_OK;
}

const char *busObj_FieldError(char *buf, size_t cap, const char *key, ibbStatus st, const char *want)
{
    const char *w = want ? want : "value";
    switch (st) {
    case IBB_ERR_NOT_FOUND: snprintf(buf, cap, "field '%s' is required (%s)", key, w); break;
    case IBB_ERR_BAD_NUMBER: snprintf(buf, cap, "field '%s' is out of range (%s)", key, w); break;
    case IBB_ERR_LIMIT:
        snprintf(buf, cap, "field '%s' is too long or contains a NUL byte (%s)", key, w);
        break;
    default: snprintf(buf, cap, "field '%s' must be %s", key, w); break;
    }
    return buf;
}

/* ------------------------------------------------------------------------------------------------
 * Packing helpers */

int busPack_Str(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        return msgpack_pack_nil(pk);
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

int busPack_KeyStr(msgpack_packer *pk, const char *key, const char *val)
{
    return busPack_Str(pk, key) | busPack_Str(pk, val);
}

int busPack_KeyInt(msgpack_packer *pk, const char *key, int64_t val)
{
    return busPack_Str(pk, key) | msgpack_pack_int64(pk, val);
}

int busPack_KeyDouble(msgpack_packer *pk, const char *key, double val)
{
    return busPack_Str(pk, key) | msgpack_pack_double(pk, val);
}

int busPack_KeyBool(msgpack_packer *pk, const char *key, bool val)
{
    return busPack_Str(pk, key) | (val ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}
