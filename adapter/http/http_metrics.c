/* http_metrics.c — counters and Prometheus text (see http_metrics.h). */
#include "http_metrics.h"

#include <time.h>

#include <inttypes.h>
#include <string.h>

static const int STATUSES[HTTP_METRICS_NSTATUS] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413,
                                                   415, 422, 429, 431, 500, 502, 503, 504, 101, 0};
static const double BOUNDS_S[HTTP_METRICS_NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                       0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

void httpMetrics_Init(httpMetrics *m)
{
    memset(m, 0, sizeof *m);
}

int httpMetrics_AddRoute(httpMetrics *m, const char *label)
{
    for (int i = 0; i < m->nroutes; i++)
        if (strcmp(m->route_names[i], label) == 0)
            return i;
    if (m->nroutes == HTTP_METRICS_MAX_ROUTES)
        return HTTP_METRICS_MAX_ROUTES - 1;
    m->route_names[m->nroutes] = label;
    return m->nroutes++;
}

void httpMetrics_Observe(httpHist *h, int64_t us)
{
    double s = (double)us / 1e6;
    h->count++;
    h->sum_s += s;
    for (int i = 0; i < HTTP_METRICS_NBUCKETS; i++)
        if (s <= BOUNDS_S[i]) {
            h->buckets[i]++;
            break;
        }
}

void httpMetrics_Request(httpMetrics *m, int route, int status, int64_t latency_us)
{
    int si = HTTP_METRICS_NSTATUS - 1;
    for (int i = 0; i < HTTP_METRICS_NSTATUS - 1; i++)
        if (STATUSES[i] == status) {
            si = i;
            break;
        }
    if (route >= 0 && route < HTTP_METRICS_MAX_ROUTES)
        m->requests[route][si]++;
    httpMetrics_Observe(&m->latency, latency_us);
}

static void render_hist(const httpHist *h, const char *name, const char *help, busBuf *out)
{
    busBuf_Printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < HTTP_METRICS_NBUCKETS; i++) {
        cum += h->buckets[i];
        busBuf_Printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, BOUNDS_S[i], cum);
    }
    busBuf_Printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    busBuf_Printf(out, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->sum_s, name, h->count);
}

static void counter(busBuf *out, const char *name, const char *help, uint64_t v)
{
    busBuf_Printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name, v);
}

static void gauge(busBuf *out, const char *name, const char *help, int64_t v)
{
    busBuf_Printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRId64 "\n", name, help, name, name, v);
}

void httpMetrics_Render(const httpMetrics *m, int bus_pending, int bus_up, busBuf *out)
{
    busBuf_Puts(out, "# HELP ibb_http_requests_total HTTP requests by route and status.\n"
                      "# TYPE ibb_http_requests_total counter\n");
    for (int r = 0; r < m->nroutes; r++)
        for (int s = 0; s < HTTP_METRICS_NSTATUS; s++)
            if (m->requests[r][s]) {
                busBuf_Puts(out, "ibb_http_requests_total{route=");
                busJson_String(out, m->route_names[r], strlen(m->route_names[r]));
                if (STATUSES[s])
                    busBuf_Printf(out, ",status=\"%d\"} %" PRIu64 "\n", STATUSES[s], m->requests[r][s]);
                else
                    busBuf_Printf(out, ",status=\"other\"} %" PRIu64 "\n", m->requests[r][s]);
            }
    render_hist(&m->latency, "ibb_http_request_duration_seconds", "HTTP request latency.", out);
    render_hist(&m->bus_rtt, "ibb_http_bus_rtt_seconds", "NATS request round-trip time.", out);
    counter(out, "ibb_http_bus_timeouts_total", "Bus requests past their deadline.", m->bus_timeouts);
    counter(out, "ibb_http_bus_no_responders_total", "Bus requests nobody answered.", m->bus_no_responders);
    counter(out, "ibb_http_bus_errors_total", "Bus error replies.", m->bus_errors);
    gauge(out, "ibb_http_bus_pending", "Bus requests in flight.", bus_pending);
    gauge(out, "ibb_http_bus_up", "1 when connected to NATS.", bus_up);
    gauge(out, "ibb_http_ws_clients", "Open WebSocket clients.", m->ws_clients);
    gauge(out, "ibb_http_ws_symbols", "Symbols with a bus subscription and a lease.", m->ws_topics);
    counter(out, "ibb_http_ws_quotes_received_total", "Quote events received from the bus.", m->ws_quotes_in);
    counter(out, "ibb_http_ws_messages_sent_total", "WebSocket messages sent.", m->ws_messages_sent);
    counter(out, "ibb_http_ws_quotes_conflated_total",
            "Quotes replaced by a newer one before a slow client could take them.", m->ws_quotes_conflated);
}

int64_t http_nowUs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
