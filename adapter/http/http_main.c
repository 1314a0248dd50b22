/* http_main.c — `ib-bridge-http [--config FILE]`: the HTTP + WebSocket gateway. Links no IB code. */
#include <stdio.h>
#include <string.h>

#include "http_config.h"
#include "http_probe.h"
#include "http_server.h"
#include "ibb_log.h"

#ifndef IBB_VERSION
#define IBB_VERSION "0"
#endif

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: ib-bridge-http [--config FILE] [--probe] [--check-config] [--help] [--version]\n"
        "HTTP REST + WebSocket gateway for ib-bridge; talks only to NATS.\n"
        "--probe: ask ib-bridge for ib.rpc.status with these NATS options; exit 0 when it answers (health "
        "checks).\n"
        "--check-config: print the effective configuration (secrets masked) and exit.\n"
        "Every option can be set in FILE (libconfig syntax) and overridden by its environment variable.\n");
    httpConfig_PrintHelp(out);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int probe = 0, check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("ib-bridge-http %s\n", IBB_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--probe") == 0) {
            probe = 1;
            continue;
        }
        if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
            continue;
        }
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            file = argv[++i];
            continue;
        }
        fprintf(stderr, "ib-bridge-http: unknown argument \"%s\"\n", argv[i]);
        usage(stderr);
        return 2;
    }
    httpConfig cfg;
    if (httpConfig_Load(&cfg, file, stderr) != IBB_OK) {
        httpConfig_Free(&cfg);
        return 2;
    }
    if (check) {
        httpConfig_Print(&cfg, stdout);
        httpConfig_Free(&cfg);
        return 0;
    }
    int lvl = ibbLog_ParseLevel(cfg.log_level);
    if (lvl < 0) {
        fprintf(stderr, "config: log.level \"%s\" is not one of debug, info, warn, error, off\n",
                cfg.log_level);
        httpConfig_Free(&cfg);
        return 2;
    }
    ibbLog_SetLevel((ibbLogLevel)lvl);
    if (probe) {
        ibbLog_SetLevel(IBB_LOG_ERROR);
        int rc = httpProbe_Run(&cfg);
        httpConfig_Free(&cfg);
        return rc;
    }
    ibbStatus st = httpServer_Run(&cfg);
    httpConfig_Free(&cfg);
    return st == IBB_OK ? 0 : st == IBB_ERR_CONFIG ? 2 : 1;
}
