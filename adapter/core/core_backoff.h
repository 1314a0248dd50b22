/* core_backoff.h — reconnect delays: exponential growth with jitter, clamped to [min, max].
 *
 * Pure functions, no state: coreSession keeps the attempt counter (reset when a session reaches
 * "ready"). Attempt n waits min * 2^n scaled by a jitter factor in [0.8, 1.2), clamped to
 * [min, max]. The jitter spreads a fleet of bridges that lost the same gateway; the factor range
 * is narrow enough that attempt n+1 always waits longer than attempt n until the clamp. */
#ifndef CORE_BACKOFF_H
#define CORE_BACKOFF_H

#include <stdint.h>

/* `u` is a uniform random number in [0, 1). Returns the delay in milliseconds. */
int64_t coreBackoff_Delay(int attempt, int64_t min_ms, int64_t max_ms, double u);

/* A small xorshift generator for the jitter (not for anything secret). *state must be non-zero. */
double coreBackoff_Random(uint64_t *state);

#endif
