/* fuzz_ib_requests.c — libFuzzer target: client bytes -> ibFramer (server mode: "API\0", the
 * version-range text, then frames) -> ib_parseVersionRange / ib_decodeRequest. This is ib-sim's
 * side: the simulator faces untrusted clients too.
 *
 * Input layout and the framer properties checked: fuzz_common.h (fuzz_stream). On top of those:
 *  - only the first payload may be the handshake, and it always is in server mode;
 *  - ib_parseVersionRange returns OK (with 0 < min <= max) or PROTOCOL;
 *  - every other payload is decoded with ib_decodeRequest at sv 176 and at the header's sv, which
 *    returns only documented statuses; a decoded request's strings are readable. */
#include "fuzz_common.h"

static bool request_status_ok(ibbStatus st)
{
    switch (st) {
    case IBB_OK: case IBB_ERR_TRAILING: case IBB_ERR_TRUNCATED: case IBB_ERR_BAD_NUMBER:
    case IBB_ERR_PROTOCOL: case IBB_ERR_UNKNOWN_MSG:
        return true;
    default:
        return false;
    }
}

static void touch(const char *s)
{
    if (s)
        (void)strlen(s);
}

static void touch_contract(const ibContract *c)
{
    const char *f[] = { c->symbol, c->sec_type, c->last_trade_date, c->right, c->multiplier, c->exchange,
                        c->primary_exchange, c->currency, c->local_symbol, c->trading_class, c->sec_id_type,
                        c->sec_id, c->issuer_id };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        touch(f[i]);
}

/* Reads the strings a simulator would look at. */
static void touch_request(const ibRequest *r)
{
    (void)ib_requestName((int)r->id);
    switch (r->id) {
    case IB_REQ_START_API: touch(r->u.start_api.optional_capabilities); break;
    case IB_REQ_MKT_DATA:
        touch_contract(&r->u.mkt_data.contract);
        touch(r->u.mkt_data.generic_ticks);
        break;
    case IB_REQ_HISTORICAL_DATA: {
        const ibReqHistoricalData *h = &r->u.historical;
        touch_contract(&h->contract);
        touch(h->end_date_time);
        touch(h->bar_size);
        touch(h->duration);
        touch(h->what_to_show);
        break;
    }
    case IB_REQ_CONTRACT_DETAILS: touch_contract(&r->u.contract_details.contract); break;
    case IB_REQ_PLACE_ORDER: {
        const ibOrder *o = &r->u.place_order.order;
        touch_contract(&r->u.place_order.contract);
        touch(o->action);
        touch(o->order_type);
        touch(o->tif);
        touch(o->oca_group);
        touch(o->account);
        touch(o->order_ref);
        break;
    }
    case IB_REQ_CANCEL_ORDER: touch(r->u.cancel_order.manual_cancel_time); break;
    case IB_REQ_EXECUTIONS: {
        const ibReqExecutions *e = &r->u.executions;
        touch(e->account);
        touch(e->time);
        touch(e->symbol);
        touch(e->sec_type);
        touch(e->exchange);
        touch(e->side);
        break;
    }
    case IB_REQ_ACCOUNT_SUMMARY:
        touch(r->u.account_summary.group);
        touch(r->u.account_summary.tags);
        break;
    case IB_REQ_ACCOUNT_UPDATES: touch(r->u.account_updates.account); break;
    case IB_REQ_MKT_DEPTH: touch_contract(&r->u.mkt_depth.contract); break;
    case IB_REQ_TICK_BY_TICK:
        touch_contract(&r->u.tick_by_tick.contract);
        touch(r->u.tick_by_tick.tick_type);
        (void)ib_tickByTickTypeParse(r->u.tick_by_tick.tick_type);
        break;
    case IB_REQ_REAL_TIME_BARS:
        touch_contract(&r->u.real_time_bars.contract);
        touch(r->u.real_time_bars.what_to_show);
        break;
    case IB_REQ_SEC_DEF_OPT_PARAMS: {
        const ibReqSecDefOptParams *o = &r->u.sec_def_opt_params;
        touch(o->underlying_symbol);
        touch(o->fut_fop_exchange);
        touch(o->underlying_sec_type);
        break;
    }
    default: break;
    }
}

static void on_payload(const char *p, size_t len, bool is_handshake, size_t index, int sv2)
{
    FUZZ_CHECK(is_handshake == (index == 0), "payload %zu: handshake flag %d", index, (int)is_handshake);
    if (is_handshake) {
        int lo = -1, hi = -1;
        ibbStatus st = ib_parseVersionRange(p, &lo, &hi);
        FUZZ_CHECK(st == IBB_OK || st == IBB_ERR_PROTOCOL, "parseVersionRange: %s", ibbStatus_Name(st));
        if (st == IBB_OK)
            FUZZ_CHECK(lo > 0 && lo <= hi, "version range %d..%d", lo, hi);
        return;
    }
    const int svs[2] = { IB_SV_TARGET, sv2 };
    for (int k = 0; k < (sv2 == IB_SV_TARGET ? 1 : 2); k++) {
        ibRequest r;
        ibbStatus st = ib_decodeRequest(svs[k], p, len, &r);
        FUZZ_CHECK(request_status_ok(st), "decodeRequest sv %d: %s", svs[k], ibbStatus_Name(st));
        if (st == IBB_OK)
            touch_request(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(IB_FRAMER_SERVER, data, size, on_payload);
    return 0;
}
