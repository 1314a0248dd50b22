/* http_mpjson.c — MessagePack → JSON through ibb_bus' writer (see http_mpjson.h). */
#include "http_mpjson.h"

#include "bus_json.h"

ibbStatus http_msgpackToJson(const char *data, size_t len, httpBuf *out)
{
    busBuf b;
    busBuf_Init(&b);
    ibbStatus st = busJson_FromMsgpack(&b, data, len);
    if (st == IBB_OK && b.oom)
        st = IBB_ERR_NOMEM;
    if (st == IBB_OK)
        httpBuf_Append(out, b.data, b.len);
    busBuf_Free(&b);
    return st == IBB_OK && out->oom ? IBB_ERR_NOMEM : st;
}
