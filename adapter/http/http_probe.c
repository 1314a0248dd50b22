/* http_probe.c — `ib-bridge-http --probe`: one ib.rpc.status request with the gateway's NATS options,
 * for container health checks (the ib-bridge image has no nats CLI). Exit 0 when ib-bridge answered
 * with a status reply, 1 when nothing answered or it answered an error. Prints the reply on stdout.
 * Runs the bus on the calling thread: Dispatch/Tick are polled until the one callback has run. */
#include "http_probe.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_bus.h"

typedef struct probeResult {
    int done, ok;
} probeResult;

static void on_status(void *arg, const httpBusReply *rep)
{
    probeResult *res = arg;
    res->done = 1;
    if (rep->status != IBB_OK) {
        fprintf(stderr, "probe: %s\n", rep->status == IBB_ERR_TIMEOUT ? "ib-bridge did not answer in time"
                                                                         : "no ib-bridge answers on the bus");
        return;
    }
    res->ok = !rep->err_code && rep->len > 0 && rep->data[0] == '{' && !strstr(rep->data, "\"error\":");
    fwrite(rep->data, 1, rep->len, stdout);
    fputc('\n', stdout);
}

static void no_wake(void *arg)
{
    (void)arg;
}

int httpProbe_Run(const httpConfig *cfg)
{
    httpBus *bus = NULL;
    /* The first attempt is over either way: a health check does not wait for retries. A refused login can
     * close the connection for good before the inbox is subscribed (then Create fails), or just after. */
    if (httpBus_Create(&bus, cfg, NULL, no_wake, NULL) != IBB_OK || !httpBus_Connected(bus)) {
        fprintf(stderr, "probe: not connected to NATS at %s (unreachable, or it refused the credentials)\n",
                cfg->nats_url);
        httpBus_Destroy(bus);
        return 1;
    }
    probeResult res = {0, 0};
    char subject[160];
    snprintf(subject, sizeof subject, "%s.rpc.status", cfg->nats.subject_prefix);
    uint64_t h = 0;
    if (httpBus_Request(bus, subject, "{}", 2, cfg->request_timeout_ms, on_status, &res, &h) != IBB_OK) {
        fprintf(stderr, "probe: request on %s failed\n", subject);
        httpBus_Destroy(bus);
        return 1;
    }
    const struct timespec pause = {0, 5 * 1000 * 1000};
    while (!res.done) {
        nanosleep(&pause, NULL);
        httpBus_Dispatch(bus);
        httpBus_Tick(bus);
    }
    httpBus_Destroy(bus);
    return res.ok ? 0 : 1;
}
