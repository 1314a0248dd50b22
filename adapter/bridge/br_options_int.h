/* br_options_int.h — what the options module's files share: br_options.c (chains: lookups, the
 * one-day cache, ib.rpc.options.chain, the module table) and br_options_quotes.c
 * (ib.rpc.options.quotes: a slice of a chain as snapshots within the line budget). Loop thread only. */
#ifndef BR_OPTIONS_INT_H
#define BR_OPTIONS_INT_H

#include "br_internal.h"
#include "st_chains.h"

typedef struct optQuotesJob optQuotesJob;

typedef struct brOptMod {
    stChains *cache;                 /* underlying key -> chain of today (UTC day) */
    ibbMap *inflight;                /* underlying key -> chainLookup* (one IB request per key) */
    optQuotesJob *jobs;              /* ib.rpc.options.quotes in progress (br_options_quotes.c) */
    uint64_t chain_requests;         /* reqSecDefOptParams sent */
} brOptMod;

static inline brOptMod *brOpt_mod(const brBridge *b) { return b->mod[BR_MOD_OPTIONS]; }

/* chain NULL = failed (slug, msg, ib_code). chain is borrowed: valid only during the call. */
typedef void (*brOptChainFn)(brBridge *b, void *ctx, const stChain *chain, const char *slug, const char *msg,
                             int ib_code);
/* The chain of an underlying key: from today's cache, else one reqSecDefOptParams shared by every
 * caller asking meanwhile (the underlying's conId through br_resolve). fn may run before this returns. */
void brOpt_chain(brBridge *b, const char *key, brOptChainFn fn, void *ctx);
/* Withdraws a pending brOpt_chain (fn will not run); the lookup goes on and fills the cache. */
void brOpt_chainCancel(brBridge *b, const char *key, brOptChainFn fn, void *ctx);
/* The underlying key of a request body ("underlying", or "symbol" / "key" / "contract"), checked to be
 * a STK, IND or FUT. false = answered with a bad_request naming the field (req not released). */
bool brOpt_underlyingKey(busRequest *req, char *key, size_t cap);

/* ib.rpc.options.quotes. br_options_quotes.c */
void brOpt_onQuotes(busRequest *req, void *arg);
/* Ends every job (module stop): each answers `unavailable`. br_options_quotes.c */
void brOpt_quotesStop(brBridge *b);

#endif
