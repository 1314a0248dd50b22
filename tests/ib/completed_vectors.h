/* completed_vectors.h — tests/ib/vectors/completed_orders.jsonl (IBB_COMPLETED_VECTORS): the
 * reqCompletedOrders / completedOrder / completedOrdersEnd vectors, through vector_file.h. */
#ifndef COMPLETED_VECTORS_H
#define COMPLETED_VECTORS_H

#include "vector_file.h"

typedef tvec cvec;
static vecFile g_completed = {IBB_COMPLETED_VECTORS, 6, NULL, 0};

static inline void cv_load(void) { vecFile_Load(&g_completed); }
static inline const cvec *cv_find(const char *prefix) { return vecFile_Find(&g_completed, prefix); }

#endif
