/* accounts_vectors.h — tests/ib/vectors/accounts_pnl.jsonl (IBB_ACCOUNTS_VECTORS): the P&L and
 * multi-account vectors (PROTOCOL.md §3.10, §3.17), through vector_file.h. */
#ifndef ACCOUNTS_VECTORS_H
#define ACCOUNTS_VECTORS_H

#include "vector_file.h"

static vecFile g_accounts = {IBB_ACCOUNTS_VECTORS, 19, NULL, 0};

static inline void av_load(void) { vecFile_Load(&g_accounts); }
static inline const tvec *av_find(const char *prefix) { return vecFile_Find(&g_accounts, prefix); }

#endif
