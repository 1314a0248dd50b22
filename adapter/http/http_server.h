/* http_server.h — runs ib-bridge-http: connects to NATS, listens, serves until SIGINT/SIGTERM, then
 * stops taking work, closes WebSockets (1001), gives leases back and returns. The config is borrowed
 * for the whole call. */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include "http_config.h"
#include "ibb_status.h"

ibbStatus httpServer_Run(const httpConfig *cfg);

#endif
