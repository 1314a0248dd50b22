/* ibb_config.h — the configuration engine both binaries use: declarative option rows drive the
 * libconfig file, environment overrides, validation (type, range, choices, non-empty, readable path),
 * deprecated aliases, --help and --check-config printing with secrets masked.
 *
 * A binary describes its configuration as sections of rows (ibbConfigSection): its own rows at
 * offset 0 of its config struct, plus shared row sets (the NATS rows of ibb_nats_config.h) at the
 * offset of the struct they fill. A row is one line of a table; adding an option is adding a row.
 *
 * Precedence: built-in default < file < environment variable; within one source a deprecated alias
 * is read first, so the current name wins. An empty variable counts as unset. Keys the rows do not
 * know are refused (a typo must not fall back to a default silently).
 *
 * Ownership: the config struct is the caller's; ibbConfig_Load fills it (strings and lists are heap
 * copies) and ibbConfig_Free releases them. Start-up only, not thread-safe. */
#ifndef IBB_CONFIG_H
#define IBB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ibb_status.h"

typedef struct ibbStrList {
    char **items;
    size_t n;
} ibbStrList;

/* The items joined by `sep` (heap; "" for an empty list), or NULL when out of memory. */
char *ibbStrList_Join(const ibbStrList *l, const char *sep);
/* True when `tok` (n bytes) is an item; the comparison takes the same time for every item. */
bool ibbStrList_HasSecret(const ibbStrList *l, const char *tok, size_t n);

typedef enum ibbOptType {
    IBB_OPT_STR,    /* char * */
    IBB_OPT_INT,    /* int64_t, range min..max */
    IBB_OPT_DOUBLE, /* double, range min..max */
    IBB_OPT_BOOL,   /* bool: true/false (file), 1/0/true/false/yes/no/on/off (text) */
    IBB_OPT_ENUM,   /* char *, one of `choices` "a|b|c" */
    IBB_OPT_LIST,   /* ibbStrList: a list of strings (file) or comma-separated (text); at most `max` items */
} ibbOptType;

enum {
    IBB_OPT_SECRET = 1u,       /* masked by ibbConfig_Print */
    IBB_OPT_PATH = 2u,         /* when set, must name a readable file */
    IBB_OPT_NONEMPTY = 4u,     /* strings: must not be empty; lists: at least one item */
    IBB_OPT_TOKENS = 8u,       /* list items are instrument keys: no '.', space, '*', '>' */
    IBB_OPT_SECRET_FILE = 16u, /* the file named holds a secret: warned about when group/others can read it */
    IBB_OPT_RAW_ITEMS = 32u,   /* list items may hold spaces (bearer tokens, origins) */
};

typedef struct ibbOptDef {
    const char *name;    /* libconfig path, e.g. "ib.pacing.rate" */
    ibbOptType type;
    const char *def;     /* default as text ("" = empty string / empty list) */
    double min, max;     /* INT, DOUBLE: value range; LIST: most items in `max` */
    const char *env;     /* environment override, or NULL */
    size_t off;          /* offset of the value in its section's struct */
    unsigned flags;      /* IBB_OPT_* */
    const char *choices; /* ENUM: "a|b|c" */
    const char *help;
    const char *alias_of; /* set on a deprecated spelling: the current name (same off and type); the
                             alias is read before it, warned about once (config.deprecated), and neither
                             printed nor listed as an option of its own */
} ibbOptDef;

typedef struct ibbConfigSection {
    const ibbOptDef *rows;
    size_t nrows;
    size_t base;         /* offset of the rows' struct in the config struct */
} ibbConfigSection;

enum { IBB_SRC_DEFAULT = 0, IBB_SRC_FILE, IBB_SRC_ENV };
#define IBB_CONFIG_MAX_OPTS 96

/* Errors collected while loading: one line per problem, each naming the key. */
typedef struct ibbConfigErr ibbConfigErr;
void ibbConfigErr_Add(ibbConfigErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct ibbConfigSpec {
    const char *program;                 /* "ib-bridge": named in "see ... --help" */
    const ibbConfigSection *sections;
    size_t nsections;
    /* Cross-checks after every value is valid (may be NULL). */
    void (*check)(const void *cfg, ibbConfigErr *e);
} ibbConfigSpec;

/* Defaults, then `path` (may be NULL), then the environment, then the cross-checks (spec->check).
 * `cfg` must be zeroed by the caller; `source` (IBB_CONFIG_MAX_OPTS entries) records IBB_SRC_* per
 * row for ibbConfig_Print. On failure returns IBB_ERR_CONFIG (or IBB_ERR_NOMEM) with one line per
 * problem in err. cfg is always safe to ibbConfig_Free. Warns (config.secret_readable) about secrets
 * in a file others can read and secret files others can read. */
ibbStatus ibbConfig_Load(const ibbConfigSpec *spec, void *cfg, unsigned char *source, const char *path,
                         char *err, size_t errlen);
void ibbConfig_Free(const ibbConfigSpec *spec, void *cfg);
/* The effective configuration in libconfig syntax, secrets masked, where each value came from as a
 * comment. */
void ibbConfig_Print(const ibbConfigSpec *spec, const void *cfg, const unsigned char *source, FILE *out);
/* One entry per option: name, default, type, range or choices, variable, help; then the aliases. */
void ibbConfig_PrintHelp(const ibbConfigSpec *spec, FILE *out);

#endif
