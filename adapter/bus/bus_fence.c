/* bus_fence.c — see bus_fence.h. */
#include "bus_fence.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

struct busFence {
    _Atomic uint64_t until_ns;
    _Atomic uint64_t epoch;
    _Atomic uint64_t refused;
};

ibbStatus busFence_Create(busFence **out)
{
    busFence *f = calloc(1, sizeof *f);
    if (!f)
        return IBB_ERR_NOMEM;
    atomic_init(&f->until_ns, 0);
    atomic_init(&f->epoch, 0);
    atomic_init(&f->refused, 0);
    *out = f;
    return IBB_OK;
}

void busFence_Destroy(busFence *f) { free(f); }

void busFence_Open(busFence *f, uint64_t epoch, uint64_t until_ns)
{
    atomic_store(&f->epoch, epoch);
    atomic_store(&f->until_ns, until_ns);
}

void busFence_Shut(busFence *f) { atomic_store(&f->until_ns, 0); }

bool busFence_Allows(busFence *f)
{
    if (!f)
        return true;
    uint64_t until = atomic_load(&f->until_ns);
    return until != 0 && uv_hrtime() < until;
}

uint64_t busFence_Epoch(const busFence *f) { return f ? atomic_load(&((busFence *)f)->epoch) : 0; }
uint64_t busFence_Until(const busFence *f) { return f ? atomic_load(&((busFence *)f)->until_ns) : 0; }
uint64_t busFence_Refused(const busFence *f) { return f ? atomic_load(&((busFence *)f)->refused) : 0; }
void busFence_CountRefused(busFence *f)
{
    if (f)
        atomic_fetch_add(&f->refused, 1);
}
