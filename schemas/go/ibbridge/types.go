package ibbridge

// The bus contract in Go: one struct per message shape of schemas/ (field names as there, snake_case
// on the wire). Both encodings use the same structs: the `codec` tags drive MessagePack
// (github.com/ugorji/go/codec), the `json` tags encoding/json. A price IB has not sent is absent
// on the wire and nil here.

// Contract is schemas/contract.json: the full contract every payload carries.
type Contract struct {
	ConID           int64   `codec:"con_id" json:"con_id"`
	Symbol          string  `codec:"symbol" json:"symbol"`
	SecType         string  `codec:"sec_type" json:"sec_type"`
	Exchange        string  `codec:"exchange" json:"exchange"`
	PrimaryExchange string  `codec:"primary_exchange,omitempty" json:"primary_exchange,omitempty"`
	Currency        string  `codec:"currency" json:"currency"`
	LocalSymbol     string  `codec:"local_symbol,omitempty" json:"local_symbol,omitempty"`
	TradingClass    string  `codec:"trading_class,omitempty" json:"trading_class,omitempty"`
	LastTradeDate   string  `codec:"last_trade_date,omitempty" json:"last_trade_date,omitempty"`
	Multiplier      string  `codec:"multiplier,omitempty" json:"multiplier,omitempty"`
	Strike          float64 `codec:"strike,omitempty" json:"strike,omitempty"`
	Right           string  `codec:"right,omitempty" json:"right,omitempty"`
}

// ContractSpec names an instrument by its fields (or just ConID) in a request, instead of a key.
// SecType defaults to STK, Exchange to SMART, Currency to USD on the bus.
type ContractSpec struct {
	ConID         int64   `codec:"con_id,omitempty" json:"con_id,omitempty"`
	Symbol        string  `codec:"symbol,omitempty" json:"symbol,omitempty"`
	SecType       string  `codec:"sec_type,omitempty" json:"sec_type,omitempty"`
	Exchange      string  `codec:"exchange,omitempty" json:"exchange,omitempty"`
	Currency      string  `codec:"currency,omitempty" json:"currency,omitempty"`
	Expiry        string  `codec:"expiry,omitempty" json:"expiry,omitempty"`
	LastTradeDate string  `codec:"last_trade_date,omitempty" json:"last_trade_date,omitempty"`
	Right         string  `codec:"right,omitempty" json:"right,omitempty"`
	Strike        float64 `codec:"strike,omitempty" json:"strike,omitempty"`
	Multiplier    string  `codec:"multiplier,omitempty" json:"multiplier,omitempty"`
}

// InstrumentStatus is present while IB reports a problem with an instrument's data
// (quote_event.json#/properties/status).
type InstrumentStatus struct {
	Code    string `codec:"code" json:"code"`
	Message string `codec:"message" json:"message"`
	IBCode  int    `codec:"ib_code" json:"ib_code"`
}

// Greeks of an option quote: ib.quote.<option key> (and ib.rpc.quote / ib.rpc.options.quotes) carry one
// computation per side IB computed (quote_event.json#/$defs/greeks_side).
type Greeks struct {
	Bid   *OptionComputation `codec:"bid,omitempty" json:"bid,omitempty"`
	Ask   *OptionComputation `codec:"ask,omitempty" json:"ask,omitempty"`
	Last  *OptionComputation `codec:"last,omitempty" json:"last,omitempty"`
	Model *OptionComputation `codec:"model,omitempty" json:"model,omitempty"`
}

// OptionComputation is one of IB's option computations; a value IB left unset is nil.
type OptionComputation struct {
	IV         *float64 `codec:"iv,omitempty" json:"iv,omitempty"`
	Delta      *float64 `codec:"delta,omitempty" json:"delta,omitempty"`
	Gamma      *float64 `codec:"gamma,omitempty" json:"gamma,omitempty"`
	Vega       *float64 `codec:"vega,omitempty" json:"vega,omitempty"`
	Theta      *float64 `codec:"theta,omitempty" json:"theta,omitempty"`
	OptPrice   *float64 `codec:"opt_price,omitempty" json:"opt_price,omitempty"`
	UndPrice   *float64 `codec:"und_price,omitempty" json:"und_price,omitempty"`
	PvDividend *float64 `codec:"pv_dividend,omitempty" json:"pv_dividend,omitempty"`
}

// Quote is schemas/quote_event.json (an event on <prefix>.quote.<key>) and schemas/quote_reply.json
// (the ib.rpc.quote reply, with Source). Each event is the whole merged level-1 state.
type Quote struct {
	Key            string            `codec:"key" json:"key"`
	Seq            uint64            `codec:"seq" json:"seq"`
	Contract       Contract          `codec:"contract" json:"contract"`
	Bid            *float64          `codec:"bid,omitempty" json:"bid,omitempty"`
	Ask            *float64          `codec:"ask,omitempty" json:"ask,omitempty"`
	Last           *float64          `codec:"last,omitempty" json:"last,omitempty"`
	BidSize        *float64          `codec:"bid_size,omitempty" json:"bid_size,omitempty"`
	AskSize        *float64          `codec:"ask_size,omitempty" json:"ask_size,omitempty"`
	LastSize       *float64          `codec:"last_size,omitempty" json:"last_size,omitempty"`
	Volume         *float64          `codec:"volume,omitempty" json:"volume,omitempty"`
	Open           *float64          `codec:"open,omitempty" json:"open,omitempty"`
	High           *float64          `codec:"high,omitempty" json:"high,omitempty"`
	Low            *float64          `codec:"low,omitempty" json:"low,omitempty"`
	Close          *float64          `codec:"close,omitempty" json:"close,omitempty"`
	Halted         *bool             `codec:"halted,omitempty" json:"halted,omitempty"`
	MarketDataType string            `codec:"market_data_type" json:"market_data_type"`
	LastTradeTs    int64             `codec:"last_trade_ts,omitempty" json:"last_trade_ts,omitempty"`
	RecvTsNs       int64             `codec:"recv_ts_ns" json:"recv_ts_ns"`
	Status         *InstrumentStatus `codec:"status,omitempty" json:"status,omitempty"`
	Greeks         *Greeks           `codec:"greeks,omitempty" json:"greeks,omitempty"`
	// Source is set on ib.rpc.quote replies only: "stream" (cached state of a streamed instrument)
	// or "snapshot" (an IB snapshot; Seq 0).
	Source string `codec:"source,omitempty" json:"source,omitempty"`
}

// QuoteRequest is schemas/quote_request.json: one of Symbol, Key, Contract.
type QuoteRequest struct {
	Symbol   string        `codec:"symbol,omitempty" json:"symbol,omitempty"`
	Key      string        `codec:"key,omitempty" json:"key,omitempty"`
	Contract *ContractSpec `codec:"contract,omitempty" json:"contract,omitempty"`
}

// CandlesRequest is schemas/candles_request.json. Empty fields take the bus defaults
// (1 D, 5 mins, TRADES, regular trading hours, now).
type CandlesRequest struct {
	Symbol     string        `codec:"symbol,omitempty" json:"symbol,omitempty"`
	Key        string        `codec:"key,omitempty" json:"key,omitempty"`
	Contract   *ContractSpec `codec:"contract,omitempty" json:"contract,omitempty"`
	Duration   string        `codec:"duration,omitempty" json:"duration,omitempty"`
	BarSize    string        `codec:"bar_size,omitempty" json:"bar_size,omitempty"`
	WhatToShow string        `codec:"what_to_show,omitempty" json:"what_to_show,omitempty"`
	UseRTH     *bool         `codec:"use_rth,omitempty" json:"use_rth,omitempty"`
	End        string        `codec:"end,omitempty" json:"end,omitempty"`
}

// Candle is one bar of schemas/candles_reply.json. V, WAP and Count are nil when IB has none.
type Candle struct {
	T     int64    `codec:"t" json:"t"`
	O     float64  `codec:"o" json:"o"`
	H     float64  `codec:"h" json:"h"`
	L     float64  `codec:"l" json:"l"`
	C     float64  `codec:"c" json:"c"`
	V     *float64 `codec:"v" json:"v"`
	WAP   *float64 `codec:"wap" json:"wap"`
	Count *int64   `codec:"count" json:"count"`
}

// CandlesReply is schemas/candles_reply.json.
type CandlesReply struct {
	Cached     bool     `codec:"cached" json:"cached"`
	Key        string   `codec:"key" json:"key"`
	Contract   Contract `codec:"contract" json:"contract"`
	Duration   string   `codec:"duration" json:"duration"`
	BarSize    string   `codec:"bar_size" json:"bar_size"`
	WhatToShow string   `codec:"what_to_show" json:"what_to_show"`
	UseRTH     bool     `codec:"use_rth" json:"use_rth"`
	End        string   `codec:"end" json:"end"`
	AsOfNs     int64    `codec:"as_of_ns" json:"as_of_ns"`
	Count      int      `codec:"count" json:"count"`
	Source     string   `codec:"source" json:"source"`
	Bars       []Candle `codec:"bars" json:"bars"`
}

// ContractRequest is schemas/contract_request.json.
type ContractRequest struct {
	Symbol   string        `codec:"symbol,omitempty" json:"symbol,omitempty"`
	Key      string        `codec:"key,omitempty" json:"key,omitempty"`
	Contract *ContractSpec `codec:"contract,omitempty" json:"contract,omitempty"`
}

// ContractDetails is one match of schemas/contract_reply.json.
type ContractDetails struct {
	Key            string   `codec:"key" json:"key"`
	Contract       Contract `codec:"contract" json:"contract"`
	LongName       string   `codec:"long_name" json:"long_name"`
	MinTick        float64  `codec:"min_tick" json:"min_tick"`
	TimeZone       string   `codec:"time_zone" json:"time_zone"`
	TradingHours   string   `codec:"trading_hours" json:"trading_hours"`
	LiquidHours    string   `codec:"liquid_hours" json:"liquid_hours"`
	ValidExchanges string   `codec:"valid_exchanges" json:"valid_exchanges"`
}

// ContractReply is schemas/contract_reply.json.
type ContractReply struct {
	Count     int               `codec:"count" json:"count"`
	Contracts []ContractDetails `codec:"contracts" json:"contracts"`
}

// AccountFilter is schemas/positions_request.json and account_request.json: empty = every account.
type AccountFilter struct {
	Account string `codec:"account,omitempty" json:"account,omitempty"`
}

// Position is one row of schemas/positions_reply.json. The market fields are set on the rows of the
// portfolio account only.
type Position struct {
	Account       string   `codec:"account" json:"account"`
	Key           string   `codec:"key" json:"key"`
	ConID         int64    `codec:"con_id" json:"con_id"`
	Contract      Contract `codec:"contract" json:"contract"`
	Position      float64  `codec:"position" json:"position"`
	AvgCost       float64  `codec:"avg_cost" json:"avg_cost"`
	UpdatedNs     int64    `codec:"updated_ns" json:"updated_ns"`
	MarketPrice   *float64 `codec:"market_price,omitempty" json:"market_price,omitempty"`
	MarketValue   *float64 `codec:"market_value,omitempty" json:"market_value,omitempty"`
	UnrealizedPnL *float64 `codec:"unrealized_pnl,omitempty" json:"unrealized_pnl,omitempty"`
	RealizedPnL   *float64 `codec:"realized_pnl,omitempty" json:"realized_pnl,omitempty"`
}

// PositionsReply is schemas/positions_reply.json.
type PositionsReply struct {
	AsOfNs           int64      `codec:"as_of_ns" json:"as_of_ns"`
	Live             bool       `codec:"live" json:"live"`
	SnapshotNs       int64      `codec:"snapshot_ns" json:"snapshot_ns"`
	PortfolioAccount string     `codec:"portfolio_account" json:"portfolio_account"`
	Count            int        `codec:"count" json:"count"`
	Positions        []Position `codec:"positions" json:"positions"`
}

// AccountValue is one value of schemas/account_reply.json. Value is a float64 when IB's text is
// numeric, else a string (AccountType).
type AccountValue struct {
	Value     interface{} `codec:"value" json:"value"`
	Currency  string      `codec:"currency" json:"currency"`
	UpdatedNs int64       `codec:"updated_ns" json:"updated_ns"`
	Source    string      `codec:"source" json:"source"`
}

// Float returns the value as a number (ok false for a text value).
func (v AccountValue) Float() (float64, bool) {
	switch x := v.Value.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// AccountSummary is one account of schemas/account_reply.json; Values are keyed by IB's tag
// (NetLiquidation, BuyingPower, ...).
type AccountSummary struct {
	Account   string                  `codec:"account" json:"account"`
	Currency  string                  `codec:"currency" json:"currency"`
	Portfolio bool                    `codec:"portfolio" json:"portfolio"`
	UpdatedNs int64                   `codec:"updated_ns" json:"updated_ns"`
	Values    map[string]AccountValue `codec:"values" json:"values"`
}

// AccountReply is schemas/account_reply.json.
type AccountReply struct {
	AsOfNs    int64            `codec:"as_of_ns" json:"as_of_ns"`
	Live      bool             `codec:"live" json:"live"`
	SummaryNs int64            `codec:"summary_ns" json:"summary_ns"`
	UpdatesNs int64            `codec:"updates_ns" json:"updates_ns"`
	Count     int              `codec:"count" json:"count"`
	Accounts  []AccountSummary `codec:"accounts" json:"accounts"`
}

// IBStats is status_reply.json#/properties/ib/properties/stats.
type IBStats struct {
	MsgsIn         int64 `codec:"msgs_in" json:"msgs_in"`
	MsgsOut        int64 `codec:"msgs_out" json:"msgs_out"`
	Reconnects     int64 `codec:"reconnects" json:"reconnects"`
	DecodeErrors   int64 `codec:"decode_errors" json:"decode_errors"`
	UnknownSkipped int64 `codec:"unknown_skipped" json:"unknown_skipped"`
	Stalls         int64 `codec:"stalls" json:"stalls"`
	Keepalives     int64 `codec:"keepalives" json:"keepalives"`
	Dropped        int64 `codec:"dropped" json:"dropped"`
	DroppedStale   int64 `codec:"dropped_stale" json:"dropped_stale"`
}

// IBLink is status_reply.json#/properties/ib.
type IBLink struct {
	State          string   `codec:"state" json:"state"`
	Connected      bool     `codec:"connected" json:"connected"`
	Degraded       bool     `codec:"degraded" json:"degraded"`
	Host           string   `codec:"host" json:"host"`
	Port           int      `codec:"port" json:"port"`
	ClientID       int      `codec:"client_id" json:"client_id"`
	ServerVersion  int      `codec:"server_version" json:"server_version"`
	ConnectionTime string   `codec:"connection_time" json:"connection_time"`
	Accounts       []string `codec:"accounts" json:"accounts"`
	TradingMode    string   `codec:"trading_mode" json:"trading_mode"`
	Simulator      bool     `codec:"simulator" json:"simulator"`
	ReadOnly       bool     `codec:"read_only" json:"read_only"`
	LastErrorCode  int      `codec:"last_error_code" json:"last_error_code"`
	LastError      string   `codec:"last_error" json:"last_error"`
	Stats          IBStats  `codec:"stats" json:"stats"`
}

// StreamStats is status_reply.json's market_data.streams: depth / tick-by-tick / bar subscriptions
// held at IB and their budgets (bars share the market-data lines), requests waiting for IB's
// pacing, events published.
type StreamStats struct {
	DepthUsed        int   `codec:"depth_used" json:"depth_used"`
	DepthBudget      int   `codec:"depth_budget" json:"depth_budget"`
	TickByTickUsed   int   `codec:"tick_by_tick_used" json:"tick_by_tick_used"`
	TickByTickBudget int   `codec:"tick_by_tick_budget" json:"tick_by_tick_budget"`
	BarsUsed         int   `codec:"bars_used" json:"bars_used"`
	BarsBudget       int   `codec:"bars_budget" json:"bars_budget"`
	Paced            int   `codec:"paced" json:"paced"`
	DepthEvents      int64 `codec:"depth_events" json:"depth_events"`
	TickEvents       int64 `codec:"tick_events" json:"tick_events"`
	BarEvents        int64 `codec:"bar_events" json:"bar_events"`
}

// LeaseInfo is one entry of status_reply.json's market_data.lease_list.
type LeaseInfo struct {
	Kind      string   `codec:"kind" json:"kind"`
	Keys      []string `codec:"keys" json:"keys"`
	Consumers []int    `codec:"consumers" json:"consumers"`
	TTLS      int64    `codec:"ttl_s" json:"ttl_s"`
}

// OrdersStatus is status_reply.json's orders: the order store, final statuses, acknowledgement times.
type OrdersStatus struct {
	StoreReady   bool `codec:"store_ready" json:"store_ready"`
	Repaired     bool `codec:"repaired" json:"repaired"`
	Unsettled    int  `codec:"unsettled" json:"unsettled"`
	StoreBacklog struct {
		Queued    int    `codec:"queued" json:"queued"`
		OldestMs  int64  `codec:"oldest_ms" json:"oldest_ms"`
		Retries   int64  `codec:"retries" json:"retries"`
		Conflicts int64  `codec:"conflicts" json:"conflicts"`
		LastError string `codec:"last_error" json:"last_error"`
	} `codec:"store_backlog" json:"store_backlog"`
	Final *struct {
		Filled    int64 `codec:"filled" json:"filled"`
		Cancelled int64 `codec:"cancelled" json:"cancelled"`
		Rejected  int64 `codec:"rejected" json:"rejected"`
	} `codec:"final,omitempty" json:"final,omitempty"`
	AckRTT *struct {
		BoundsMs []float64 `codec:"bounds_ms" json:"bounds_ms"`
		Buckets  []int64   `codec:"buckets" json:"buckets"`
		Count    int64     `codec:"count" json:"count"`
		SumS     float64   `codec:"sum_s" json:"sum_s"`
	} `codec:"ack_rtt,omitempty" json:"ack_rtt,omitempty"`
}

// HAStatus is ib.rpc.status "ha" (schemas/status_reply.json).
type HAStatus struct {
	Enabled       bool   `codec:"enabled" json:"enabled"`
	Role          string `codec:"role" json:"role"` // "active" or "standby"
	Instance      string `codec:"instance" json:"instance"`
	Epoch         int64  `codec:"epoch" json:"epoch"` // the leader lease's revision (Ibb-Epoch header)
	LeaderSinceNs int64  `codec:"leader_since_ns" json:"leader_since_ns"`
	Takeovers     int64  `codec:"takeovers" json:"takeovers"`
}

// Status is schemas/status_reply.json. Connected is the one flag a health check needs.
type Status struct {
	Version     string `codec:"version" json:"version"`
	UptimeS     int64  `codec:"uptime_s" json:"uptime_s"`
	Connected   bool   `codec:"connected" json:"connected"`
	OrdersReady bool   `codec:"orders_ready" json:"orders_ready"`
	// Orders: the order store, the repair of records an earlier run left unfinished, and the queue of
	// durable idempotency-record writes NATS has not acknowledged yet.
	Orders OrdersStatus `codec:"orders" json:"orders"`
	// HA: this instance's role in a hot-standby group (enabled false when ha.enabled is off).
	HA   HAStatus `codec:"ha" json:"ha"`
	IB   IBLink   `codec:"ib" json:"ib"`
	NATS struct {
		Connected bool `codec:"connected" json:"connected"`
	} `codec:"nats" json:"nats"`
	MarketData struct {
		LinesUsed         int         `codec:"lines_used" json:"lines_used"`
		SnapshotsInFlight int         `codec:"snapshots_in_flight" json:"snapshots_in_flight"`
		LineBudget        int         `codec:"line_budget" json:"line_budget"`
		Leases            int         `codec:"leases" json:"leases"`
		LeaseList         []LeaseInfo `codec:"lease_list,omitempty" json:"lease_list,omitempty"`
		QuoteEvents       int64       `codec:"quote_events" json:"quote_events"`
		KVWrites          int64       `codec:"kv_writes" json:"kv_writes"`
		KVWriteErrors     int64       `codec:"kv_write_errors" json:"kv_write_errors"`
		Streams           StreamStats `codec:"streams" json:"streams"`
	} `codec:"market_data" json:"market_data"`
	Pacing struct {
		Queue                int `codec:"queue" json:"queue"`
		QueueCancel          int `codec:"queue_cancel" json:"queue_cancel"`
		HistoricalQueue      int `codec:"historical_queue" json:"historical_queue"`
		HistoricalInFlight   int `codec:"historical_in_flight" json:"historical_in_flight"`
		HistoricalWindowUsed int `codec:"historical_window_used" json:"historical_window_used"`
	} `codec:"pacing" json:"pacing"`
}

// Order is order_list_reply.json#/$defs/order: an order as ib-bridge knows it.
type Order struct {
	OrderID       int64     `codec:"order_id" json:"order_id"`
	ClientOrderID string    `codec:"client_order_id" json:"client_order_id"`
	Key           string    `codec:"key" json:"key"`
	Contract      *Contract `codec:"contract,omitempty" json:"contract,omitempty"`
	Side          string    `codec:"side" json:"side"`
	Qty           float64   `codec:"qty" json:"qty"`
	OrderType     string    `codec:"order_type" json:"order_type"`
	LimitPrice    *float64  `codec:"limit_price,omitempty" json:"limit_price,omitempty"`
	StopPrice     *float64  `codec:"stop_price,omitempty" json:"stop_price,omitempty"`
	TIF           string    `codec:"tif" json:"tif"`
	Account       string    `codec:"account" json:"account"`
	Status        string    `codec:"status" json:"status"`
	Filled        float64   `codec:"filled" json:"filled"`
	Remaining     float64   `codec:"remaining" json:"remaining"`
	AvgFillPrice  float64   `codec:"avg_fill_price" json:"avg_fill_price"`
	PermID        int64     `codec:"perm_id" json:"perm_id"`
	Foreign       bool      `codec:"foreign,omitempty" json:"foreign,omitempty"`
	ClientID      *int64    `codec:"client_id,omitempty" json:"client_id,omitempty"`
}

// OrderRequest is schemas/order_place_request.json (and the body of PreviewOrder). PlaceOrder fills
// ClientOrderID when it is empty. Type defaults to MKT, TIF to DAY on the bus.
type OrderRequest struct {
	ClientOrderID string        `codec:"client_order_id" json:"client_order_id"`
	Symbol        string        `codec:"symbol,omitempty" json:"symbol,omitempty"`
	Key           string        `codec:"key,omitempty" json:"key,omitempty"`
	Contract      *ContractSpec `codec:"contract,omitempty" json:"contract,omitempty"`
	Side          string        `codec:"side" json:"side"`
	Qty           float64       `codec:"qty" json:"qty"`
	Type          string        `codec:"type,omitempty" json:"type,omitempty"`
	LimitPrice    float64       `codec:"limit_price,omitempty" json:"limit_price,omitempty"`
	StopPrice     float64       `codec:"stop_price,omitempty" json:"stop_price,omitempty"`
	TIF           string        `codec:"tif,omitempty" json:"tif,omitempty"`
	OutsideRTH    bool          `codec:"outside_rth,omitempty" json:"outside_rth,omitempty"`
	Account       string        `codec:"account,omitempty" json:"account,omitempty"`
}

// OrderPlaced is schemas/order_place_reply.json plus what PlaceOrder did to get it.
type OrderPlaced struct {
	OrderID       int64  `codec:"order_id" json:"order_id"`
	ClientOrderID string `codec:"client_order_id" json:"client_order_id"`
	Status        string `codec:"status" json:"status"`
	// Duplicate is the bus' word: this request repeated an earlier client_order_id. After a retry
	// (Attempts > 1) it is true when an earlier attempt of this call had reached ib-bridge.
	Duplicate bool   `codec:"duplicate" json:"duplicate"`
	Note      string `codec:"note,omitempty" json:"note,omitempty"`
	// Attempts is the number of requests PlaceOrder sent (not on the wire).
	Attempts int `codec:"-" json:"-"`
}

// OrderRef names an order by OrderID or ClientOrderID (schemas/order_cancel_request.json).
type OrderRef struct {
	OrderID       int64  `codec:"order_id,omitempty" json:"order_id,omitempty"`
	ClientOrderID string `codec:"client_order_id,omitempty" json:"client_order_id,omitempty"`
}

// ModifyRequest is schemas/order_modify_request.json: the order and at least one new value.
type ModifyRequest struct {
	OrderID       int64    `codec:"order_id,omitempty" json:"order_id,omitempty"`
	ClientOrderID string   `codec:"client_order_id,omitempty" json:"client_order_id,omitempty"`
	Qty           *float64 `codec:"qty,omitempty" json:"qty,omitempty"`
	LimitPrice    *float64 `codec:"limit_price,omitempty" json:"limit_price,omitempty"`
	StopPrice     *float64 `codec:"stop_price,omitempty" json:"stop_price,omitempty"`
}

// ListOrdersRequest is schemas/order_list_request.json. Status "open" (default) or "all".
type ListOrdersRequest struct {
	Status        string        `codec:"status,omitempty" json:"status,omitempty"`
	Symbol        string        `codec:"symbol,omitempty" json:"symbol,omitempty"`
	Key           string        `codec:"key,omitempty" json:"key,omitempty"`
	Contract      *ContractSpec `codec:"contract,omitempty" json:"contract,omitempty"`
	Side          string        `codec:"side,omitempty" json:"side,omitempty"`
	ClientOrderID string        `codec:"client_order_id,omitempty" json:"client_order_id,omitempty"`
}

// OrderList is schemas/order_list_reply.json. Source "ib" (refreshed now) or "cache" (IB down).
type OrderList struct {
	Source string  `codec:"source" json:"source"`
	Count  int     `codec:"count" json:"count"`
	Orders []Order `codec:"orders" json:"orders"`
}

// Fill is one execution of an order event (type "fill").
type Fill struct {
	ExecID   string  `codec:"exec_id" json:"exec_id"`
	Qty      float64 `codec:"qty" json:"qty"`
	Price    float64 `codec:"price" json:"price"`
	Time     string  `codec:"time" json:"time"`
	Side     string  `codec:"side" json:"side"`
	Exchange string  `codec:"exchange" json:"exchange"`
	CumQty   float64 `codec:"cum_qty" json:"cum_qty"`
	AvgPrice float64 `codec:"avg_price" json:"avg_price"`
	Account  string  `codec:"account" json:"account"`
}

// Commission of one execution (order event type "commission").
type Commission struct {
	ExecID      string   `codec:"exec_id" json:"exec_id"`
	Commission  float64  `codec:"commission" json:"commission"`
	Currency    string   `codec:"currency" json:"currency"`
	RealizedPnL *float64 `codec:"realized_pnl,omitempty" json:"realized_pnl,omitempty"`
}

// OrderEventError says why IB refused an order (order event type "rejected").
type OrderEventError struct {
	Message string `codec:"message" json:"message"`
	IBCode  int    `codec:"ib_code,omitempty" json:"ib_code,omitempty"`
}

// OrderEvent is schemas/order_event.json: the order after the event, and the event.
// Type: submitted, status, filled, cancelled, rejected, modified, fill, commission.
type OrderEvent struct {
	Order
	Type       string           `codec:"type" json:"type"`
	EventID    string           `codec:"event_id" json:"event_id"`
	TsNs       int64            `codec:"ts_ns" json:"ts_ns"`
	Reconciled bool             `codec:"reconciled" json:"reconciled"`
	Fill       *Fill            `codec:"fill,omitempty" json:"fill,omitempty"`
	Commission *Commission      `codec:"commission,omitempty" json:"commission,omitempty"`
	Error      *OrderEventError `codec:"error,omitempty" json:"error,omitempty"`
}

// ConnEvent is schemas/conn_event.json (<prefix>.evt.conn). Source "ib": Event is the session
// state (disconnected, connecting, handshaking, ready, backoff) or an IB notice
// (connectivity_lost, farm_ok, ...); State up, down, connecting or degraded. Source "nats": the
// adapter's NATS link (connected, disconnected, reconnected, closed, error). Source "ha": this
// instance took the leader lease (ha_active) or released it (ha_standby).
type ConnEvent struct {
	Source        string `codec:"source" json:"source"`
	Event         string `codec:"event" json:"event"`
	TsNs          int64  `codec:"ts_ns" json:"ts_ns"`
	State         string `codec:"state,omitempty" json:"state,omitempty"`
	URL           string `codec:"url,omitempty" json:"url,omitempty"`
	Message       string `codec:"message,omitempty" json:"message,omitempty"`
	IBCode        int    `codec:"ib_code,omitempty" json:"ib_code,omitempty"`
	ServerVersion int    `codec:"server_version,omitempty" json:"server_version,omitempty"`
}

// LeaseRequest is schemas/subscribe_request.json (Kind, Rows, TickType, WhatToShow and Account are
// the wave 2 lease kinds of BRIEF; sent only when set).
type LeaseRequest struct {
	Symbols   []string       `codec:"symbols,omitempty" json:"symbols,omitempty"`
	Contracts []ContractSpec `codec:"contracts,omitempty" json:"contracts,omitempty"`
	TTLS      int            `codec:"ttl_s,omitempty" json:"ttl_s,omitempty"`
	LeaseID   string         `codec:"lease_id,omitempty" json:"lease_id,omitempty"`
	Kind      string         `codec:"kind,omitempty" json:"kind,omitempty"`
	Rows      int            `codec:"rows,omitempty" json:"rows,omitempty"`
	TickType  string         `codec:"type,omitempty" json:"type,omitempty"`
	// WhatToShow of a bars lease: TRADES (default), BID, ASK, MIDPOINT.
	WhatToShow string `codec:"what_to_show,omitempty" json:"what_to_show,omitempty"`
	Account    string `codec:"account,omitempty" json:"account,omitempty"`
}

// LeasedInstrument is one instrument of schemas/subscribe_reply.json. State: streaming, pending,
// waiting_for_ib, failed (see Status), ended.
type LeasedInstrument struct {
	Key      string            `codec:"key" json:"key"`
	Subject  string            `codec:"subject" json:"subject"`
	State    string            `codec:"state" json:"state"`
	Contract Contract          `codec:"contract" json:"contract"`
	Status   *InstrumentStatus `codec:"status,omitempty" json:"status,omitempty"`
}

// Lease is schemas/subscribe_reply.json.
type Lease struct {
	LeaseID     string             `codec:"lease_id" json:"lease_id"`
	Account     string             `codec:"account,omitempty" json:"account,omitempty"` // kind pnl
	TTLS        int                `codec:"ttl_s" json:"ttl_s"`
	ExpiresAt   string             `codec:"expires_at" json:"expires_at"`
	Instruments []LeasedInstrument `codec:"instruments" json:"instruments"`
	// Kind and its parameter, for depth / ticks / bars / pnl leases (absent for quote leases).
	Kind       string `codec:"kind,omitempty" json:"kind,omitempty"`
	Rows       int    `codec:"rows,omitempty" json:"rows,omitempty"`
	TickType   string `codec:"type,omitempty" json:"type,omitempty"`
	WhatToShow string `codec:"what_to_show,omitempty" json:"what_to_show,omitempty"`
}

type unsubscribeRequest struct {
	LeaseID string `codec:"lease_id" json:"lease_id"`
}

// LeaseEnded is schemas/unsubscribe_reply.json.
type LeaseEnded struct {
	LeaseID   string `codec:"lease_id" json:"lease_id"`
	Ended     bool   `codec:"ended" json:"ended"`
	LinesUsed int    `codec:"lines_used" json:"lines_used"`
}

// ---- wave 2 of BRIEF: search, preview, completed orders, executions, scanner, P&L ----------------

// SearchRequest is the body of ib.rpc.contract.search.
type SearchRequest struct {
	Pattern string `codec:"pattern" json:"pattern"`
}

// ContractMatch is one match of ib.rpc.contract.search.
type ContractMatch struct {
	Key                string   `codec:"key" json:"key"`
	Contract           Contract `codec:"contract" json:"contract"`
	DerivativeSecTypes []string `codec:"derivative_sec_types,omitempty" json:"derivative_sec_types,omitempty"`
	Description        string   `codec:"description,omitempty" json:"description,omitempty"`
}

// SearchReply is the reply of ib.rpc.contract.search (schemas/contract_search_reply.json).
type SearchReply struct {
	Pattern string          `codec:"pattern" json:"pattern"`
	Cached  bool            `codec:"cached" json:"cached"`
	Count   int             `codec:"count" json:"count"`
	Matches []ContractMatch `codec:"matches" json:"matches"`
}

// PnL is schemas/pnl_event.json: an account's (Key empty) or one position's P&L, an event on
// <prefix>.pnl.<account>[.<key>] and a row of the ib.rpc.pnl reply. A value IB leaves unset is nil.
type PnL struct {
	Account       string   `codec:"account" json:"account"`
	Key           string   `codec:"key,omitempty" json:"key,omitempty"`
	ConID         int64    `codec:"con_id,omitempty" json:"con_id,omitempty"`
	Seq           uint64   `codec:"seq,omitempty" json:"seq,omitempty"`
	Position      *float64 `codec:"position,omitempty" json:"position,omitempty"`
	DailyPnL      *float64 `codec:"daily_pnl,omitempty" json:"daily_pnl,omitempty"`
	UnrealizedPnL *float64 `codec:"unrealized_pnl,omitempty" json:"unrealized_pnl,omitempty"`
	RealizedPnL   *float64 `codec:"realized_pnl,omitempty" json:"realized_pnl,omitempty"`
	Value         *float64 `codec:"value,omitempty" json:"value,omitempty"`
	TsNs          int64    `codec:"ts_ns" json:"ts_ns"`
}

// PnLAccount is one account of schemas/pnl_reply.json: its P&L and its leased positions'.
type PnLAccount struct {
	PnL
	Positions []PnL `codec:"positions" json:"positions"`
}

// PnLReply is schemas/pnl_reply.json, the reply of ib.rpc.pnl.
type PnLReply struct {
	AsOfNs   int64        `codec:"as_of_ns" json:"as_of_ns"`
	Live     bool         `codec:"live" json:"live"`
	Accounts []PnLAccount `codec:"accounts" json:"accounts"`
}

// OrderPreview is the reply of ib.rpc.order.preview (IB's what-if order state; schemas/
// order_preview_reply.json): only the values IB set are present.
type OrderPreview struct {
	ClientOrderID        string   `codec:"client_order_id" json:"client_order_id"`
	Key                  string   `codec:"key" json:"key"`
	Contract             Contract `codec:"contract" json:"contract"`
	Side                 string   `codec:"side" json:"side"`
	Qty                  float64  `codec:"qty" json:"qty"`
	Account              string   `codec:"account" json:"account"`
	Status               string   `codec:"status" json:"status"`
	InitMarginBefore     *float64 `codec:"init_margin_before,omitempty" json:"init_margin_before,omitempty"`
	MaintMarginBefore    *float64 `codec:"maint_margin_before,omitempty" json:"maint_margin_before,omitempty"`
	EquityWithLoanBefore *float64 `codec:"equity_with_loan_before,omitempty" json:"equity_with_loan_before,omitempty"`
	InitMarginChange     *float64 `codec:"init_margin_change,omitempty" json:"init_margin_change,omitempty"`
	MaintMarginChange    *float64 `codec:"maint_margin_change,omitempty" json:"maint_margin_change,omitempty"`
	EquityWithLoanChange *float64 `codec:"equity_with_loan_change,omitempty" json:"equity_with_loan_change,omitempty"`
	InitMarginAfter      *float64 `codec:"init_margin_after,omitempty" json:"init_margin_after,omitempty"`
	MaintMarginAfter     *float64 `codec:"maint_margin_after,omitempty" json:"maint_margin_after,omitempty"`
	EquityWithLoanAfter  *float64 `codec:"equity_with_loan_after,omitempty" json:"equity_with_loan_after,omitempty"`
	Commission           *float64 `codec:"commission,omitempty" json:"commission,omitempty"`
	MinCommission        *float64 `codec:"min_commission,omitempty" json:"min_commission,omitempty"`
	MaxCommission        *float64 `codec:"max_commission,omitempty" json:"max_commission,omitempty"`
	CommissionCurrency   string   `codec:"commission_currency,omitempty" json:"commission_currency,omitempty"`
	Warning              string   `codec:"warning,omitempty" json:"warning,omitempty"`
}

// ExecutionsRequest filters ib.rpc.executions. Source: "" / auto (the order stream when it covers the
// window from Since, else IB), ib, stream.
type ExecutionsRequest struct {
	Account string `codec:"account,omitempty" json:"account,omitempty"`
	Symbol  string `codec:"symbol,omitempty" json:"symbol,omitempty"`
	Side    string `codec:"side,omitempty" json:"side,omitempty"`
	Since   string `codec:"since,omitempty" json:"since,omitempty"`
	Source  string `codec:"source,omitempty" json:"source,omitempty"`
}

// Execution is one execution with its commission (schemas/executions_reply.json).
type Execution struct {
	Fill
	OrderID       int64       `codec:"order_id" json:"order_id"`
	ClientOrderID string      `codec:"client_order_id" json:"client_order_id"`
	Key           string      `codec:"key" json:"key"`
	Contract      *Contract   `codec:"contract,omitempty" json:"contract,omitempty"`
	Commission    *Commission `codec:"commission,omitempty" json:"commission,omitempty"`
	PermID        int64       `codec:"perm_id" json:"perm_id"`
	ClientID      int64       `codec:"client_id" json:"client_id"`
	TimeNs        int64       `codec:"time_ns,omitempty" json:"time_ns,omitempty"`
	Source        string      `codec:"source" json:"source"`
}

// ExecutionsReply is the reply of ib.rpc.executions.
type ExecutionsReply struct {
	Source     string      `codec:"source" json:"source"`
	Count      int         `codec:"count" json:"count"`
	Executions []Execution `codec:"executions" json:"executions"`
}

// CompletedOrdersRequest asks ib.rpc.order.completed (Since: ISO-8601).
type CompletedOrdersRequest struct {
	Since   string `codec:"since,omitempty" json:"since,omitempty"`
	APIOnly bool   `codec:"api_only,omitempty" json:"api_only,omitempty"`
}

// CompletedOrder is an order IB reports as finished, in the shape of an Order, plus how it ended.
type CompletedOrder struct {
	Order
	InLedger        bool   `codec:"in_ledger" json:"in_ledger"`
	CompletedTime   string `codec:"completed_time" json:"completed_time"`
	CompletedNs     int64  `codec:"completed_ns,omitempty" json:"completed_ns,omitempty"`
	CompletedStatus string `codec:"completed_status" json:"completed_status"`
}

// CompletedOrderList is the reply of ib.rpc.order.completed.
type CompletedOrderList struct {
	Source  string           `codec:"source" json:"source"`
	APIOnly bool             `codec:"api_only" json:"api_only"`
	Count   int              `codec:"count" json:"count"`
	Orders  []CompletedOrder `codec:"orders" json:"orders"`
}

// ScannerParams is the reply of ib.rpc.scanner.params: IB's scanner parameter XML.
type ScannerParams struct {
	Cached bool   `codec:"cached" json:"cached"`
	XML    string `codec:"xml" json:"xml"`
}

// ScanRequest asks ib.rpc.scanner for one result set (Filters: filter codes of the parameters).
type ScanRequest struct {
	ScanCode   string                 `codec:"scan_code" json:"scan_code"`
	Instrument string                 `codec:"instrument" json:"instrument"`
	Location   string                 `codec:"location" json:"location"`
	Filters    map[string]interface{} `codec:"filters,omitempty" json:"filters,omitempty"`
	Rows       int                    `codec:"rows,omitempty" json:"rows,omitempty"`
}

// ScanRow is one row of a scanner result set (rank 0 first).
type ScanRow struct {
	Rank       int      `codec:"rank" json:"rank"`
	Key        string   `codec:"key" json:"key"`
	Contract   Contract `codec:"contract" json:"contract"`
	MarketName string   `codec:"market_name" json:"market_name"`
	Distance   string   `codec:"distance" json:"distance"`
	Benchmark  string   `codec:"benchmark" json:"benchmark"`
	Projection string   `codec:"projection" json:"projection"`
}

// ScanReply is the reply of ib.rpc.scanner.
type ScanReply struct {
	ScanCode   string    `codec:"scan_code" json:"scan_code"`
	Instrument string    `codec:"instrument" json:"instrument"`
	Location   string    `codec:"location" json:"location"`
	Count      int       `codec:"count" json:"count"`
	Rows       []ScanRow `codec:"rows" json:"rows"`
}

// OptionChainRequest asks ib.rpc.options.chain for an underlying's expirations and strikes
// (schemas/options_chain_request.json). Symbol is the underlying's key (AAPL, IND:SPX:CBOE:USD, ...).
type OptionChainRequest struct {
	Symbol   string `codec:"symbol" json:"symbol"`
	Exchange string `codec:"exchange,omitempty" json:"exchange,omitempty"`
}

// OptionChain is one exchange / trading class of a chain; expirations and strikes ascending.
type OptionChain struct {
	Exchange        string    `codec:"exchange" json:"exchange"`
	TradingClass    string    `codec:"trading_class" json:"trading_class"`
	Multiplier      string    `codec:"multiplier" json:"multiplier"`
	UnderlyingConID int64     `codec:"underlying_con_id" json:"underlying_con_id"`
	Expirations     []string  `codec:"expirations" json:"expirations"`
	Strikes         []float64 `codec:"strikes" json:"strikes"`
}

// OptionChainReply is the reply of ib.rpc.options.chain (schemas/options_chain_reply.json).
type OptionChainReply struct {
	Underlying      string        `codec:"underlying" json:"underlying"`
	UnderlyingConID int64         `codec:"underlying_con_id" json:"underlying_con_id"`
	Count           int           `codec:"count" json:"count"`
	Chains          []OptionChain `codec:"chains" json:"chains"`
}

// OptionQuotesRequest asks ib.rpc.options.quotes for a slice of a chain (schemas/options_quotes_request.json):
// the Strikes given, or Window strikes on each side of the money (nil: 5); Right "C", "P" or "" (both).
type OptionQuotesRequest struct {
	Underlying string    `codec:"underlying" json:"underlying"`
	Expiration string    `codec:"expiration" json:"expiration"`
	Right      string    `codec:"right,omitempty" json:"right,omitempty"`
	Strikes    []float64 `codec:"strikes,omitempty" json:"strikes,omitempty"`
	Window     *int      `codec:"window,omitempty" json:"window,omitempty"`
	Exchange   string    `codec:"exchange,omitempty" json:"exchange,omitempty"`
}

// OptionQuote is one option of a slice: its snapshot (with Greeks) or its own error.
type OptionQuote struct {
	Key    string       `codec:"key" json:"key"`
	Right  string       `codec:"right" json:"right"`
	Strike float64      `codec:"strike" json:"strike"`
	Quote  *Quote       `codec:"quote,omitempty" json:"quote,omitempty"`
	Error  *OptionError `codec:"error,omitempty" json:"error,omitempty"`
}

// OptionError is the error of one option of a slice (error.json#/properties/error).
type OptionError struct {
	Code    string `codec:"code" json:"code"`
	Message string `codec:"message" json:"message"`
	IBCode  int    `codec:"ib_code,omitempty" json:"ib_code,omitempty"`
}

// OptionQuotesReply is the reply of ib.rpc.options.quotes (schemas/options_quotes_reply.json).
type OptionQuotesReply struct {
	Underlying      string        `codec:"underlying" json:"underlying"`
	Expiration      string        `codec:"expiration" json:"expiration"`
	Exchange        string        `codec:"exchange" json:"exchange"`
	TradingClass    string        `codec:"trading_class" json:"trading_class"`
	Multiplier      string        `codec:"multiplier" json:"multiplier"`
	UnderlyingPrice *float64      `codec:"underlying_price,omitempty" json:"underlying_price,omitempty"`
	Count           int           `codec:"count" json:"count"`
	Options         []OptionQuote `codec:"options" json:"options"`
}

// DepthRow is one price level of a book.
type DepthRow struct {
	Price       float64 `codec:"price" json:"price"`
	Size        float64 `codec:"size" json:"size"`
	MarketMaker string  `codec:"market_maker,omitempty" json:"market_maker,omitempty"`
}

// Depth is schemas/depth_event.json, an event on <prefix>.depth.<key> and the reply of
// ib.rpc.depth: the whole book after one read (row 0 the best price), Rows a side at most.
type Depth struct {
	Key      string     `codec:"key" json:"key"`
	Seq      uint64     `codec:"seq" json:"seq"`
	Rows     int        `codec:"rows" json:"rows"`
	Bids     []DepthRow `codec:"bids" json:"bids"`
	Asks     []DepthRow `codec:"asks" json:"asks"`
	RecvTsNs int64      `codec:"recv_ts_ns" json:"recv_ts_ns"`
}

// Tick is schemas/ticks_event.json, an event on <prefix>.ticks.<key>: one tick-by-tick event, never
// conflated. Type last / all_last set Price, Size, Exchange, SpecialConditions, PastLimit,
// Unreported; bid_ask the Bid*/Ask* fields; midpoint MidPoint. Time is IB's, epoch seconds.
type Tick struct {
	Key               string   `codec:"key" json:"key"`
	Seq               uint64   `codec:"seq" json:"seq"`
	Type              string   `codec:"type" json:"type"`
	Time              int64    `codec:"time" json:"time"`
	Price             *float64 `codec:"price,omitempty" json:"price,omitempty"`
	Size              *float64 `codec:"size,omitempty" json:"size,omitempty"`
	Exchange          string   `codec:"exchange,omitempty" json:"exchange,omitempty"`
	SpecialConditions string   `codec:"special_conditions,omitempty" json:"special_conditions,omitempty"`
	PastLimit         bool     `codec:"past_limit,omitempty" json:"past_limit,omitempty"`
	Unreported        bool     `codec:"unreported,omitempty" json:"unreported,omitempty"`
	BidPrice          *float64 `codec:"bid_price,omitempty" json:"bid_price,omitempty"`
	AskPrice          *float64 `codec:"ask_price,omitempty" json:"ask_price,omitempty"`
	BidSize           *float64 `codec:"bid_size,omitempty" json:"bid_size,omitempty"`
	AskSize           *float64 `codec:"ask_size,omitempty" json:"ask_size,omitempty"`
	BidPastLow        bool     `codec:"bid_past_low,omitempty" json:"bid_past_low,omitempty"`
	AskPastHigh       bool     `codec:"ask_past_high,omitempty" json:"ask_past_high,omitempty"`
	MidPoint          *float64 `codec:"mid_point,omitempty" json:"mid_point,omitempty"`
	RecvTsNs          int64    `codec:"recv_ts_ns" json:"recv_ts_ns"`
}

// Bar is schemas/bar_event.json, an event on <prefix>.bars.<key>: one 5-second real-time bar (Time
// its start, epoch seconds; Volume, WAP and Count mean something for TRADES only).
type Bar struct {
	Key        string  `codec:"key" json:"key"`
	Seq        uint64  `codec:"seq" json:"seq"`
	WhatToShow string  `codec:"what_to_show" json:"what_to_show"`
	Time       int64   `codec:"time" json:"time"`
	Open       float64 `codec:"open" json:"open"`
	High       float64 `codec:"high" json:"high"`
	Low        float64 `codec:"low" json:"low"`
	Close      float64 `codec:"close" json:"close"`
	Volume     float64 `codec:"volume" json:"volume"`
	WAP        float64 `codec:"wap" json:"wap"`
	Count      int64   `codec:"count" json:"count"`
	RecvTsNs   int64   `codec:"recv_ts_ns" json:"recv_ts_ns"`
}
