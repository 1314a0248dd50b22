/* http_mpjson.c — MessagePack → JSON through ibb_bus' writer (see http_mpjson.h). */
#include "http_mpjson.h"

ibbStatus http_msgpackToJson(const char *data, size_t len, busBuf *out)
{
    size_t mark = out->len;
    ibbStatus st = busJson_FromMsgpack(out, data, len);
    if (st == IBB_OK && out->oom)
        st = IBB_ERR_NOMEM;
    if (st != IBB_OK && !out->oom)
        out->len = mark;
    return st;
}
