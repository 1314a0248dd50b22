/* http_probe.h — `ib-bridge-http --probe`: is ib-bridge answering ib.rpc.status on the bus? (health
 * checks). Returns the process exit code: 0 answered, 1 not. The config is borrowed for the call. */
#ifndef HTTP_PROBE_H
#define HTTP_PROBE_H

#include "http_config.h"

int httpProbe_Run(const httpConfig *cfg);

#endif
