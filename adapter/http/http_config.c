/* http_config.c — the option table and its three sources (defaults, libconfig file, env). The NATS option
 * names are ib-bridge's (nats.nkey, nats.nkey_seed, nats.subject_prefix and their variables); nats.prefix /
 * IBB_PREFIX remain as a deprecated alias. */
#include "http_config.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ibb_log.h"

typedef enum { OPT_STR, OPT_INT, OPT_LIST, OPT_BOOL } optType;

typedef struct optDef {
    const char *path;      /* libconfig path */
    const char *env;       /* environment override */
    optType type;
    size_t off;            /* offset in httpConfig */
    const char *def;       /* default as text ("" for none) */
    int min, max;          /* OPT_INT range */
    const char *help;
} optDef;

/* A deprecated spelling of an option: read before the current name in each source (file, environment),
 * so within one source the current name wins. */
typedef struct aliasDef {
    optDef opt;
    const char *use_key, *use_env;
} aliasDef;

#define OFF(f) offsetof(httpConfig, f)

static const optDef OPTS[] = {
    {"nats.url", "NATS_URL", OPT_STR, OFF(nats_url), "nats://127.0.0.1:4222", 0, 0,
     "NATS server URL(s), comma-separated"},
    {"nats.user", "NATS_USER", OPT_STR, OFF(nats_user), "", 0, 0, "NATS user name"},
    {"nats.password", "NATS_PASSWORD", OPT_STR, OFF(nats_password), "", 0, 0, "NATS password"},
    {"nats.token", "NATS_TOKEN", OPT_STR, OFF(nats_token), "", 0, 0, "NATS auth token"},
    {"nats.creds", "NATS_CREDS", OPT_STR, OFF(nats_creds), "", 0, 0, "NATS .creds file (JWT + seed)"},
    {"nats.nkey", "NATS_NKEY", OPT_STR, OFF(nats_nkey), "", 0, 0, "NKey user public key U... (+ nkey_seed)"},
    {"nats.nkey_seed", "NATS_NKEY_SEED", OPT_STR, OFF(nats_nkey_seed), "", 0, 0,
     "file holding the NKey seed SU... (mode 600; with nkey)"},
    {"nats.tls_ca", "NATS_TLS_CA", OPT_STR, OFF(nats_tls_ca), "", 0, 0, "CA bundle to verify the server"},
    {"nats.tls_cert", "NATS_TLS_CERT", OPT_STR, OFF(nats_tls_cert), "", 0, 0, "client certificate"},
    {"nats.tls_key", "NATS_TLS_KEY", OPT_STR, OFF(nats_tls_key), "", 0, 0, "client key"},
    {"nats.name", "NATS_NAME", OPT_STR, OFF(nats_name), "ib-bridge-http", 0, 0, "connection name"},
    {"nats.subject_prefix", "IBB_SUBJECT_PREFIX", OPT_STR, OFF(prefix), "ib", 0, 0,
     "subject prefix (ib, ib.paper, ...)"},
    {"nats.request_timeout_ms", "HTTP_REQUEST_TIMEOUT_MS", OPT_INT, OFF(request_timeout_ms), "6000", 10,
     600000, "deadline of each bus request (then 504); keep it above ib-bridge's own"},
    {"http.listen", "HTTP_LISTEN", OPT_STR, OFF(listen), "127.0.0.1", 0, 0,
     "interface or address to bind (empty = all; not loopback needs tokens or allow_anonymous)"},
    {"http.port", "HTTP_PORT", OPT_INT, OFF(port), "8080", 0, 65535, "TCP port (0 = any free port)"},
    {"http.body_limit", "HTTP_BODY_LIMIT", OPT_INT, OFF(body_limit), "65536", 16, 16 << 20,
     "largest request body (else 413)"},
    {"http.max_header", "HTTP_MAX_HEADER", OPT_INT, OFF(max_header), "4096", 1024, 65535,
     "largest request header block"},
    {"auth.read_tokens", "HTTP_READ_TOKENS", OPT_LIST, OFF(read_tokens), "", 0, 0,
     "bearer tokens for read routes (empty with trade_tokens empty = no auth)"},
    {"auth.trade_tokens", "HTTP_TRADE_TOKENS", OPT_LIST, OFF(trade_tokens), "", 0, 0,
     "bearer tokens for read and order routes (needed for orders when ib-bridge trades live)"},
    {"auth.allow_anonymous", "HTTP_ALLOW_ANONYMOUS", OPT_BOOL, OFF(allow_anonymous), "false", 0, 0,
     "allow a non-loopback http.listen without tokens (anyone reaching it may trade paper)"},
    {"cors.allow_origins", "HTTP_CORS_ORIGINS", OPT_LIST, OFF(cors_origins), "", 0, 0,
     "allowed browser origins (\"*\" = any)"},
    {"ws.max_symbols", "HTTP_WS_MAX_SYMBOLS", OPT_INT, OFF(ws_max_symbols), "100", 1, 10000,
     "symbols one WebSocket client may follow"},
    {"ws.max_clients", "HTTP_WS_MAX_CLIENTS", OPT_INT, OFF(ws_max_clients), "10000", 1, 1000000,
     "WebSocket clients at once (more are closed with 1013)"},
    {"ws.ping_s", "HTTP_WS_PING_S", OPT_INT, OFF(ws_ping_s), "20", 1, 3600, "ping an idle client after"},
    {"ws.idle_s", "HTTP_WS_IDLE_S", OPT_INT, OFF(ws_idle_s), "60", 2, 7200, "hang up without a pong after"},
    {"ws.lease_ttl_s", "HTTP_WS_LEASE_TTL_S", OPT_INT, OFF(ws_lease_ttl_s), "60", 2, 86400,
     "ttl of each symbol's stream lease (renewed at half)"},
    {"ws.max_message", "HTTP_WS_MAX_MESSAGE", OPT_INT, OFF(ws_max_message), "4096", 64, 1 << 20,
     "largest client WebSocket message (else close 1009)"},
    {"log.level", "LOG_LEVEL", OPT_STR, OFF(log_level), "info", 0, 0, "debug, info, warn, error, off"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static const aliasDef ALIASES[] = {
    {{"nats.prefix", "IBB_PREFIX", OPT_STR, OFF(prefix), "", 0, 0, "deprecated"}, "nats.subject_prefix",
     "IBB_SUBJECT_PREFIX"},
};
#define NALIASES (sizeof ALIASES / sizeof ALIASES[0])

static void list_free(httpStrList *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int list_push(httpStrList *l, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (!n)
        return 0;
    char **v = realloc(l->v, sizeof *v * (size_t)(l->n + 1));
    if (!v)
        return -1;
    l->v = v;
    if (!(v[l->n] = strndup(s, n)))
        return -1;
    l->n++;
    return 0;
}

static int list_from_csv(httpStrList *l, const char *csv)
{
    list_free(l);
    for (const char *p = csv; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (list_push(l, p, n) != 0)
            return -1;
        p += n + (c ? 1 : 0);
    }
    return 0;
}

static ibbStatus set_text(httpConfig *cfg, const optDef *o, const char *val, const char *src, FILE *err)
{
    void *field = (char *)cfg + o->off;
    if (o->type == OPT_STR) {
        char *d = strdup(val);
        if (!d)
            return IBB_ERR_NOMEM;
        free(*(char **)field);
        *(char **)field = d;
        return IBB_OK;
    }
    if (o->type == OPT_LIST)
        return list_from_csv(field, val) == 0 ? IBB_OK : IBB_ERR_NOMEM;
    if (o->type == OPT_BOOL) {
        int t = !strcasecmp(val, "true") || !strcmp(val, "1") || !strcasecmp(val, "yes");
        int f = !strcasecmp(val, "false") || !strcmp(val, "0") || !strcasecmp(val, "no");
        if (!t && !f) {
            fprintf(err, "config: %s (%s) = \"%s\": expected true or false\n", o->path, src, val);
            return IBB_ERR_CONFIG;
        }
        *(int *)field = t;
        return IBB_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < o->min || v > o->max) {
        fprintf(err, "config: %s (%s) = \"%s\": expected an integer in %d..%d\n", o->path, src, val,
                o->min, o->max);
        return IBB_ERR_CONFIG;
    }
    *(int *)field = (int)v;
    return IBB_OK;
}

static ibbStatus set_from_file(httpConfig *cfg, const optDef *o, config_setting_t *s, FILE *err)
{
    int t = config_setting_type(s);
    char num[32];
    if (o->type == OPT_LIST && (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST)) {
        httpStrList *l = (httpStrList *)((char *)cfg + o->off);
        list_free(l);
        for (int i = 0; i < config_setting_length(s); i++) {
            const char *v = config_setting_get_string_elem(s, i);
            if (!v) {
                fprintf(err, "config: %s[%d] must be a string\n", o->path, i);
                return IBB_ERR_CONFIG;
            }
            if (list_push(l, v, strlen(v)) != 0)
                return IBB_ERR_NOMEM;
        }
        return IBB_OK;
    }
    if (t == CONFIG_TYPE_STRING)
        return set_text(cfg, o, config_setting_get_string(s), "file", err);
    if (o->type == OPT_BOOL && t == CONFIG_TYPE_BOOL)
        return set_text(cfg, o, config_setting_get_bool(s) ? "true" : "false", "file", err);
    if (o->type == OPT_INT && (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)) {
        snprintf(num, sizeof num, "%lld", config_setting_get_int64(s));
        return set_text(cfg, o, num, "file", err);
    }
    fprintf(err, "config: %s has the wrong type (want %s)\n", o->path,
            o->type == OPT_INT    ? "integer"
            : o->type == OPT_LIST ? "list of strings"
            : o->type == OPT_BOOL ? "true or false"
                                  : "string");
    return IBB_ERR_CONFIG;
}

/* Users may still have nats.prefix / IBB_PREFIX in compose files: they keep working, with one warning
 * per process that names the current spelling. */
static void warn_deprecated(const aliasDef *a, const char *where)
{
    static int warned;
    if (warned++)
        return;
    IBB_WARN("config.deprecated", "key=%s env=%s from=%s use_key=%s use_env=%s", a->opt.path, a->opt.env,
             where, a->use_key, a->use_env);
}

/* A file holding a secret (NKey seed, .creds) that group or others can read gets a warning, as in
 * ib-bridge (never its content). */
static void warn_readable_secret_file(const char *key, const char *path)
{
    struct stat sb;
    if (path[0] && stat(path, &sb) == 0 && (sb.st_mode & (S_IRGRP | S_IROTH)))
        IBB_WARN("config.secret_readable", "path=%s key=%s mode=%03o hint=\"chmod 600 %s\"", path, key,
                 (unsigned)(sb.st_mode & 0777), path);
}

/* The NKey login needs the public key and the seed file together (bus_conn refuses one alone, with a
 * less specific message); secret files others can read get a warning. */
static ibbStatus check_nats_auth(const httpConfig *cfg, FILE *err)
{
    int pub = cfg->nats_nkey[0] != '\0', seed = cfg->nats_nkey_seed[0] != '\0';
    if (pub != seed) {
        fprintf(err,
                "config: %s is set without %s; an NKey login needs both nats.nkey (NATS_NKEY, the user's "
                "public key U...) and nats.nkey_seed (NATS_NKEY_SEED, the path of the file with its seed)\n",
                pub ? "nats.nkey" : "nats.nkey_seed", pub ? "nats.nkey_seed" : "nats.nkey");
        return IBB_ERR_CONFIG;
    }
    if (pub && (cfg->nats_nkey[0] != 'U' || strlen(cfg->nats_nkey) != 56)) {
        fprintf(err, "config: nats.nkey (NATS_NKEY) must be the user's public key (56 characters starting "
                     "with U); the seed file's path goes in nats.nkey_seed (NATS_NKEY_SEED)\n");
        return IBB_ERR_CONFIG;
    }
    if (seed && access(cfg->nats_nkey_seed, R_OK) != 0) {
        fprintf(err, "config: nats.nkey_seed (NATS_NKEY_SEED): cannot read \"%s\": %s\n", cfg->nats_nkey_seed,
                strerror(errno));
        return IBB_ERR_CONFIG;
    }
    warn_readable_secret_file("nats.nkey_seed", cfg->nats_nkey_seed);
    warn_readable_secret_file("nats.creds", cfg->nats_creds);
    return IBB_OK;
}

ibbStatus httpConfig_Load(httpConfig *cfg, const char *file, FILE *err)
{
    memset(cfg, 0, sizeof *cfg);
    ibbStatus st = IBB_OK;
    for (size_t i = 0; i < NOPTS && st == IBB_OK; i++)
        st = set_text(cfg, &OPTS[i], OPTS[i].def, "default", err);
    if (st != IBB_OK)
        return st;
    if (file) {
        config_t c;
        config_init(&c);
        if (!config_read_file(&c, file)) {
            fprintf(err, "config: %s:%d: %s\n", config_error_file(&c) ? config_error_file(&c) : file,
                    config_error_line(&c), config_error_text(&c));
            config_destroy(&c);
            return IBB_ERR_CONFIG;
        }
        for (size_t i = 0; i < NALIASES && st == IBB_OK; i++) {
            config_setting_t *s = config_lookup(&c, ALIASES[i].opt.path);
            if (s) {
                warn_deprecated(&ALIASES[i], file);
                st = set_from_file(cfg, &ALIASES[i].opt, s, err);
            }
        }
        for (size_t i = 0; i < NOPTS && st == IBB_OK; i++) {
            config_setting_t *s = config_lookup(&c, OPTS[i].path);
            if (s)
                st = set_from_file(cfg, &OPTS[i], s, err);
        }
        config_destroy(&c);
        if (st != IBB_OK)
            return st;
    }
    for (size_t i = 0; i < NALIASES && st == IBB_OK; i++) {
        const char *v = getenv(ALIASES[i].opt.env);
        if (v) {
            warn_deprecated(&ALIASES[i], "env");
            st = set_text(cfg, &ALIASES[i].opt, v, ALIASES[i].opt.env, err);
        }
    }
    for (size_t i = 0; i < NOPTS && st == IBB_OK; i++) {
        const char *v = getenv(OPTS[i].env);
        if (v)
            st = set_text(cfg, &OPTS[i], v, OPTS[i].env, err);
    }
    if (st == IBB_OK && !cfg->prefix[0]) {
        fprintf(err, "config: nats.subject_prefix (IBB_SUBJECT_PREFIX) must not be empty\n");
        st = IBB_ERR_CONFIG;
    }
    if (st == IBB_OK)
        st = check_nats_auth(cfg, err);
    return st;
}

void httpConfig_Free(httpConfig *cfg)
{
    for (size_t i = 0; i < NOPTS; i++) {
        void *field = (char *)cfg + OPTS[i].off;
        if (OPTS[i].type == OPT_STR) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (OPTS[i].type == OPT_LIST) {
            list_free(field);
        }
    }
}

void httpConfig_PrintHelp(FILE *out)
{
    fprintf(out, "options (file path / environment variable / default):\n");
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(out, "  %-24s %-24s %-22s %s\n", OPTS[i].path, OPTS[i].env,
                OPTS[i].def[0] ? OPTS[i].def : "-", OPTS[i].help);
    for (size_t i = 0; i < NALIASES; i++)
        fprintf(out, "deprecated: %s / %s still work; use %s / %s\n", ALIASES[i].opt.path, ALIASES[i].opt.env,
                ALIASES[i].use_key, ALIASES[i].use_env);
    fprintf(out, "lists in the environment are comma-separated.\n");
}

int httpStrList_Has(const httpStrList *l, const char *tok, size_t n)
{
    int found = 0;
    for (int i = 0; i < l->n; i++) {
        const char *s = l->v[i];
        size_t sn = strlen(s);
        unsigned diff = (unsigned)(sn ^ n);
        for (size_t k = 0; k < n; k++)
            diff |= (unsigned char)tok[k] ^ (unsigned char)(k < sn ? s[k] : 0);
        found |= diff == 0;
    }
    return found;
}
