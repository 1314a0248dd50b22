/* test_hooks.h — crash-test hooks, compiled only into ib-bridge-testhooks (IBB_TEST_HOOKS), never into
 * the ib-bridge binary users run. */
#ifndef APP_TEST_HOOKS_H
#define APP_TEST_HOOKS_H

/* The brOptions.test_hook for IBB_TEST_ORDER_KILL=<point> (before_send | after_send | after_ack):
 * the process SIGKILLs itself at that point of the first placement that reaches it; NULL when the
 * variable is unset. */
void (*appTest_OrderHook(void))(const char *point, const char *client_order_id);

#endif
