// bench-quotes-go — the measuring end of scripts/bench-quotes (Go, Debian packages, GOPATH mode).
//
//	sub -url U -subject 'ib.quote.>' -secs S        counts events, seq gaps per key, latency now - recv_ts_ns
//	pub -url U -subject S -size N -rate R -secs S   baseline: pre-encoded events of the same size, stamped
//	    [-burst B]                                  with the send time in recv_ts_ns, through the same server;
//	                                                with -burst B > 1 they go in bursts of B every B/R s, all
//	                                                stamped with the burst's start (the shape ib-bridge sends:
//	                                                one event per instrument per socket read, stamped at the read)
//
// sub prints one JSON line: {"events","gaps","keys","lat_us":{"p50","p99","p999"},"bytes"}.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"
)

type ev struct {
	Key      string `codec:"key"`
	Seq      uint64 `codec:"seq"`
	RecvTsNs int64  `codec:"recv_ts_ns"`
}

func pct(a []int64, p float64) float64 {
	if len(a) == 0 {
		return 0
	}
	i := int(float64(len(a)-1) * p)
	return float64(a[i]) / 1000.0
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench-quotes-go sub|pub [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("url", nats.DefaultURL, "NATS URL")
	subject := fs.String("subject", "ib.quote.>", "subject")
	secs := fs.Float64("secs", 5, "duration")
	size := fs.Int("size", 300, "pub: message size")
	rate := fs.Int("rate", 10000, "pub: messages per second (0 = as fast as possible)")
	burst := fs.Int("burst", 1, "pub: messages per burst (stamped with the burst's start time)")
	fs.Parse(os.Args[2:])
	if *burst < 1 {
		*burst = 1
	}
	nc, err := nats.Connect(*url, nats.ReconnectBufSize(64<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()
	mh := &codec.MsgpackHandle{}
	mh.RawToString = true
	switch os.Args[1] {
	case "sub":
		ch := make(chan *nats.Msg, 1<<20)
		sub, _ := nc.ChanSubscribe(*subject, ch)
		sub.SetPendingLimits(-1, -1)
		last := map[string]uint64{}
		var lats []int64
		events, gaps, bytes := 0, 0, 0
		end := time.After(time.Duration(*secs * float64(time.Second)))
		ready := true
		dec := codec.NewDecoderBytes(nil, mh) // reused: the measuring end must stay cheap per message
		fmt.Fprintln(os.Stderr, "sub ready")
	loop:
		for ready {
			select {
			case m := <-ch:
				now := time.Now().UnixNano()
				var e ev
				dec.ResetBytes(m.Data)
				if dec.Decode(&e) != nil {
					continue
				}
				events++
				bytes += len(m.Data)
				if p, ok := last[e.Key]; ok && e.Seq != p+1 {
					gaps++
				}
				last[e.Key] = e.Seq
				lats = append(lats, now-e.RecvTsNs)
			case <-end:
				break loop
			}
		}
		dropped, _ := sub.Dropped()
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		out := map[string]interface{}{"events": events, "gaps": gaps, "keys": len(last), "bytes": bytes,
			"dropped": dropped, "lat_us": map[string]float64{"p50": pct(lats, .5), "p99": pct(lats, .99), "p999": pct(lats, .999)}}
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	case "pub":
		pad := *size - 60
		if pad < 0 {
			pad = 0
		}
		padb := make([]byte, pad)
		var buf []byte
		enc := codec.NewEncoderBytes(&buf, mh)
		start := time.Now()
		n := 0
		stop := start.Add(time.Duration(*secs * float64(time.Second)))
		var ts int64
		for time.Now().Before(stop) {
			if *rate > 0 && n%*burst == 0 {
				due := start.Add(time.Duration(float64(n) / float64(*rate) * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
			}
			if n%*burst == 0 {
				ts = time.Now().UnixNano()
			}
			buf = buf[:0]
			enc.ResetBytes(&buf)
			n++
			enc.Encode(map[string]interface{}{"key": "BASE", "seq": uint64(n), "recv_ts_ns": ts, "pad": padb})
			nc.Publish(*subject, buf)
		}
		nc.Flush()
		fmt.Printf("{\"published\":%d}\n", n)
	}
}
