package ibbridge

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Captured traffic of every stream decodes into the structs with no field left over, in both
// encodings: quotes (ib.quote / ib.json.quote) and connection events (ib.evt.conn /
// ib.json.evt.conn, here across an IB drop and reconnect). Replies are covered by TestCalls (strict
// clients), order events by TestOrderEventsAfterGap.
func TestEventsDecodeStrictly(t *testing.T) {
	c := newClient(t, MsgPack)
	ctx := ctxT(t, 30*time.Second)
	type capture struct {
		n   int
		err error
	}
	var mu sync.Mutex
	got := map[string]*capture{}
	check := func(subject string, v interface{}) nats.MsgHandler {
		got[subject] = &capture{}
		return func(m *nats.Msg) {
			var err error
			switch v.(type) {
			case *Quote:
				err = c.decode(m.Data, &Quote{})
			case *ConnEvent:
				var ev ConnEvent
				err = c.decode(m.Data, &ev)
				if err == nil && (ev.Source == "" || ev.Event == "" || ev.TsNs == 0) {
					err = fmt.Errorf("incomplete: %+v", ev)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			g := got[subject]
			g.n++
			if err != nil && g.err == nil {
				g.err = fmt.Errorf("%v: %q", err, m.Data)
			}
		}
	}
	for subject, v := range map[string]interface{}{"ib.quote.AAPL": &Quote{}, "ib.json.quote.AAPL": &Quote{},
		"ib.evt.conn": &ConnEvent{}, "ib.json.evt.conn": &ConnEvent{}} {
		sub, err := sys.nc.Subscribe(subject, check(subject, v))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	sub, err := c.Subscribe(ctx, KindQuote, "AAPL")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if r, err := sys.simControl("drop"); err != nil || r[:2] != "ok" {
		t.Fatalf("sim drop: %q %v", r, err)
	}
	if err := sys.waitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	for subject, g := range got {
		if g.err != nil || g.n == 0 {
			t.Errorf("%s: %d messages, %v", subject, g.n, g.err)
		}
	}
	if sub.Err() != nil {
		t.Errorf("subscription: %v", sub.Err())
	}
}
