/* fuzz_ib_frames.c — libFuzzer target: server bytes -> ibFramer (client mode) -> reply decoders.
 *
 * Input layout and the framer properties checked: fuzz_common.h (fuzz_stream). On top of those:
 *  - every payload is decoded with ib_decodeReply at sv 176 and at the header's sv (100..200),
 *    the first payload also with ib_decodeServerVersion;
 *  - decoders return only the statuses ib_msgs.h documents and never crash, leak or hang;
 *  - a decoded historicalData hands out exactly bar_count bars. */
#include "fuzz_common.h"

static bool reply_status_ok(ibbStatus st)
{
    switch (st) {
    case IBB_OK: case IBB_ERR_TRAILING: case IBB_ERR_TRUNCATED: case IBB_ERR_BAD_NUMBER:
    case IBB_ERR_PROTOCOL: case IBB_ERR_UNKNOWN_MSG: case IBB_ERR_UNSUPPORTED_VERSION:
        return true;
    default:
        return false;
    }
}

static void on_payload(const char *p, size_t len, bool is_handshake, size_t index, int sv2)
{
    FUZZ_CHECK(!is_handshake, "client-mode framer reported a handshake");
    if (index == 0) {
        ibServerVersion v;
        ibbStatus st = ib_decodeServerVersion(p, len, &v);
        FUZZ_CHECK(st == IBB_OK || st == IBB_ERR_PROTOCOL, "decodeServerVersion: %s", ibbStatus_Name(st));
        if (st == IBB_OK)
            (void)strlen(v.connection_time);
    }
    const int svs[2] = { IB_SV_TARGET, sv2 };
    for (int k = 0; k < (sv2 == IB_SV_TARGET ? 1 : 2); k++) {
        ibReply r;
        ibbStatus st = ib_decodeReply(svs[k], p, len, &r);
        FUZZ_CHECK(reply_status_ok(st), "decodeReply sv %d: %s", svs[k], ibbStatus_Name(st));
        if (st == IBB_OK) {
            (void)ib_replyName((int)r.id);
            fuzz_walk_bars(&r);
            fuzz_walk_opt_params(&r);
            fuzz_walk_discovery(&r);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(IB_FRAMER_CLIENT, data, size, on_payload);
    return 0;
}
