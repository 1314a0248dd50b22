/* br_ord_risk_accounts.c — risk limits per account (risk.account_limits), checked after the global ones
 * (b->risk) for an order's account. Each item is "ACCOUNT:key=value[:key=value...]", keys
 * max_order_qty, max_order_notional (> 0) and max_orders_per_minute (1..10000), e.g.
 * "DU222:max_order_qty=100:max_orders_per_minute=10". An account without an item has only the global
 * limits. A malformed item stops ib-bridge at start with a sentence naming it.
 *
 * Ownership: brOrdAcctRisk is owned by the orders module (brOrd_acctRiskCreate / Destroy); each account
 * has its own stRisk (own rate window). Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_ord_int.h"
#include "ibb_log.h"

typedef struct acctRisk {
    char account[32];
    stRisk risk;
} acctRisk;

struct brOrdAcctRisk {
    acctRisk *v;
    size_t n;
};

/* One "key=value" into l; false with a sentence in err. */
static bool parse_limit(const char *kv, stRiskLimits *l, char *err, size_t cap)
{
    const char *eq = strchr(kv, '=');
    char *end = NULL;
    double d = eq ? strtod(eq + 1, &end) : 0;
    size_t kl = eq ? (size_t)(eq - kv) : 0;
    if (!eq || end == eq + 1 || *end != '\0' || !(d > 0)) {
        snprintf(err, cap, "'%s' must be key=positive number", kv);
        return false;
    }
    if (kl == 13 && !strncmp(kv, "max_order_qty", kl))
        l->max_order_qty = d;
    else if (kl == 18 && !strncmp(kv, "max_order_notional", kl))
        l->max_order_notional = d;
    else if (kl == 21 && !strncmp(kv, "max_orders_per_minute", kl) && d <= ST_RISK_MAX_RATE && d == (int)d)
        l->max_orders_per_minute = (int)d;
    else {
        snprintf(err, cap, "'%s': keys are max_order_qty, max_order_notional, max_orders_per_minute (1..%d)",
                 kv, ST_RISK_MAX_RATE);
        return false;
    }
    return true;
}

static bool parse_item(const char *item, acctRisk *a, char *err, size_t cap)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", item);
    char *save = NULL, *tok = strtok_r(buf, ":", &save);
    if (!tok || strlen(tok) >= sizeof a->account || strchr(tok, '=')) {
        snprintf(err, cap, "'%s' must start with an account id, e.g. DU222:max_order_qty=100", item);
        return false;
    }
    snprintf(a->account, sizeof a->account, "%s", tok);
    stRiskLimits l = {0};
    int n = 0;
    while ((tok = strtok_r(NULL, ":", &save)) != NULL && ++n)
        if (!parse_limit(tok, &l, err, cap))
            return false;
    if (!n) {
        snprintf(err, cap, "'%s' names no limit", item);
        return false;
    }
    stRisk_Init(&a->risk, &l);
    return true;
}

bool brOptions_CheckAccountLimit(const char *item, char *err, size_t cap)
{
    acctRisk *a = malloc(sizeof *a); /* stRisk holds a large rate window: not on the stack */
    bool ok = a && parse_item(item, a, err, cap);
    if (!a)
        snprintf(err, cap, "out of memory");
    free(a);
    return ok;
}

ibbStatus brOrd_acctRiskCreate(brOrdAcctRisk **out, const char *const *items, size_t n)
{
    *out = NULL;
    brOrdAcctRisk *r = calloc(1, sizeof *r);
    if (!r || (n && !(r->v = calloc(n, sizeof *r->v)))) {
        free(r);
        return IBB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char err[300];
        if (!parse_item(items[i], &r->v[r->n], err, sizeof err)) {
            IBB_ERROR("config.bad_account_limits", "item=\"%s\" reason=\"risk.account_limits %s\"", items[i],
                      err);
            brOrd_acctRiskDestroy(r);
            return IBB_ERR_INVALID_ARG;
        }
        r->n++;
    }
    *out = r;
    return IBB_OK;
}

void brOrd_acctRiskDestroy(brOrdAcctRisk *r)
{
    if (!r)
        return;
    free(r->v);
    free(r);
}

ibbStatus brOrd_acctRiskCheck(brBridge *b, brOrdAcctRisk *r, const char *account, const stRiskOrder *o,
                              char *msg, size_t cap)
{
    char only[32];
    if ((!account || !*account) && br_accountCount(b) == 1 && br_accountNth(b, 0, only, sizeof only))
        account = only;
    for (size_t i = 0; r && account && i < r->n; i++) {
        if (strcmp(r->v[i].account, account) != 0)
            continue;
        const char *limit = NULL;
        char why[300];
        ibbStatus s = stRisk_Check(&r->v[i].risk, o, br_nowMs(b), &limit, why, sizeof why);
        if (s != IBB_OK)
            snprintf(msg, cap, "risk limit %s of account %s (risk.account_limits): %s", limit, account, why);
        return s;
    }
    return IBB_OK;
}
