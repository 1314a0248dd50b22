/* ib_names.c — names of message ids for logs and counters (OFF-PY message.py, camelCase as in the
 * official EWrapper / EClient method names). Static strings; never NULL, except
 * ib_tickByTickTypeName for a type that has no name. */
#include <string.h>

#include "ib_msgs.h"

const char *ib_replyName(int id)
{
    switch (id) {
    case IB_MSG_TICK_PRICE: return "tickPrice";
    case IB_MSG_TICK_SIZE: return "tickSize";
    case IB_MSG_ORDER_STATUS: return "orderStatus";
    case IB_MSG_ERROR: return "error";
    case IB_MSG_OPEN_ORDER: return "openOrder";
    case IB_MSG_ACCOUNT_VALUE: return "updateAccountValue";
    case IB_MSG_PORTFOLIO_VALUE: return "updatePortfolio";
    case IB_MSG_ACCOUNT_TIME: return "updateAccountTime";
    case IB_MSG_NEXT_VALID_ID: return "nextValidId";
    case IB_MSG_CONTRACT_DATA: return "contractDetails";
    case IB_MSG_EXEC_DETAILS: return "execDetails";
    case IB_MSG_MARKET_DEPTH: return "updateMktDepth";
    case IB_MSG_MARKET_DEPTH_L2: return "updateMktDepthL2";
    case IB_MSG_MANAGED_ACCOUNTS: return "managedAccounts";
    case IB_MSG_HISTORICAL_DATA: return "historicalData";
    case 18: return "bondContractDetails";
    case 21: return "tickOptionComputation";
    case IB_MSG_TICK_GENERIC: return "tickGeneric";
    case IB_MSG_TICK_STRING: return "tickString";
    case IB_MSG_CURRENT_TIME: return "currentTime";
    case 50: return "realtimeBar";
    case IB_MSG_CONTRACT_DATA_END: return "contractDetailsEnd";
    case IB_MSG_OPEN_ORDER_END: return "openOrderEnd";
    case IB_MSG_ACCOUNT_DOWNLOAD_END: return "accountDownloadEnd";
    case IB_MSG_EXEC_DETAILS_END: return "execDetailsEnd";
    case IB_MSG_TICK_SNAPSHOT_END: return "tickSnapshotEnd";
    case IB_MSG_MARKET_DATA_TYPE: return "marketDataType";
    case IB_MSG_COMMISSION_REPORT: return "commissionReport";
    case IB_MSG_POSITION: return "position";
    case IB_MSG_POSITION_END: return "positionEnd";
    case IB_MSG_ACCOUNT_SUMMARY: return "accountSummary";
    case IB_MSG_ACCOUNT_SUMMARY_END: return "accountSummaryEnd";
    case IB_MSG_SEC_DEF_OPT_PARAMS: return "securityDefinitionOptionParameter";
    case IB_MSG_SEC_DEF_OPT_PARAMS_END: return "securityDefinitionOptionParameterEnd";
    case IB_MSG_SYMBOL_SAMPLES: return "symbolSamples";
    case IB_MSG_SCANNER_DATA: return "scannerData";
    case IB_MSG_SCANNER_PARAMETERS: return "scannerParameters";
    case IB_MSG_TICK_REQ_PARAMS: return "tickReqParams";
    case 88: return "headTimestamp";
    case IB_MSG_HISTORICAL_DATA_UPDATE: return "historicalDataUpdate";
    case 94: return "pnl";
    case 95: return "pnlSingle";
    case IB_MSG_TICK_BY_TICK: return "tickByTick";
    case 101: return "completedOrder";
    case 102: return "completedOrdersEnd";
    case 106: return "historicalSchedule";
    case IB_MSG_POSITION_MULTI: return "positionMulti";
    case IB_MSG_POSITION_MULTI_END: return "positionMultiEnd";
    case IB_MSG_ACCOUNT_UPDATE_MULTI: return "accountUpdateMulti";
    case IB_MSG_ACCOUNT_UPDATE_MULTI_END: return "accountUpdateMultiEnd";
    case 108: return "historicalDataEnd";
    default: return "unknown";
    }
}

const char *ib_requestName(int id)
{
    switch (id) {
    case IB_REQ_MKT_DATA: return "reqMktData";
    case IB_REQ_CANCEL_MKT_DATA: return "cancelMktData";
    case IB_REQ_PLACE_ORDER: return "placeOrder";
    case IB_REQ_CANCEL_ORDER: return "cancelOrder";
    case IB_REQ_OPEN_ORDERS: return "reqOpenOrders";
    case IB_REQ_ACCOUNT_UPDATES: return "reqAccountUpdates";
    case IB_REQ_EXECUTIONS: return "reqExecutions";
    case IB_REQ_IDS: return "reqIds";
    case IB_REQ_CONTRACT_DETAILS: return "reqContractDetails";
    case IB_REQ_MKT_DEPTH: return "reqMktDepth";
    case IB_REQ_CANCEL_MKT_DEPTH: return "cancelMktDepth";
    case IB_REQ_AUTO_OPEN_ORDERS: return "reqAutoOpenOrders";
    case IB_REQ_ALL_OPEN_ORDERS: return "reqAllOpenOrders";
    case IB_REQ_MANAGED_ACCTS: return "reqManagedAccts";
    case IB_REQ_HISTORICAL_DATA: return "reqHistoricalData";
    case IB_REQ_CANCEL_HISTORICAL_DATA: return "cancelHistoricalData";
    case IB_REQ_CURRENT_TIME: return "reqCurrentTime";
    case 50: return "reqRealTimeBars";
    case 51: return "cancelRealTimeBars";
    case IB_REQ_GLOBAL_CANCEL: return "reqGlobalCancel";
    case IB_REQ_MARKET_DATA_TYPE: return "reqMarketDataType";
    case IB_REQ_POSITIONS: return "reqPositions";
    case IB_REQ_ACCOUNT_SUMMARY: return "reqAccountSummary";
    case IB_REQ_CANCEL_ACCOUNT_SUMMARY: return "cancelAccountSummary";
    case IB_REQ_CANCEL_POSITIONS: return "cancelPositions";
    case IB_REQ_START_API: return "startApi";
    case IB_REQ_SEC_DEF_OPT_PARAMS: return "reqSecDefOptParams";
    case IB_REQ_MATCHING_SYMBOLS: return "reqMatchingSymbols";
    case IB_REQ_SCANNER_PARAMETERS: return "reqScannerParameters";
    case IB_REQ_SCANNER_SUBSCRIPTION: return "reqScannerSubscription";
    case IB_REQ_CANCEL_SCANNER_SUBSCRIPTION: return "cancelScannerSubscription";
    case IB_REQ_TICK_BY_TICK: return "reqTickByTickData";
    case IB_REQ_CANCEL_TICK_BY_TICK: return "cancelTickByTickData";
    case 92: return "reqPnL";
    case 93: return "cancelPnL";
    case 94: return "reqPnLSingle";
    case 95: return "cancelPnLSingle";
    case 99: return "reqCompletedOrders";
    case IB_REQ_POSITIONS_MULTI: return "reqPositionsMulti";
    case IB_REQ_CANCEL_POSITIONS_MULTI: return "cancelPositionsMulti";
    case IB_REQ_ACCOUNT_UPDATES_MULTI: return "reqAccountUpdatesMulti";
    case IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI: return "cancelAccountUpdatesMulti";
    default: return "unknown";
    }
}

const char *ib_tickByTickTypeName(int type)
{
    switch (type) {
    case IB_TBT_LAST: return "Last";
    case IB_TBT_ALL_LAST: return "AllLast";
    case IB_TBT_BID_ASK: return "BidAsk";
    case IB_TBT_MIDPOINT: return "MidPoint";
    default: return NULL;
    }
}

int ib_tickByTickTypeParse(const char *name)
{
    for (int t = IB_TBT_LAST; t <= IB_TBT_MIDPOINT && name; t++)
        if (strcmp(name, ib_tickByTickTypeName(t)) == 0)
            return t;
    return -1;
}
