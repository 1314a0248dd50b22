package ibbridge

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"
)

// One real MessagePack quote event of ib-bridge.
func realQuoteEvent(b *testing.B) []byte {
	c, _ := New(sys.nc)
	defer c.Close()
	ch := make(chan *nats.Msg, 8)
	sub, _ := sys.nc.ChanSubscribe("ib.quote.AAPL", ch)
	defer sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.Subscribe(ctx, KindQuote, "AAPL")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	select {
	case m := <-ch:
		return m.Data
	case <-ctx.Done():
		b.Fatal("no event")
	}
	return nil
}

// The decoding a hand-written subscriber does: a reused decoder, a fresh Quote per event.
func BenchmarkDecodeRaw(b *testing.B) {
	data := realQuoteEvent(b)
	mh := newMsgpackHandle(false)
	dec := codec.NewDecoderBytes(nil, mh)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := &Quote{}
		dec.ResetBytes(data)
		if err := dec.Decode(q); err != nil {
			b.Fatal(err)
		}
	}
}

// The package's per-event path (decode, seq check, delivery on C) without NATS.
func BenchmarkSubscriptionPath(b *testing.B) {
	data := realQuoteEvent(b)
	c, _ := New(sys.nc)
	defer c.Close()
	s := &Subscription{c: c, kind: KindQuote, ch: make(chan *Event, 1024), done: make(chan struct{})}
	k := &keyState{s: s, key: "AAPL", dec: codec.NewDecoderBytes(nil, c.mh)}
	go func() {
		for range s.ch {
		}
	}()
	m := &nats.Msg{Subject: "ib.quote.AAPL", Data: data}
	var q Quote
	_ = c.decode(data, &q)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k.last = q.Seq - 1 // every event is the next one
		k.onMsg(m)
	}
	b.StopTimer()
	close(s.ch)
}
