/* br_quotes_int.h — what the quotes module's files share: br_quotes.c (records, packing, streaming
 * lines, leases, module hooks), br_quotes_sub.c (ib.rpc.subscribe / unsubscribe) and br_quotes_snap.c
 * (ib.rpc.quote and IB snapshots, br_quoteSnapshot). Loop thread only; ownership as described in
 * br_quotes.c. */
#ifndef BR_QUOTES_INT_H
#define BR_QUOTES_INT_H

#include "br_internal.h"
#include "br_quotes_kv.h"

#define MAX_SUB_ITEMS 100
#define DEFAULT_TTL_S 60
#define MAX_TTL_S 86400
#define SETTLE_MAX_MS 1500       /* a subscribe reply waits this long at most for IB's first answer */
#define KV_MIN_INTERVAL_MS 250

typedef enum { QI_WAIT_IB, QI_RESOLVING, QI_SUBSCRIBED, QI_STREAMING, QI_FAILED } qiState;

typedef struct qinst {
    char key[ST_KEY_MAX];
    char suffix[ST_KEY_MAX + 8];     /* "quote.<key>" */
    stQuote *q;                      /* in b->book */
    qiState state;
    bool settled;                    /* IB answered the current reqMktData */
    brQuoteKvSlot *kv;
    char *contract_mp;               /* q->spec's contract map, packed once; freed where q->spec changes */
    size_t contract_len;
} qinst;

typedef struct subWait {             /* a subscribe reply waiting for IB's first answers */
    brBridge *b;
    busRequest *req;
    char lease_id[ST_LEASE_ID_LEN + 1];
    int64_t ttl_s;
    char (*keys)[ST_KEY_MAX];
    size_t nkeys;
    uv_timer_t timer;
    struct subWait *prev, *next;
} subWait;

typedef struct subItem {
    struct subReq *r;
    size_t i;
} subItem;

typedef struct subReq {              /* a subscribe request resolving its instruments */
    brBridge *b;
    busRequest *req;
    char lease_id[ST_LEASE_ID_LEN + 1];
    int64_t ttl_s;
    size_t n, outstanding;
    char (*keys)[ST_KEY_MAX];        /* as asked */
    char (*canon)[ST_KEY_MAX];       /* canonical keys of the resolved instruments */
    stInstrumentSpec *specs;
    subItem *items;
    bool failed;
    char err_slug[32];
    char err_msg[400];
    int err_code;
} subReq;

typedef struct snapWaiter {          /* an ib.rpc.quote (req) or another module's callback (fn) */
    busRequest *req;
    brSnapFn fn;
    void *ctx;
    int64_t timeout_ms, deadline;    /* deadline: loop ms */
    struct snapWaiter *next;
} snapWaiter;

typedef struct snap {                /* one IB snapshot in flight (shared by every waiter of its key) */
    brBridge *b;
    char key[ST_KEY_MAX];
    uint64_t id;                     /* tells a late resolution whether it is still for this one */
    int64_t req_id;                  /* 0 while resolving */
    stQuote *q;                      /* in the module's snapshot book while subscribed */
    snapWaiter *waiters;
    uv_timer_t timer;                /* the earliest waiter's deadline */
    bool done;                       /* finished; freed by the timer's close callback */
    struct snap *fin_next;           /* on m->finishing while its waiters are answered */
} snap;

typedef struct quotes {
    ibbMap *insts;                   /* key -> qinst* */
    ibbMap *snaps;                   /* key -> snap* (in flight: each counts as a market-data line) */
    snap *finishing;                 /* snapshots answering their waiters (br_quoteSnapshotCancel) */
    uint64_t snap_seq;
    stQuoteBook *snapbook;
    const subReq *staging;           /* the grant in progress: specs for acquire */
    subWait *waits;
    uv_timer_t lease_timer;
    bool timer_open, stopping, settle_check;
    brQuoteKv *kv;
    uint64_t events, resubscribes;
} quotes;

/* The error slug of an IB code on a market-data line (unknown_symbol, forbidden, ...). br_quotes.c */
const char *brQt_statusSlug(int64_t code);
/* Errors after which IB has dropped the request (the others are warnings about a live line). br_quotes.c */
bool brQt_terminalError(int64_t code);
/* The quote map (schemas/quote_event.json; with source for ib.rpc.quote). seq_override >= 0 replaces
 * seq; qi (may be NULL) caches the packed contract. br_quotes.c */
void brQt_packQuote(msgpack_packer *pk, const stQuote *q, qinst *qi, const char *source,
                    int64_t seq_override);
/* Ends a snapshot: its line is free, every waiter is answered (an error when slug). br_quotes_snap.c */
void brQt_snapFinish(snap *sn, const char *slug, const char *msg, int ib_code);
/* ib.rpc.quote. br_quotes_snap.c */
void brQt_onQuote(busRequest *req, void *arg);

/* An instrument's status object (code, message, ib_code). br_quotes.c */
void brQt_packStatus(msgpack_packer *pk, const stQuote *q);
/* Subscribes a record: resolves it first when its conId is unknown. br_quotes.c */
void brQt_activate(brBridge *b, qinst *qi);
/* (Re)arms the lease-expiry timer for the earliest lease end. br_quotes.c */
void brQt_armLeaseTimer(brBridge *b);

/* ib.rpc.subscribe / ib.rpc.unsubscribe. br_quotes_sub.c */
void brQt_onSubscribe(busRequest *req, void *arg);
void brQt_onUnsubscribe(busRequest *req, void *arg);
/* Reads the instrument keys of a subscribe body ('symbols', 'contracts'): unique, as asked; the caller
 * frees *keys. false = answered with an error. br_quotes_sub.c */
bool brQt_parseKeys(busRequest *req, char (**keys)[ST_KEY_MAX], size_t *n, const msgpack_object_array *syms,
                    const msgpack_object_array *cons);
/* ttl_s, lease_id (ST_LEASE_ID_LEN + 1 bytes) and the instrument keys of a subscribe body (the caller
 * frees *keys); a renewal without instruments takes the lease's own keys. false = answered with an
 * error. br_quotes_sub.c */
bool brQt_parseLease(busRequest *req, brBridge *b, char *lease_id, int64_t *ttl_s, char (**keys)[ST_KEY_MAX],
                     size_t *n);
/* ISO 8601 UTC with milliseconds ("2026-12-04T21:00:00.000Z"). br_quotes_sub.c */
void brQt_formatUtc(int64_t wall_ms, char *out, size_t cap);
/* Answers the subscribe replies whose instruments have all settled (after each flush). br_quotes_sub.c */
void brQt_checkWaits(brBridge *b);
/* Answers one waiting subscribe reply now and frees it. br_quotes_sub.c */
void brQt_finishWait(subWait *w);

#endif
