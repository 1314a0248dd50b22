// quotes_consumer — the Go example of ib-bridge quotes, on the Go package schemas/go/ibbridge:
// lease AAPL and check its MessagePack events (decoded into ibbridge.Quote), ask ib.rpc.quote in
// JSON, read the KV cache, end the lease. Built with Debian's Go toolchain and packages (GOPATH
// mode, offline), with a GOPATH entry whose src/ib-bridge is this repository:
//
//	mkdir -p /tmp/gp/src && ln -sfn "$PWD/../../.." /tmp/gp/src/ib-bridge
//	GO111MODULE=off GOPATH=/tmp/gp:/usr/share/gocode go build -o quotes_consumer .
//	./quotes_consumer -url nats://127.0.0.1:4222 -events 5
//
// With -streams it reads the streams beyond level 1 instead: one order book of AAPL (a depth lease,
// decoded into ibbridge.Depth), the same book asked with ib.rpc.depth in JSON, and one 5-second bar
// (a bars lease, ibbridge.Bar).
//
// Exits 0 after printing "quotes_consumer: ok ...", non-zero with the reason otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"ib-bridge/schemas/go/ibbridge"
)

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

func checkQuote(ev *ibbridge.Event, prevSeq uint64) {
	q := ev.Quote
	if q.Key != "AAPL" || q.Contract.ConID != 265598 || q.Contract.Symbol != "AAPL" || q.Contract.Currency != "USD" {
		fail("event names the wrong instrument: %+v", q)
	}
	if prevSeq != 0 && q.Seq != prevSeq+1 && !ev.Snapshot {
		fail("seq gap left unfilled: %d after %d", q.Seq, prevSeq)
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

// next waits for one event of sub (at most 12 s: a bar comes every 5 s).
func next(sub *ibbridge.Subscription, what string) *ibbridge.Event {
	select {
	case ev := <-sub.C:
		return ev
	case <-time.After(12 * time.Second):
		fail("no %s in 12 s", what)
	}
	return nil
}

func checkBook(d *ibbridge.Depth, what string) {
	if d.Key != "AAPL" || d.Rows != 5 || len(d.Bids) != 5 || len(d.Asks) != 5 || d.Bids[0].Price >= d.Asks[0].Price {
		fail("%s: %+v", what, d)
	}
	for i := 1; i < 5; i++ {
		if d.Bids[i].Price >= d.Bids[i-1].Price || d.Asks[i].Price <= d.Asks[i-1].Price || d.Bids[i].Size <= 0 {
			fail("%s: rows out of order: %+v", what, d)
		}
	}
}

// streams reads a book and a bar of AAPL through depth and bars leases.
func streams(ctx context.Context, nc *nats.Conn, c *ibbridge.Client) {
	book, err := c.SubscribeWith(ctx, ibbridge.LeaseRequest{Symbols: []string{"AAPL"}, Kind: "depth", Rows: 5})
	if err != nil {
		fail("ib.rpc.subscribe depth: %v", err)
	}
	if l := book.Lease(); l.Kind != "depth" || l.Rows != 5 || l.Instruments[0].Subject != "ib.depth.AAPL" {
		fail("depth subscribe reply: %+v", l)
	}
	ev := next(book, "book")
	checkBook(ev.Depth, "ib.depth.AAPL event")
	jc, err := ibbridge.New(nc, ibbridge.WithEncoding(ibbridge.JSON))
	if err != nil {
		fail("%v", err)
	}
	defer jc.Close()
	d, err := jc.Depth(ctx, "AAPL", 5)
	if err != nil {
		fail("ib.rpc.depth: %v", err)
	}
	checkBook(d, "ib.rpc.depth reply")
	bars, err := c.Subscribe(ctx, ibbridge.KindBars, "AAPL")
	if err != nil {
		fail("ib.rpc.subscribe bars: %v", err)
	}
	b := next(bars, "bar").Bar
	if b.Key != "AAPL" || b.WhatToShow != "TRADES" || b.Time%5 != 0 || b.Low > b.High || b.Open < b.Low || b.Close > b.High {
		fail("bar: %+v", b)
	}
	if err := book.Close(); err != nil {
		fail("unsubscribe depth: %v", err)
	}
	if err := bars.Close(); err != nil {
		fail("unsubscribe bars: %v", err)
	}
	fmt.Printf("quotes_consumer: ok streams book_seq=%d best_bid=%.2f best_ask=%.2f bar_time=%d bar_close=%.2f\n",
		ev.Depth.Seq, ev.Depth.Bids[0].Price, ev.Depth.Asks[0].Price, b.Time, b.Close)
}

func main() {
	url := flag.String("url", nats.DefaultURL, "NATS server URL")
	want := flag.Int("events", 5, "events to check")
	streamsMode := flag.Bool("streams", false, "read a book and a bar instead of quotes")
	flag.Parse()
	nc, err := nats.Connect(*url, nats.Timeout(5*time.Second))
	if err != nil {
		fail("connect: %v", err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := ibbridge.New(nc, ibbridge.WithRequestTimeout(8*time.Second)) // MessagePack
	if err != nil {
		fail("%v", err)
	}
	defer c.Close()
	if *streamsMode {
		streams(ctx, nc, c)
		return
	}

	// The lease: renewed in the background, ended by Close.
	sub, err := c.Subscribe(ctx, ibbridge.KindQuote, "AAPL")
	if err != nil {
		fail("ib.rpc.subscribe: %v", err)
	}
	lease := sub.Lease()
	if len(lease.LeaseID) != 32 || len(lease.Instruments) != 1 || lease.Instruments[0].Subject != "ib.quote.AAPL" {
		fail("subscribe reply: %+v", lease)
	}

	var last *ibbridge.Quote
	var prev uint64
	deadline := time.After(15 * time.Second)
	for n := 0; n < *want; n++ {
		select {
		case ev := <-sub.C:
			checkQuote(ev, prev)
			prev, last = ev.Seq, ev.Quote
		case <-deadline:
			fail("only %d of %d events in 15 s", n, *want)
		}
	}

	// A JSON request, as a person would send it with `nats req`.
	jc, err := ibbridge.New(nc, ibbridge.WithEncoding(ibbridge.JSON))
	if err != nil {
		fail("%v", err)
	}
	defer jc.Close()
	q, err := jc.Quote(ctx, "AAPL")
	if err != nil {
		fail("ib.rpc.quote: %v", err)
	}
	if q.Source != "stream" || q.Key != "AAPL" || q.Bid == nil || q.Seq < 1 {
		fail("ib.rpc.quote reply: %+v", q)
	}

	// The last-value cache (plain nats.go; the value decodes into the package's Quote).
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
	var kq ibbridge.Quote
	if err := c.Decode(e.Value(), &kq); err != nil || kq.Key != "AAPL" || kq.Seq < 1 {
		fail("kv value: %v %+v", err, kq)
	}

	if err := sub.Close(); err != nil {
		fail("ib.rpc.unsubscribe: %v", err)
	}
	fmt.Printf("quotes_consumer: ok events=%d last_seq=%d bid=%.2f ask=%.2f quote_seq=%d kv_seq=%d\n",
		*want, last.Seq, val(last.Bid), val(last.Ask), q.Seq, kq.Seq)
}
