// quotes_consumer — the Go example of ib-bridge quotes: lease AAPL, decode the MessagePack events
// on ib.quote.AAPL into Go structs and check them, ask ib.rpc.quote in JSON, read the KV cache.
// Built with Debian's Go toolchain and packages (GOPATH mode, offline):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o quotes_consumer .
//	./quotes_consumer -url nats://127.0.0.1:4222 -events 5
//
// Exits 0 after printing "quotes_consumer: ok ...", non-zero with the reason otherwise.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"
)

// Contract is schemas/contract.json.
type Contract struct {
	ConID           int64  `codec:"con_id" json:"con_id"`
	Symbol          string `codec:"symbol" json:"symbol"`
	SecType         string `codec:"sec_type" json:"sec_type"`
	Exchange        string `codec:"exchange" json:"exchange"`
	PrimaryExchange string `codec:"primary_exchange" json:"primary_exchange"`
	Currency        string `codec:"currency" json:"currency"`
}

// Status is present while IB reports a problem with the instrument's data.
type Status struct {
	Code    string `codec:"code" json:"code"`
	Message string `codec:"message" json:"message"`
	IBCode  int    `codec:"ib_code" json:"ib_code"`
}

// Quote is schemas/quote_event.json (and quote_reply.json with Source). Prices IB has not sent are absent (nil).
type Quote struct {
	Key            string   `codec:"key" json:"key"`
	Seq            uint64   `codec:"seq" json:"seq"`
	Contract       Contract `codec:"contract" json:"contract"`
	Bid            *float64 `codec:"bid" json:"bid"`
	Ask            *float64 `codec:"ask" json:"ask"`
	Last           *float64 `codec:"last" json:"last"`
	BidSize        *float64 `codec:"bid_size" json:"bid_size"`
	AskSize        *float64 `codec:"ask_size" json:"ask_size"`
	LastSize       *float64 `codec:"last_size" json:"last_size"`
	Volume         *float64 `codec:"volume" json:"volume"`
	Close          *float64 `codec:"close" json:"close"`
	MarketDataType string   `codec:"market_data_type" json:"market_data_type"`
	LastTradeTs    int64    `codec:"last_trade_ts" json:"last_trade_ts"`
	RecvTsNs       int64    `codec:"recv_ts_ns" json:"recv_ts_ns"`
	Status         *Status  `codec:"status" json:"status"`
	Source         string   `codec:"source" json:"source"`
}

// SubscribeReply is schemas/subscribe_reply.json.
type SubscribeReply struct {
	LeaseID     string `codec:"lease_id"`
	TTL         int64  `codec:"ttl_s"`
	ExpiresAt   string `codec:"expires_at"`
	Instruments []struct {
		Key      string   `codec:"key"`
		Subject  string   `codec:"subject"`
		State    string   `codec:"state"`
		Contract Contract `codec:"contract"`
	} `codec:"instruments"`
	Error *Status `codec:"error"`
}

var mh = &codec.MsgpackHandle{}

func init() {
	mh.RawToString = true
	mh.WriteExt = true
}

func pack(v interface{}) []byte {
	var out []byte
	if err := codec.NewEncoderBytes(&out, mh).Encode(v); err != nil {
		fail("encode: %v", err)
	}
	return out
}

func unpack(b []byte, v interface{}) error { return codec.NewDecoderBytes(b, mh).Decode(v) }

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "quotes_consumer: FAIL "+f+"\n", a...)
	os.Exit(1)
}

func checkQuote(q *Quote, prevSeq uint64) {
	if q.Key != "AAPL" || q.Contract.ConID != 265598 || q.Contract.Symbol != "AAPL" || q.Contract.Currency != "USD" {
		fail("event names the wrong instrument: %+v", q)
	}
	if prevSeq != 0 && q.Seq != prevSeq+1 {
		fail("seq gap: %d after %d", q.Seq, prevSeq)
	}
	if q.Bid != nil && q.Ask != nil && *q.Ask < *q.Bid {
		fail("ask %v below bid %v", *q.Ask, *q.Bid)
	}
	if d := time.Since(time.Unix(0, q.RecvTsNs)); d > time.Minute || d < -time.Minute {
		fail("recv_ts_ns %d is not now", q.RecvTsNs)
	}
	if q.MarketDataType == "" {
		fail("no market_data_type")
	}
}

func main() {
	url := flag.String("url", nats.DefaultURL, "NATS server URL")
	want := flag.Int("events", 5, "events to check")
	flag.Parse()
	nc, err := nats.Connect(*url, nats.Timeout(5*time.Second))
	if err != nil {
		fail("connect: %v", err)
	}
	defer nc.Close()

	events := make(chan *nats.Msg, 1024)
	sub, err := nc.ChanSubscribe("ib.quote.AAPL", events)
	if err != nil {
		fail("subscribe: %v", err)
	}
	defer sub.Unsubscribe()

	// The lease, as MessagePack.
	m, err := nc.Request("ib.rpc.subscribe", pack(map[string]interface{}{"symbols": []string{"AAPL"}, "ttl_s": 30}), 8*time.Second)
	if err != nil {
		fail("ib.rpc.subscribe: %v", err)
	}
	var sr SubscribeReply
	if err := unpack(m.Data, &sr); err != nil || sr.Error != nil {
		fail("subscribe reply: %v %+v", err, sr.Error)
	}
	if len(sr.LeaseID) != 32 || len(sr.Instruments) != 1 || sr.Instruments[0].Subject != "ib.quote.AAPL" {
		fail("subscribe reply: %+v", sr)
	}

	var last Quote
	var prev uint64
	deadline := time.After(15 * time.Second)
	for n := 0; n < *want; n++ {
		select {
		case msg := <-events:
			var q Quote
			if err := unpack(msg.Data, &q); err != nil {
				fail("decode event: %v", err)
			}
			checkQuote(&q, prev)
			prev, last = q.Seq, q
		case <-deadline:
			fail("only %d of %d events in 15 s", n, *want)
		}
	}

	// A JSON request, as a person would send it with `nats req`.
	m, err = nc.Request("ib.rpc.quote", []byte(`{"symbol":"AAPL"}`), 8*time.Second)
	if err != nil {
		fail("ib.rpc.quote: %v", err)
	}
	var q Quote
	if err := json.Unmarshal(m.Data, &q); err != nil {
		fail("ib.rpc.quote is not JSON: %v: %s", err, m.Data)
	}
	if q.Source != "stream" || q.Key != "AAPL" || q.Bid == nil || q.Seq < 1 {
		fail("ib.rpc.quote reply: %s", m.Data)
	}

	// The last-value cache.
	js, err := nc.JetStream()
	if err != nil {
		fail("jetstream: %v", err)
	}
	kv, err := js.KeyValue("ib_quotes")
	if err != nil {
		fail("kv bucket ib_quotes: %v", err)
	}
	e, err := kv.Get("AAPL")
	if err != nil {
		fail("kv get AAPL: %v", err)
	}
	var kq Quote
	if err := unpack(e.Value(), &kq); err != nil || kq.Key != "AAPL" || kq.Seq < 1 {
		fail("kv value: %v %+v", err, kq)
	}

	m, err = nc.Request("ib.rpc.unsubscribe", pack(map[string]string{"lease_id": sr.LeaseID}), 8*time.Second)
	if err != nil {
		fail("ib.rpc.unsubscribe: %v", err)
	}
	var ur struct {
		Ended bool    `codec:"ended"`
		Error *Status `codec:"error"`
	}
	if err := unpack(m.Data, &ur); err != nil || !ur.Ended {
		fail("unsubscribe reply: %v %+v", err, ur.Error)
	}
	fmt.Printf("quotes_consumer: ok events=%d last_seq=%d bid=%.2f ask=%.2f quote_seq=%d kv_seq=%d\n",
		*want, last.Seq, val(last.Bid), val(last.Ask), q.Seq, kq.Seq)
}
