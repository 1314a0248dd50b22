// Package ibbridge is ib-bridge's bus contract in Go: the types of every message in schemas/ and a
// client for the request subjects and streams ib-bridge serves on NATS.
//
// # Building
//
// The package needs only the standard library, github.com/nats-io/nats.go and
// github.com/ugorji/go/codec. With Debian's Go (1.19) and packages (golang-go,
// golang-github-nats-io-go-nats-dev, golang-github-ugorji-go-codec-dev) it builds offline in GOPATH
// mode; its import path is "ib-bridge/schemas/go/ibbridge", so put a GOPATH entry in front of
// Debian's whose src/ib-bridge is this repository (a symlink does; the build does exactly this in
// <build>/tests/go/gopath):
//
//	mkdir -p ~/gopath/src && ln -s /path/to/ib-bridge ~/gopath/src/ib-bridge
//	GO111MODULE=off GOPATH=~/gopath:/usr/share/gocode go build ./...
//
// Module users require the module (go.mod: nats.go v1.22.1, ugorji/go/codec v1.2.8) and point a
// replace directive at the checkout:
//
//	require ib-bridge/schemas/go/ibbridge v0.0.0
//	replace ib-bridge/schemas/go/ibbridge => /path/to/ib-bridge/schemas/go/ibbridge
//
// and let `go mod tidy` write go.sum (that needs the module proxy; the repository's tests build
// in GOPATH mode only).
//
// # Calls
//
// New(nc, opts...) wraps a *nats.Conn: WithPrefix ("ib"), WithEncoding (MsgPack, the default, or
// JSON; ib-bridge replies in the request's encoding), WithRequestTimeout (5 s, used when the
// context has no deadline). Every request subject has a typed call taking a context.Context:
//
//	Quote, QuoteOf          ib.rpc.quote
//	Candles                 ib.rpc.candles
//	Contract, ContractOf    ib.rpc.contract
//	Positions               ib.rpc.positions
//	Account                 ib.rpc.account
//	Status                  ib.rpc.status
//	PlaceOrder              ib.rpc.order.place (idempotent retries, below)
//	CancelOrder             ib.rpc.order.cancel
//	ModifyOrder             ib.rpc.order.modify
//	ListOrders              ib.rpc.order.list
//	Subscribe, SubscribeWith ib.rpc.subscribe (+ renewals), <prefix>.quote.<key>; Close: ib.rpc.unsubscribe
//	SearchContracts         ib.rpc.contract.search   (wave 2)
//	PnL                     ib.rpc.pnl               (wave 2)
//	PreviewOrder            ib.rpc.order.preview     (wave 2)
//	CompletedOrders         ib.rpc.order.completed   (wave 2)
//	Executions              ib.rpc.executions        (wave 2)
//	OptionChain             ib.rpc.options.chain
//	OptionQuotes            ib.rpc.options.quotes
//
// Every subject of BRIEF's wave 2 is served and its types are checked against its schema
// (schema_types_test.go). A subject ib-bridge does not serve (an older ib-bridge, or not_implemented)
// fails with ErrNotServed, which errors.Is also matches with ErrNotFound. Request sends any other
// subject.
//
// # Errors
//
// Every failure of a call is an *Error: the slug (Code), Message, IBCode, Status (the
// Nats-Service-Error-Code header) and RetryAfter (retry_after_ms). Test it with errors.Is:
//
//	slug                      errors.Is
//	bad_request               ErrBadRequest
//	unauthorized              ErrUnauthorized
//	forbidden                 ErrForbidden
//	read_only                 ErrReadOnly, ErrForbidden
//	not_found                 ErrNotFound
//	unknown_symbol            ErrUnknownSymbol, ErrNotFound
//	conflict                  ErrConflict
//	payload_too_large         ErrPayloadTooLarge
//	unprocessable             ErrUnprocessable
//	ambiguous                 ErrAmbiguous, ErrUnprocessable
//	order_rejected            ErrOrderRejected, ErrUnprocessable
//	risk_limit                ErrRiskLimit, ErrUnprocessable
//	rate_limited              ErrRateLimited
//	pacing                    ErrPacing, ErrRateLimited (RetryAfter set)
//	line_limit                ErrLineLimit, ErrRateLimited
//	internal                  ErrInternal
//	not_implemented           ErrNotServed, ErrNotFound
//	ib_error                  ErrIBError
//	unavailable               ErrUnavailable
//	ib_unavailable            ErrIBUnavailable, ErrUnavailable
//	timeout                   ErrTimeout
//	(local) no reply in time  ErrTimeout (Local; Unwrap gives the context / nats error)
//	(local) no responders     ErrUnavailable, or ErrNotServed + ErrNotFound on a wave 2 subject
//	(local) breaker open      ErrBreakerOpen, ErrUnavailable
//
// A slug this package does not know falls back on its status (404 is ErrNotFound, 503
// ErrUnavailable, ...).
//
// # Circuit breaker
//
// The client watches <prefix>.evt.conn. Its breaker opens on an ib_unavailable reply and on an IB
// event whose state is "down" (disconnected, backoff), and closes on the IB "ready" event — never
// on a timer: ib-bridge says when IB is back. While open, calls that need IB (Quote, Candles,
// Contract, orders, and the wave 2 IB lookups) fail at once with ErrBreakerOpen; Status, Positions,
// Account, ListOrders and leases still go to the bus (ib-bridge answers them from memory). An
// ib_unavailable reply that may have crossed the ready event is checked with one ib.rpc.status.
// Breaker reports the state; WaitReady waits for it to close; WithoutBreaker turns it off.
//
// # Subscriptions
//
// Subscribe(ctx, kind, symbols...) takes a lease (ib.rpc.subscribe) and delivers typed Events on
// its channel C: Quote for KindQuote; Depth, Tick, Bar and PnL for the wave 2 kinds. It renews the
// lease every third of its TTL (WithLeaseTTL, 30 s), takes a new lease when ib-bridge no longer
// knows it (not_found after an ib-bridge restart or takeover) — at once when ib.evt.conn shows an
// ib-bridge joining the bus or IB ready again — and checks each key's seq: a gap (events lost to a
// slow receiver or a reconnect) is filled with an ib.rpc.quote snapshot delivered as an Event with
// Snapshot set and GapFrom..GapTo; a seq that starts again is a new ib-bridge (Stats().Restarts).
// Close ends the lease and closes C. A lease holds at most 100 instruments (the bus refuses more
// with bad_request): take several subscriptions for more. Quote events are decoded without
// reflection (one allocation per event); any other shape goes through the codec.
//
// # Orders
//
// PlaceOrder fills ClientOrderID when it is empty (NewClientOrderID) and retries the same request
// after a timeout, no responders, or ib_unavailable (waiting for the breaker to close), until its
// context ends: ib-bridge's idempotency makes the retries place the order at most once. The result
// carries the bus' Duplicate flag and the number of Attempts.
//
// OrderEvents(ctx, since, opts...) replays the JetStream stream <PREFIX>_ORDERS
// (<prefix>.evt.order.>) from SinceSeq, SinceTime, SinceAll or SinceNew, then follows it live; with
// Durable(name) the server keeps the position across runs. A service that was down misses no
// fill, and sees each once.
//
// # Provider: moving from the old bridge's Go library
//
// The Python bridge shipped a Go library with an HTTP client and a market-data provider interface.
// Provider keeps that shape; code written against it changes only where the provider is made:
//
//	old library (HTTP to the Python bridge)   this package (NATS to ib-bridge)
//	provider built from the bridge's URL      ibbridge.NewProvider(client), client := ibbridge.New(nc)
//	GetQuote(ctx, symbol)  GET /quotes/{sym}  Provider.GetQuote  -> ib.rpc.quote      (Client.Quote)
//	GetCandles(ctx, ...)   POST /candles/...  Provider.GetCandles -> ib.rpc.candles   (Client.Candles)
//	Subscribe(...)         WebSocket quotes   Provider.Subscribe -> lease + ib.quote.<key> (Client.Subscribe)
//	circuit breaker on a timer                breaker driven by ib.evt.conn (above)
//	HTTP status errors                        *Error with errors.Is kinds (above)
//
// Quotes carry the same fields as the old JSON (bid, ask, last, sizes, volume, ...) as *float64:
// nil when IB has not sent the price.
package ibbridge
