/* bus_evloop.h — plugs one natsConnection into a libuv loop (nats.c's event-loop mode). Internal to bus/.
 *
 * Why: in its default mode nats.c writes publishes from a flusher thread that waits 1 ms after each
 * kick (conn.c _flusher), and SendAsap writes once per message. Attached to the loop, a connection
 * buffers what the loop thread publishes during one loop turn and writes it with one write(2) right
 * after that turn's poll phase (a uv_check handle): one IB socket read's quotes and replies leave
 * together, at once, with no extra thread and no PING round trip. Only when the socket is full does
 * it wait for UV_WRITABLE.
 *
 * nats.c calls the four callbacks (attach, read, write, detach) with its connection lock held, from
 * the loop thread (publishes, read events) or from its own threads (reconnect, pings). On the loop
 * thread they update the uv_poll handle directly; elsewhere they record the wanted state under a
 * mutex and wake the loop with the adapter's uv_async handle (the only other uv_async_send in the
 * process besides busService's, and only nats.c's socket bookkeeping crosses on it). nats.c's own
 * adapters/libuv.h is not used because its first attach must happen on the loop thread, which
 * rules out connecting in the background (retry_on_failed_connect).
 *
 * Ownership: busEvLoop_Create on the loop's thread (the thread that will run uv_run); pass the object
 * as natsOptions_SetEventLoop's loop. busEvLoop_Close (loop thread, after natsConnection_Destroy)
 * closes the handles; the memory goes in their close callbacks, so the loop must run once more.
 * Its handles are unref'd: an idle connection does not keep uv_run from returning. */
#ifndef BUS_EVLOOP_H
#define BUS_EVLOOP_H

#include <stdbool.h>

#include <nats/nats.h>
#include <uv.h>

#include "ibb_status.h"

typedef struct busEvLoop busEvLoop;

ibbStatus busEvLoop_Create(busEvLoop **out, uv_loop_t *loop);
/* Hands the four callbacks and ev to nats.c (natsOptions_SetEventLoop) and turns on SendAsap, which in
 * event-loop mode means "write on the next loop turn" and saves nats.c's flusher thread. */
natsStatus busEvLoop_Apply(busEvLoop *ev, natsOptions *no);
/* Loop thread: writes what nats.c still buffers now (non-blocking; used right before Close). */
void busEvLoop_WriteNow(busEvLoop *ev);
void busEvLoop_Close(busEvLoop *ev);
bool busEvLoop_OnLoopThread(const busEvLoop *ev);

#endif
