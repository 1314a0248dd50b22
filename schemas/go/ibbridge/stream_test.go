package ibbridge

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// collector reads a subscription and checks, event by event, that no seq gap is left unfilled.
type collector struct {
	mu     sync.Mutex
	byKey  map[string][]*Event
	bad    []string
	closed chan struct{}
}

func collect(t *testing.T, sub *Subscription) *collector {
	col := &collector{byKey: map[string][]*Event{}, closed: make(chan struct{})}
	go func() {
		defer close(col.closed)
		for ev := range sub.C {
			col.mu.Lock()
			evs := col.byKey[ev.Key]
			if n := len(evs); n > 0 {
				prev := evs[n-1]
				switch {
				case ev.Seq == prev.Seq+1 && !ev.Snapshot && ev.GapFrom == 0:
				case ev.Snapshot && (ev.GapFrom == prev.Seq+1 || ev.GapFrom == 1) && ev.Seq >= ev.GapTo && ev.Quote != nil:
					// a gap (or a restart's missed start) filled with a snapshot at least as new
				case ev.Seq == 1 && !ev.Snapshot:
					// a new ib-bridge's first event
				default:
					col.bad = append(col.bad, ev.Key+": event "+fmtEv(ev)+" after "+fmtEv(prev))
				}
			}
			col.byKey[ev.Key] = append(evs, ev)
			col.mu.Unlock()
		}
	}()
	return col
}

func fmtEv(ev *Event) string {
	s := "seq " + itoa(ev.Seq)
	if ev.Snapshot {
		s += " (snapshot for " + itoa(ev.GapFrom) + ".." + itoa(ev.GapTo) + ")"
	} else if ev.GapFrom != 0 {
		s += " (unfilled gap " + itoa(ev.GapFrom) + ".." + itoa(ev.GapTo) + ")"
	}
	return s
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// waitMore waits until every key got n more events.
func (col *collector) waitMore(t *testing.T, keys []string, n int, d time.Duration, what string) {
	t.Helper()
	col.mu.Lock()
	base := map[string]int{}
	for _, k := range keys {
		base[k] = len(col.byKey[k])
	}
	col.mu.Unlock()
	until := time.Now().Add(d)
	for {
		col.mu.Lock()
		ok := true
		for _, k := range keys {
			ok = ok && len(col.byKey[k]) >= base[k]+n
		}
		col.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(until) {
			t.Fatalf("%s: fewer than %d new events per key in %v", what, n, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (col *collector) check(t *testing.T) {
	t.Helper()
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, b := range col.bad {
		t.Error(b)
	}
}

// A subscription survives an ib-bridge restart and an ib-sim (gateway) restart without the caller
// doing anything, and leaves no seq gap unfilled.
func TestSubscriptionSurvivesRestarts(t *testing.T) {
	c := newClient(t, MsgPack, WithLeaseTTL(3*time.Second))
	ctx := ctxT(t, 120*time.Second)
	keys := []string{"AAPL", "MSFT"}
	sub, err := c.Subscribe(ctx, KindQuote, keys...)
	if err != nil {
		t.Fatal(err)
	}
	col := collect(t, sub)
	col.waitMore(t, keys, 5, 10*time.Second, "start")
	lease0 := sub.Lease().LeaseID

	if err := sys.restartBridge(); err != nil {
		t.Fatal(err)
	}
	if err := sys.waitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	col.waitMore(t, keys, 5, 15*time.Second, "after the ib-bridge restart")
	st := sub.Stats()
	if st.Leases < 2 || sub.Lease().LeaseID == lease0 {
		t.Fatalf("no new lease after the ib-bridge restart: %+v", st)
	}
	if st.Restarts == 0 {
		t.Fatalf("the new ib-bridge's seq restart was not seen: %+v", st)
	}

	if r, err := sys.simControl("restart 2"); err != nil || r[:2] != "ok" {
		t.Fatalf("sim restart: %q %v", r, err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := sys.waitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	col.waitMore(t, keys, 5, 15*time.Second, "after the ib-sim restart")
	time.Sleep(4 * time.Second) // more than the lease TTL: renewals must keep it
	col.waitMore(t, keys, 3, 5*time.Second, "after the TTL")
	st = sub.Stats()
	if st.Renewals == 0 || st.Gaps != st.GapsFilled {
		t.Fatalf("stats: %+v", st)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-col.closed
	col.check(t)
	s, err := c.Status(ctx)
	if err != nil || s.MarketData.Leases != 0 {
		t.Fatalf("leases left after Close: %v %+v", err, s.MarketData)
	}
	t.Logf("stats %+v, events AAPL %d MSFT %d", st, len(col.byKey["AAPL"]), len(col.byKey["MSFT"]))
}

// A slow receiver loses events (NATS drops past the pending limit): each gap is filled with an
// ib.rpc.quote snapshot.
func TestGapFilledWithSnapshot(t *testing.T) {
	c := newClient(t, MsgPack, WithEventBuffer(1), WithPendingLimit(3))
	ctx := ctxT(t, 60*time.Second)
	sub, err := c.Subscribe(ctx, KindQuote, "AAPL", "MSFT", "SPY")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	<-sub.C
	time.Sleep(2500 * time.Millisecond) // not reading: the subjects' pending overflow
	col := collect(t, sub)
	col.waitMore(t, []string{"AAPL", "MSFT", "SPY"}, 5, 10*time.Second, "after the stall")
	st := sub.Stats()
	if st.Gaps == 0 || st.GapsFilled != st.Gaps || st.Missed == 0 {
		t.Fatalf("no gap filled: %+v", st)
	}
	snaps := 0
	col.mu.Lock()
	for _, evs := range col.byKey {
		for _, ev := range evs {
			if ev.Snapshot {
				snaps++
			}
		}
	}
	col.mu.Unlock()
	if snaps == 0 {
		t.Fatalf("no snapshot event: %+v", st)
	}
	sub.Close()
	<-col.closed
	col.check(t)
	t.Logf("stats %+v, snapshot events %d", st, snaps)
}

// The breaker opens during a gateway restart (ib.evt.conn down, or an ib_unavailable reply), fails
// calls fast while open, and closes on the ready event.
func TestBreaker(t *testing.T) {
	c := newClient(t, MsgPack)
	raw := newClient(t, MsgPack, WithoutBreaker())
	ctx := ctxT(t, 60*time.Second)
	if _, err := c.Quote(ctx, "AAPL"); err != nil || c.Breaker().Open {
		t.Fatalf("before: %v %+v", err, c.Breaker())
	}
	opens := c.Breaker().Opens
	if r, err := sys.simControl("restart 3"); err != nil || r[:2] != "ok" {
		t.Fatalf("sim restart: %q %v", r, err)
	}
	until := time.Now().Add(3 * time.Second)
	for !c.Breaker().Open {
		if time.Now().After(until) {
			t.Fatal("the breaker did not open on the down event")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	_, err := c.Quote(ctx, "AAPL")
	wantKind(t, err, ErrBreakerOpen, ErrUnavailable)
	if d := time.Since(t0); d > 20*time.Millisecond {
		t.Fatalf("an open breaker took %v to fail", d)
	}
	// the bus says the same (without the breaker)
	_, err = raw.Quote(ctx, "AAPL")
	wantKind(t, err, ErrIBUnavailable, ErrUnavailable)
	// a client that missed the event opens on the ib_unavailable reply
	late := newClient(t, JSON)
	_, err = late.Candles(ctx, CandlesRequest{Symbol: "AAPL"})
	wantKind(t, err, ErrIBUnavailable)
	if !late.Breaker().Open {
		t.Fatal("an ib_unavailable reply did not open the breaker")
	}
	_, err = late.Contract(ctx, "AAPL")
	wantKind(t, err, ErrBreakerOpen)
	// positions and status still go to the bus
	if _, err := c.Status(ctx); err != nil {
		t.Fatalf("Status with the breaker open: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := c.WaitReady(wctx); err != nil {
		t.Fatalf("the breaker did not close: %v %+v", err, c.Breaker())
	}
	if err := late.WaitReady(wctx); err != nil {
		t.Fatalf("the late client's breaker did not close: %v", err)
	}
	s, err := c.Status(ctx)
	if err != nil || !s.Connected {
		t.Fatalf("closed before ib-bridge was ready: %v %+v", err, s)
	}
	if _, err := c.Quote(ctx, "AAPL"); err != nil {
		t.Fatalf("after ready: %v", err)
	}
	if c.Breaker().Opens != opens+1 {
		t.Fatalf("opens %d, want %d", c.Breaker().Opens, opens+1)
	}
}

// A nats-server restart (killed, back on the same port and store after 1 s): the subscription goes
// on with no unfilled gap, and the order event stream (an ordered JetStream consumer) delivers the
// events of an order placed afterwards.
func TestSurvivesNatsServerRestart(t *testing.T) {
	c := newClient(t, MsgPack, WithLeaseTTL(6*time.Second))
	ctx := ctxT(t, 90*time.Second)
	keys := []string{"AAPL", "SPY"}
	sub, err := c.Subscribe(ctx, KindQuote, keys...)
	if err != nil {
		t.Fatal(err)
	}
	col := collect(t, sub)
	col.waitMore(t, keys, 3, 10*time.Second, "start")
	oe, err := c.OrderEvents(ctx, SinceNew())
	if err != nil {
		t.Fatal(err)
	}
	defer oe.Close()

	if err := sys.restartNats(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sys.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	col.waitMore(t, keys, 5, 20*time.Second, "after the nats-server restart")
	placed, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "QQQ", Side: "BUY", Qty: 3})
	if err != nil {
		t.Fatal(err)
	}
	for filled := false; !filled; {
		select {
		case m, ok := <-oe.C:
			if !ok {
				t.Fatal("order stream closed")
			}
			filled = m.Event.OrderID == placed.OrderID && m.Event.Type == "filled"
		case <-time.After(20 * time.Second):
			t.Fatalf("no filled event for order %d after the restart (%v)", placed.OrderID, oe.Err())
		}
	}
	st := sub.Stats()
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-col.closed
	col.check(t)
	if st.Gaps != st.GapsFilled {
		t.Fatalf("stats: %+v (%v)", st, sub.Err())
	}
	t.Logf("stats %+v", st)
}
