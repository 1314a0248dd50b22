package ibbridge

import (
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"
)

// The fast quote decoder gives exactly what the general (strict) decoder gives, on real traffic of
// stocks, a future and a forex pair, and declines what it does not handle.
func TestFastQuoteMatchesCodec(t *testing.T) {
	c := newClient(t, MsgPack)
	ctx := ctxT(t, 30*time.Second)
	ct, err := c.ContractOf(ctx, ContractRequest{Contract: &ContractSpec{Symbol: "ES", SecType: "FUT", Exchange: "CME"}})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *nats.Msg, 1<<16)
	raw, err := sys.nc.ChanSubscribe("ib.quote.>", ch)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Unsubscribe()
	sub, err := c.Subscribe(ctx, KindQuote, "AAPL", "MSFT", "SPY", "QQQ", "NVDA", ct.Contracts[0].Key, "CASH:EUR:IDEALPRO:USD")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	time.Sleep(3 * time.Second)
	raw.Unsubscribe()
	close(ch)
	n, fast := 0, 0
	keys := map[string]bool{}
	sc := strCache{}
	for m := range ch {
		var want Quote
		if err := c.decode(m.Data, &want); err != nil {
			t.Fatalf("general decoder: %v", err)
		}
		n++
		ev, ok := decodeQuoteFast(m.Data, sc)
		if !ok {
			if want.Status == nil {
				t.Errorf("fast decoder declined an event without status: %+v", want)
			}
			continue
		}
		fast++
		keys[ev.Key] = true
		if !reflect.DeepEqual(*ev.Quote, want) || ev.Key != want.Key || ev.Seq != want.Seq || ev.Kind != KindQuote {
			t.Fatalf("fast %+v\ngeneral %+v", *ev.Quote, want)
		}
	}
	if n < 50 || fast < n*9/10 || len(keys) < 7 {
		t.Fatalf("%d events, %d decoded fast, keys %v", n, fast, keys)
	}

	// crafted shapes
	mh := newMsgpackHandle(false)
	enc := func(v interface{}) []byte {
		var b []byte
		if err := codec.NewEncoderBytes(&b, mh).Encode(v); err != nil {
			t.Fatal(err)
		}
		return b
	}
	contract := map[string]interface{}{"con_id": 1, "symbol": "X", "sec_type": "STK", "exchange": "SMART", "currency": "USD", "strike": 2.5}
	base := func() map[string]interface{} {
		return map[string]interface{}{"key": "X", "seq": uint64(1) << 40, "contract": contract, "market_data_type": "realtime",
			"recv_ts_ns": int64(-5), "bid": float32(1.5), "ask": 3, "last": -7, "volume": uint64(1) << 50, "halted": true,
			"last_trade_ts": int64(1) << 33}
	}
	good := enc(base())
	ev, ok := decodeQuoteFast(good, strCache{})
	var want Quote
	if err := c.decode(good, &want); err != nil || !ok || !reflect.DeepEqual(*ev.Quote, want) {
		t.Fatalf("crafted: ok %v err %v\nfast %+v\ngeneral %+v", ok, err, ev, want)
	}
	for name, m := range map[string]map[string]interface{}{
		"nil price":   {"bid": nil},
		"unknown key": {"new_field": 1},
		"status":      {"status": map[string]interface{}{"code": "forbidden", "message": "m", "ib_code": 354}},
		"string seq":  {"seq": "1"},
	} {
		v := base()
		for k, x := range m {
			v[k] = x
		}
		if _, ok := decodeQuoteFast(enc(v), strCache{}); ok {
			t.Errorf("%s: not declined", name)
		}
	}
	for _, cut := range []int{1, len(good) / 2, len(good) - 1} {
		if _, ok := decodeQuoteFast(good[:cut], strCache{}); ok {
			t.Errorf("truncated at %d: not declined", cut)
		}
	}
	if _, ok := decodeQuoteFast(append(append([]byte(nil), good...), 0xc0), strCache{}); ok {
		t.Error("trailing byte: not declined")
	}
}
