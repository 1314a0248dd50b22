package ibbridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder keeps every request body a client sent, for the schema check (TestRequestsMatchSchemas).
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	enc     Encoding
	subject string
	data    []byte
}

var sent recorder

func (r *recorder) trace(enc Encoding) func(bool, string, []byte) {
	return func(out bool, subject string, data []byte) {
		if !out {
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{enc, subject, append([]byte(nil), data...)})
		r.mu.Unlock()
	}
}

// newClient is a strict, recording client: a reply or event with a field the types lack fails.
func newClient(t *testing.T, enc Encoding, opts ...Option) *Client {
	t.Helper()
	c, err := New(sys.nc, append([]Option{WithEncoding(enc), WithStrictDecoding(), WithTrace(sent.trace(enc))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func wantKind(t *testing.T, err error, kinds ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %v", kinds)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not an *ibbridge.Error", err, err)
	}
	for _, k := range kinds {
		if !errors.Is(err, k) {
			t.Fatalf("%v: errors.Is(%v) false", err, k)
		}
	}
}

// Every call, in both encodings, against the real ib-bridge; replies decode strictly.
func TestCalls(t *testing.T) {
	for _, enc := range []Encoding{MsgPack, JSON} {
		t.Run(enc.String(), func(t *testing.T) {
			c := newClient(t, enc)
			ctx := ctxT(t, 60*time.Second)

			st, err := c.Status(ctx)
			if err != nil || !st.Connected || st.IB.State != "ready" || len(st.IB.Accounts) == 0 {
				t.Fatalf("Status: %v %+v", err, st)
			}
			account := st.IB.Accounts[0]

			q, err := c.Quote(ctx, "AAPL")
			if err != nil || q.Key != "AAPL" || q.Contract.ConID != 265598 || q.Source == "" {
				t.Fatalf("Quote: %v %+v", err, q)
			}
			q, err = c.QuoteOf(ctx, QuoteRequest{Contract: &ContractSpec{ConID: 265598}})
			if err != nil || q.Contract.ConID != 265598 || q.Contract.Symbol != "AAPL" {
				t.Fatalf("QuoteOf contract: %v %+v", err, q)
			}
			_, err = c.Quote(ctx, "NOSUCHSYM")
			wantKind(t, err, ErrUnknownSymbol, ErrNotFound)

			cr, err := c.Candles(ctx, CandlesRequest{Symbol: "MSFT", Duration: "1 D", BarSize: "1 hour"})
			if err != nil || cr.Key != "MSFT" || cr.Count == 0 || len(cr.Bars) != cr.Count || cr.Bars[0].O <= 0 {
				t.Fatalf("Candles: %v %+v", err, cr)
			}
			_, err = c.Candles(ctx, CandlesRequest{Symbol: "MSFT", Duration: "1 D", BarSize: "7 mins"})
			wantKind(t, err, ErrBadRequest)

			ct, err := c.Contract(ctx, "AAPL")
			if err != nil || ct.Count != 1 || ct.Contracts[0].Contract.ConID != 265598 || ct.Contracts[0].LongName == "" {
				t.Fatalf("Contract: %v %+v", err, ct)
			}
			ct, err = c.ContractOf(ctx, ContractRequest{Contract: &ContractSpec{Symbol: "ES", SecType: "FUT", Exchange: "CME"}})
			if err != nil || ct.Count < 2 {
				t.Fatalf("Contract FUT ES (every expiry): %v %+v", err, ct)
			}
			esKey := ct.Contracts[0].Key

			// an order that fills, one that works, modified, cancelled
			placed, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 3})
			if err != nil || placed.OrderID == 0 || !strings.HasPrefix(placed.ClientOrderID, "go-") || placed.Duplicate || placed.Attempts != 1 {
				t.Fatalf("PlaceOrder MKT: %v %+v", err, placed)
			}
			again, err := c.PlaceOrder(ctx, OrderRequest{ClientOrderID: placed.ClientOrderID, Symbol: "AAPL", Side: "BUY", Qty: 3})
			if err != nil || again.OrderID != placed.OrderID || !again.Duplicate {
				t.Fatalf("PlaceOrder repeat: %v %+v", err, again)
			}
			lmt, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "MSFT", Side: "BUY", Qty: 1, Type: "LMT", LimitPrice: 1.5, TIF: "GTC", Account: account})
			if err != nil {
				t.Fatalf("PlaceOrder LMT: %v", err)
			}
			two := 2.0
			mo, err := c.ModifyOrder(ctx, ModifyRequest{OrderID: lmt.OrderID, Qty: &two})
			if err != nil || mo.Qty != 2 || mo.OrderID != lmt.OrderID {
				t.Fatalf("ModifyOrder: %v %+v", err, mo)
			}
			ol, err := c.ListOrders(ctx, ListOrdersRequest{ClientOrderID: lmt.ClientOrderID})
			if err != nil || ol.Count != 1 || ol.Orders[0].OrderID != lmt.OrderID {
				t.Fatalf("ListOrders: %v %+v", err, ol)
			}
			ol, err = c.ListOrders(ctx, ListOrdersRequest{Status: "all", Symbol: "AAPL"})
			if err != nil || ol.Count == 0 {
				t.Fatalf("ListOrders all: %v %+v", err, ol)
			}
			co, err := c.CancelOrder(ctx, OrderRef{ClientOrderID: lmt.ClientOrderID})
			if err != nil || co.Status != "Cancelled" {
				t.Fatalf("CancelOrder: %v %+v", err, co)
			}
			_, err = c.CancelOrder(ctx, OrderRef{OrderID: 987654321})
			wantKind(t, err, ErrNotFound)
			_, err = c.CancelOrder(ctx, OrderRef{ClientOrderID: lmt.ClientOrderID})
			wantKind(t, err, ErrConflict)
			_, err = c.PlaceOrder(ctx, OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 1, Type: "LMT"})
			wantKind(t, err, ErrBadRequest)

			// positions / account follow the fill
			deadline := time.Now().Add(10 * time.Second)
			for {
				pos, err := c.Positions(ctx, "")
				if err != nil {
					t.Fatalf("Positions: %v", err)
				}
				found := false
				for _, p := range pos.Positions {
					found = found || (p.Key == "AAPL" && p.Position > 0)
				}
				if found && pos.Live {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Positions: no AAPL row: %+v", pos)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if _, err := c.Positions(ctx, account); err != nil {
				t.Fatalf("Positions(%s): %v", account, err)
			}
			_, err = c.Positions(ctx, "XX999")
			wantKind(t, err, ErrNotFound)
			pnl, err := c.PnL(ctx, account)
			if err != nil || len(pnl.Accounts) != 1 || pnl.Accounts[0].Account != account || pnl.Accounts[0].DailyPnL == nil {
				t.Fatalf("PnL(%s): %v %+v", account, err, pnl)
			}
			_, err = c.PnL(ctx, "XX999")
			wantKind(t, err, ErrBadRequest)
			ac, err := c.Account(ctx, account)
			if err != nil || ac.Count != 1 || ac.Accounts[0].Account != account {
				t.Fatalf("Account: %v %+v", err, ac)
			}
			if v, ok := ac.Accounts[0].Values["NetLiquidation"].Float(); !ok || v <= 0 {
				t.Fatalf("Account NetLiquidation: %+v", ac.Accounts[0].Values["NetLiquidation"])
			}

			// issue 16: search, preview, completed orders, executions, scanner
			sr, err := c.SearchContracts(ctx, "APP")
			if err != nil || sr.Count == 0 || sr.Matches[0].Contract.ConID == 0 {
				t.Fatalf("SearchContracts: %v %+v", err, sr)
			}
			pv, err := c.PreviewOrder(ctx, OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 1, Type: "LMT", LimitPrice: 100})
			if err != nil || pv.InitMarginChange == nil || pv.InitMarginAfter == nil || pv.Key != "AAPL" {
				t.Fatalf("PreviewOrder: %v %+v", err, pv)
			}
			if _, err := c.CompletedOrders(ctx, CompletedOrdersRequest{APIOnly: true}); err != nil {
				t.Fatalf("CompletedOrders: %v", err)
			}
			if _, err := c.Executions(ctx, ExecutionsRequest{Symbol: "AAPL"}); err != nil {
				t.Fatalf("Executions: %v", err)
			}
			if sp, err := c.ScannerParams(ctx); err != nil || sp.XML == "" {
				t.Fatalf("ScannerParams: %v", err)
			}
			scan, err := c.Scan(ctx, ScanRequest{ScanCode: "MOST_ACTIVE", Instrument: "STK", Location: "STK.US.MAJOR", Rows: 3})
			if err != nil || scan.Count != 3 || scan.Rows[0].Key == "" {
				t.Fatalf("Scan: %v %+v", err, scan)
			}
			// options: the chain, then a slice with greeks
			ch, err := c.OptionChain(ctx, OptionChainRequest{Symbol: "AAPL", Exchange: "SMART"})
			if err != nil || ch.Underlying != "AAPL" || ch.Count != 1 || len(ch.Chains[0].Strikes) < 10 ||
				len(ch.Chains[0].Expirations) == 0 {
				t.Fatalf("OptionChain: %+v %v", ch, err)
			}
			one := 1
			oq, err := c.OptionQuotes(ctx, OptionQuotesRequest{Underlying: "AAPL",
				Expiration: ch.Chains[0].Expirations[0], Right: "C", Window: &one})
			if err != nil || oq.Count != 3 || oq.UnderlyingPrice == nil {
				t.Fatalf("OptionQuotes: %+v %v", oq, err)
			}
			for _, o := range oq.Options {
				if o.Quote == nil || o.Quote.Greeks == nil || o.Quote.Greeks.Model == nil || o.Quote.Greeks.Model.Delta == nil ||
					o.Quote.Greeks.Model.IV == nil {
					t.Fatalf("option without greeks: %+v", o)
				}
			}
			_, err = c.OptionQuotes(ctx, OptionQuotesRequest{Underlying: "AAPL", Expiration: "20200117"}) // not in the chain
			wantKind(t, err, ErrBadRequest)

			// a lease: Subscribe, events, Close ends it
			sub, err := c.Subscribe(ctx, KindQuote, "AAPL", esKey)
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			l := sub.Lease()
			if len(l.LeaseID) != 32 || len(l.Instruments) != 2 {
				t.Fatalf("lease: %+v", l)
			}
			got := map[string]int{}
			for len(got) < 2 {
				select {
				case ev := <-sub.C:
					if ev.Quote == nil || ev.Quote.Contract.ConID == 0 {
						t.Fatalf("event: %+v", ev)
					}
					got[ev.Key]++
				case <-ctx.Done():
					t.Fatalf("events of %v: %v; lease %+v", got, sub.Err(), l)
				}
			}
			if err := sub.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// by contract, through SubscribeWith
			sub, err = c.SubscribeWith(ctx, LeaseRequest{Contracts: []ContractSpec{{ConID: 272093}, {Symbol: "SPY", SecType: "STK"}}})
			if err != nil {
				t.Fatalf("SubscribeWith: %v", err)
			}
			if l := sub.Lease(); len(l.Instruments) != 2 {
				t.Fatalf("lease by contract: %+v", l)
			}
			select {
			case ev := <-sub.C:
				if ev.Quote == nil || (ev.Quote.Contract.ConID != 272093 && ev.Quote.Contract.Symbol != "SPY") {
					t.Fatalf("event: %+v", ev.Quote)
				}
			case <-ctx.Done():
				t.Fatal("no event by contract")
			}
			if err := sub.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			_, err = c.Subscribe(ctx, KindQuote, "NOSUCHSYM")
			wantKind(t, err, ErrUnknownSymbol)

			// a P&L lease: one position's P&L on <prefix>.pnl.<account>.<key>
			psub, err := c.SubscribeWith(ctx, LeaseRequest{Symbols: []string{"AAPL"}, Kind: string(KindPnL), Account: account})
			if err != nil {
				t.Fatalf("Subscribe pnl: %v", err)
			}
			select {
			case ev := <-psub.C:
				if ev.PnL == nil || ev.PnL.Account != account || ev.Key != "AAPL" || ev.PnL.ConID != 265598 ||
					ev.PnL.Position == nil || ev.PnL.Value == nil {
					t.Fatalf("pnl event: %+v", ev.PnL)
				}
			case <-ctx.Done():
				t.Fatalf("no P&L event: %v", psub.Err())
			}
			if err := psub.Close(); err != nil {
				t.Fatalf("Close pnl: %v", err)
			}
		})
	}
}

// Every request body sent by the tests so far validates against schemas/ (a node + ajv check).
// Runs last in this file's order: see zz_schema_test.go.
func checkRequestsAgainstSchemas(t *testing.T) {
	dir := t.TempDir()
	sent.mu.Lock()
	seen := map[string]bool{}
	for i, r := range sent.reqs {
		name := fmt.Sprintf("%05d.%s.%s", i, r.enc, r.subject)
		if err := os.WriteFile(filepath.Join(dir, name), r.data, 0o644); err != nil {
			t.Fatal(err)
		}
		seen[strings.TrimPrefix(r.subject, "ib.")+" "+r.enc.String()] = true
	}
	sent.mu.Unlock()
	for _, s := range []string{"rpc.quote", "rpc.candles", "rpc.contract", "rpc.positions", "rpc.account",
		"rpc.subscribe", "rpc.unsubscribe", "rpc.order.place", "rpc.order.cancel", "rpc.order.modify",
		"rpc.order.list", "rpc.status", "rpc.contract.search", "rpc.pnl", "rpc.order.preview",
		"rpc.order.completed", "rpc.executions", "rpc.options.chain", "rpc.options.quotes"} {
		for _, enc := range []string{"msgpack", "json"} {
			if !seen[s+" "+enc] {
				t.Errorf("no %s request was sent in %s", s, enc)
			}
		}
	}
	node := os.Getenv("NODE")
	if node == "" {
		node = "node"
	}
	out, err := exec.Command(node, "../../../tests/go/validate_requests.js", dir).CombinedOutput()
	t.Logf("\n%s", out)
	if err != nil {
		t.Fatalf("request bodies do not match schemas/: %v", err)
	}
}
