/* fuzz_common.h — helpers shared by the libFuzzer targets of tests/fuzz (header-only, static).
 *
 * Input layout of the stream targets (fuzz_ib_frames, fuzz_ib_requests); gen_corpus.js writes
 * seeds in this layout:
 *
 *   byte 0      server version selector: sv = 100 + b0 % 101 (100..200)
 *   bytes 1..3  chunk pattern: chunk i is 1 + b[1 + i % 3] bytes long; 0xFF feeds the rest at once
 *   bytes 4..   the byte stream as the socket would deliver it
 *
 * FUZZ_CHECK aborts (so libFuzzer records a crash) when a property of the codec is violated. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ib_msgs.h"
#include "ib_wire.h"

#define FUZZ_HDR 4

#define FUZZ_CHECK(cond, ...)                                                                       \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, "FUZZ PROPERTY VIOLATED: %s (%s:%d): ", #cond, __FILE__, __LINE__);    \
            fprintf(stderr, __VA_ARGS__);                                                           \
            fputc('\n', stderr);                                                                    \
            abort();                                                                                \
        }                                                                                           \
    } while (0)

static inline int fuzz_sv(uint8_t b) { return 100 + b % 101; }

/* Size of chunk number i (>= 1, <= left). */
static inline size_t fuzz_chunk(const uint8_t *hdr, size_t i, size_t left)
{
    uint8_t b = hdr[1 + i % 3];
    size_t n = (b == 0xFF) ? left : (size_t)b + 1;
    return n < left ? n : left;
}

/* FNV-1a, to notice a payload that changed under us. */
static inline uint64_t fuzz_hash(const void *p, size_t n)
{
    const uint8_t *u = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ u[i]) * 1099511628211ull;
    return h;
}

/* Reads every bar a decoded historicalData hands out (the reader points into the payload). */
static inline int fuzz_walk_bars(ibReply *r)
{
    int n = 0;
    ibBar bar;
    if (r->id != IB_MSG_HISTORICAL_DATA)
        return 0;
    while (ibHistoricalData_NextBar(&r->u.historical, &bar)) {
        FUZZ_CHECK(bar.date != NULL, "bar %d has no date", n);
        (void)strlen(bar.date);
        n++;
    }
    FUZZ_CHECK(n == r->u.historical.bar_count, "%d bars read, %d announced", n, r->u.historical.bar_count);
    return n;
}

/* Reads every expiration and strike a decoded securityDefinitionOptionParameter hands out. */
static inline int fuzz_walk_opt_params(ibReply *r)
{
    if (r->id != IB_MSG_SEC_DEF_OPT_PARAMS)
        return 0;
    ibSecDefOptParams *p = &r->u.sec_def_opt_params;
    const char *e;
    double k;
    int ne = 0, nk = 0;
    while (ibSecDefOptParams_NextExpiration(p, &e)) {
        (void)strlen(e);
        ne++;
    }
    while (ibSecDefOptParams_NextStrike(p, &k))
        nk++;
    FUZZ_CHECK(ne == p->expiration_count && nk == p->strike_count, "%d/%d expirations, %d/%d strikes",
               ne, p->expiration_count, nk, p->strike_count);
    return ne + nk;
}

/* Reads every item (and derivative type) of a decoded symbolSamples and every row of scannerData. */
static inline int fuzz_walk_discovery(ibReply *r)
{
    int n = 0;
    if (r->id == IB_MSG_SYMBOL_SAMPLES) {
        ibSymbolSample s;
        const char *d;
        while (ibSymbolSamples_Next(&r->u.symbol_samples, &s)) {
            int k = 0;
            (void)strlen(s.symbol);
            while (ibSymbolSample_NextDeriv(&s, &d)) {
                (void)strlen(d);
                k++;
            }
            FUZZ_CHECK(k == s.deriv_count, "%d/%d derivative types", k, s.deriv_count);
            n++;
        }
        FUZZ_CHECK(n == r->u.symbol_samples.count, "%d/%d symbol samples", n, r->u.symbol_samples.count);
    } else if (r->id == IB_MSG_SCANNER_DATA) {
        ibScannerRow row;
        while (ibScannerData_NextRow(&r->u.scanner_data, &row)) {
            (void)strlen(row.contract.symbol);
            n++;
        }
        FUZZ_CHECK(n == r->u.scanner_data.count, "%d/%d scanner rows", n, r->u.scanner_data.count);
    }
    return n;
}

/* ------------------------------------------------------------------------------------------------
 * The stream engine of fuzz_ib_frames and fuzz_ib_requests. Feeds the stream twice: once whole,
 * once in the chunks of the header's pattern, and checks that
 *  - the chunked feed yields the frames of the whole feed (length, bytes, handshake flag), up to
 *    and including the first error, which is the same error ("the same frames come out however
 *    the bytes were split", ib_wire.h);
 *  - Next returns only OK / NEED_MORE / PROTOCOL / FRAME_TOO_LARGE, and every payload ends with
 *    a NUL and stays unchanged until the next Feed.
 * After an error the framer is Reset (what a peer does: drop the connection) and feeding goes on.
 * on_payload runs for every payload of the chunked feed; index counts payloads since the framer
 * was created or last Reset (0 = the first of a connection). */
typedef void (*fuzzPayloadFn)(const char *p, size_t len, bool is_handshake, size_t index, int sv);

typedef struct fuzzFrameRec {
    size_t len;
    uint64_t hash;
    bool hs;
} fuzzFrameRec;

typedef struct fuzzPending {
    const char *p;
    size_t len;
    uint64_t hash;
} fuzzPending;

static inline size_t fuzz_whole_feed(ibFramerMode mode, const uint8_t *s, size_t n, fuzzFrameRec *recs,
                                     size_t max, ibbStatus *term)
{
    ibFramer *f = NULL;
    FUZZ_CHECK(ibFramer_Create(&f, mode) == IBB_OK, "create");
    FUZZ_CHECK(ibFramer_Feed(f, s, n) == IBB_OK, "feed");
    size_t k = 0;
    for (;;) {
        const char *p;
        size_t len;
        bool hs;
        ibbStatus st = ibFramer_Next(f, &p, &len, &hs);
        if (st != IBB_OK) {
            *term = st;
            break;
        }
        FUZZ_CHECK(k < max, "more frames than the bytes allow");
        recs[k].len = len;
        recs[k].hash = fuzz_hash(p, len);
        recs[k].hs = hs;
        k++;
    }
    ibFramer_Destroy(f);
    return k;
}

static inline void fuzz_stream(ibFramerMode mode, const uint8_t *data, size_t size, fuzzPayloadFn on_payload)
{
    if (size < FUZZ_HDR)
        return;
    const uint8_t *hdr = data, *s = data + FUZZ_HDR;
    size_t n = size - FUZZ_HDR;
    int sv = fuzz_sv(hdr[0]);
#ifdef FUZZ_SKIP_KNOWN
    if (n == 0)
        return; /* known: ibFramer_Next on a framer never fed (NULL buffer) is UB; test_regressions.c */
#endif

    size_t max = n / 5 + 2; /* a frame is at least 4 + 1 bytes; plus the handshake */
    fuzzFrameRec *recs = calloc(max, sizeof *recs);
    fuzzPending *pend = calloc(max, sizeof *pend);
    FUZZ_CHECK(recs && pend, "oom");
    ibbStatus term = IBB_NEED_MORE;
    size_t nrec = fuzz_whole_feed(mode, s, n, recs, max, &term);

    ibFramer *f = NULL;
    FUZZ_CHECK(ibFramer_Create(&f, mode) == IBB_OK, "create");
    size_t idx = 0, npend = 0, count = 0;
    bool errored = false;
    for (size_t off = 0, i = 0; off < n; i++) {
        for (size_t j = 0; j < npend; j++)
            FUZZ_CHECK(fuzz_hash(pend[j].p, pend[j].len) == pend[j].hash, "payload %zu changed before Feed",
                       j);
        npend = 0;
        size_t c = fuzz_chunk(hdr, i, n - off);
        FUZZ_CHECK(ibFramer_Feed(f, s + off, c) == IBB_OK, "feed");
        off += c;
        for (;;) {
            const char *p;
            size_t len;
            bool hs;
            ibbStatus st = ibFramer_Next(f, &p, &len, &hs);
            if (st == IBB_NEED_MORE)
                break;
            if (st != IBB_OK) {
                FUZZ_CHECK(st == IBB_ERR_PROTOCOL || st == IBB_ERR_FRAME_TOO_LARGE, "Next: %s",
                           ibbStatus_Name(st));
                if (!errored) {
                    FUZZ_CHECK(idx == nrec && st == term,
                               "chunked feed failed with %s after %zu frames; whole feed: %zu, then %s",
                               ibbStatus_Name(st), idx, nrec, ibbStatus_Name(term));
                    errored = true;
                }
                ibFramer_Reset(f);
                npend = 0;  /* Reset invalidates earlier payloads */
                count = 0;  /* and starts a new connection */
                break;
            }
            FUZZ_CHECK(len > 0 && p[len - 1] == '\0', "payload without final NUL");
            if (!errored) {
                FUZZ_CHECK(idx < nrec && recs[idx].len == len && recs[idx].hs == hs &&
                           recs[idx].hash == fuzz_hash(p, len),
                           "frame %zu differs between chunked and whole feed", idx);
                idx++;
            }
            FUZZ_CHECK(npend < max, "too many frames");
            pend[npend].p = p;
            pend[npend].len = len;
            pend[npend].hash = fuzz_hash(p, len);
            npend++;
            on_payload(p, len, hs, count++, sv);
        }
    }
    if (!errored)
        FUZZ_CHECK(idx == nrec && term == IBB_NEED_MORE, "chunked feed: %zu frames; whole feed: %zu then %s",
                   idx, nrec, ibbStatus_Name(term));
    for (size_t j = 0; j < npend; j++)
        FUZZ_CHECK(fuzz_hash(pend[j].p, pend[j].len) == pend[j].hash, "payload %zu changed", j);
    ibFramer_Destroy(f);
    free(recs);
    free(pend);
}

#endif
