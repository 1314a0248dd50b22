/* ibb_nats_config.c — the NATS rows and checks both binaries share; see ibb_nats_config.h. */
#include "ibb_nats_config.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define N(field) offsetof(ibbNatsConfig, field)

const ibbOptDef IBB_NATS_ROWS[IBB_NATS_NROWS] = {
    {"nats.url", IBB_OPT_LIST, "nats://127.0.0.1:4222", 0, 64, "NATS_URL", N(url), IBB_OPT_NONEMPTY, NULL,
     "NATS server URLs (env: comma-separated)", NULL},
    {"nats.urls", IBB_OPT_LIST, "", 0, 64, NULL, N(url), IBB_OPT_NONEMPTY, NULL, "", "nats.url"},
    {"nats.user", IBB_OPT_STR, "", 0, 0, "NATS_USER", N(user), 0, NULL, "NATS user name", NULL},
    {"nats.password", IBB_OPT_STR, "", 0, 0, "NATS_PASSWORD", N(password), IBB_OPT_SECRET, NULL,
     "NATS password (needs nats.user)", NULL},
    {"nats.token", IBB_OPT_STR, "", 0, 0, "NATS_TOKEN", N(token), IBB_OPT_SECRET, NULL, "NATS auth token", NULL},
    {"nats.creds", IBB_OPT_STR, "", 0, 0, "NATS_CREDS", N(creds), IBB_OPT_PATH | IBB_OPT_SECRET_FILE, NULL,
     "path to a NATS .creds file (exclusive with nats.nkey)", NULL},
    {"nats.nkey", IBB_OPT_STR, "", 0, 0, "NATS_NKEY", N(nkey), 0, NULL,
     "NKey user public key (\"U...\", 56 characters) of a NATS user; needs nats.nkey_seed", NULL},
    {"nats.nkey_seed", IBB_OPT_STR, "", 0, 0, "NATS_NKEY_SEED", N(nkey_seed), IBB_OPT_PATH | IBB_OPT_SECRET_FILE,
     NULL, "path to the file holding that NKey's seed (\"SU...\"; keep it mode 600); needs nats.nkey", NULL},
    {"nats.tls_ca", IBB_OPT_STR, "", 0, 0, "NATS_TLS_CA", N(tls_ca), IBB_OPT_PATH, NULL,
     "path to the CA bundle that signed the NATS server certificate", NULL},
    {"nats.tls_cert", IBB_OPT_STR, "", 0, 0, "NATS_TLS_CERT", N(tls_cert), IBB_OPT_PATH, NULL,
     "client certificate for mutual TLS (with nats.tls_key)", NULL},
    {"nats.tls_key", IBB_OPT_STR, "", 0, 0, "NATS_TLS_KEY", N(tls_key), IBB_OPT_PATH | IBB_OPT_SECRET_FILE, NULL,
     "client key for mutual TLS (with nats.tls_cert)", NULL},
    {"nats.subject_prefix", IBB_OPT_STR, "ib", 0, 0, "IBB_SUBJECT_PREFIX", N(subject_prefix), IBB_OPT_NONEMPTY,
     NULL, "first subject tokens, e.g. \"ib\" or \"ib.paper\"", NULL},
    {"nats.prefix", IBB_OPT_STR, "", 0, 0, "IBB_PREFIX", N(subject_prefix), IBB_OPT_NONEMPTY, NULL, "",
     "nats.subject_prefix"},
};
_Static_assert(sizeof IBB_NATS_ROWS / sizeof IBB_NATS_ROWS[0] == IBB_NATS_NROWS, "IBB_NATS_NROWS");

static void check_prefix(const ibbNatsConfig *c, ibbConfigErr *e)
{
    const char *p = c->subject_prefix;
    bool ok = *p && p[0] != '.' && p[strlen(p) - 1] != '.' && !strstr(p, "..");
    for (const char *q = p; ok && *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == '*' || *q == '>' || *q == 0x7f)
            ok = false;
    if (!ok)
        ibbConfigErr_Add(e,
                "nats.subject_prefix: \"%s\" is not a valid subject prefix (dot-separated tokens without "
                "spaces, '*' or '>')",
                p);
}

/* NKey text uses base32 (RFC 4648 alphabet, upper case, no padding). */
static bool is_b32(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7'); }

/* A user public key: "U" and 55 more base32 characters. */
static bool is_user_pubkey(const char *k)
{
    size_t n = strlen(k);
    bool ok = n == 56 && k[0] == 'U';
    for (size_t i = 0; ok && i < n; i++)
        ok = is_b32(k[i]);
    return ok;
}

/* True when the file holds a user seed: "SU" and 56 more base32 characters, standing alone (the
 * `nk -gen user` form, or the seed block of a .creds-style file). The seed is wiped after use. */
static bool file_has_user_seed(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    bool found = false;
    for (size_t i = 0; !found && i + 58 <= n; i++) {
        if (buf[i] != 'S' || buf[i + 1] != 'U' || (i > 0 && is_b32(buf[i - 1])))
            continue;
        size_t k = 2;
        while (k < 58 && is_b32(buf[i + k]))
            k++;
        found = k == 58 && !is_b32(buf[i + 58]);
    }
    explicit_bzero(buf, sizeof buf);
    return found;
}

/* NKey login: the public key (nats.nkey) and the file with its seed (nats.nkey_seed) go together, and
 * exclude a .creds file (which carries its own seed). Values are never echoed: a seed pasted into the
 * wrong key must not reach a log. */
static void check_nkey(const ibbNatsConfig *c, ibbConfigErr *e)
{
    bool pub = *c->nkey, seed = *c->nkey_seed;
    if (pub && !seed)
        ibbConfigErr_Add(e, "nats.nkey: set without nats.nkey_seed; an NKey login needs both nats.nkey (the user's "
                   "public key \"U...\") and nats.nkey_seed (the path of the file holding its seed)");
    if (seed && !pub)
        ibbConfigErr_Add(e, "nats.nkey_seed: set without nats.nkey; an NKey login needs both nats.nkey (the user's "
                   "public key \"U...\") and nats.nkey_seed (the path of the file holding its seed)");
    if (pub && !is_user_pubkey(c->nkey))
        ibbConfigErr_Add(e, "nats.nkey: not an NKey user public key (56 characters starting with \"U\")%s",
                c->nkey[0] == 'S' ? "; it looks like a seed: put the seed in a file (mode 600) named "
                                         "by nats.nkey_seed, never in nats.nkey"
                : strchr(c->nkey, '/') ? "; it looks like a path: the seed file's path goes in "
                                              "nats.nkey_seed, the public key in nats.nkey"
                                            : "");
    if (seed && access(c->nkey_seed, R_OK) == 0 && !file_has_user_seed(c->nkey_seed))
        ibbConfigErr_Add(e,
                "nats.nkey_seed: \"%s\" holds no NKey user seed (a line of 58 characters starting with "
                "\"SU\", as `nk -gen user` writes it)",
                c->nkey_seed);
    if (*c->creds && (pub || seed))
        ibbConfigErr_Add(e, "nats.creds: use either nats.creds or nats.nkey/nats.nkey_seed, not both");
}

void ibbNatsConfig_Check(const ibbNatsConfig *c, ibbConfigErr *e)
{
    check_prefix(c, e);
    for (size_t i = 0; i < c->url.n; i++)
        if (!strstr(c->url.items[i], "://"))
            ibbConfigErr_Add(e, "nats.url: \"%s\" is not a URL (expected nats://host:port or tls://host:port)",
                             c->url.items[i]);
    if (*c->password && !*c->user)
        ibbConfigErr_Add(e, "nats.password: set without nats.user");
    if (*c->token && *c->user)
        ibbConfigErr_Add(e, "nats.token: use either nats.token or nats.user/nats.password, not both");
    if (!*c->tls_cert != !*c->tls_key)
        ibbConfigErr_Add(e, "%s: set without %s; mutual TLS needs both nats.tls_cert and nats.tls_key",
                         *c->tls_cert ? "nats.tls_cert" : "nats.tls_key", *c->tls_cert ? "nats.tls_key" : "nats.tls_cert");
    check_nkey(c, e);
}
