/* ibb_nats_config.h — the NATS connection options both binaries read, with the same keys and variables,
 * and their one validation (URLs, user/password/token, .creds vs NKey, the NKey pair, subject prefix).
 *
 * A binary embeds an ibbNatsConfig in its config struct and lists IBB_NATS_ROWS as a section at that
 * struct's offset (ibb_config.h); its own cross-check calls ibbNatsConfig_Check. Deprecated spellings
 * (ib-bridge's nats.urls, ib-bridge-http's nats.prefix / IBB_PREFIX) are alias rows here too. Strings
 * and lists are owned by the config (ibbConfig_Free). */
#ifndef IBB_NATS_CONFIG_H
#define IBB_NATS_CONFIG_H

#include "ibb_config.h"

typedef struct ibbNatsConfig {
    ibbStrList url;          /* nats.url / NATS_URL: server URLs (env: comma-separated) */
    char *user;
    char *password;          /* secret */
    char *token;             /* secret */
    char *creds;             /* path of a .creds file (secret file) */
    char *nkey;              /* NKey user public key "U..." (with nkey_seed) */
    char *nkey_seed;         /* path of the file holding that key's seed "SU..." (secret file) */
    char *tls_ca;            /* CA bundle of the server's certificate */
    char *tls_cert, *tls_key;/* client certificate and key (mutual TLS) */
    char *subject_prefix;    /* "ib", "ib.paper", ... */
} ibbNatsConfig;

#define IBB_NATS_NROWS 13
extern const ibbOptDef IBB_NATS_ROWS[IBB_NATS_NROWS];

/* Cross-checks of the NATS options; each problem is one error naming the key. */
void ibbNatsConfig_Check(const ibbNatsConfig *n, ibbConfigErr *e);

#endif
