/* ibb_config.c — the configuration engine; see ibb_config.h. Knows no option by name: every
 * option is a row of the calling binary's tables. */
#include "ibb_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ibb_log.h"

/* ---------------------------------------------------------------------------------------------- */
/* errors                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

struct ibbConfigErr {
    char *buf;
    size_t cap, len;
    int count;
    bool nomem;
};

void ibbConfigErr_Add(ibbConfigErr *e, const char *fmt, ...)
{
    e->count++;
    if (!e->buf || e->cap == 0 || e->len + 1 >= e->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    e->len += (size_t)n < e->cap - e->len ? (size_t)n : e->cap - e->len - 1;
    if (e->len + 1 < e->cap) {
        e->buf[e->len++] = '\n';
        e->buf[e->len] = '\0';
    }
}

/* " (from env IB_PORT)" / " (from FILE:LINE)" / "" */
typedef struct srcInfo {
    int kind; /* IBB_SRC_* */
    const char *env;
    const char *file;
    int line;
} srcInfo;

static const char *src_text(const srcInfo *s, char *buf, size_t cap)
{
    if (s->kind == IBB_SRC_ENV)
        snprintf(buf, cap, " (from env %s)", s->env);
    else if (s->kind == IBB_SRC_FILE && s->file)
        snprintf(buf, cap, " (from %s:%d)", s->file, s->line);
    else
        buf[0] = '\0';
    return buf;
}

/* ---------------------------------------------------------------------------------------------- */
/* typed slots (cfg is the base of the row's section)                                             */
/* ---------------------------------------------------------------------------------------------- */

static void *slot(void *cfg, const ibbOptDef *o) { return (char *)cfg + o->off; }
static const void *cslot(const void *cfg, const ibbOptDef *o) { return (const char *)cfg + o->off; }

static void list_free(ibbStrList *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static bool list_push(ibbStrList *l, const char *s, size_t len)
{
    char **ni = realloc(l->items, (l->n + 1) * sizeof *ni);
    if (!ni)
        return false;
    l->items = ni;
    char *c = strndup(s, len);
    if (!c)
        return false;
    l->items[l->n++] = c;
    return true;
}

static bool set_str(char **dst, const char *s)
{
    char *c = strdup(s);
    if (!c)
        return false;
    free(*dst);
    *dst = c;
    return true;
}

char *ibbStrList_Join(const ibbStrList *l, const char *sep)
{
    size_t n = 1, sl = strlen(sep);
    for (size_t i = 0; i < l->n; i++)
        n += strlen(l->items[i]) + sl;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (i) {
            memcpy(p, sep, sl);
            p += sl;
        }
        size_t k = strlen(l->items[i]);
        memcpy(p, l->items[i], k);
        p += k;
    }
    *p = '\0';
    return s;
}

bool ibbStrList_HasSecret(const ibbStrList *l, const char *tok, size_t n)
{
    int found = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *s = l->items[i];
        size_t sn = strlen(s);
        unsigned diff = (unsigned)(sn ^ n);
        for (size_t k = 0; k < n; k++)
            diff |= (unsigned char)tok[k] ^ (unsigned char)(k < sn ? s[k] : 0);
        found |= diff == 0;
    }
    return found != 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* value checks shared by every source                                                            */
/* ---------------------------------------------------------------------------------------------- */

static bool in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        p += len + (bar ? 1 : 0);
    }
    return false;
}

static bool check_int(ibbConfigErr *e, const ibbOptDef *o, int64_t v, const srcInfo *si)
{
    char sb[300];
    if ((double)v < o->min || (double)v > o->max) {
        ibbConfigErr_Add(e, "%s: %" PRId64 " is out of range %.0f..%.0f%s", o->name, v, o->min, o->max,
                src_text(si, sb, sizeof sb));
        return false;
    }
    return true;
}

static bool check_double(ibbConfigErr *e, const ibbOptDef *o, double v, const srcInfo *si)
{
    char sb[300];
    if (!isfinite(v) || v < o->min || v > o->max) {
        ibbConfigErr_Add(e, "%s: %.15g is out of range %.15g..%.15g%s", o->name, v, o->min, o->max,
                src_text(si, sb, sizeof sb));
        return false;
    }
    return true;
}

static bool check_string(ibbConfigErr *e, const ibbOptDef *o, const char *v, const srcInfo *si)
{
    char sb[300];
    if (o->type == IBB_OPT_ENUM && !in_choices(o->choices, v)) {
        ibbConfigErr_Add(e, "%s: \"%s\" is not one of %s%s", o->name, v, o->choices, src_text(si, sb, sizeof sb));
        return false;
    }
    if ((o->flags & IBB_OPT_NONEMPTY) && !*v) {
        ibbConfigErr_Add(e, "%s: must not be empty%s", o->name, src_text(si, sb, sizeof sb));
        return false;
    }
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            ibbConfigErr_Add(e, "%s: contains a control character%s", o->name, src_text(si, sb, sizeof sb));
            return false;
        }
    return true;
}

static bool check_item(ibbConfigErr *e, const ibbOptDef *o, const char *v, const srcInfo *si)
{
    char sb[300];
    if (!*v) {
        ibbConfigErr_Add(e, "%s: empty list item%s", o->name, src_text(si, sb, sizeof sb));
        return false;
    }
    for (const char *p = v; *p; p++) {
        bool bad = (unsigned char)*p < 0x20 || *p == 0x7f || (*p == ' ' && !(o->flags & IBB_OPT_RAW_ITEMS));
        if (o->flags & IBB_OPT_TOKENS)
            bad = bad || *p == '.' || *p == '*' || *p == '>';
        if (bad) {
            ibbConfigErr_Add(e, "%s: item \"%s\" has a character not allowed here (%s)%s", o->name, v,
                    (o->flags & IBB_OPT_TOKENS) ? "no space, '.', '*' or '>' in an instrument key"
                                                : "no whitespace or control character",
                    src_text(si, sb, sizeof sb));
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* text values (defaults and environment)                                                         */
/* ---------------------------------------------------------------------------------------------- */

static bool parse_bool_text(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Sets option o from text. Returns false (with an error added) when the text is not valid. */
/* Checks a parsed list option (non-empty, item count) and stores it, or frees it; ok = the items
 * themselves were valid. One place for the file and the text (environment, default) paths. */
static bool commit_list(void *cfg, ibbConfigErr *e, const ibbOptDef *o, ibbStrList *l, const srcInfo *si, bool ok)
{
    char sb[300];
    if (ok && l->n == 0 && (o->flags & IBB_OPT_NONEMPTY)) {
        ibbConfigErr_Add(e, "%s: needs at least one item%s", o->name, src_text(si, sb, sizeof sb));
        ok = false;
    }
    if (ok && (double)l->n > o->max) {
        ibbConfigErr_Add(e, "%s: %zu items, at most %.0f allowed%s", o->name, l->n, o->max, src_text(si, sb, sizeof sb));
        ok = false;
    }
    if (!ok) {
        list_free(l);
        return false;
    }
    list_free((ibbStrList *)slot(cfg, o));
    *(ibbStrList *)slot(cfg, o) = *l;
    return true;
}

static bool set_from_text(void *cfg, ibbConfigErr *e, const ibbOptDef *o, const char *text, const srcInfo *si)
{
    char sb[300];
    switch (o->type) {
    case IBB_OPT_INT: {
        errno = 0;
        char *end;
        long long v = strtoll(text, &end, 10);
        if (end == text || *end != '\0' || errno == ERANGE) {
            ibbConfigErr_Add(e, "%s: \"%s\" is not an integer%s", o->name, text, src_text(si, sb, sizeof sb));
            return false;
        }
        if (!check_int(e, o, (int64_t)v, si))
            return false;
        *(int64_t *)slot(cfg, o) = (int64_t)v;
        return true;
    }
    case IBB_OPT_DOUBLE: {
        char *end;
        double v = strtod(text, &end);
        if (end == text || *end != '\0') {
            ibbConfigErr_Add(e, "%s: \"%s\" is not a number%s", o->name, text, src_text(si, sb, sizeof sb));
            return false;
        }
        if (!check_double(e, o, v, si))
            return false;
        *(double *)slot(cfg, o) = v;
        return true;
    }
    case IBB_OPT_BOOL: {
        bool v;
        if (!parse_bool_text(text, &v)) {
            ibbConfigErr_Add(e, "%s: \"%s\" is not a boolean (true/false)%s", o->name, text,
                    src_text(si, sb, sizeof sb));
            return false;
        }
        *(bool *)slot(cfg, o) = v;
        return true;
    }
    case IBB_OPT_STR:
    case IBB_OPT_ENUM:
        if (!check_string(e, o, text, si))
            return false;
        if (!set_str((char **)slot(cfg, o), text))
            e->nomem = true;
        return true;
    case IBB_OPT_LIST: {
        ibbStrList l = {0};
        for (const char *p = text; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            while (len && isspace((unsigned char)*p)) {
                p++;
                len--;
            }
            size_t tl = len;
            while (tl && isspace((unsigned char)p[tl - 1]))
                tl--;
            if (tl && !list_push(&l, p, tl))
                e->nomem = true;
            p += len + (comma ? 1 : 0);
        }
        bool ok = true;
        for (size_t i = 0; i < l.n && ok; i++)
            ok = check_item(e, o, l.items[i], si);
        return commit_list(cfg, e, o, &l, si, ok);
    }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------------- */
/* file values                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

/* libconfig 1.5 reads a decimal integer above INT_MAX without an L suffix as a wrapped 32-bit
 * value, silently. Re-read the literal on its source line: when none of the "leaf = <number>"
 * literals there equals what libconfig returned, report the literal's real value. */
static bool literal_mismatch(const char *file, int line, const char *leaf, int64_t got, char *lit,
                             size_t litcap)
{
    if (!file || line <= 0 || !leaf)
        return false;
    FILE *f = fopen(file, "r");
    if (!f)
        return false;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = 0;
    for (int i = 0; i < line && (n = getline(&buf, &cap, f)) >= 0; i++)
        ;
    fclose(f);
    bool mismatch = false, matched = false;
    size_t ll = strlen(leaf);
    for (char *p = n >= 0 ? buf : NULL; p && (p = strstr(p, leaf)) != NULL; p += ll) {
        bool word_start = p == buf || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-');
        char *q = p + ll;
        if (!word_start || isalnum((unsigned char)*q) || *q == '_' || *q == '-')
            continue;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=' && *q != ':')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        char *end;
        errno = 0;
        const char *digits = (*q == '-' || *q == '+') ? q + 1 : q;
        int base = (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) ? 16 : 10;
        long long v = strtoll(q, &end, base);
        if (end == q)
            continue;
        if (errno != ERANGE && (int64_t)v == got) {
            matched = true;
            break;
        }
        if (!mismatch) {
            size_t l = (size_t)(end - q) < litcap - 1 ? (size_t)(end - q) : litcap - 1;
            memcpy(lit, q, l);
            lit[l] = '\0';
            mismatch = true;
        }
    }
    free(buf);
    return mismatch && !matched;
}

static bool set_from_setting(void *cfg, ibbConfigErr *e, const ibbOptDef *o, config_setting_t *st,
                             const srcInfo *si)
{
    char sb[300];
    int t = config_setting_type(st);
    const char *leaf = config_setting_name(st);
    switch (o->type) {
    case IBB_OPT_INT:
    case IBB_OPT_DOUBLE:
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
            int64_t v = config_setting_get_int64(st);
            char lit[64];
            if (t == CONFIG_TYPE_INT && literal_mismatch(si->file, si->line, leaf, v, lit, sizeof lit)) {
                ibbConfigErr_Add(e, "%s: %s is out of range %.0f..%.0f%s (libconfig reads it as %" PRId64 ")", o->name,
                        lit, o->min, o->max, src_text(si, sb, sizeof sb), v);
                return false;
            }
            if (o->type == IBB_OPT_INT) {
                if (!check_int(e, o, v, si))
                    return false;
                *(int64_t *)slot(cfg, o) = v;
            } else {
                if (!check_double(e, o, (double)v, si))
                    return false;
                *(double *)slot(cfg, o) = (double)v;
            }
            return true;
        }
        if (t == CONFIG_TYPE_FLOAT && o->type == IBB_OPT_DOUBLE) {
            double v = config_setting_get_float(st);
            if (!check_double(e, o, v, si))
                return false;
            *(double *)slot(cfg, o) = v;
            return true;
        }
        ibbConfigErr_Add(e, "%s: expected %s%s", o->name, o->type == IBB_OPT_INT ? "an integer" : "a number",
                src_text(si, sb, sizeof sb));
        return false;
    case IBB_OPT_BOOL:
        if (t != CONFIG_TYPE_BOOL) {
            ibbConfigErr_Add(e, "%s: expected true or false%s", o->name, src_text(si, sb, sizeof sb));
            return false;
        }
        *(bool *)slot(cfg, o) = config_setting_get_bool(st) != 0;
        return true;
    case IBB_OPT_STR:
    case IBB_OPT_ENUM:
        if (t != CONFIG_TYPE_STRING) {
            ibbConfigErr_Add(e, "%s: expected a string in double quotes%s", o->name, src_text(si, sb, sizeof sb));
            return false;
        }
        return set_from_text(cfg, e, o, config_setting_get_string(st), si);
    case IBB_OPT_LIST: {
        if (t == CONFIG_TYPE_STRING)
            return set_from_text(cfg, e, o, config_setting_get_string(st), si);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
            ibbConfigErr_Add(e, "%s: expected a list of strings, e.g. [\"a\", \"b\"]%s", o->name,
                    src_text(si, sb, sizeof sb));
            return false;
        }
        int n = config_setting_length(st);
        ibbStrList l = {0};
        bool ok = true;
        for (int i = 0; i < n && ok; i++) {
            config_setting_t *it = config_setting_get_elem(st, (unsigned)i);
            if (!it || config_setting_type(it) != CONFIG_TYPE_STRING) {
                ibbConfigErr_Add(e, "%s: item %d is not a string%s", o->name, i + 1, src_text(si, sb, sizeof sb));
                ok = false;
                break;
            }
            const char *v = config_setting_get_string(it);
            ok = check_item(e, o, v, si);
            if (ok && !list_push(&l, v, strlen(v)))
                e->nomem = true;
        }
        return commit_list(cfg, e, o, &l, si, ok);
    }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------------- */
/* the table: every row of every section, in order                                                */
/* ---------------------------------------------------------------------------------------------- */

typedef struct rowRef {
    const ibbOptDef *o;
    size_t base;
} rowRef;

typedef struct table {
    rowRef rows[IBB_CONFIG_MAX_OPTS];
    size_t n;
} table;

static void table_init(table *t, const ibbConfigSpec *spec)
{
    t->n = 0;
    for (size_t s = 0; s < spec->nsections; s++)
        for (size_t i = 0; i < spec->sections[s].nrows && t->n < IBB_CONFIG_MAX_OPTS; i++)
            t->rows[t->n++] = (rowRef){&spec->sections[s].rows[i], spec->sections[s].base};
}

static void *row_slot_base(void *cfg, const rowRef *r) { return (char *)cfg + r->base; }
static const void *row_cslot_base(const void *cfg, const rowRef *r) { return (const char *)cfg + r->base; }

static int find_row(const table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].o->name, name) == 0)
            return (int)i;
    return -1;
}

/* The row an alias stands for (itself for a current name). */
static int target_of(const table *t, size_t i)
{
    const char *a = t->rows[i].o->alias_of;
    int k = a ? find_row(t, a) : (int)i;
    return k < 0 ? (int)i : k;
}

static bool is_group_prefix(const table *t, const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < t->n; i++)
        if (strncmp(t->rows[i].o->name, path, n) == 0 && t->rows[i].o->name[n] == '.')
            return true;
    return false;
}

/* Refuses keys the table does not know (a typo must not silently fall back to a default). */
static void check_unknown(const table *t, const char *program, ibbConfigErr *e, config_setting_t *group,
                          const char *prefix, const char *file)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *st = config_setting_get_elem(group, (unsigned)i);
        const char *name = st ? config_setting_name(st) : NULL;
        if (!name)
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
        int line = config_setting_source_line(st);
        if (config_setting_is_group(st)) {
            if (!is_group_prefix(t, path))
                ibbConfigErr_Add(e, "%s: unknown group (from %s:%d); see %s --help", path, file, line, program);
            else
                check_unknown(t, program, e, st, path, file);
        } else if (find_row(t, path) < 0) {
            ibbConfigErr_Add(e, "%s: unknown option (from %s:%d); see %s --help", path, file, line, program);
        }
    }
}

/* Users may still have an old spelling in their files and compose files: it keeps working, with one
 * warning per process naming the current spelling. */
static void warn_deprecated(const table *t, size_t i, const char *where)
{
    static int warned;
    if (warned++)
        return;
    const ibbOptDef *a = t->rows[i].o, *cur = t->rows[target_of(t, i)].o;
    IBB_WARN("config.deprecated", "key=%s env=%s from=%s use_key=%s use_env=%s", a->name, a->env ? a->env : "-",
             where, a->alias_of, cur->env ? cur->env : "-");
}

/* Aliases first (pass 0), then current names (pass 1): within one source the current name wins. */
static void load_file(const table *t, const char *program, void *cfg, unsigned char *source, ibbConfigErr *e,
                      const char *path)
{
    if (access(path, R_OK) != 0) {
        ibbConfigErr_Add(e, "--config %s: cannot read the file: %s", path, strerror(errno));
        return;
    }
    config_t lc;
    config_init(&lc);
    if (!config_read_file(&lc, path)) {
        const char *f = config_error_file(&lc);
        ibbConfigErr_Add(e, "%s:%d: %s", f ? f : path, config_error_line(&lc), config_error_text(&lc));
        config_destroy(&lc);
        return;
    }
    check_unknown(t, program, e, config_root_setting(&lc), "", path);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < t->n; i++) {
            const ibbOptDef *o = t->rows[i].o;
            if ((o->alias_of != NULL) != (pass == 0))
                continue;
            config_setting_t *st = config_lookup(&lc, o->name);
            if (!st)
                continue;
            if (o->alias_of)
                warn_deprecated(t, i, path);
            const char *sf = config_setting_source_file(st);
            srcInfo si = {IBB_SRC_FILE, NULL, sf ? sf : path, config_setting_source_line(st)};
            if (set_from_setting(row_slot_base(cfg, &t->rows[i]), e, o, st, &si))
                source[target_of(t, i)] = IBB_SRC_FILE;
        }
    config_destroy(&lc);
}

static void load_env(const table *t, void *cfg, unsigned char *source, ibbConfigErr *e)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < t->n; i++) {
            const ibbOptDef *o = t->rows[i].o;
            if ((o->alias_of != NULL) != (pass == 0))
                continue;
            const char *v = o->env ? getenv(o->env) : NULL;
            if (!v || !*v) /* an empty variable is treated as unset */
                continue;
            if (o->alias_of)
                warn_deprecated(t, i, "env");
            srcInfo si = {IBB_SRC_ENV, o->env, NULL, 0};
            if (set_from_text(row_slot_base(cfg, &t->rows[i]), e, o, v, &si))
                source[target_of(t, i)] = IBB_SRC_ENV;
        }
}

static void check_paths(const table *t, const void *cfg, ibbConfigErr *e)
{
    for (size_t i = 0; i < t->n; i++) {
        const ibbOptDef *o = t->rows[i].o;
        const char *v = (o->flags & IBB_OPT_PATH) && !o->alias_of
                            ? *(char *const *)cslot(row_cslot_base(cfg, &t->rows[i]), o)
                            : NULL;
        if (v && *v && access(v, R_OK) != 0)
            ibbConfigErr_Add(e, "%s: cannot read \"%s\": %s", o->name, v, strerror(errno));
    }
}

/* A secret taken from a file that group or others can read deserves a warning (never the value). */
static void warn_readable_secrets(const table *t, const unsigned char *source, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
        return;
    for (size_t i = 0; i < t->n; i++) {
        const ibbOptDef *o = t->rows[i].o;
        if ((o->flags & IBB_OPT_SECRET) && !o->alias_of && source[i] == IBB_SRC_FILE)
            IBB_WARN("config.secret_readable",
                     "path=%s key=%s mode=%03o hint=\"chmod 600 the file, or pass the "
                     "secret in %s instead\"",
                     path, o->name, (unsigned)(st.st_mode & 0777), o->env ? o->env : "the environment");
    }
}

/* A file holding a secret itself (a .creds file, an NKey seed) gets the same warning. */
static void warn_readable_secret_files(const table *t, const void *cfg)
{
    for (size_t i = 0; i < t->n; i++) {
        const ibbOptDef *o = t->rows[i].o;
        const char *v = (o->flags & IBB_OPT_SECRET_FILE) && !o->alias_of
                            ? *(char *const *)cslot(row_cslot_base(cfg, &t->rows[i]), o)
                            : NULL;
        struct stat st;
        if (!v || !*v || stat(v, &st) != 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
            continue;
        IBB_WARN("config.secret_readable", "path=%s key=%s mode=%03o hint=\"chmod 600 %s\"", v, o->name,
                 (unsigned)(st.st_mode & 0777), v);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* public                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

ibbStatus ibbConfig_Load(const ibbConfigSpec *spec, void *cfg, unsigned char *source, const char *path,
                         char *err, size_t errlen)
{
    table t;
    table_init(&t, spec);
    memset(source, 0, IBB_CONFIG_MAX_OPTS);
    ibbConfigErr e = {err, errlen, 0, 0, false};
    if (err && errlen)
        err[0] = '\0';
    for (size_t i = 0; i < t.n; i++) {
        const ibbOptDef *o = t.rows[i].o;
        srcInfo si = {IBB_SRC_DEFAULT, NULL, NULL, 0};
        if (!o->alias_of && !set_from_text(row_slot_base(cfg, &t.rows[i]), &e, o, o->def, &si))
            ibbConfigErr_Add(&e, "%s: bad built-in default (a bug)", o->name);
    }
    if (path)
        load_file(&t, spec->program, cfg, source, &e, path);
    load_env(&t, cfg, source, &e);
    if (e.count == 0 && !e.nomem) {
        check_paths(&t, cfg, &e);
        if (spec->check)
            spec->check(cfg, &e);
    }
    if (path)
        warn_readable_secrets(&t, source, path);
    if (e.count == 0 && !e.nomem)
        warn_readable_secret_files(&t, cfg);
    if (e.nomem)
        return IBB_ERR_NOMEM;
    return e.count ? IBB_ERR_CONFIG : IBB_OK;
}

void ibbConfig_Free(const ibbConfigSpec *spec, void *cfg)
{
    if (!cfg)
        return;
    table t;
    table_init(&t, spec);
    for (size_t i = 0; i < t.n; i++) {
        const ibbOptDef *o = t.rows[i].o;
        void *base = row_slot_base(cfg, &t.rows[i]);
        if (o->alias_of)
            continue;
        if (o->type == IBB_OPT_STR || o->type == IBB_OPT_ENUM) {
            char **p = (char **)slot(base, o);
            free(*p);
            *p = NULL;
        } else if (o->type == IBB_OPT_LIST) {
            list_free((ibbStrList *)slot(base, o));
        }
    }
}

static void print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void ibbConfig_Print(const ibbConfigSpec *spec, const void *cfg, const unsigned char *source, FILE *out)
{
    table t;
    table_init(&t, spec);
    fprintf(out, "# %s effective configuration (secrets masked)\n", spec->program);
    for (size_t i = 0; i < t.n; i++) {
        const ibbOptDef *o = t.rows[i].o;
        if (o->alias_of)
            continue;
        const void *v = cslot(row_cslot_base(cfg, &t.rows[i]), o);
        fprintf(out, "%s = ", o->name);
        switch (o->type) {
        case IBB_OPT_INT: fprintf(out, "%" PRId64, *(const int64_t *)v); break;
        case IBB_OPT_DOUBLE: fprintf(out, "%.17g", *(const double *)v); break;
        case IBB_OPT_BOOL: fputs(*(const bool *)v ? "true" : "false", out); break;
        case IBB_OPT_STR:
        case IBB_OPT_ENUM: {
            const char *s = *(char *const *)v;
            print_quoted(out, (o->flags & IBB_OPT_SECRET) && *s ? "****" : s);
            break;
        }
        case IBB_OPT_LIST: {
            const ibbStrList *l = v;
            fputc('[', out);
            for (size_t k = 0; k < l->n; k++) {
                fputs(k ? ", " : " ", out);
                print_quoted(out, (o->flags & IBB_OPT_SECRET) ? "****" : l->items[k]);
            }
            fputs(l->n ? " ]" : "]", out);
            break;
        }
        }
        int src = source[i];
        fprintf(out, ";  # %s%s\n",
                src == IBB_SRC_ENV    ? "env "
                : src == IBB_SRC_FILE ? "file"
                                      : "default",
                src == IBB_SRC_ENV ? o->env : "");
    }
}

static const char *type_name(const ibbOptDef *o)
{
    static const char *const names[] = {"string", "int", "number", "bool", "choice", "list"};
    return names[o->type];
}

void ibbConfig_PrintHelp(const ibbConfigSpec *spec, FILE *out)
{
    table t;
    table_init(&t, spec);
    fprintf(out, "Configuration options (file key = default; environment variable wins over the file):\n");
    for (size_t i = 0; i < t.n; i++) {
        const ibbOptDef *o = t.rows[i].o;
        if (o->alias_of)
            continue;
        char range[96] = "";
        if (o->type == IBB_OPT_INT || o->type == IBB_OPT_DOUBLE)
            snprintf(range, sizeof range, ", %.15g..%.15g", o->min, o->max);
        else if (o->type == IBB_OPT_ENUM)
            snprintf(range, sizeof range, ", %s", o->choices);
        fprintf(out, "  %s = %s%s%s  (%s%s%s%s)\n      %s\n", o->name, o->type == IBB_OPT_LIST ? "[" : "", o->def,
                o->type == IBB_OPT_LIST ? "]" : "", type_name(o), range, o->env ? ", env " : "",
                o->env ? o->env : "", o->help);
    }
    for (size_t i = 0; i < t.n; i++) {
        const ibbOptDef *o = t.rows[i].o;
        if (o->alias_of)
            fprintf(out, "  deprecated: %s%s%s still works; use %s\n", o->name, o->env ? " / env " : "",
                    o->env ? o->env : "", o->alias_of);
    }
}
