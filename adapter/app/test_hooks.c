/* test_hooks.c — crash-test hooks for ib-bridge-testhooks; see test_hooks.h. */
#include "test_hooks.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ibb_log.h"

static const char *kill_point;

/* "after_send": the order was handed to the IB session, whose pacer writes it on this loop turn or
 * the next; the kill waits a little so the bytes are on the socket when the process dies. */
static void *kill_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    raise(SIGKILL);
    return NULL;
}

static void order_hook(const char *point, const char *client_order_id)
{
    if (!kill_point || strcmp(point, kill_point) != 0)
        return;
    IBB_WARN("order.test_kill", "client_order_id=%s hook=%s", client_order_id, point);
    pthread_t t;
    if (strcmp(point, "after_send") == 0 && pthread_create(&t, NULL, kill_later, NULL) == 0)
        return;
    raise(SIGKILL);
}

void (*appTest_OrderHook(void))(const char *point, const char *client_order_id)
{
    const char *v = getenv("IBB_TEST_ORDER_KILL");
    if (!v || !*v)
        return NULL;
    kill_point = v;
    IBB_WARN("orders.test_hook", "IBB_TEST_ORDER_KILL=%s is set: this process will kill itself (tests only)", v);
    return order_hook;
}
