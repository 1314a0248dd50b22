package ibbridge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"ib-bridge/schemas/go/ibbridge"
)

// natsURL is nats.DefaultURL in real use; the tests point it at the system they started.
func natsURL() string {
	if u := os.Getenv("IBB_EXAMPLE_NATS_URL"); u != "" {
		return u
	}
	return nats.DefaultURL
}

func Example() {
	nc, err := nats.Connect(natsURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	c, err := ibbridge.New(nc) // prefix "ib", MessagePack, 5 s timeout
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := c.Quote(ctx, "AAPL")
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Key, q.Contract.ConID, q.Contract.Currency, q.Bid != nil)
	// Output: AAPL 265598 USD true
}

func ExampleClient_Subscribe() {
	nc, _ := nats.Connect(natsURL())
	defer nc.Close()
	c, _ := ibbridge.New(nc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, ibbridge.KindQuote, "MSFT")
	if err != nil {
		panic(err)
	}
	defer sub.Close() // ends the lease
	ev := <-sub.C     // the lease is renewed and re-taken underneath; gaps arrive filled
	fmt.Println(ev.Key, ev.Quote.Contract.Symbol, ev.Seq > 0)
	// Output: MSFT MSFT true
}

func ExampleClient_PlaceOrder() {
	nc, _ := nats.Connect(natsURL())
	defer nc.Close()
	c, _ := ibbridge.New(nc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// no ClientOrderID: one is generated, and every retry (timeout, no responders, IB down) reuses it
	placed, err := c.PlaceOrder(ctx, ibbridge.OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 10, Type: "LMT", LimitPrice: 1.25})
	if err != nil {
		panic(err)
	}
	fmt.Println(placed.OrderID > 0, placed.Duplicate)
	// the same id again: the bus answers with the same order
	again, _ := c.PlaceOrder(ctx, ibbridge.OrderRequest{ClientOrderID: placed.ClientOrderID, Symbol: "AAPL", Side: "BUY", Qty: 10, Type: "LMT", LimitPrice: 1.25})
	fmt.Println(again.OrderID == placed.OrderID, again.Duplicate)
	cancelled, _ := c.CancelOrder(ctx, ibbridge.OrderRef{ClientOrderID: placed.ClientOrderID})
	fmt.Println(cancelled.Status)
	// Output:
	// true false
	// true true
	// Cancelled
}

func ExampleClient_OrderEvents() {
	nc, _ := nats.Connect(natsURL())
	defer nc.Close()
	c, _ := ibbridge.New(nc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events, err := c.OrderEvents(ctx, ibbridge.SinceNew()) // or SinceSeq, SinceTime, SinceAll; Durable(name)
	if err != nil {
		panic(err)
	}
	defer events.Close()
	placed, _ := c.PlaceOrder(ctx, ibbridge.OrderRequest{Symbol: "SPY", Side: "BUY", Qty: 2})
	for m := range events.C {
		if m.Event.OrderID == placed.OrderID && m.Event.Type == "fill" {
			fmt.Println(m.Event.Type, m.Event.Fill.Qty, m.Event.Fill.Side)
		}
		if m.Event.OrderID == placed.OrderID && m.Event.Type == "filled" {
			fmt.Println(m.Event.Type, m.Event.Status, m.Event.Filled)
			break
		}
	}
	// Output:
	// fill 2 BOT
	// filled Filled 2
}

func ExampleError() {
	nc, _ := nats.Connect(natsURL())
	defer nc.Close()
	c, _ := ibbridge.New(nc, ibbridge.WithEncoding(ibbridge.JSON))
	defer c.Close()
	_, err := c.Quote(context.Background(), "NOSUCHSYMBOL")
	var e *ibbridge.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Status, e.IBCode)
	}
	fmt.Println(errors.Is(err, ibbridge.ErrUnknownSymbol), errors.Is(err, ibbridge.ErrNotFound), errors.Is(err, ibbridge.ErrUnavailable))
	// Output:
	// unknown_symbol 404 200
	// true true false
}

func ExampleNewProvider() {
	nc, _ := nats.Connect(natsURL())
	defer nc.Close()
	c, _ := ibbridge.New(nc)
	defer c.Close()
	var p ibbridge.Provider = ibbridge.NewProvider(c) // the old library's provider shape
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := p.GetQuote(ctx, "AAPL")
	if err != nil {
		panic(err)
	}
	bars, err := p.GetCandles(ctx, "AAPL", "1 D", "1 hour")
	if err != nil {
		panic(err)
	}
	quotes, err := p.Subscribe(ctx, "AAPL")
	if err != nil {
		panic(err)
	}
	live := <-quotes
	fmt.Println(q.Key, len(bars) > 0, live.Key)
	// Output: AAPL true AAPL
}
