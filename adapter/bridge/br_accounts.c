/* br_accounts.c — the managed accounts of the IB login (managedAccounts, coreSession_Accounts) as
 * requests see them: whether an account is one of them, and the `account` field of a request body
 * (optional with one managed account, required with several, refused when unknown, the error naming
 * the accounts). Loop thread; nothing is kept. */
#include <stdio.h>
#include <string.h>

#include "br_internal.h"
#include "core_session.h"

static const char *accounts_list(const brBridge *b)
{
    const char *l = b->ib ? coreSession_Accounts(b->ib) : NULL;
    return l ? l : "";
}

bool br_accountManaged(const brBridge *b, const char *account)
{
    const char *list = accounts_list(b);
    size_t n = account ? strlen(account) : 0;
    if (!n)
        return false;
    for (const char *p = list; (p = strstr(p, account)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

int br_accountCount(const brBridge *b)
{
    const char *list = accounts_list(b);
    if (!*list)
        return 0;
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    return n;
}

bool br_accountNth(const brBridge *b, int i, char *out, size_t cap)
{
    const char *p = accounts_list(b);
    for (; i > 0 && p; i--) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    if (!p || !*p)
        return false;
    size_t n = strcspn(p, ",");
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

bool br_accountFromBody(brBridge *b, busRequest *req, char *out, size_t cap)
{
    ibbStatus st = busObj_StrCopy(busRequest_Body(req), "account", out, cap);
    const char *list = accounts_list(b);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_BadField(req, "account", st, "string: an account id such as DU1234567");
        return false;
    }
    if (st == IBB_OK && out[0]) {
        if (br_accountManaged(b, out))
            return true;
        busRequest_Errorf(req, "bad_request", 0,
                          "field 'account': '%s' is not an account of this IB login (managed accounts: %s)",
                          out, *list ? list : "none yet");
        return false;
    }
    int n = br_accountCount(b);
    if (n == 1 && br_accountNth(b, 0, out, cap))
        return true;
    if (n == 0)
        busRequest_Errorf(req, "ib_unavailable", 0,
                          "field 'account': IB has not named the login's accounts yet (not connected)");
    else
        busRequest_Errorf(req, "bad_request", 0,
                          "field 'account' is required: this IB login manages %d accounts (%s)", n, list);
    return false;
}
