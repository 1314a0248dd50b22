/* wave2_vectors.h — tests/ib/vectors/market_depth_ticks.jsonl (IBB_WAVE2_VECTORS): the market depth,
 * tick-by-tick, real-time bar and option vectors (PROTOCOL.md §3.12-3.15), through vector_file.h. */
#ifndef WAVE2_VECTORS_H
#define WAVE2_VECTORS_H

#include "vector_file.h"

typedef tvec wvec;
static vecFile g_wave2 = {IBB_WAVE2_VECTORS, 35, NULL, 0};
#define g_wv (g_wave2.v)
#define g_nwv (g_wave2.n)

static inline void wv_load(void) { vecFile_Load(&g_wave2); }
static inline const wvec *wv_find(const char *prefix) { return vecFile_Find(&g_wave2, prefix); }

#endif
