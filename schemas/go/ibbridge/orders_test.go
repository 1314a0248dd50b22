package ibbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func simOrders(t *testing.T) int {
	t.Helper()
	return int(sys.simStats(t)["orders"].(float64))
}

// PlaceOrder whose first attempt times out (ib-bridge paused with SIGSTOP) retries with the same
// client_order_id and ends with exactly one order at ib-sim.
func TestPlaceOrderRetriesAfterTimeout(t *testing.T) {
	c := newClient(t, MsgPack, WithRequestTimeout(700*time.Millisecond))
	ctx := ctxT(t, 30*time.Second)
	before := simOrders(t)
	pid := sys.bridge.cmd.Process
	if err := pid.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := time.AfterFunc(2500*time.Millisecond, func() { _ = pid.Signal(syscall.SIGCONT) })
	defer func() { cont.Stop(); _ = pid.Signal(syscall.SIGCONT) }()
	t0 := time.Now()
	placed, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 1})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if placed.Attempts < 2 || time.Since(t0) < 2*time.Second || placed.ClientOrderID == "" {
		t.Fatalf("the first attempt did not time out: %+v after %v", placed, time.Since(t0))
	}
	time.Sleep(time.Second) // the other attempts queued in ib-bridge are answered by now
	if n := simOrders(t) - before; n != 1 {
		t.Fatalf("ib-sim got %d orders, want 1 (%+v)", n, placed)
	}
	ol, err := c.ListOrders(ctx, ListOrdersRequest{Status: "all", ClientOrderID: placed.ClientOrderID})
	if err != nil || ol.Count != 1 || ol.Orders[0].OrderID != placed.OrderID {
		t.Fatalf("ListOrders: %v %+v", err, ol)
	}
	t.Logf("%+v after %v", placed, time.Since(t0))
}

// PlaceOrder while ib-bridge is not on the bus (no responders) retries until it is back.
func TestPlaceOrderRetriesNoResponders(t *testing.T) {
	c := newClient(t, JSON, WithRequestTimeout(2*time.Second))
	ctx := ctxT(t, 40*time.Second)
	before := simOrders(t)
	sys.bridge.stop(syscall.SIGTERM, 10*time.Second)
	sys.checkExit("ib-bridge", sys.bridge)
	restarted := make(chan error, 1)
	time.AfterFunc(1500*time.Millisecond, func() { restarted <- sys.startBridge() })
	placed, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "MSFT", Side: "SELL", Qty: 2})
	if e := <-restarted; e != nil {
		t.Fatal(e)
	}
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if placed.Attempts < 2 {
		t.Fatalf("no retry: %+v", placed)
	}
	if err := sys.waitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := simOrders(t) - before; n != 1 {
		t.Fatalf("ib-sim got %d orders, want 1", n)
	}
}

// PlaceOrder during a gateway restart (ib_unavailable, breaker open) waits for the ready event and
// retries with the same id: one order at ib-sim.
func TestPlaceOrderRetriesIBUnavailable(t *testing.T) {
	c := newClient(t, MsgPack)
	ctx := ctxT(t, 30*time.Second)
	before := simOrders(t)
	if r, err := sys.simControl("restart 2"); err != nil || r[:2] != "ok" {
		t.Fatalf("sim restart: %q %v", r, err)
	}
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	placed, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "AAPL", Side: "SELL", Qty: 1})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if placed.Attempts < 2 || time.Since(t0) < time.Second {
		t.Fatalf("the gateway was down yet the first attempt went through: %+v after %v", placed, time.Since(t0))
	}
	if c.Breaker().Open || c.Breaker().Opens == 0 {
		t.Fatalf("breaker: %+v", c.Breaker())
	}
	time.Sleep(500 * time.Millisecond)
	if n := simOrders(t) - before; n != 1 {
		t.Fatalf("ib-sim got %d orders, want 1", n)
	}
	t.Logf("%+v after %v", placed, time.Since(t0))
}

type evLog struct {
	mu  sync.Mutex
	evs []OrderEventMsg
}

func follow(s *OrderStream) *evLog {
	l := &evLog{}
	go func() {
		for m := range s.C {
			l.mu.Lock()
			l.evs = append(l.evs, m)
			l.mu.Unlock()
		}
	}()
	return l
}

// waitFilled waits until the log holds a "filled" event and every commission of each order.
func (l *evLog) waitFilled(t *testing.T, ids []int64, d time.Duration) {
	t.Helper()
	until := time.Now().Add(d)
	for {
		l.mu.Lock()
		done := 0
		for _, id := range ids {
			filled, fills, comms := false, 0, 0
			for _, m := range l.evs {
				if m.Event.OrderID != id {
					continue
				}
				switch m.Event.Type {
				case "filled":
					filled = true
				case "fill":
					fills++
				case "commission":
					comms++
				}
			}
			if filled && fills > 0 && comms >= fills {
				done++
			}
		}
		n := len(l.evs)
		l.mu.Unlock()
		if done == len(ids) {
			return
		}
		if time.Now().After(until) {
			t.Fatalf("orders %v not all filled with commissions in %v (%d events)", ids, d, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fills returns exec_id -> count over the log, for orders in ids; and the orders seen.
func (l *evLog) fills(ids map[int64]bool) (map[string]int, map[int64]bool, map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fills, seen, eventIDs := map[string]int{}, map[int64]bool{}, map[string]int{}
	for _, m := range l.evs {
		seen[m.Event.OrderID] = true
		eventIDs[m.Event.EventID]++
		if m.Event.Type == "fill" && ids[m.Event.OrderID] {
			fills[m.Event.Fill.ExecID]++
		}
	}
	return fills, seen, eventIDs
}

// OrderEvents after a gap (a service down while orders filled) returns every fill exactly once: by
// stream sequence, by time, and with a durable consumer.
func TestOrderEventsAfterGap(t *testing.T) {
	c := newClient(t, MsgPack)
	ctx := ctxT(t, 90*time.Second)

	// JSON mirror of the order events: decoded strictly into OrderEvent (the stream is MessagePack)
	var mirrorMu sync.Mutex
	var mirrorErr error
	mirrored := 0
	msub, err := sys.nc.Subscribe("ib.json.evt.order.>", func(m *nats.Msg) {
		var ev OrderEvent
		d := json.NewDecoder(bytes.NewReader(m.Data))
		d.DisallowUnknownFields()
		err := d.Decode(&ev)
		mirrorMu.Lock()
		defer mirrorMu.Unlock()
		if err != nil && mirrorErr == nil {
			mirrorErr = fmt.Errorf("%s: %v: %s", m.Subject, err, m.Data)
		}
		mirrored++
	})
	if err != nil {
		t.Fatal(err)
	}
	defer msub.Unsubscribe()

	s1, err := c.OrderEvents(ctx, SinceNew())
	if err != nil {
		t.Fatal(err)
	}
	l1 := follow(s1)
	p1, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 5})
	if err != nil {
		t.Fatal(err)
	}
	l1.waitFilled(t, []int64{p1.OrderID}, 15*time.Second)
	dur, err := c.OrderEvents(ctx, SinceNew(), Durable("ibbridge-go-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.DeleteDurable("ibbridge-go-test")
	dur.Close() // the durable consumer stays, positioned after p1
	s1.Close()
	if err := s1.Err(); err != nil {
		t.Fatal(err)
	}
	l1.mu.Lock()
	lastSeq := l1.evs[len(l1.evs)-1].StreamSeq
	l1.mu.Unlock()
	gapStart := time.Now()

	// the gap: two orders fill while nobody follows the stream
	p2, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "MSFT", Side: "BUY", Qty: 7})
	if err != nil {
		t.Fatal(err)
	}
	p3, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "SPY", Side: "SELL", Qty: 4})
	if err != nil {
		t.Fatal(err)
	}
	gapIDs := map[int64]bool{p2.OrderID: true, p3.OrderID: true}
	time.Sleep(500 * time.Millisecond)

	for _, tc := range []struct {
		name string
		open func() (*OrderStream, error)
	}{
		{"seq", func() (*OrderStream, error) { return c.OrderEvents(ctx, SinceSeq(lastSeq+1)) }},
		{"time", func() (*OrderStream, error) { return c.OrderEvents(ctx, SinceTime(gapStart)) }},
		{"durable", func() (*OrderStream, error) { return c.OrderEvents(ctx, SinceAll(), Durable("ibbridge-go-test")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.open()
			if err != nil {
				t.Fatal(err)
			}
			l := follow(s)
			l.waitFilled(t, []int64{p2.OrderID, p3.OrderID}, 15*time.Second)
			time.Sleep(700 * time.Millisecond) // room for a duplicate to show
			s.Close()
			fills, seen, eventIDs := l.fills(gapIDs)
			if seen[p1.OrderID] {
				t.Errorf("events of the order before the gap were replayed")
			}
			for id, n := range eventIDs {
				if n != 1 {
					t.Errorf("event %s delivered %d times", id, n)
				}
			}
			qty := map[int64]float64{}
			l.mu.Lock()
			for _, m := range l.evs {
				if m.Event.Type == "fill" {
					qty[m.Event.OrderID] += m.Event.Fill.Qty
				}
			}
			l.mu.Unlock()
			if qty[p2.OrderID] != 7 || qty[p3.OrderID] != 4 {
				t.Errorf("filled qty %v, want 7 and 4", qty)
			}
			for x, n := range fills {
				if n != 1 {
					t.Errorf("fill %s delivered %d times", x, n)
				}
			}
			if len(fills) == 0 {
				t.Error("no fills")
			}
		})
	}
	mirrorMu.Lock()
	defer mirrorMu.Unlock()
	if mirrorErr != nil || mirrored == 0 {
		t.Fatalf("JSON order events: %d, %v", mirrored, mirrorErr)
	}
}
