/* bus_conn.h — the NATS connection of ib-bridge and ib-bridge-http, and the ib.evt.conn shape.
 *
 * busConn wraps one natsConnection with the options users need: several server URLs, user/password,
 * token, a .creds file, an NKey (public key + seed file), TLS with a CA file and optional client
 * certificate; it reconnects forever by default and can start while no server is up yet
 * (retry_on_failed_connect), because NATS and the IB session fail and recover independently.
 *
 * Ownership: busConn is opaque (busConn_Create / busConn_Destroy, NULL-safe). Option strings are
 * copied by Create (the caller may free them afterwards). busConn_Nats() borrows the natsConnection:
 * valid until busConn_Destroy. Destroy closes the connection and waits (bounded) for nats.c's closed
 * callback, so no callback runs after it returns.
 *
 * Threads: Create / Destroy / Drain from one owner thread. busConn_Nats, busConn_State, publishing on
 * the natsConnection are thread-safe (nats.c). on_event runs on a nats.c thread (except the CONNECTED
 * event of an immediate connect, which Create delivers on the calling thread): hand it to your
 * loop (e.g. busService_Post) before touching loop state.
 *
 * Process lifetime: call bus_Init() once before anything (optional, nats.c also opens lazily) and
 * bus_Shutdown() once at exit after every busConn is destroyed (frees nats.c's globals; LSan clean). */
#ifndef BUS_CONN_H
#define BUS_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <nats/nats.h>
#include <uv.h>

#include "bus_fence.h"
#include "ibb_status.h"

ibbStatus bus_Init(void);
void bus_Shutdown(int64_t timeout_ms);

typedef struct busConn busConn;

typedef enum busConnEvent {
    BUS_CONN_CONNECTED = 0,  /* first connection (also after retry_on_failed_connect) */
    BUS_CONN_DISCONNECTED,   /* lost the server; nats.c buffers publishes and reconnects */
    BUS_CONN_RECONNECTED,    /* back (subscriptions are restored by nats.c) */
    BUS_CONN_CLOSED,         /* closed for good (Destroy, or reconnects exhausted) */
    BUS_CONN_ERROR,          /* asynchronous error (slow consumer, permission violation, ...) */
} busConnEvent;

const char *busConnEvent_Name(busConnEvent ev); /* "connected", "disconnected", ... */

/* detail: the server URL for CONNECTED/RECONNECTED, the last error text otherwise (may be ""). */
typedef void (*busConnEventFn)(busConn *c, busConnEvent ev, const char *detail, void *user);

typedef struct busConnOptions {
    /* comma-separated server list, e.g. "nats://a:4222,nats://b:4222" (default nats://127.0.0.1:4222) */
    const char *urls;
    const char *name;            /* client name shown by the server (default "ib-bridge") */
    const char *user, *password; /* user/password (exclusive with token) */
    const char *token;
    const char *creds_file;      /* a .creds file: user JWT + NKey seed (exclusive with nkey) */
    const char *nkey;            /* NKey public key ("U...") ... */
    const char *nkey_seed_file;  /* ... and the file holding its seed ("SU...") */
    bool tls;                    /* require TLS (implied by tls_ca_file / tls_cert_file / tls:// URLs) */
    const char *tls_ca_file;     /* PEM CA bundle to verify the server */
    const char *tls_cert_file;   /* client certificate (PEM), with tls_key_file */
    const char *tls_key_file;
    const char *tls_hostname;    /* expected server name when it differs from the URL host */
    int64_t connect_timeout_ms;  /* default 2000 */
    int64_t reconnect_wait_ms;   /* default 1000 */
    int64_t reconnect_jitter_ms; /* default 100 */
    int reconnect_buf_bytes;     /* publishes kept while disconnected, default 8 MiB */
    int max_reconnect;           /* default -1: forever */
    bool retry_on_failed_connect;/* default true: Create succeeds while no server is up yet */
    int64_t ping_interval_ms;    /* default 0: nats.c default (2 min) */
    int max_pending_msgs;        /* per-subscription pending limit, default 65536 */
    busConnEventFn on_event;
    void *event_arg;             /* passed to on_event */
    /* NULL: nats.c's own threads read and write (its flusher writes ~1 ms after a publish).
     * A loop: the connection is driven by that libuv loop (bus_evloop.h): what the loop thread publishes
     * during one loop turn leaves in one write right after that turn's poll phase. Create and Destroy
     * must then run on the loop's thread, and the loop must run once more after Destroy. */
    uv_loop_t *loop;
    /* Thread-driven only: write every publish at once on the publishing thread (nats.c SendAsap, one
     * write(2) each, no flusher thread), e.g. the one request of `ib-bridge-http --probe`. Ignored with
     * a loop (which already writes once per turn). */
    bool send_asap;
} busConnOptions;

void busConnOptions_Init(busConnOptions *o);

/* IBB_ERR_CONFIG: conflicting or unreadable options (message logged, e.g. CA file missing).
 * IBB_ERR_IO: no server reachable and retry_on_failed_connect is off. */
ibbStatus busConn_Create(busConn **out, const busConnOptions *o);
void busConn_Destroy(busConn *c);
/* Drains every subscription and the publish buffer, then closes (bounded by timeout_ms). */
ibbStatus busConn_Drain(busConn *c, int64_t timeout_ms);

natsConnection *busConn_Nats(busConn *c);
bool busConn_IsConnected(busConn *c);
/* The server's max_payload (bytes), or 0 when not connected. */
int64_t busConn_MaxPayload(busConn *c);
int busConn_MaxPendingMsgs(const busConn *c);
/* Hot standby: from now on every message bus/ publishes on c is refused while f is shut and carries
 * Ibb-Epoch (bus_fence.h). Call before anything publishes on c; f must outlive c. NULL: no fencing. */
void busConn_SetFence(busConn *c, busFence *f);
/* True when the connection is driven by a libuv loop (busConnOptions.loop): publishes made on that loop's
 * thread need no flush. */
bool busConn_OnLoop(const busConn *c);

/* ------------------------------------------------------------------------------------------------
 * ib.evt.conn — one shape for NATS link events and IB link events/notices (schemas/conn_event.json).
 * Zero/NULL fields are left out. */
typedef struct busConnEvt {
    const char *source;   /* "nats" or "ib" (required) */
    const char *event;    /* snake_case event name, e.g. "reconnected", "ready", "notice" (required) */
    const char *state;    /* link state after the event: "up", "down", "connecting" */
    const char *url;      /* server URL or host:port */
    const char *message;
    int ib_code;          /* IB error/notice code (1100, 2104, ...) */
    int server_version;   /* IB server version */
    int64_t ts_ns;        /* epoch nanoseconds UTC; 0 = now */
} busConnEvt;

int busConnEvt_Pack(msgpack_packer *pk, const busConnEvt *ev);
int64_t bus_NowNs(void); /* CLOCK_REALTIME in nanoseconds */

#endif
