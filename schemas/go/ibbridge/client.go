package ibbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"
)

// Encoding of the requests a Client sends; ib-bridge replies in the request's encoding.
type Encoding int

const (
	MsgPack Encoding = iota // MessagePack (the default: smaller, faster)
	JSON                    // JSON, with Content-Type: application/json
)

func (e Encoding) String() string {
	if e == JSON {
		return "json"
	}
	return "msgpack"
}

// Option configures a Client (see New).
type Option func(*Client)

// WithPrefix sets the subject prefix ("ib" by default; e.g. "ib.paper").
func WithPrefix(prefix string) Option {
	return func(c *Client) { c.prefix = strings.TrimSuffix(prefix, ".") }
}

// WithEncoding sets the encoding of requests and so of replies (MsgPack by default).
func WithEncoding(e Encoding) Option { return func(c *Client) { c.enc = e } }

// WithRequestTimeout is the deadline of a request whose context has none (5 s by default, as
// ib-bridge's nats.request_timeout_ms: it always replies before that).
func WithRequestTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithLeaseTTL is the TTL of the leases Subscribe takes (30 s by default); they are renewed every
// third of it.
func WithLeaseTTL(d time.Duration) Option { return func(c *Client) { c.leaseTTL = d } }

// WithEventBuffer is the capacity of a Subscription's and an OrderStream's channel (1024).
func WithEventBuffer(n int) Option { return func(c *Client) { c.buffer = n } }

// WithPendingLimit is how many events of one subject may wait for the receiver of C before NATS
// drops the newer ones (unlimited by default, bounded by 256 MiB). A drop is a seq gap, which the
// subscription fills with a snapshot: a small limit trades completeness for freshness.
func WithPendingLimit(msgs int) Option { return func(c *Client) { c.pending = msgs } }

// WithOrderRetry bounds PlaceOrder when its context has no deadline (30 s by default) and sets the
// pause before retrying after no responders (250 ms).
func WithOrderRetry(total, pause time.Duration) Option {
	return func(c *Client) { c.orderBudget, c.retryPause = total, pause }
}

// WithoutBreaker turns the circuit breaker off: every call goes to the bus.
func WithoutBreaker() Option { return func(c *Client) { c.noBreaker = true } }

// WithStrictDecoding makes a reply or event with a field the Go types do not know an error (the
// contract tests use it; by default unknown fields are ignored so a newer ib-bridge can add some).
func WithStrictDecoding() Option { return func(c *Client) { c.strict = true } }

// WithTrace calls fn with every request body the client sends (out=true) and every reply and event
// body it decodes (out=false), in the client's encoding. For debugging and the contract tests.
func WithTrace(fn func(out bool, subject string, data []byte)) Option {
	return func(c *Client) { c.trace = fn }
}

// Client is ib-bridge on the bus, for Go. It is safe for concurrent use. Close it to stop watching
// <prefix>.evt.conn (the breaker and subscriptions' re-leasing follow that subject).
type Client struct {
	nc          *nats.Conn
	prefix      string
	enc         Encoding
	timeout     time.Duration
	leaseTTL    time.Duration
	buffer      int
	pending     int
	orderBudget time.Duration
	retryPause  time.Duration
	noBreaker   bool
	strict      bool
	trace       func(bool, string, []byte)

	mh      *codec.MsgpackHandle
	br      breaker
	connSub *nats.Subscription

	mu        sync.Mutex
	listeners map[*Subscription]struct{}
}

// New returns a client for the ib-bridge serving prefix on nc. nc stays the caller's: Close does
// not close it.
func New(nc *nats.Conn, opts ...Option) (*Client, error) {
	if nc == nil {
		return nil, errors.New("ibbridge: nil *nats.Conn")
	}
	c := &Client{nc: nc, prefix: "ib", timeout: 5 * time.Second, leaseTTL: 30 * time.Second, buffer: 1024, pending: -1,
		orderBudget: 30 * time.Second, retryPause: 250 * time.Millisecond, listeners: map[*Subscription]struct{}{}}
	for _, o := range opts {
		o(c)
	}
	if c.prefix == "" {
		return nil, errors.New("ibbridge: empty prefix")
	}
	if c.leaseTTL < 3*time.Second {
		c.leaseTTL = 3 * time.Second
	}
	c.mh = newMsgpackHandle(c.strict)
	c.br.init()
	sub, err := nc.Subscribe(c.subject("evt.conn"), c.onConnEvent)
	if err != nil {
		return nil, fmt.Errorf("ibbridge: subscribe %s: %w", c.subject("evt.conn"), err)
	}
	c.connSub = sub
	return c, nil
}

func newMsgpackHandle(strict bool) *codec.MsgpackHandle {
	mh := &codec.MsgpackHandle{}
	mh.RawToString = true
	mh.WriteExt = true // str8 and bin types (the current MessagePack spec)
	mh.ErrorIfNoField = strict
	return mh
}

// Close stops watching <prefix>.evt.conn. Subscriptions and order streams are closed by their own
// Close.
func (c *Client) Close() error { return c.connSub.Unsubscribe() }

// Conn is the NATS connection the client uses.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Prefix is the subject prefix.
func (c *Client) Prefix() string { return c.prefix }

func (c *Client) subject(suffix string) string { return c.prefix + "." + suffix }

// ---- encoding ---------------------------------------------------------------------------------------

func (c *Client) encode(v interface{}) ([]byte, error) {
	if c.enc == JSON {
		return json.Marshal(v)
	}
	var out []byte
	err := codec.NewEncoderBytes(&out, c.mh).Encode(v)
	return out, err
}

// Decode decodes a body ib-bridge published (a KV value, a message read with plain nats.go) into
// one of the package's types: JSON when it starts like JSON, else MessagePack.
func (c *Client) Decode(data []byte, v interface{}) error { return c.decode(data, v) }

// decode decodes a reply or event body (JSON when it starts like JSON: ib-bridge answers in the
// request's encoding, and the JSON mirrors of streams are JSON).
func (c *Client) decode(data []byte, v interface{}) error {
	if len(data) > 0 && (data[0] == '{' || data[0] == '[' || data[0] == ' ' || data[0] == '\n') {
		d := json.NewDecoder(bytes.NewReader(data))
		if c.strict {
			d.DisallowUnknownFields()
		}
		return d.Decode(v)
	}
	return codec.NewDecoderBytes(data, c.mh).Decode(v)
}

// ---- requests -----------------------------------------------------------------------------------------

// Subjects this package knows that ib-bridge does not serve yet: no responders there is ErrNotServed.
// Every subject of BRIEF's wave 2 is served now; the mechanism stays for the next wave.
var notYetServed = map[string]bool{}

// Calls that need the IB link: the breaker fails them fast while it is open. Positions, account,
// order list, status and leases are answered from ib-bridge's memory with IB down, so they go through.
var needsIB = map[string]bool{
	"rpc.quote": true, "rpc.candles": true, "rpc.contract": true, "rpc.contract.search": true,
	"rpc.order.place": true, "rpc.order.cancel": true, "rpc.order.modify": true, "rpc.order.preview": true,
	"rpc.order.completed": true, "rpc.scanner": true, "rpc.scanner.params": true, "rpc.options.chain": true,
	"rpc.options.quotes": true,
}

type callOpts struct{ noBreaker bool }

// Request sends body (encoded in the client's encoding) to <prefix>.<suffix> and decodes the reply
// into reply; a bus error comes back as *Error. The typed calls use it; it is exported for subjects
// this package does not know yet.
func (c *Client) Request(ctx context.Context, suffix string, body, reply interface{}) error {
	return c.call(ctx, suffix, body, reply, callOpts{})
}

func (c *Client) call(ctx context.Context, suffix string, body, reply interface{}, o callOpts) error {
	subject := c.subject(suffix)
	if !o.noBreaker && !c.noBreaker && needsIB[suffix] && c.br.isOpen() {
		return c.br.openError(subject)
	}
	data, err := c.encode(body)
	if err != nil {
		return fmt.Errorf("ibbridge: %s: encode: %w", subject, err)
	}
	if c.trace != nil {
		c.trace(true, subject, data)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	if c.enc == JSON {
		msg.Header.Set("Content-Type", "application/json")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	m, err := c.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return c.transportError(subject, suffix, err)
	}
	if c.trace != nil {
		c.trace(false, subject, m.Data)
	}
	if st := m.Header.Get("Nats-Service-Error-Code"); st != "" {
		e := c.replyError(subject, st, m)
		if e.Code == "ib_unavailable" && !c.noBreaker {
			c.br.trip(c, "reply: "+e.Message)
		}
		return e
	}
	if reply == nil {
		return nil
	}
	if err := c.decode(m.Data, reply); err != nil {
		return fmt.Errorf("ibbridge: %s: decode reply: %w", subject, err)
	}
	return nil
}

type errorBody struct {
	Error struct {
		Code         string `codec:"code" json:"code"`
		Message      string `codec:"message" json:"message"`
		IBCode       int    `codec:"ib_code" json:"ib_code"`
		RetryAfterMs int64  `codec:"retry_after_ms" json:"retry_after_ms"`
	} `codec:"error" json:"error"`
}

func (c *Client) replyError(subject, status string, m *nats.Msg) *Error {
	n, _ := strconv.Atoi(status)
	var b errorBody
	e := &Error{Status: n, Subject: subject}
	if err := c.decode(m.Data, &b); err != nil || b.Error.Code == "" {
		e.Code = "internal"
		e.Message = m.Header.Get("Nats-Service-Error")
		if ks := statusKinds[n]; len(ks) > 0 {
			e.Code = ks[0].name
		}
		return e
	}
	e.Code, e.Message, e.IBCode = b.Error.Code, b.Error.Message, b.Error.IBCode
	e.RetryAfter = time.Duration(b.Error.RetryAfterMs) * time.Millisecond
	return e
}

func (c *Client) transportError(subject, suffix string, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		if notYetServed[suffix] {
			return localError("not_served", subject, "no responders: ib-bridge does not serve this subject (yet)", 501, err)
		}
		return localError("no_responders", subject, "no responders: ib-bridge is not on the bus", 503, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return localError("timeout", subject, "no reply before the deadline", 504, err)
	case errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("ibbridge: %s: %w", subject, err)
}

// ---- ib.evt.conn -------------------------------------------------------------------------------------

func (c *Client) onConnEvent(m *nats.Msg) {
	var ev ConnEvent
	if err := c.decode(m.Data, &ev); err != nil {
		return
	}
	if c.trace != nil {
		c.trace(false, m.Subject, m.Data)
	}
	rejoin := false
	switch {
	case ev.Source == "ib" && ev.Event == "ready":
		c.br.reset()
		rejoin = true
	case ev.Source == "ib" && ev.State == "down":
		if !c.noBreaker {
			c.br.trip(nil, "ib.evt.conn: "+ev.Event+" "+ev.Message)
		}
	case ev.Source == "nats" && (ev.Event == "connected" || ev.Event == "reconnected"):
		rejoin = true // an ib-bridge (re)joined the bus: leases may be gone
	}
	if rejoin {
		c.mu.Lock()
		for s := range c.listeners {
			s.kick()
		}
		c.mu.Unlock()
	}
}

func (c *Client) addListener(s *Subscription) {
	c.mu.Lock()
	c.listeners[s] = struct{}{}
	c.mu.Unlock()
}

func (c *Client) removeListener(s *Subscription) {
	c.mu.Lock()
	delete(c.listeners, s)
	c.mu.Unlock()
}

// ---- circuit breaker ------------------------------------------------------------------------------

// breaker is open while the IB link is known down: from an ib_unavailable reply or a `down` event
// on ib.evt.conn until the `ready` event. No timer closes it: ib-bridge says when IB is back.
type breaker struct {
	mu     sync.Mutex
	open   bool
	reason string
	since  time.Time
	closed chan struct{} // closed when the breaker closes (a new one while open)
	opens  int
}

func (b *breaker) init() {
	b.closed = make(chan struct{})
	close(b.closed)
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// trip opens the breaker. c non-nil (an ib_unavailable reply, which may overtake the `ready` event
// on another subscription): one ib.rpc.status asks whether IB is in fact back.
func (b *breaker) trip(c *Client, reason string) {
	b.mu.Lock()
	if !b.open {
		b.open, b.reason, b.since = true, reason, time.Now()
		b.closed = make(chan struct{})
		b.opens++
	}
	b.mu.Unlock()
	if c != nil {
		go func() {
			var st Status
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			if err := c.call(ctx, "rpc.status", struct{}{}, &st, callOpts{noBreaker: true}); err == nil && st.Connected {
				b.reset()
			}
		}()
	}
}

func (b *breaker) reset() {
	b.mu.Lock()
	if b.open {
		b.open = false
		close(b.closed)
	}
	b.mu.Unlock()
}

func (b *breaker) openError(subject string) *Error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return localError("breaker_open", subject, "circuit open since "+b.since.UTC().Format(time.RFC3339Nano)+
		" ("+b.reason+"); it closes when ib.evt.conn reports ready", 503, nil)
}

func (b *breaker) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// BreakerState says whether the breaker is open, why, and how many times it opened.
type BreakerState struct {
	Open   bool
	Reason string
	Since  time.Time
	Opens  int
}

// Breaker returns the breaker's state.
func (c *Client) Breaker() BreakerState {
	c.br.mu.Lock()
	defer c.br.mu.Unlock()
	return BreakerState{Open: c.br.open, Reason: c.br.reason, Since: c.br.since, Opens: c.br.opens}
}

// WaitReady returns when the breaker is closed (at once when it is), or ctx's error.
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.br.wait():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
