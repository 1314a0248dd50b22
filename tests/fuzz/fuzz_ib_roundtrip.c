/* fuzz_ib_roundtrip.c — libFuzzer target: decode -> encode -> decode, both directions.
 *
 * Input layout:
 *   byte 0   bit 0: 0 = a server reply (ib_decodeReply / ib_encodeReply),
 *                   1 = a client request (ib_decodeRequest / ib_encodeRequest)
 *   byte 1   server version selector: sv = 100 + b1 % 101
 *   bytes 2..  one payload (a final NUL is appended when missing)
 *
 * Properties (abort() when violated, so libFuzzer reports the input):
 *  1. a payload that decodes OK and re-encodes OK decodes OK again, to the same message id;
 *  2. the re-encoding is a fixed point: encoding the second decode gives the same bytes;
 *  3. an encoder refuses only with INVALID_ARG, UNSUPPORTED_VERSION or FRAME_TOO_LARGE. */
#include "fuzz_common.h"

#ifdef FUZZ_SKIP_KNOWN
#include <math.h>
#include <strings.h>
/* Exploration builds only (never scripts/fuzz): skips the inputs of bugs already reported, so a
 * long run can look past them. Each one is a case in test_regressions.c. */
static bool ieq(const char *a, const char *b) { return a && strcasecmp(a, b) == 0; }
static bool bag_case_mismatch(const ibContract *c)
{
    return ieq(c->sec_type, "BAG") && strcmp(c->sec_type, "BAG") != 0;
}

static bool known_request_issue(int sv, const ibRequest *r)
{
    switch (r->id) {
    case IB_REQ_PLACE_ORDER: {
        const char *t = r->u.place_order.order.order_type;
        if (sv < 101 || isnan(r->u.place_order.order.total_qty))
            return true;
        if (bag_case_mismatch(&r->u.place_order.contract))
            return true;
        if (sv >= 102 && (ieq(t, "PEG BENCH") || ieq(t, "PEGBENCH")))
            return true;
        if (sv < 170)
            return false;
        return ieq(t, "PEG BEST") || ieq(t, "PEGBEST") || ieq(t, "PEG MID") || ieq(t, "PEGMID") ||
               ieq(r->u.place_order.contract.exchange, "IBKRATS");
    }
    case IB_REQ_MKT_DATA: return bag_case_mismatch(&r->u.mkt_data.contract);
    case IB_REQ_HISTORICAL_DATA: return bag_case_mismatch(&r->u.historical.contract);
    default: return false;
    }
}

static bool known_reply_issue(int sv, const ibReply *r)
{
    if (r->id == IB_MSG_CONTRACT_DATA)
        return sv >= 179 && ieq(r->u.contract_data.contract.sec_type, "FUND");
    if (r->id == IB_MSG_OPEN_ORDER) {
        const char *t = r->u.open_order.order.order_type;
        return sv >= 102 && (!strcmp(t, "PEG BENCH") || !strcmp(t, "PEGBENCH"));
    }
    return false;
}
#endif

/* The first frame of a writer's output. */
static void first_frame(const ibWriter *w, const char **payload, size_t *len)
{
    FUZZ_CHECK(ibWriter_Len(w) >= 5, "encoder wrote %zu bytes", ibWriter_Len(w));
    const unsigned char *u = (const unsigned char *)ibWriter_Data(w);
    size_t n = ((size_t)u[0] << 24) | ((size_t)u[1] << 16) | ((size_t)u[2] << 8) | u[3];
    FUZZ_CHECK(n >= 1 && 4 + n <= ibWriter_Len(w), "frame length %zu of %zu bytes", n, ibWriter_Len(w));
    *payload = ibWriter_Data(w) + 4;
    *len = n;
}

static bool encode_refusal_ok(ibbStatus st)
{
    return st == IBB_ERR_INVALID_ARG || st == IBB_ERR_UNSUPPORTED_VERSION || st == IBB_ERR_FRAME_TOO_LARGE;
}

static void same_bytes(const ibWriter *a, const ibWriter *b, const char *what)
{
    size_t la = ibWriter_Len(a), lb = ibWriter_Len(b);
    FUZZ_CHECK(la == lb && memcmp(ibWriter_Data(a), ibWriter_Data(b), la) == 0,
               "%s: re-encoding is not a fixed point (%zu vs %zu bytes)", what, la, lb);
}

/* Encodes a decoded reply; bars of historicalData are collected from its bar reader. */
static ibbStatus encode_reply(ibWriter *w, int sv, ibReply *r)
{
    ibBar *bars = NULL;
    if (r->id == IB_MSG_HISTORICAL_DATA && r->u.historical.bar_count > 0) {
        bars = calloc((size_t)r->u.historical.bar_count, sizeof *bars);
        FUZZ_CHECK(bars != NULL, "oom");
        int n = 0;
        while (n < r->u.historical.bar_count && ibHistoricalData_NextBar(&r->u.historical, &bars[n]))
            n++;
        FUZZ_CHECK(n == r->u.historical.bar_count, "%d bars of %d", n, r->u.historical.bar_count);
    }
    ibbStatus st = ib_encodeReply(w, sv, r, bars);
    free(bars);
    return st;
}

static void roundtrip_reply(int sv, const char *p, size_t len)
{
    ibReply a, b;
    if (ib_decodeReply(sv, p, len, &a) != IBB_OK)
        return;
#ifdef FUZZ_SKIP_KNOWN
    if (known_reply_issue(sv, &a))
        return;
#endif
    ibWriter w1, w2;
    ibWriter_Init(&w1);
    ibWriter_Init(&w2);
    ibbStatus st = encode_reply(&w1, sv, &a);
    if (st != IBB_OK) {
        FUZZ_CHECK(encode_refusal_ok(st), "encodeReply(%s) sv %d: %s", ib_replyName((int)a.id), sv,
                   ibbStatus_Name(st));
        goto out;
    }
    const char *q;
    size_t qlen;
    first_frame(&w1, &q, &qlen);
    st = ib_decodeReply(sv, q, qlen, &b);
    FUZZ_CHECK(st == IBB_OK, "reply %d (%s) sv %d: re-encoded payload does not decode: %s", (int)a.id,
               ib_replyName((int)a.id), sv, ibbStatus_Name(st));
    FUZZ_CHECK(b.id == a.id, "reply id %d came back as %d (sv %d)", (int)a.id, (int)b.id, sv);
    st = encode_reply(&w2, sv, &b);
    FUZZ_CHECK(st == IBB_OK, "reply %s sv %d: second encode: %s", ib_replyName((int)a.id), sv,
               ibbStatus_Name(st));
    same_bytes(&w1, &w2, ib_replyName((int)a.id));
out:
    ibWriter_Free(&w1);
    ibWriter_Free(&w2);
}

static void roundtrip_request(int sv, const char *p, size_t len)
{
    ibRequest a, b;
    if (ib_decodeRequest(sv, p, len, &a) != IBB_OK)
        return;
#ifdef FUZZ_SKIP_KNOWN
    if (known_request_issue(sv, &a))
        return;
#endif
    ibWriter w1, w2;
    ibWriter_Init(&w1);
    ibWriter_Init(&w2);
    ibbStatus st = ib_encodeRequest(&w1, sv, &a);
    if (st != IBB_OK) {
        FUZZ_CHECK(encode_refusal_ok(st), "encodeRequest(%s) sv %d: %s", ib_requestName((int)a.id), sv,
                   ibbStatus_Name(st));
        goto out;
    }
    const char *q;
    size_t qlen;
    first_frame(&w1, &q, &qlen);
    FUZZ_CHECK(4 + qlen == ibWriter_Len(&w1), "a request is one frame");
    st = ib_decodeRequest(sv, q, qlen, &b);
    FUZZ_CHECK(st == IBB_OK, "request %d (%s) sv %d: re-encoded payload does not decode: %s", (int)a.id,
               ib_requestName((int)a.id), sv, ibbStatus_Name(st));
    FUZZ_CHECK(b.id == a.id, "request id %d came back as %d (sv %d)", (int)a.id, (int)b.id, sv);
    st = ib_encodeRequest(&w2, sv, &b);
    FUZZ_CHECK(st == IBB_OK, "request %s sv %d: second encode: %s", ib_requestName((int)a.id), sv,
               ibbStatus_Name(st));
    same_bytes(&w1, &w2, ib_requestName((int)a.id));
out:
    ibWriter_Free(&w1);
    ibWriter_Free(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    bool request = data[0] & 1;
    int sv = fuzz_sv(data[1]);
    size_t len = size - 2;
    bool add_nul = data[size - 1] != '\0';
    char *p = malloc(len + add_nul);  /* exact size, so ASan sees any over-read */
    FUZZ_CHECK(p != NULL, "oom");
    memcpy(p, data + 2, len);
    if (add_nul)
        p[len++] = '\0';
    if (request)
        roundtrip_request(sv, p, len);
    else
        roundtrip_reply(sv, p, len);
    free(p);
    return 0;
}
