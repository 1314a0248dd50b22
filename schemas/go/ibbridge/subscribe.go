package ibbridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"
)

// Kind is the kind of stream a lease takes (BRIEF: quote today; depth, ticks, bars and pnl are the
// wave 2 kinds, their subjects not published yet).
type Kind string

const (
	KindQuote Kind = "quote" // <prefix>.quote.<key>: Event.Quote
	KindDepth Kind = "depth" // <prefix>.depth.<key>: Event.Depth
	KindTicks Kind = "ticks" // <prefix>.ticks.<key>: Event.Tick
	KindBars  Kind = "bars"  // <prefix>.bars.<key>: Event.Bar
	KindPnL   Kind = "pnl"   // <prefix>.pnl.<account>[.<key>]: Event.PnL
)

// Event is one message of a subscription. Exactly one of Quote, Depth, Tick, Bar, PnL is set.
type Event struct {
	Kind  Kind
	Key   string
	Seq   uint64
	Quote *Quote
	Depth *Depth
	Tick  *Tick
	Bar   *Bar
	PnL   *PnL
	// Snapshot: this event is an ib.rpc.quote snapshot fetched because events GapFrom..GapTo of
	// Key were lost (a slow consumer, a reconnect, an ib-bridge restart); it carries the whole
	// current state, so nothing is left missing.
	Snapshot       bool
	GapFrom, GapTo uint64
}

// SubStats counts what a subscription did.
type SubStats struct {
	Events     uint64 // events delivered (snapshots included)
	Gaps       uint64 // seq gaps met (and seq restarts after which events were missed)
	GapsFilled uint64 // gaps filled with a snapshot
	Missed     uint64 // events lost in those gaps
	Restarts   uint64 // seq started again (a new ib-bridge)
	Renewals   uint64 // lease renewals
	Leases     uint64 // leases taken (1 + re-leases after ib-bridge forgot the lease)
}

// Subscription streams the events of one lease. Read C; call Close to end the lease. It keeps the
// lease alive by itself: renewed every third of its TTL, taken again when ib-bridge no longer knows
// it (restart, takeover), and at once when ib.evt.conn says an ib-bridge (re)joined the bus or IB is
// ready again.
type Subscription struct {
	C <-chan *Event

	c       *Client
	kind    Kind
	symbols []string
	req     LeaseRequest
	ch      chan *Event
	done    chan struct{}
	kickc   chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	sendMu  sync.RWMutex
	closed  bool
	mu      sync.Mutex
	lease   *Lease
	subs    map[string]*nats.Subscription
	lastErr error
	st      struct {
		events, gaps, filled, missed, restarts, renewals, leases uint64
	}
}

// Subscribe takes a lease on symbols for kind and streams their events. It returns once the lease
// is held and the subjects are subscribed; the lease's instruments (keys, subjects, states) are in
// Lease().
func (c *Client) Subscribe(ctx context.Context, kind Kind, symbols ...string) (*Subscription, error) {
	if len(symbols) == 0 {
		return nil, localError("bad_request", c.subject("rpc.subscribe"), "no symbols", 400, nil)
	}
	k := string(kind)
	if kind == KindQuote {
		k = ""
	}
	return c.SubscribeWith(ctx, LeaseRequest{Symbols: symbols, Kind: k})
}

// SubscribeWith is Subscribe with the whole lease request: instruments by contract, and the wave 2
// parameters (Kind, Rows of a depth lease, TickType of a ticks lease, Account of a pnl lease).
// TTLS and LeaseID are the subscription's own (WithLeaseTTL).
func (c *Client) SubscribeWith(ctx context.Context, req LeaseRequest) (*Subscription, error) {
	kind := Kind(req.Kind)
	if kind == "" {
		kind = KindQuote
	}
	if kind == KindQuote {
		req.Kind = ""
	}
	req.Symbols = append([]string(nil), req.Symbols...)
	req.TTLS, req.LeaseID = int(c.leaseTTL/time.Second), ""
	s := &Subscription{c: c, kind: kind, symbols: req.Symbols, req: req,
		ch: make(chan *Event, c.buffer), done: make(chan struct{}), kickc: make(chan struct{}, 1),
		subs: map[string]*nats.Subscription{}}
	s.C = s.ch
	if err := s.take(ctx); err != nil {
		s.unsubscribeAll()
		return nil, err
	}
	c.addListener(s)
	s.wg.Add(1)
	go s.keeper()
	return s, nil
}

// take asks for a new lease and subscribes its subjects.
func (s *Subscription) take(ctx context.Context) error {
	var l Lease
	if err := s.c.call(ctx, "rpc.subscribe", s.req, &l, callOpts{}); err != nil {
		return err
	}
	atomic.AddUint64(&s.st.leases, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lease = &l
	for _, in := range l.Instruments {
		subject := in.Subject
		if subject == "" {
			subject = s.c.subject(string(s.kind) + "." + in.Key)
		}
		if _, ok := s.subs[subject]; ok {
			continue
		}
		ks := &keyState{s: s, key: in.Key, dec: codec.NewDecoderBytes(nil, s.c.mh)}
		sub, err := s.c.nc.Subscribe(subject, ks.onMsg)
		if err != nil {
			return fmt.Errorf("ibbridge: subscribe %s: %w", subject, err)
		}
		_ = sub.SetPendingLimits(s.c.pending, 256<<20)
		s.subs[subject] = sub
	}
	return s.c.nc.Flush()
}

// Lease is the lease currently held.
func (s *Subscription) Lease() Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.lease
}

// Stats returns the subscription's counters.
func (s *Subscription) Stats() SubStats {
	return SubStats{Events: atomic.LoadUint64(&s.st.events), Gaps: atomic.LoadUint64(&s.st.gaps),
		GapsFilled: atomic.LoadUint64(&s.st.filled), Missed: atomic.LoadUint64(&s.st.missed),
		Restarts: atomic.LoadUint64(&s.st.restarts), Renewals: atomic.LoadUint64(&s.st.renewals),
		Leases: atomic.LoadUint64(&s.st.leases)}
}

// Err is the last error renewing or re-taking the lease (nil once it succeeded again).
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *Subscription) kick() {
	select {
	case s.kickc <- struct{}{}:
	default:
	}
}

// keeper renews the lease every TTL/3, and at once when kicked; when ib-bridge answers not_found
// (it forgot the lease) it takes a new one. Failures are retried every second.
func (s *Subscription) keeper() {
	defer s.wg.Done()
	every := s.c.leaseTTL / 3
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		case <-s.kickc:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		err := s.renew()
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		if err != nil {
			t.Reset(time.Second)
		} else {
			t.Reset(every)
		}
	}
}

func (s *Subscription) renew() error {
	s.mu.Lock()
	id := s.lease.LeaseID
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.c.timeout)
	defer cancel()
	var l Lease
	err := s.c.call(ctx, "rpc.subscribe", LeaseRequest{LeaseID: id, TTLS: s.req.TTLS}, &l, callOpts{})
	if err == nil {
		atomic.AddUint64(&s.st.renewals, 1)
		s.mu.Lock()
		s.lease = &l
		s.mu.Unlock()
		return nil
	}
	if errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotServed) {
		return s.take(ctx)
	}
	return err
}

func (s *Subscription) unsubscribeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for subj, sub := range s.subs {
		_ = sub.Unsubscribe()
		delete(s.subs, subj)
	}
}

// Close ends the lease (ib-bridge cancels lines nobody else leases), unsubscribes, and closes C.
func (s *Subscription) Close() error {
	var err error
	s.once.Do(func() {
		s.c.removeListener(s)
		close(s.done)
		s.wg.Wait()
		s.unsubscribeAll()
		s.mu.Lock()
		id := s.lease.LeaseID
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), s.c.timeout)
		defer cancel()
		var r LeaseEnded
		err = s.c.call(ctx, "rpc.unsubscribe", unsubscribeRequest{LeaseID: id}, &r, callOpts{})
		if errors.Is(err, ErrNotFound) {
			err = nil // already gone (expired, or ib-bridge restarted)
		}
		s.sendMu.Lock()
		s.closed = true
		close(s.ch)
		s.sendMu.Unlock()
	})
	return err
}

// ---- per instrument ---------------------------------------------------------------------------------

// keyState is one subject's state; its callback runs on that subject's own nats.go goroutine.
type keyState struct {
	s    *Subscription
	key  string
	last uint64
	// staleFrom > 0: a snapshot newer than the events staleFrom..last already in flight was
	// delivered; those are dropped
	staleFrom uint64
	dec       *codec.Decoder
	strs      strCache
}

func (k *keyState) decodeEvent(data []byte) (*Event, error) {
	s := k.s
	if s.kind == KindQuote && len(data) > 0 && data[0] >= 0x80 {
		if k.strs == nil {
			k.strs = strCache{}
		}
		if ev, ok := decodeQuoteFast(data, k.strs); ok {
			return ev, nil
		}
	}
	ev := &Event{Kind: s.kind, Key: k.key}
	var v interface{}
	switch s.kind {
	case KindQuote:
		ev.Quote = &Quote{}
		v = ev.Quote
	case KindDepth:
		ev.Depth = &Depth{}
		v = ev.Depth
	case KindTicks:
		ev.Tick = &Tick{}
		v = ev.Tick
	case KindBars:
		ev.Bar = &Bar{}
		v = ev.Bar
	case KindPnL:
		ev.PnL = &PnL{}
		v = ev.PnL
	default:
		return nil, fmt.Errorf("unknown kind %q", s.kind)
	}
	var err error
	if len(data) > 0 && data[0] >= 0x80 { // MessagePack map: the reused decoder
		k.dec.ResetBytes(data)
		err = k.dec.Decode(v)
	} else {
		err = s.c.decode(data, v)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case ev.Quote != nil:
		ev.Key, ev.Seq = ev.Quote.Key, ev.Quote.Seq
	case ev.Depth != nil:
		ev.Key, ev.Seq = ev.Depth.Key, ev.Depth.Seq
	case ev.Tick != nil:
		ev.Key, ev.Seq = ev.Tick.Key, ev.Tick.Seq
	case ev.Bar != nil:
		ev.Key, ev.Seq = ev.Bar.Key, ev.Bar.Seq
	case ev.PnL != nil:
		ev.Key, ev.Seq = ev.PnL.Key, ev.PnL.Seq
	}
	return ev, nil
}

func (k *keyState) onMsg(m *nats.Msg) {
	s := k.s
	if s.c.trace != nil {
		s.c.trace(false, m.Subject, m.Data)
	}
	ev, err := k.decodeEvent(m.Data)
	if err != nil {
		s.mu.Lock()
		s.lastErr = fmt.Errorf("ibbridge: %s: decode event: %w", m.Subject, err)
		s.mu.Unlock()
		return
	}
	if ev.Seq == 0 { // no seq on this kind: nothing to check
		s.deliver(ev)
		return
	}
	if k.staleFrom != 0 {
		if ev.Seq >= k.staleFrom && ev.Seq <= k.last {
			return // older than the snapshot already delivered
		}
		k.staleFrom = 0
	}
	switch {
	case k.last == 0 || ev.Seq == k.last+1:
		// first event seen (each one is the whole state), or the next one
	case ev.Seq <= k.last:
		// the counter started again: a new ib-bridge. Events 1..Seq-1 of it were missed.
		atomic.AddUint64(&s.st.restarts, 1)
		if ev.Seq > 1 && !k.fill(0, ev) {
			return
		}
	default:
		if !k.fill(k.last, ev) {
			return
		}
	}
	k.last = ev.Seq
	s.deliver(ev)
}

// fill handles events last+1..ev.Seq-1 lost: for quotes it fetches ib.rpc.quote and delivers it as a
// Snapshot event. It reports whether ev itself is still to be delivered (false when the snapshot is
// as new as ev).
func (k *keyState) fill(last uint64, ev *Event) bool {
	s := k.s
	atomic.AddUint64(&s.st.gaps, 1)
	atomic.AddUint64(&s.st.missed, ev.Seq-last-1)
	if s.kind != KindQuote {
		return true // no snapshot request for this kind (yet): the gap stays reported in Stats
	}
	q, err := k.snapshot(ev.Seq)
	if err != nil {
		s.mu.Lock()
		s.lastErr = fmt.Errorf("ibbridge: snapshot of %s for seq gap %d..%d: %w", k.key, last+1, ev.Seq-1, err)
		s.mu.Unlock()
	}
	if err != nil || q.Seq+1 < ev.Seq {
		// no snapshot covering the gap (IB down, or an older state): ev, the whole state, follows
		// with the gap marked; GapsFilled does not count it
		ev.GapFrom, ev.GapTo = last+1, ev.Seq-1
		return true
	}
	atomic.AddUint64(&s.st.filled, 1)
	snap := &Event{Kind: KindQuote, Key: k.key, Seq: q.Seq, Quote: q, Snapshot: true, GapFrom: last + 1, GapTo: ev.Seq - 1}
	s.deliver(snap)
	if q.Seq >= ev.Seq {
		k.last, k.staleFrom = q.Seq, ev.Seq
		return false
	}
	return true
}

// snapshot asks ib.rpc.quote for the key's state, retrying for up to 3 s while the error is
// transient: after a NATS reconnect the events can flow again before ib-bridge's request
// subscriptions are back (no responders).
func (k *keyState) snapshot(seq uint64) (*Quote, error) {
	s := k.s
	per := s.c.timeout
	if per > 2*time.Second {
		per = 2 * time.Second
	}
	until := time.Now().Add(3 * time.Second)
	for pause := 100 * time.Millisecond; ; pause *= 2 {
		ctx, cancel := context.WithTimeout(context.Background(), per)
		q, err := s.c.QuoteOf(ctx, QuoteRequest{Key: k.key})
		cancel()
		if (err == nil && q.Seq+1 >= seq) || (err != nil && !IsRetryable(err)) || time.Now().Add(pause).After(until) {
			return q, err
		}
		select {
		case <-time.After(pause):
		case <-s.done:
			return q, err
		}
	}
}

func (s *Subscription) deliver(ev *Event) {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- ev:
		atomic.AddUint64(&s.st.events, 1)
	case <-s.done:
	}
}
