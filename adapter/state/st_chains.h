/* st_chains.h — option chains (IB's securityDefinitionOptionParameter replies) and their cache.
 *
 * An stChain is the chain of one underlying: one class per exchange / trading class, each with its
 * multiplier, expirations ("yyyymmdd", ascending, unique) and strikes (ascending, unique) once
 * stChain_Finish has sorted what IB sent (IB sends sets, in no order).
 *
 * stChains caches finished chains per underlying key for one day: a chain stored on day D is
 * returned for day D only (IB lists new expirations and strikes overnight). Single-threaded; the
 * cache owns the chains put in it; a pointer from stChains_Get lives until the next Put / Get of
 * that key or Destroy. Days are caller-given numbers (e.g. days since the epoch): no clock here. */
#ifndef ST_CHAINS_H
#define ST_CHAINS_H

#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"
#include "st_instrument.h"

typedef struct stChainClass {
    char exchange[ST_FIELD_MAX];
    char trading_class[ST_FIELD_MAX];
    char multiplier[16];
    int64_t underlying_con_id;
    char (*expirations)[12];
    size_t n_exp, cap_exp;
    double *strikes;
    size_t n_strikes, cap_strikes;
} stChainClass;

typedef struct stChain {
    char key[ST_KEY_MAX];            /* the underlying's key */
    int64_t con_id;                  /* the underlying's conId */
    stChainClass *classes;
    size_t n, cap;
} stChain;

ibbStatus stChain_Create(stChain **out, const char *key, int64_t con_id);
void stChain_Destroy(stChain *c);
/* Appends a class; NULL on OOM. Strings are copied (truncated to their fields). */
stChainClass *stChain_AddClass(stChain *c, const char *exchange, const char *trading_class,
                               const char *multiplier, int64_t underlying_con_id);
/* IBB_ERR_INVALID_ARG for an expiration that is not 8 digits, a strike that is not finite and > 0. */
ibbStatus stChainClass_AddExpiration(stChainClass *k, const char *yyyymmdd);
ibbStatus stChainClass_AddStrike(stChainClass *k, double strike);
/* Sorts and de-duplicates every class's expirations and strikes; classes ordered by exchange. */
void stChain_Finish(stChain *c);
/* True when any class lists the expiration / strike. */
bool stChain_HasExpiration(const stChain *c, const char *yyyymmdd);

typedef struct stChains stChains;
ibbStatus stChains_Create(stChains **out);
void stChains_Destroy(stChains *cc);
/* Stores c (the cache owns it from now, also on error) for day, replacing an older chain of its key. */
ibbStatus stChains_Put(stChains *cc, stChain *c, int64_t day);
/* The chain of key stored on day, or NULL (a chain of an earlier day is dropped). */
const stChain *stChains_Get(stChains *cc, const char *key, int64_t day);
size_t stChains_Count(const stChains *cc);

#endif
