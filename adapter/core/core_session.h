/* core_session.h — the IB session: one libuv loop owns the socket, the handshake, reconnects,
 * stall detection and the outbound pacer.
 *
 * Life of a connection (PROTOCOL.md §2):
 *   connecting   resolve + TCP connect
 *   handshaking  "API\0" + "v100..176"; the server's version (refused below 176); startApi with
 *                the configured client id; wait for BOTH nextValidId and managedAccounts, in any
 *                order, accepting any other message before them
 *   ready        requests may be sent; an idle connection gets a reqCurrentTime keep-alive after
 *                keepalive_idle_ms; no byte received for stall_timeout_ms means a stalled peer
 *   backoff      after any close, I/O error, decode error, handshake timeout, stall or refusal:
 *                wait (exponential, jittered, between backoff_min_ms and backoff_max_ms), then
 *                connect again. The attempt counter resets once "ready" is reached.
 *   disconnected before Start and after Disconnect (no reconnect).
 *
 * Threads: everything here runs on the loop thread, callbacks included. Other threads wake the
 * loop (uv_async_send) and call in from there.
 *
 * Ownership: coreSession is opaque (coreSession_Create / coreSession_Destroy, NULL-safe). The
 * caller owns the uv_loop_t and keeps it alive until Destroy returns. Create copies the config
 * (strings included). coreSession_Send encodes the request at once, so the ibRequest and its
 * strings are only borrowed for the call. The ibReply passed to reply handlers points into the
 * receive buffer: valid only during the callback (copy what you keep). Strings returned by the
 * getters live until the next state change or Destroy. */
#ifndef CORE_SESSION_H
#define CORE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core_pacer.h"
#include "ib_msgs.h"
#include "ibb_status.h"

typedef enum coreState {
    CORE_STATE_DISCONNECTED = 0,
    CORE_STATE_CONNECTING,
    CORE_STATE_HANDSHAKING,
    CORE_STATE_READY,
    CORE_STATE_BACKOFF,
} coreState;

/* "disconnected", "connecting", "handshaking", "ready", "backoff". Never NULL. */
const char *coreState_Name(coreState st);

typedef struct coreSessionConfig {
    const char *host; /* name or address of the gateway */
    int port;
    int64_t client_id;
    int64_t handshake_timeout_ms; /* connect + handshake until "ready" */
    int64_t keepalive_idle_ms;    /* silence after which a reqCurrentTime goes out */
    int64_t stall_timeout_ms;     /* silence after which the connection is declared stalled */
    int64_t backoff_min_ms, backoff_max_ms;
    double pacing_rate; /* messages per second, <= 50 */
    int pacing_burst;   /* bucket size; rate + burst <= 50 keeps any 1 s window legal */
    size_t max_queue;   /* outbound queue limit (0 = unlimited) */
} coreSessionConfig;

/* Fills in the defaults (127.0.0.1:4002, client 1, 10 s handshake, 30 s idle, 90 s stall,
 * backoff 1 s..60 s, 45 msg/s, burst 5, 10000 queued). */
void coreSessionConfig_Init(coreSessionConfig *cfg);

typedef struct coreSessionStats {
    uint64_t msgs_in;         /* decoded server messages (server version included) */
    uint64_t msgs_out;        /* messages that left the pacer (startApi included) */
    uint64_t unknown_skipped; /* messages with an id the codec does not decode */
    uint64_t decode_errors;   /* malformed frames or messages (each one reset the link) */
    uint64_t reconnects;      /* connection attempts after the first */
    uint64_t keepalives;      /* reqCurrentTime sent because the link was idle */
    uint64_t stalls;          /* connections dropped because nothing arrived */
    uint64_t dropped;         /* queued requests dropped when a connection closed */
    uint64_t dropped_stale;   /* queued requests dropped because nobody wanted them any more
                                 (coreSession_SetStillWanted); they spent no pacing token */
    uint64_t fenced;          /* writes or connects refused by the write gate (HA fencing) */
    uint64_t bytes_in, bytes_out;
    size_t queue_cancel, queue_normal; /* current pacer depth */
} coreSessionStats;

typedef struct coreSession coreSession;

/* Called after every state change; `reason` is why (IBB_OK for a normal step). */
typedef void (*coreStateFn)(void *ud, coreState from, coreState to, ibbStatus reason);
/* Called for every decoded server message (after the session's own handling of it). */
typedef void (*coreReplyFn)(void *ud, const ibReply *reply);
/* Called once after all messages of one socket read were handed to the reply handlers (at least
 * one message): the place to flush what those messages batched up (quotes). */
typedef void (*coreReadDoneFn)(void *ud);

#define CORE_MAX_HANDLERS 16

ibbStatus coreSession_Create(coreSession **out, uv_loop_t *loop, const coreSessionConfig *cfg);
/* Closes the socket and every handle, runs the loop until they are closed, frees the session.
 * Call it from outside the loop (after uv_run returned), never from a callback. NULL-safe. */
void coreSession_Destroy(coreSession *s);

/* Handlers are called in the order added; IBB_ERR_LIMIT past CORE_MAX_HANDLERS. */
ibbStatus coreSession_OnState(coreSession *s, coreStateFn fn, void *ud);
ibbStatus coreSession_OnReply(coreSession *s, coreReplyFn fn, void *ud);
ibbStatus coreSession_OnReadDone(coreSession *s, coreReadDoneFn fn, void *ud);
/* Wall-clock time (CLOCK_REALTIME, ns) at which the socket read being handled arrived. */
int64_t coreSession_ReadTimeNs(const coreSession *s);

/* Starts connecting (with reconnects) unless already started. */
ibbStatus coreSession_Start(coreSession *s);
/* Closes the socket, cancels timers and queued requests; no reconnect until Start. Afterwards
 * the session holds no active handle, so uv_run returns once the socket is closed. */
void coreSession_Disconnect(coreSession *s);

/* Encodes req at the negotiated server version and queues it for the pacer. prio AUTO puts
 * cancels first. IBB_ERR_STATE when not ready, IBB_ERR_LIMIT when the queue is full, or the
 * encoder's error. */
ibbStatus coreSession_Send(coreSession *s, const ibRequest *req, corePriority prio);

/* Stale requests. A request that carries its own request id (coreSession_RequestKey != 0:
 * reqMktData, reqContractDetails, reqHistoricalData, reqAccountSummary, reqExecutions, reqMktDepth,
 * reqTickByTickData, reqRealTimeBars) may wait in
 * the pacer longer than its caller does. When it reaches the head of the queue with a token ready,
 * fn(ud, request, req_id) is asked once: true = it is written now, false = it is dropped (counted in
 * dropped_stale, no token spent). Cancels, orders, keep-alives and requests without an id are always
 * sent. fn runs on the loop thread inside the pacer and must not call back into the session.
 * fn NULL = send everything (the default). */
typedef bool (*coreStillWantedFn)(void *ud, int request, int64_t req_id);
void coreSession_SetStillWanted(coreSession *s, coreStillWantedFn fn, void *ud);
/* The request id of req that the still-wanted callback is asked about; 0 when it is never dropped. */
int64_t coreSession_RequestKey(const ibRequest *req);

/* Hot-standby fencing: fn(ud) is asked right before every write to the IB socket (the handshake
 * included) and before every connect. false = nothing is written: the connection is closed (a write) or
 * not opened (a connect), counted in stats.fenced, and the session backs off as after any failure.
 * fn runs on the loop thread and must be cheap (it is on the send path). NULL = no gate (the default). */
typedef bool (*coreWriteGateFn)(void *ud);
void coreSession_SetWriteGate(coreSession *s, coreWriteGateFn fn, void *ud);

coreState coreSession_State(const coreSession *s);
int coreSession_ServerVersion(const coreSession *s);          /* 0 before the handshake */
const char *coreSession_ConnectionTime(const coreSession *s); /* "" before the handshake */
const char *coreSession_Accounts(const coreSession *s);       /* "DU1,DU2" (no empty items) */
int64_t coreSession_NextOrderId(const coreSession *s);        /* -1 before nextValidId */
/* Returns the next order id and advances it (order placement); -1 when not ready. */
int64_t coreSession_TakeOrderId(coreSession *s);
void coreSession_GetStats(const coreSession *s, coreSessionStats *out);
/* Why the last connection ended or was refused: a status, the IB error code that caused it
 * (326, ...; 0 if none) and a sentence an operator can act on ("" if none). */
ibbStatus coreSession_LastError(const coreSession *s, int64_t *ib_code, const char **text);
/* The client id in use (for logs and status). */
int64_t coreSession_ClientId(const coreSession *s);

#endif
