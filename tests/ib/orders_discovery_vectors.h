/* orders_discovery_vectors.h — tests/ib/vectors/orders_discovery.jsonl (IBB_OD_VECTORS): what-if orders,
 * the execution filter, symbol search and the scanner (PROTOCOL.md §3.16, §3.18, §3.19), through
 * vector_file.h. */
#ifndef ORDERS_DISCOVERY_VECTORS_H
#define ORDERS_DISCOVERY_VECTORS_H

#include "vector_file.h"

static vecFile g_od = {IBB_OD_VECTORS, 13, NULL, 0};

static inline const tvec *od_find(const char *prefix) { return vecFile_Find(&g_od, prefix); }

#endif
