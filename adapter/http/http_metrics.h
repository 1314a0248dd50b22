/* http_metrics.h — Prometheus counters for the gateway. Loop-thread only (no atomics needed).
 *
 * Routes are small integers given by http_rest.c (label text borrowed from its static table); HTTP
 * statuses are bucketed into a fixed list, anything else counts as "other". */
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include <stdint.h>

#include "bus_json.h"

#define HTTP_METRICS_MAX_ROUTES 32
#define HTTP_METRICS_NSTATUS 20
#define HTTP_METRICS_NBUCKETS 14

typedef struct httpHist {
    uint64_t buckets[HTTP_METRICS_NBUCKETS];   /* cumulative at render time, per-bucket here */
    uint64_t count;
    double sum_s;
} httpHist;

typedef struct httpMetrics {
    const char *route_names[HTTP_METRICS_MAX_ROUTES];
    int nroutes;
    uint64_t requests[HTTP_METRICS_MAX_ROUTES][HTTP_METRICS_NSTATUS];
    httpHist latency;          /* HTTP request: first byte of request to response written */
    httpHist bus_rtt;          /* NATS request to reply */
    uint64_t bus_timeouts, bus_no_responders, bus_errors;
    int64_t ws_clients, ws_topics;
    uint64_t ws_messages_sent, ws_quotes_conflated, ws_quotes_in, ws_closed_slow;
} httpMetrics;

void httpMetrics_Init(httpMetrics *m);
int httpMetrics_AddRoute(httpMetrics *m, const char *label);   /* returns its index */
void httpMetrics_Request(httpMetrics *m, int route, int status, int64_t latency_us);
void httpMetrics_Observe(httpHist *h, int64_t us);
/* Appends the Prometheus text exposition (version 0.0.4). `bus_pending` and `bus_up` are gauges
 * sampled by the caller. */
void httpMetrics_Render(const httpMetrics *m, int bus_pending, int bus_up, busBuf *out);

/* Monotonic clock in microseconds. */
int64_t http_nowUs(void);

#endif
