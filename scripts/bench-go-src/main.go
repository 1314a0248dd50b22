// bench-go-src — the measuring program of scripts/bench-go: quote events per second a Go subscriber
// decodes through the ibbridge package vs. raw nats.go subscriptions of the same subjects, in the
// same run. It starts nats-server, ib-sim (N synthetic stocks ticking fast) and ib-bridge itself,
// holds a lease on the instruments, then runs, S seconds each:
//
//	raw          nats.go ChanSubscribe of the N subjects, counting messages (no decoding)
//	raw+decode   the same, decoding each into a fresh ibbridge.Quote with a reused ugorji decoder
//	             (what hand-written code does)
//	package      ibbridge.Client.Subscribe of the N symbols, reading Event.Quote from C
//	concurrent   the three at once, each on its own NATS connection (same events, same moment)
//
// and prints events/s, this process's CPU per event, seq gaps and drops, as a table and one JSON
// line per phase.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"

	"ib-bridge/schemas/go/ibbridge"
)

var children []*exec.Cmd

func cleanup() {
	for i := len(children) - 1; i >= 0; i-- {
		if p := children[i].Process; p != nil {
			_ = p.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = children[i].Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = p.Kill()
			}
		}
	}
	children = nil
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-go: %s: %v\n", what, err)
		cleanup()
		os.Exit(1)
	}
}

func waitPort(port int) error {
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("port %d not listening", port)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err, "port")
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type result struct {
	Phase     string  `json:"phase"`
	Consumer  string  `json:"consumer"`
	Events    uint64  `json:"events"`
	Rate      float64 `json:"events_per_s"`
	CPUus     float64 `json:"cpu_us_per_event,omitempty"`
	Gaps      uint64  `json:"gaps"`
	Dropped   int     `json:"nats_dropped"`
	Snapshots uint64  `json:"snapshots,omitempty"`
}

// consumer runs until stop, counting events.
type consumer interface {
	name() string
	start() error
	stop() result
}

type rawConsumer struct {
	url    string
	subs   []string
	decode bool
	nc     *nats.Conn
	ss     []*nats.Subscription
	ch     chan *nats.Msg
	n      uint64
	gaps   uint64
	done   chan struct{}
	wg     sync.WaitGroup
}

func (r *rawConsumer) name() string {
	if r.decode {
		return "raw+decode"
	}
	return "raw"
}

func (r *rawConsumer) start() error {
	var err error
	if r.nc, err = nats.Connect(r.url); err != nil {
		return err
	}
	r.ch = make(chan *nats.Msg, 1<<16)
	r.done = make(chan struct{})
	for _, s := range r.subs {
		sub, err := r.nc.ChanSubscribe(s, r.ch)
		if err != nil {
			return err
		}
		_ = sub.SetPendingLimits(-1, 256<<20)
		r.ss = append(r.ss, sub)
	}
	if err := r.nc.Flush(); err != nil {
		return err
	}
	mh := &codec.MsgpackHandle{}
	mh.RawToString = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		dec := codec.NewDecoderBytes(nil, mh)
		last := map[string]uint64{}
		for {
			select {
			case m := <-r.ch:
				if r.decode {
					q := &ibbridge.Quote{}
					dec.ResetBytes(m.Data)
					if err := dec.Decode(q); err != nil {
						must(err, "decode")
					}
					if l := last[q.Key]; l != 0 && q.Seq != l+1 {
						r.gaps++
					}
					last[q.Key] = q.Seq
				}
				atomic.AddUint64(&r.n, 1)
			case <-r.done:
				return
			}
		}
	}()
	return nil
}

func (r *rawConsumer) stop() result {
	n := atomic.LoadUint64(&r.n)
	dropped := 0
	for _, s := range r.ss {
		d, _ := s.Dropped()
		dropped += d
		_ = s.Unsubscribe()
	}
	close(r.done)
	r.wg.Wait()
	r.nc.Close()
	return result{Consumer: r.name(), Events: n, Gaps: r.gaps, Dropped: dropped}
}

type pkgConsumer struct {
	url  string
	syms []string
	nc   *nats.Conn
	c    *ibbridge.Client
	sub  *ibbridge.Subscription
	n    uint64
	wg   sync.WaitGroup
}

func (p *pkgConsumer) name() string { return "package" }

func (p *pkgConsumer) start() error {
	var err error
	if p.nc, err = nats.Connect(p.url); err != nil {
		return err
	}
	if p.c, err = ibbridge.New(p.nc, ibbridge.WithEventBuffer(1<<16), ibbridge.WithRequestTimeout(30*time.Second)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if p.sub, err = p.c.Subscribe(ctx, ibbridge.KindQuote, p.syms...); err != nil {
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var sink float64
		for ev := range p.sub.C {
			if ev.Quote.Bid != nil {
				sink += *ev.Quote.Bid
			}
			atomic.AddUint64(&p.n, 1)
		}
		_ = sink
	}()
	return nil
}

func (p *pkgConsumer) stop() result {
	n := atomic.LoadUint64(&p.n)
	st := p.sub.Stats()
	_ = p.sub.Close()
	p.wg.Wait()
	p.c.Close()
	p.nc.Close()
	return result{Consumer: "package", Events: n, Gaps: st.Gaps, Snapshots: st.GapsFilled}
}

func run(phase string, secs float64, cs ...consumer) []result {
	for _, c := range cs {
		must(c.start(), c.name()+" start")
	}
	time.Sleep(500 * time.Millisecond) // settle (lease replies, first events)
	base := make([]uint64, len(cs))
	for i, c := range cs {
		base[i] = count(c)
	}
	cpu0, t0 := cpuNow(), time.Now()
	time.Sleep(time.Duration(secs * float64(time.Second)))
	dt, cpu := time.Since(t0).Seconds(), cpuNow()-cpu0
	out := make([]result, len(cs))
	var total uint64
	for i, c := range cs {
		n := count(c) - base[i]
		total += n
		r := c.stop()
		r.Phase, r.Events, r.Rate = phase, n, float64(n)/dt
		out[i] = r
	}
	if len(cs) == 1 && total > 0 {
		out[0].CPUus = float64(cpu.Microseconds()) / float64(total)
	}
	return out
}

func count(c consumer) uint64 {
	switch x := c.(type) {
	case *rawConsumer:
		return atomic.LoadUint64(&x.n)
	case *pkgConsumer:
		return atomic.LoadUint64(&x.n)
	}
	return 0
}

func main() {
	simBin := flag.String("sim", "build/adapter/sim/ib-sim", "ib-sim binary")
	bridgeBin := flag.String("bridge", "build/adapter/app/ib-bridge", "ib-bridge binary")
	natsBin := flag.String("nats-server", "nats-server", "nats-server binary")
	n := flag.Int("instruments", 50, "instruments")
	tickRate := flag.Int("tick-rate", 2000, "ib-sim quote updates per second per instrument")
	tickMs := flag.Int("tick-interval-ms", 1, "ib-sim tick timer")
	secs := flag.Float64("secs", 5, "seconds per phase")
	flag.Parse()

	dir, err := os.MkdirTemp("", "bench-go-")
	must(err, "tmp")
	defer os.RemoveAll(dir)
	port := freePort()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	ns := exec.Command(*natsBin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", dir)
	must(ns.Start(), "nats-server")
	children = append(children, ns)
	defer cleanup()
	must(waitPort(port), "nats-server")

	sim := exec.Command(*simBin, "--port", "0", "--control-port", "0", "--seed", "1", "--tick-rate", fmt.Sprint(*tickRate),
		"--extra-stocks", fmt.Sprint(*n+10), "--max-lines", "200", "--tick-interval-ms", fmt.Sprint(*tickMs))
	out, err := sim.StdoutPipe()
	must(err, "sim pipe")
	must(sim.Start(), "ib-sim")
	children = append(children, sim)
	var simPort, ctlPort int
	sc := bufio.NewScanner(out)
	re := regexp.MustCompile(`ib-sim ready port=(\d+) control_port=(\d+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			fmt.Sscan(m[1], &simPort)
			fmt.Sscan(m[2], &ctlPort)
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	br := exec.Command(*bridgeBin)
	br.Env = append(os.Environ(), "IB_HOST=127.0.0.1", fmt.Sprintf("IB_PORT=%d", simPort), "IB_SIMULATOR=true",
		"NATS_URL="+url, "IB_CLIENT_ID=7", "IBB_MD_LINE_BUDGET=200", "IBB_LOG_LEVEL=warn", "IBB_REQUEST_TIMEOUT_MS=60000")
	logf, err := os.Create(dir + "/ib-bridge.log")
	must(err, "log")
	br.Stderr = logf
	must(br.Start(), "ib-bridge")
	children = append(children, br)

	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	must(err, "connect")
	defer nc.Close()
	c, err := ibbridge.New(nc, ibbridge.WithRequestTimeout(60*time.Second))
	must(err, "client")
	until := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Status(ctx)
		cancel()
		if err == nil && st.Connected {
			break
		}
		if time.Now().After(until) {
			must(fmt.Errorf("not ready: %v", err), "ib-bridge")
		}
		time.Sleep(100 * time.Millisecond)
	}
	syms := make([]string, *n)
	subjects := make([]string, *n)
	for i := range syms {
		syms[i] = fmt.Sprintf("SIM%04d", i+1)
		subjects[i] = "ib.quote." + syms[i]
	}
	// a holder lease keeps the lines streaming between phases
	var lease ibbridge.Lease
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	must(c.Request(ctx, "rpc.subscribe", ibbridge.LeaseRequest{Symbols: syms, TTLS: 3600}, &lease), "lease")
	cancel()
	time.Sleep(2 * time.Second)

	simTicks := func() float64 {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ctlPort))
		if err != nil {
			return 0
		}
		defer conn.Close()
		fmt.Fprintln(conn, "stats")
		line, _ := bufio.NewReader(conn).ReadString('\n')
		var m map[string]interface{}
		_ = json.Unmarshal([]byte(line), &m)
		t, _ := m["ticks"].(float64)
		return t
	}
	raw := func() consumer { return &rawConsumer{url: url, subs: subjects} }
	rawDec := func() consumer { return &rawConsumer{url: url, subs: subjects, decode: true} }
	pkg := func() consumer { return &pkgConsumer{url: url, syms: syms} }

	var results []result
	t0, s0 := time.Now(), simTicks()
	results = append(results, run("alone", *secs, raw())...)
	results = append(results, run("alone", *secs, rawDec())...)
	results = append(results, run("alone", *secs, pkg())...)
	results = append(results, run("concurrent", *secs, raw(), rawDec(), pkg())...)
	tickRateMeasured := (simTicks() - s0) / time.Since(t0).Seconds()

	fmt.Printf("bench-go: %d instruments, ib-sim %d updates/s each every %d ms (measured %.0f ticks/s), %.0f s per phase\n\n",
		*n, *tickRate, *tickMs, tickRateMeasured, *secs)
	fmt.Println("| phase | consumer | events/s | vs raw, same phase | CPU µs/event (this process) | CPU-bound events/s per core (1e6 / CPU) | seq gaps | nats dropped |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	rawRate := map[string]float64{}
	for _, r := range results {
		if r.Consumer == "raw" {
			rawRate[r.Phase] = r.Rate
		}
	}
	for _, r := range results {
		cpu, capacity := "-", "-"
		if r.CPUus > 0 {
			cpu, capacity = fmt.Sprintf("%.2f", r.CPUus), fmt.Sprintf("%.0f", 1e6/r.CPUus)
		}
		rel := "-"
		if rr := rawRate[r.Phase]; rr > 0 {
			rel = fmt.Sprintf("%.1f %%", 100*r.Rate/rr)
		}
		gaps := fmt.Sprint(r.Gaps)
		if r.Consumer == "raw" {
			gaps = "(not checked)"
		}
		fmt.Printf("| %s | %s | %.0f | %s | %s | %s | %s | %d |\n", r.Phase, r.Consumer, r.Rate, rel, cpu, capacity, gaps, r.Dropped)
	}
	fmt.Println()
	for _, r := range results {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
}
