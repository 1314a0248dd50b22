/* br_streams_int.h — what the streams module's files share: br_streams.c (records, IB lines, pacing,
 * publishing, module hooks) and br_streams_sub.c (ib.rpc.subscribe for kinds depth / ticks / bars,
 * ib.rpc.depth). Loop thread only; ownership as described in br_streams.c. */
#ifndef BR_STREAMS_INT_H
#define BR_STREAMS_INT_H

#include "br_internal.h"
#include "st_depthbook.h"
#include "st_ratewin.h"

typedef enum { SI_WAIT_IB, SI_RESOLVING, SI_PACED, SI_SUBSCRIBED, SI_STREAMING, SI_FAILED } siState;

typedef struct subjSeq {             /* one published subject's seq (shared by the records on it) */
    uint64_t seq;
    int users;
} subjSeq;

typedef struct sinst {               /* one IB subscription: (instrument, kind, params) */
    char lkey[ST_KEY_MAX];           /* the lease key ("depth/10/AAPL") */
    char key[ST_KEY_MAX];            /* the instrument key */
    char suffix[ST_KEY_MAX + 8];     /* "depth.AAPL" */
    brStreamKind kind;
    int rows;                        /* depth */
    int tbt_type;                    /* ticks: ibTickByTickType */
    char what[16];                   /* bars: TRADES, BID, ASK, MIDPOINT */
    stInstrumentSpec spec;
    siState state;
    int64_t req_id;                  /* 0 when no IB request is open */
    int64_t due_ms;                  /* SI_PACED: when it may be sent */
    int64_t status_code;             /* IB's last error on the line (0 = none) */
    char status_msg[200];
    subjSeq *seq;                    /* in streams.seqs */
    stDepthBook *book;               /* depth only */
    int64_t recv_ts_ns;
    bool dirty;                      /* depth: changed in this socket read */
    struct sinst *dirty_next;
} sinst;

typedef struct depthWaiter {         /* an ib.rpc.depth waiting for the first book of its stream */
    busRequest *req;                 /* retained */
    char lkey[ST_KEY_MAX];
    struct depthWaiter *next;
} depthWaiter;

struct ssReq;

typedef struct streams {
    ibbMap *recs;                    /* lease key -> sinst* */
    ibbMap *seqs;                    /* subject suffix -> subjSeq* */
    ibbMap *tbt_win;                 /* instrument key -> stRateWin* (one request per 15 s) */
    stRateWin bars_win;              /* 60 new real-time-bar requests per 10 minutes */
    size_t count[BR_SK_COUNT];       /* records per kind (= IB subscriptions wanted) */
    sinst *dirty;
    depthWaiter *waiters;
    struct ssReq *holds;             /* subscribe replies waiting for IB's first answers */
    bool hold_check;                 /* a line changed state in this read */
    uv_timer_t pace_timer;
    bool timer_open, stopping, published;
    uint64_t events[BR_SK_COUNT], resubscribes, paced;
} streams;

/* The lease key of (kind, param, instrument key) into out (ST_KEY_MAX). false when it does not fit. */
bool brSt_leaseKey(brStreamKind kind, const char *param, const char *key, char *out);
/* Splits a lease key: kind, its parameter text and the instrument key. false for a quote key. */
bool brSt_parseLeaseKey(const char *lkey, brStreamKind *kind, char *param, size_t pcap, const char **key);
const char *brSt_kindName(brStreamKind kind);
/* The state word of a subscribe reply. */
const char *brSt_stateName(const brBridge *b, const sinst *si);

/* Answers the subscribe replies whose subscriptions IB has answered (all: every one, at stop).
 * br_streams_sub.c */
void brSt_checkHolds(brBridge *b, bool all);
/* ib.rpc.depth: the current book of a depth stream. br_streams_sub.c */
void brSt_onDepth(busRequest *req, void *arg);
/* Answers ib.rpc.depth with the record's book when it has one, else keeps req (retained) until the
 * first book, the line's failure or the request's deadline. br_streams.c */
void brSt_waitDepth(brBridge *b, busRequest *req, const char *lkey);
/* Packs the book event (schemas/depth_event.json). br_streams.c */
void brSt_packDepth(msgpack_packer *pk, const sinst *si, int64_t seq);

#endif
