/* bus_fence.h — fencing for a hot standby: while a fence is attached to a busConn, every message bus/
 * publishes on that connection (busPublisher, busService replies and error replies, busJs_Publish) is
 * refused unless the fence is open, and carries the header Ibb-Epoch: <epoch>.
 *
 * The owner of a leadership lease opens the fence up to a deadline on the monotonic clock (uv_hrtime)
 * that lies before the lease can expire, and extends it on each renewal. A process that stops renewing
 * (lost quorum, paused with SIGSTOP, lost the lease) finds the fence shut by the clock alone, with no
 * thread having to run first: the check is one atomic load and one clock read per publish.
 * $SRV discovery answers are not fenced (every instance answers them).
 *
 * Threads: every function is thread-safe (atomics). Ownership: opaque (Create / Destroy, NULL-safe); a
 * busConn borrows it (busConn_SetFence): destroy the fence after every connection using it. */
#ifndef BUS_FENCE_H
#define BUS_FENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "ibb_status.h"

#define BUS_HDR_EPOCH "Ibb-Epoch"

typedef struct busFence busFence;

/* A new fence is shut (nothing may be published through it until busFence_Open). */
ibbStatus busFence_Create(busFence **out);
void busFence_Destroy(busFence *f);

/* Opens (or extends) the fence until until_ns (uv_hrtime clock) for epoch. */
void busFence_Open(busFence *f, uint64_t epoch, uint64_t until_ns);
/* Shuts it now. */
void busFence_Shut(busFence *f);
/* True while open: now < until_ns. NULL = no fencing (always true). */
bool busFence_Allows(busFence *f);
/* The epoch of the last Open (0 = never opened). */
uint64_t busFence_Epoch(const busFence *f);
/* Deadline of the fence (uv_hrtime ns; 0 = shut). */
uint64_t busFence_Until(const busFence *f);
/* Publishes refused because the fence was shut. */
uint64_t busFence_Refused(const busFence *f);
void busFence_CountRefused(busFence *f);

#endif
