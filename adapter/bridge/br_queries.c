/* br_queries.c — the queries module: ib.rpc.candles (br_queries_candles.c), ib.rpc.positions and
 * ib.rpc.account (br_queries_account.c). This file holds the module table and the shared reply
 * helper that enforces the NATS payload limit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "br_queries_int.h"
#include "bus_json.h"
#include "ibb_log.h"

#define DEFAULT_MAX_PAYLOAD ((int64_t)1 << 20)

int64_t brq_maxPayload(const brBridge *b)
{
    int64_t m = b->conn ? busConn_MaxPayload(b->conn) : 0;
    return m > 0 ? m : DEFAULT_MAX_PAYLOAD;
}

void br_replyChecked(brBridge *b, busRequest *req, const char *mp, size_t len)
{
    int64_t limit = brq_maxPayload(b);
    size_t size = len;
    if (busRequest_Encoding(req) == BUS_ENC_JSON && (int64_t)len * 4 > limit) {
        busBuf j; /* JSON is larger than MessagePack: measure it when it may matter */
        busBuf_Init(&j);
        if (busJson_FromMsgpack(&j, mp, len) == IBB_OK)
            size = j.len;
        busBuf_Free(&j);
    }
    if ((int64_t)size > limit) {
        IBB_WARN("queries.reply_too_large", "endpoint=%s bytes=%zu limit=%" PRId64, busRequest_Endpoint(req),
                 size, limit);
        busRequest_Errorf(req, "payload_too_large", 0,
                          "the reply would be %zu bytes (%s), over the NATS max_payload of %" PRId64
                          " bytes (replies are never split): ask for less data%s",
                          size, busEncoding_Name(busRequest_Encoding(req)), limit,
                          busRequest_Encoding(req) == BUS_ENC_JSON ? ", or send the request as MessagePack"
                                                                   : "");
        return;
    }
    busRequest_Reply(req, mp, len);
}

static ibbStatus queries_init(brBridge *b)
{
    brQueries *q = calloc(1, sizeof *q);
    if (!q)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_QUERIES] = q;
    ibbStatus s = brq_candlesInit(b);
    if (s == IBB_OK)
        s = brq_accountInit(b);
    return s;
}

static bool queries_on_reply(brBridge *b, const ibReply *r) { return brq_accountOnReply(b, r); }

static void queries_ib_ready(brBridge *b)
{
    brq_accountIbReady(b);
    brq_multiIbReady(b);
    brq_candlesIbReady(b);
}

static void queries_ib_down(brBridge *b)
{
    brq_candlesIbDown(b);
    brq_accountIbDown(b);
}

static void queries_stop(brBridge *b)
{
    brq_accountStop(b);
    brq_multiStop(b);
}

static void queries_fini(brBridge *b)
{
    brQueries *q = brq_mod(b);
    if (!q)
        return;
    brq_candlesFini(b);
    brq_accountFini(b);
    brq_multiFini(b);
    free(q);
    b->mod[BR_MOD_QUERIES] = NULL;
}

const brModule br_queriesModule = {
    .name = "queries",
    .init = queries_init,
    .on_reply = queries_on_reply,
    .on_ib_ready = queries_ib_ready,
    .on_ib_down = queries_ib_down,
    .on_stop = queries_stop,
    .fini = queries_fini,
};
