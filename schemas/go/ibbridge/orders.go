package ibbridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// NewClientOrderID returns a fresh idempotency key: "go-" and 24 random hex digits.
func NewClientOrderID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "go-" + hex.EncodeToString(b[:])
}

// PlaceOrder is ib.rpc.order.place, made safe to retry. It fills req.ClientOrderID when empty, and
// sends the same request again — same client_order_id, so ib-bridge places the order at most once —
// after a timeout, no responders (ib-bridge restarting) or ib_unavailable (after the breaker closes
// on `ready`), until ctx ends (or the WithOrderRetry budget when ctx has no deadline). Each attempt
// gets the request timeout. Any other error is returned at once (risk_limit, read_only,
// order_rejected, ...). The result says how many attempts it took and whether the bus saw a
// duplicate; on failure the error of the last attempt is returned and req's ClientOrderID (in the
// error's message) is the key to retry with later.
func (c *Client) PlaceOrder(ctx context.Context, req OrderRequest) (*OrderPlaced, error) {
	if req.ClientOrderID == "" {
		req.ClientOrderID = NewClientOrderID()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.orderBudget)
		defer cancel()
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.timeout)
		var r OrderPlaced
		err := c.call(actx, "rpc.order.place", req, &r, callOpts{noBreaker: attempt > 1})
		cancel()
		if err == nil {
			r.Attempts = attempt
			return &r, nil
		}
		lastErr = err
		var pause <-chan struct{}
		switch {
		case errors.Is(err, ErrTimeout):
			// ib-bridge may have it: ask again at once, the same id makes it a duplicate
		case errors.Is(err, ErrIBUnavailable), errors.Is(err, ErrBreakerOpen):
			pause = c.br.wait()
		case errors.Is(err, ErrUnavailable): // no responders, or the order store is not ready
			t := time.NewTimer(c.retryPause)
			ch := make(chan struct{})
			go func() { <-t.C; close(ch) }()
			pause = ch
		default:
			return nil, err
		}
		if pause != nil {
			select {
			case <-pause:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ibbridge: order %s not confirmed after %d attempts: %w", req.ClientOrderID, attempt, lastErr)
		}
	}
}

// ---- the order event stream ---------------------------------------------------------------------

// Since says where OrderEvents starts: a stream sequence, a time, the start of the stream (All) or
// only new events (New).
type Since struct {
	Seq  uint64
	Time time.Time
	All  bool
}

// SinceSeq starts at stream sequence seq (OrderEventMsg.StreamSeq + 1 resumes after a message).
func SinceSeq(seq uint64) Since { return Since{Seq: seq} }

// SinceTime starts at the first event stored at or after t.
func SinceTime(t time.Time) Since { return Since{Time: t} }

// SinceAll starts at the first event the stream holds (7 days).
func SinceAll() Since { return Since{All: true} }

// SinceNew delivers only events stored from now on.
func SinceNew() Since { return Since{} }

// OrderEventsOption configures OrderEvents.
type OrderEventsOption func(*orderEventsCfg)

type orderEventsCfg struct {
	durable string
}

// Durable names a durable JetStream consumer: the server remembers what was acknowledged, so a
// service that reconnects with the same name resumes after the last event it processed (since is
// then used only when the consumer is created).
func Durable(name string) OrderEventsOption { return func(o *orderEventsCfg) { o.durable = name } }

// OrderEventMsg is one stored order event.
type OrderEventMsg struct {
	Event     *OrderEvent
	StreamSeq uint64    // the message's sequence in the stream
	Stored    time.Time // when JetStream stored it
}

// OrderStream follows the order event stream. Events arrive on C in stream order; C is closed by
// Close or when ctx ends. With Durable, C is unbuffered and a message is acknowledged once the
// receiver took it off C (one not taken is delivered again to the next OrderEvents of that name).
type OrderStream struct {
	C      <-chan OrderEventMsg
	ch     chan OrderEventMsg
	sub    *nats.Subscription
	done   chan struct{}
	once   sync.Once
	mu     sync.RWMutex
	closed bool
	err    error
}

// OrderStreamName is the JetStream stream ib-bridge stores order events in: the prefix upper-cased,
// dots as '_', plus "_ORDERS" (IB_ORDERS for "ib").
func (c *Client) OrderStreamName() string {
	return strings.ToUpper(strings.ReplaceAll(c.prefix, ".", "_")) + "_ORDERS"
}

// OrderEvents replays <prefix>.evt.order.> from the JetStream stream since the given point and then
// follows it live, so a service that was down misses no fill. Without Durable it uses an ordered
// consumer (the library recreates it after a gap or reconnect).
func (c *Client) OrderEvents(ctx context.Context, since Since, opts ...OrderEventsOption) (*OrderStream, error) {
	var cfg orderEventsCfg
	for _, o := range opts {
		o(&cfg)
	}
	js, err := c.nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("ibbridge: jetstream: %w", err)
	}
	subOpts := []nats.SubOpt{nats.BindStream(c.OrderStreamName())}
	switch {
	case since.Seq > 0:
		subOpts = append(subOpts, nats.StartSequence(since.Seq))
	case !since.Time.IsZero():
		subOpts = append(subOpts, nats.StartTime(since.Time))
	case since.All:
		subOpts = append(subOpts, nats.DeliverAll())
	default:
		subOpts = append(subOpts, nats.DeliverNew())
	}
	if cfg.durable != "" {
		// created here and bound, so that Unsubscribe leaves it on the server for the next run
		if err := c.ensureDurable(js, cfg.durable, since); err != nil {
			return nil, err
		}
		subOpts = []nats.SubOpt{nats.Bind(c.OrderStreamName(), cfg.durable), nats.ManualAck()}
	} else {
		subOpts = append(subOpts, nats.OrderedConsumer())
	}
	buf := c.buffer
	if cfg.durable != "" {
		buf = 0 // unbuffered: a message is acknowledged only once the receiver took it
	}
	s := &OrderStream{ch: make(chan OrderEventMsg, buf), done: make(chan struct{})}
	s.C = s.ch
	handler := func(m *nats.Msg) {
		var ev OrderEvent
		if err := c.decode(m.Data, &ev); err != nil {
			s.setErr(fmt.Errorf("ibbridge: order event %s: %w", m.Subject, err))
			return
		}
		if c.trace != nil {
			c.trace(false, m.Subject, m.Data)
		}
		out := OrderEventMsg{Event: &ev}
		if md, err := m.Metadata(); err == nil {
			out.StreamSeq, out.Stored = md.Sequence.Stream, md.Timestamp
		}
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return
		}
		select {
		case s.ch <- out:
			if cfg.durable != "" {
				_ = m.Ack()
			}
		case <-s.done:
		}
	}
	sub, err := js.Subscribe(c.subject("evt.order.>"), handler, subOpts...)
	if err != nil {
		return nil, fmt.Errorf("ibbridge: order events (stream %s): %w", c.OrderStreamName(), err)
	}
	s.sub = sub
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

func (c *Client) ensureDurable(js nats.JetStreamContext, name string, since Since) error {
	stream := c.OrderStreamName()
	if _, err := js.ConsumerInfo(stream, name); err == nil {
		return nil
	} else if !errors.Is(err, nats.ErrConsumerNotFound) {
		return fmt.Errorf("ibbridge: consumer %s of %s: %w", name, stream, err)
	}
	cc := &nats.ConsumerConfig{Durable: name, DeliverSubject: nats.NewInbox(), AckPolicy: nats.AckExplicitPolicy,
		MaxAckPending: c.buffer, FilterSubject: c.subject("evt.order.>"), AckWait: 30 * time.Second}
	switch {
	case since.Seq > 0:
		cc.DeliverPolicy, cc.OptStartSeq = nats.DeliverByStartSequencePolicy, since.Seq
	case !since.Time.IsZero():
		t := since.Time
		cc.DeliverPolicy, cc.OptStartTime = nats.DeliverByStartTimePolicy, &t
	case since.All:
		cc.DeliverPolicy = nats.DeliverAllPolicy
	default:
		cc.DeliverPolicy = nats.DeliverNewPolicy
	}
	if _, err := js.AddConsumer(stream, cc); err != nil {
		return fmt.Errorf("ibbridge: create consumer %s of %s: %w", name, stream, err)
	}
	return nil
}

// DeleteDurable removes a durable consumer OrderEvents created.
func (c *Client) DeleteDurable(name string) error {
	js, err := c.nc.JetStream()
	if err != nil {
		return err
	}
	return js.DeleteConsumer(c.OrderStreamName(), name)
}

func (s *OrderStream) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// Err is the first decoding error met (the event was skipped), if any.
func (s *OrderStream) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.err
}

// Close stops following the stream (a durable consumer stays on the server for the next
// OrderEvents with its name) and closes C.
func (s *OrderStream) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.sub.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil
		}
		s.mu.Lock()
		s.closed = true
		close(s.ch)
		s.mu.Unlock()
	})
	return err
}
