/* core_backoff.c — reconnect delays; see core_backoff.h. */
#include "core_backoff.h"

int64_t coreBackoff_Delay(int attempt, int64_t min_ms, int64_t max_ms, double u)
{
    if (min_ms < 1)
        min_ms = 1;
    if (max_ms < min_ms)
        max_ms = min_ms;
    if (attempt < 0)
        attempt = 0;
    if (u < 0.0 || u >= 1.0)
        u = 0.5;
    double base = (double)min_ms;
    for (int i = 0; i < attempt && base < (double)max_ms * 2.0; i++)
        base *= 2.0;
    double d = base * (0.8 + 0.4 * u);
    if (d > (double)max_ms)
        d = (double)max_ms * (0.8 + 0.2 * u); /* keep some jitter at the cap */
    if (d < (double)min_ms)
        d = (double)min_ms;
    return (int64_t)d;
}

double coreBackoff_Random(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (double)(x >> 11) / 9007199254740992.0; /* 2^53 */
}
