/* bus_lease.h — a leadership lease in a JetStream KV bucket, held by a thread of its own: the building
 * block of ib-bridge's hot standby. Knows nothing of IB: the value written and the test of another
 * leader's value are the caller's.
 *
 * Protocol (one key in one bucket, every write revision-checked, busJs_KvUpdate):
 *   take      the key is absent or deleted: create-only write (last = 0). Of several takers one wins.
 *   hold      the leader rewrites its value every renew_ms with last = the revision it wrote before.
 *             A write that finds another revision lost the lease (someone took it): step down at once.
 *   fence     each successful renewal started at t0 opens the fence (bus_fence.h) until
 *             t0 + lease_ms - renew_ms: a leader that cannot renew (no quorum, paused, slow) is shut out
 *             of publishing and IB by the clock alone, before any standby may take over.
 *   expire    a standby polls the key every poll_ms and judges the lease expired by its OWN clock: no
 *             change of revision for lease_ms since it saw the revision change. It then takes over with
 *             a write checked against that revision, so two standbys can never both win. The bucket's
 *             TTL is not used (nats-server 2.9 has a known issue with KV TTL on replicated buckets).
 *   refuse    a value the caller's check refuses (unparseable, another configuration) is logged once per
 *             revision and never taken over.
 *   release   busLease_Release: a leader shuts its fence, then deletes the key checked against its
 *             revision, so a standby takes over at its next poll without waiting for expiry.
 * Safety rests on the leader's fence ending before lease_ms has passed on the standby's clock since the
 * standby saw the renewal (which it can only see after the leader sent it): renew_ms of margin.
 *
 * Threads: Create / Destroy on the loop thread (the busJs inside needs the loop); the lease runs on its own
 * thread (blocking KV round trips never touch the loop); value/check/on_change run on that thread.
 * busLease_State and busLease_Release from any thread.
 * Ownership: opaque (Create / Destroy, NULL-safe). Borrows conn and fence (both must outlive it); copies
 * the option strings. Destroy joins the thread (bounded by the KV timeout). */
#ifndef BUS_LEASE_H
#define BUS_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus_conn.h"
#include "bus_fence.h"
#include "ibb_status.h"

typedef struct busLease busLease;

typedef enum busLeaseRole { BUS_LEASE_STANDBY = 0, BUS_LEASE_LEADER } busLeaseRole;

typedef struct busLeaseOptions {
    const char *bucket;        /* e.g. "ib_leader" */
    const char *key;           /* default "leader" */
    int replicas;              /* bucket replicas (default 1) */
    int64_t lease_ms;          /* default 2000 */
    int64_t renew_ms;          /* default 600; must be < lease_ms / 2 */
    int64_t poll_ms;           /* standby poll period; default renew_ms / 2 */
    /* The value this instance writes for epoch (the revision at which it took the lease; 0 while taking).
     * Returns its length (<= cap), 0 on failure. */
    size_t (*value)(void *ud, uint64_t epoch, char *buf, size_t cap);
    /* Another leader's value: true when this instance may take it over once expired; false with a
     * sentence in why (logged once per revision). NULL = every value is acceptable. */
    bool (*check)(void *ud, const char *value, size_t len, char *why, size_t cap);
    /* The role or epoch changed (lease thread): read busLease_State. */
    void (*on_change)(void *ud);
    void *ud;
    busFence *fence;           /* opened while leader (required) */
} busLeaseOptions;

void busLeaseOptions_Init(busLeaseOptions *o);

typedef struct busLeaseState {
    busLeaseRole role;
    uint64_t epoch;            /* revision at which the current (or last) leadership began; 0 = never */
    uint64_t revision;         /* latest revision written (leader) or seen (standby) */
    int64_t since_ns;          /* wall clock of the last role change */
    uint64_t acquired;         /* times this instance became leader */
    bool released;             /* busLease_Release was called: never leader again */
    char reason[200];          /* why the last role change happened */
} busLeaseState;

ibbStatus busLease_Create(busLease **out, busConn *conn, uv_loop_t *loop, const busLeaseOptions *o);
void busLease_Destroy(busLease *l);
void busLease_State(busLease *l, busLeaseState *out);
/* Graceful handover: stop holding. A leader shuts its fence and deletes the key (revision-checked) at
 * once; on_change tells when that is done. A standby stops taking. */
void busLease_Release(busLease *l);

#endif
