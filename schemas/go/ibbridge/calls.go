package ibbridge

import (
	"context"
	"strings"
)

// key makes a request name an instrument: a symbol with ':' or '@' is an instrument key
// (FUT:ES:CME:USD:202512, @265598) and goes as symbol, like a plain one (AAPL).
func symbolOrKey(symbol string) string { return strings.TrimSpace(symbol) }

// Quote is ib.rpc.quote: the latest merged quote of a streamed instrument, else an IB snapshot.
func (c *Client) Quote(ctx context.Context, symbol string) (*Quote, error) {
	return c.QuoteOf(ctx, QuoteRequest{Symbol: symbolOrKey(symbol)})
}

// QuoteOf is ib.rpc.quote with the instrument given by key or contract.
func (c *Client) QuoteOf(ctx context.Context, req QuoteRequest) (*Quote, error) {
	var q Quote
	if err := c.call(ctx, "rpc.quote", req, &q, callOpts{}); err != nil {
		return nil, err
	}
	return &q, nil
}

// Candles is ib.rpc.candles: historical bars (behind ib-bridge's pacing governor; a pacing error
// carries RetryAfter).
func (c *Client) Candles(ctx context.Context, req CandlesRequest) (*CandlesReply, error) {
	var r CandlesReply
	if err := c.call(ctx, "rpc.candles", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// Contract is ib.rpc.contract: every contract matching the symbol or key (all expiries of
// FUT:ES:CME:USD, ...).
func (c *Client) Contract(ctx context.Context, symbol string) (*ContractReply, error) {
	return c.ContractOf(ctx, ContractRequest{Symbol: symbolOrKey(symbol)})
}

// ContractOf is ib.rpc.contract with the instrument given by key or contract fields.
func (c *Client) ContractOf(ctx context.Context, req ContractRequest) (*ContractReply, error) {
	var r ContractReply
	if err := c.call(ctx, "rpc.contract", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// SearchContracts is ib.rpc.contract.search: IB's matching symbols (pattern of 2 or more characters).
func (c *Client) SearchContracts(ctx context.Context, pattern string) (*SearchReply, error) {
	var r SearchReply
	if err := c.call(ctx, "rpc.contract.search", SearchRequest{Pattern: pattern}, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// Positions is ib.rpc.positions; account "" = every account of the session.
func (c *Client) Positions(ctx context.Context, account string) (*PositionsReply, error) {
	var r PositionsReply
	if err := c.call(ctx, "rpc.positions", AccountFilter{Account: account}, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// Account is ib.rpc.account; account "" = every account of the session.
func (c *Client) Account(ctx context.Context, account string) (*AccountReply, error) {
	var r AccountReply
	if err := c.call(ctx, "rpc.account", AccountFilter{Account: account}, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// PnL is ib.rpc.pnl: the latest P&L of every managed account (account "") or one, with its leased
// positions', from ib-bridge's memory.
func (c *Client) PnL(ctx context.Context, account string) (*PnLReply, error) {
	var r PnLReply
	if err := c.call(ctx, "rpc.pnl", AccountFilter{Account: account}, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// Status is ib.rpc.status: ib-bridge's health. It never goes through the breaker.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var r Status
	if err := c.call(ctx, "rpc.status", struct{}{}, &r, callOpts{noBreaker: true}); err != nil {
		return nil, err
	}
	return &r, nil
}

// PreviewOrder is ib.rpc.order.preview: IB's what-if margin and commission (traders). No order is
// placed; ClientOrderID may be empty.
func (c *Client) PreviewOrder(ctx context.Context, req OrderRequest) (*OrderPreview, error) {
	if req.ClientOrderID == "" {
		req.ClientOrderID = NewClientOrderID()
	}
	var r OrderPreview
	if err := c.call(ctx, "rpc.order.preview", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// CancelOrder is ib.rpc.order.cancel: the order once IB confirmed the cancel.
func (c *Client) CancelOrder(ctx context.Context, ref OrderRef) (*Order, error) {
	var r Order
	if err := c.call(ctx, "rpc.order.cancel", ref, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// ModifyOrder is ib.rpc.order.modify: the order once IB echoed the new values.
func (c *Client) ModifyOrder(ctx context.Context, req ModifyRequest) (*Order, error) {
	var r Order
	if err := c.call(ctx, "rpc.order.modify", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListOrders is ib.rpc.order.list.
func (c *Client) ListOrders(ctx context.Context, req ListOrdersRequest) (*OrderList, error) {
	var r OrderList
	if err := c.call(ctx, "rpc.order.list", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// CompletedOrders is ib.rpc.order.completed: the orders IB reports as finished (traders).
func (c *Client) CompletedOrders(ctx context.Context, req CompletedOrdersRequest) (*CompletedOrderList, error) {
	var r CompletedOrderList
	if err := c.call(ctx, "rpc.order.completed", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// Executions is ib.rpc.executions: executions with their commissions (the order stream when it
// covers the window, else IB).
func (c *Client) Executions(ctx context.Context, req ExecutionsRequest) (*ExecutionsReply, error) {
	var r ExecutionsReply
	if err := c.call(ctx, "rpc.executions", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// ScannerParams is ib.rpc.scanner.params: IB's scanner parameter XML, cached by ib-bridge for the day.
func (c *Client) ScannerParams(ctx context.Context) (*ScannerParams, error) {
	var r ScannerParams
	if err := c.call(ctx, "rpc.scanner.params", struct{}{}, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// Scan is ib.rpc.scanner: one scanner result set.
func (c *Client) Scan(ctx context.Context, req ScanRequest) (*ScanReply, error) {
	var r ScanReply
	if err := c.call(ctx, "rpc.scanner", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// OptionChain is ib.rpc.options.chain: an underlying's option chain per exchange / trading class
// (cached by ib-bridge until the next UTC day).
func (c *Client) OptionChain(ctx context.Context, req OptionChainRequest) (*OptionChainReply, error) {
	var r OptionChainReply
	if err := c.call(ctx, "rpc.options.chain", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}

// OptionQuotes is ib.rpc.options.quotes: a slice of a chain, each option with its snapshot and Greeks.
// The snapshots queue within ib-bridge's line budget: give ctx a deadline long enough for the slice.
func (c *Client) OptionQuotes(ctx context.Context, req OptionQuotesRequest) (*OptionQuotesReply, error) {
	var r OptionQuotesReply
	if err := c.call(ctx, "rpc.options.quotes", req, &r, callOpts{}); err != nil {
		return nil, err
	}
	return &r, nil
}
