/* br_discovery_int.h — what the files of the discovery module share (not for other modules).
 *
 *   br_discovery.c       the brModule table and ib.rpc.contract.search (reqMatchingSymbols)
 *   br_discovery_scan.c  ib.rpc.scanner.params and ib.rpc.scanner (reqScannerParameters, subscriptions)
 *
 * The module state (brDiscovery) hangs off b->mod[BR_MOD_DISCOVERY]. Everything runs on the loop thread. */
#ifndef BR_DISCOVERY_INT_H
#define BR_DISCOVERY_INT_H

#include "br_internal.h"

typedef struct brScan brScan;

typedef struct brDiscovery {
    ibbMap *searches; /* upper-cased pattern -> search entry (queued, in flight, cached) */
    struct brSearch *queue_head, *queue_tail; /* waiting for their turn at IB (one a second) */
    int64_t last_sent_ms;                     /* when the last reqMatchingSymbols left (loop ms; 0 = never) */
    uv_timer_t *timer;                        /* the next turn */
    uint64_t searches_sent, searches_cached;
    brScan *scan; /* br_discovery_scan.c */
} brDiscovery;

static inline brDiscovery *brd_mod(const brBridge *b) { return b->mod[BR_MOD_DISCOVERY]; }

/* scanner: state, endpoints, IB's replies, link down, fini */
ibbStatus brd_scanInit(brBridge *b);
bool brd_scanOnReply(brBridge *b, const ibReply *r);
void brd_scanIbDown(brBridge *b);
void brd_scanFini(brBridge *b);

#endif
