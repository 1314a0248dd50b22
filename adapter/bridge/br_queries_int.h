/* br_queries_int.h — what the files of the queries module share (not for other modules).
 *
 *   br_queries.c          the brModule table: dispatches to the two parts below
 *   br_queries_candles.c  ib.rpc.candles behind the historical pacing governor (b->hist)
 *   br_queries_account.c  ib.rpc.positions and ib.rpc.account, kept live from IB's streams
 *   br_queries_multi.c    reqAccountUpdatesMulti for the managed accounts reqAccountUpdates cannot cover
 *
 * Each part keeps its private state in a struct hung off b->mod[BR_MOD_QUERIES] (brQueries).
 * Everything runs on the loop thread. */
#ifndef BR_QUERIES_INT_H
#define BR_QUERIES_INT_H

#include "br_internal.h"

typedef struct brCandles brCandles;
typedef struct brAccount brAccount;
typedef struct brAcctMulti brAcctMulti;

typedef struct brQueries {
    brCandles *candles;
    brAccount *account;
    brAcctMulti *multi;
} brQueries;

static inline brQueries *brq_mod(const brBridge *b) { return b->mod[BR_MOD_QUERIES]; }

/* candles: create b->hist, add the endpoint; fini frees what the governor cannot. */
ibbStatus brq_candlesInit(brBridge *b);
void brq_candlesIbReady(brBridge *b);
void brq_candlesIbDown(brBridge *b);
void brq_candlesFini(brBridge *b);

/* positions + account */
ibbStatus brq_accountInit(brBridge *b);
bool brq_accountOnReply(brBridge *b, const ibReply *r);
void brq_accountIbReady(brBridge *b);
void brq_accountIbDown(brBridge *b);
void brq_accountStop(brBridge *b);
void brq_accountFini(brBridge *b);
/* An account value from an account-updates stream (reqAccountUpdates or reqAccountUpdatesMulti). */
void brq_accountUpdateValue(brBridge *b, const char *account, const char *tag, const char *value,
                            const char *ccy);
/* The account reqAccountUpdates covers ("" before IB is ready). */
const char *brq_accountUpdatesAccount(const brBridge *b);

/* reqAccountUpdatesMulti for every other managed account (values incl. RealizedPnL/UnrealizedPnL). */
void brq_multiIbReady(brBridge *b);
void brq_multiStop(brBridge *b);
void brq_multiFini(brBridge *b);

/* br_replyChecked (br_internal.h), by its older name. */
#define brq_replyChecked br_replyChecked
/* The NATS server's max_payload (1 MiB when not connected yet). */
int64_t brq_maxPayload(const brBridge *b);

#endif
