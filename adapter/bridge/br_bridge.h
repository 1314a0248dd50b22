/* br_bridge.h — ib-bridge's brain: ties the IB session (core/), the domain state (state/) and the
 * bus (bus/) together. Everything runs on one libuv loop thread; nats.c threads only hand requests
 * over through busService.
 *
 * Ownership: brBridge is opaque (brBridge_Create / brBridge_Destroy, NULL-safe). The caller owns
 * the uv_loop_t and the brOptions strings (they are borrowed and must outlive the bridge, e.g. the
 * loaded configuration). Destroy after uv_run has returned. */
#ifndef BR_BRIDGE_H
#define BR_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus_conn.h"
#include "bus_publisher.h"
#include "core_session.h"
#include "ibb_status.h"
#include "st_risk.h"

typedef struct brHaOptions {
    bool enabled;                      /* default false: this process is always active */
    int64_t lease_ms;                  /* default 2000 */
    int64_t renew_ms;                  /* default 600 (<= lease_ms / 3) */
} brHaOptions;

typedef struct brOptions {
    coreSessionConfig session;         /* the IB link */
    busConnOptions nats;               /* the NATS link */
    const char *prefix;                /* subject prefix, default "ib" */
    int64_t request_timeout_ms;        /* every request's deadline */
    busStreamMode quote_mode;          /* msgpack | json | both (JSON mirror) */
    int64_t md_line_budget;            /* market-data lines ib-bridge may use (default 100) */
    int64_t depth_budget;              /* market-depth subscriptions (default 3, IB's 309 past it) */
    int64_t tick_by_tick_budget;       /* tick-by-tick subscriptions (default 3, IB's 10190 past it) */
    const char *const *watchlist;      /* instrument keys always streamed */
    size_t n_watchlist;
    stRiskLimits risk;                 /* read_only lives here too */
    const char *const *risk_accounts;  /* risk.account_limits: "ACCOUNT:key=value[:...]" items */
    size_t n_risk_accounts;
    const char *trading_mode;          /* "paper" | "live" (reported in status) */
    bool simulator;
    const char *instance_id;           /* micro instance id; NULL = generated */
    int js_replicas;                   /* copies of every stream / KV bucket (default 1) */
    brHaOptions ha;                    /* hot standby (off by default) */
    /* Crash tests only: called at named points of an order's placement ("before_send": the record is
     * pending and nothing was sent; "after_send": the order was handed to the IB session for its socket; "after_ack": IB
     * acknowledged it, the client not yet answered). NULL in the binary users run: only the test
     * binary ib-bridge-testhooks (app/test_hooks.c) sets it. */
    void (*test_hook)(const char *point, const char *client_order_id);
} brOptions;

void brOptions_Init(brOptions *o);
/* Checks one risk.account_limits item ("ACCOUNT:key=value[:...]"); false with a sentence in err. */
bool brOptions_CheckAccountLimit(const char *item, char *err, size_t cap);

typedef struct brBridge brBridge;

ibbStatus brBridge_Create(brBridge **out, uv_loop_t *loop, const brOptions *o);
/* Connects NATS (reconnecting forever), starts the endpoints and the IB session. */
ibbStatus brBridge_Start(brBridge *b);
/* Graceful shutdown, first signal: stop taking requests, answer those in flight, cancel IB
 * subscriptions, disconnect IB, drain NATS. done(ud) runs on the loop when everything is closed
 * (the loop then has no active handle of the bridge's). */
void brBridge_Stop(brBridge *b, void (*done)(void *ud), void *ud);
void brBridge_Destroy(brBridge *b);
/* True when the bridge stopped itself because it cannot go on: a NATS connection closed for good
 * (nats.c gives up on e.g. refused credentials). The process should then exit non-zero. */
bool brBridge_Failed(const brBridge *b);

#endif
