package ibbridge

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ugorji/go/codec"
)

// The kinds each slug must have (errors.Is), per the bus contract (README "Errors").
var wantSlugKinds = map[string][]error{
	"bad_request":       {ErrBadRequest},
	"unauthorized":      {ErrUnauthorized},
	"forbidden":         {ErrForbidden},
	"read_only":         {ErrReadOnly, ErrForbidden},
	"not_found":         {ErrNotFound},
	"unknown_symbol":    {ErrUnknownSymbol, ErrNotFound},
	"conflict":          {ErrConflict},
	"payload_too_large": {ErrPayloadTooLarge},
	"unprocessable":     {ErrUnprocessable},
	"ambiguous":         {ErrAmbiguous, ErrUnprocessable},
	"order_rejected":    {ErrOrderRejected, ErrUnprocessable},
	"risk_limit":        {ErrRiskLimit, ErrUnprocessable},
	"rate_limited":      {ErrRateLimited},
	"pacing":            {ErrPacing, ErrRateLimited},
	"line_limit":        {ErrLineLimit, ErrRateLimited},
	"internal":          {ErrInternal},
	"not_implemented":   {ErrNotServed, ErrNotFound},
	"ib_error":          {ErrIBError},
	"unavailable":       {ErrUnavailable},
	"ib_unavailable":    {ErrIBUnavailable, ErrUnavailable},
	"timeout":           {ErrTimeout},
}

var allKinds = []error{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrReadOnly, ErrNotFound, ErrUnknownSymbol,
	ErrConflict, ErrPayloadTooLarge, ErrUnprocessable, ErrAmbiguous, ErrOrderRejected, ErrRiskLimit,
	ErrRateLimited, ErrPacing, ErrLineLimit, ErrInternal, ErrNotServed, ErrIBError, ErrUnavailable,
	ErrIBUnavailable, ErrBreakerOpen, ErrTimeout}

// The slugs ib-bridge can send: the table of adapter/bus/bus_error.c (every busError_* call goes
// through it; an unknown slug would be status 500).
func busSlugs(t *testing.T) map[string]int {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "adapter", "bus", "bus_error.c"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\{"([a-z_]+)",\s*(\d{3})\}`)
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	if len(out) < 20 {
		t.Fatalf("only %d slugs parsed from bus_error.c: %v", len(out), out)
	}
	return out
}

// Every slug string literal in ib-bridge's C sources that is passed as an error is in the table:
// the slugs the bridge modules use (adapter/bridge) appear in bus_error.c.
func TestEverySlugMapsToItsErr(t *testing.T) {
	slugs := busSlugs(t)
	names := make([]string, 0, len(slugs))
	for s := range slugs {
		names = append(names, s)
	}
	sort.Strings(names)
	// a responder on a private prefix answers each slug as ib-bridge would: body + headers, in the
	// request's encoding
	mh := newMsgpackHandle(false)
	sub, err := sys.nc.Subscribe("slugtest.rpc.>", func(m *nats.Msg) {
		slug := m.Subject[len("slugtest.rpc."):]
		body := map[string]interface{}{"error": map[string]interface{}{"code": slug, "message": "m " + slug, "ib_code": 321, "retry_after_ms": 1500}}
		r := nats.NewMsg(m.Reply)
		if len(m.Data) > 0 && m.Data[0] == '{' {
			r.Data, _ = json.Marshal(body)
		} else {
			_ = codec.NewEncoderBytes(&r.Data, mh).Encode(body)
		}
		r.Header.Set("Nats-Service-Error-Code", strconv.Itoa(slugs[slug]))
		r.Header.Set("Nats-Service-Error", "m "+slug)
		_ = m.RespondMsg(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for _, enc := range []Encoding{MsgPack, JSON} {
		c, err := New(sys.nc, WithPrefix("slugtest"), WithEncoding(enc), WithoutBreaker())
		if err != nil {
			t.Fatal(err)
		}
		for _, slug := range names {
			want, ok := wantSlugKinds[slug]
			if !ok {
				t.Errorf("slug %q of bus_error.c has no expected kind in this test", slug)
				continue
			}
			err := c.Request(context.Background(), "rpc."+slug, struct{}{}, nil)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: %v is not an *Error", slug, err)
			}
			if e.Code != slug || e.Status != slugs[slug] || e.IBCode != 321 || e.RetryAfter != 1500*time.Millisecond || e.Message != "m "+slug {
				t.Errorf("%s (%s): %+v", slug, enc, e)
			}
			for _, k := range allKinds {
				in := false
				for _, w := range want {
					in = in || w == k
				}
				if errors.Is(err, k) != in {
					t.Errorf("%s (%s): errors.Is(%v) = %v, want %v", slug, enc, k, !in, in)
				}
			}
		}
		c.Close()
	}
	// the slugs ib-bridge's modules pass to their error helpers are all in that table (a few literals
	// on those lines are not slugs: record states, field names, the quote status code)
	notSlugs := map[string]bool{"rejected": true, "acked": true, "unacknowledged": true, "unknown": true, "pending": true, "sending": true, "what_to_show": true,
		"end": true, "duration": true, "bar_size": true, "cache": true, "delayed_data": true}
	call := regexp.MustCompile(`(Error|Errorf|ErrorRetry|fail|reject|finish|done|answer|waitersError|storeFinal)[A-Za-z_]*\(.*`)
	lit := regexp.MustCompile(`"([a-z]+(?:_[a-z]+)*)"`)
	used := map[string]bool{}
	for _, dir := range []string{"bridge", "bus"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "..", "adapter", dir, "*.c"))
		for _, f := range files {
			src, _ := os.ReadFile(f)
			for _, line := range call.FindAllString(string(src), -1) {
				for _, m := range lit.FindAllStringSubmatch(line, -1) {
					if !notSlugs[m[1]] {
						used[m[1]] = true
					}
				}
			}
		}
	}
	if len(used) < 15 {
		t.Fatalf("only %d slugs found in adapter/bridge and adapter/bus: %v", len(used), used)
	}
	for s := range used {
		if _, ok := slugs[s]; !ok {
			t.Errorf("ib-bridge sends slug %q, which bus_error.c's table lacks", s)
		}
		if _, ok := slugKinds[s]; !ok {
			t.Errorf("ib-bridge sends slug %q, which the package does not map", s)
		}
	}
	// the package maps every slug the bus has
	for s := range slugs {
		if _, ok := slugKinds[s]; !ok {
			t.Errorf("slug %q of bus_error.c is not in slugKinds", s)
		}
	}
}

// Local errors: no responders, a deadline.
func TestLocalErrors(t *testing.T) {
	c, err := New(sys.nc, WithPrefix("nobody"), WithRequestTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Quote(context.Background(), "AAPL")
	wantKind(t, err, ErrUnavailable)
	if errors.Is(err, ErrNotFound) || !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("no responders: %v", err)
	}
	_, err = c.PnL(context.Background(), "") // served since wave 2: no responders is ib-bridge missing
	wantKind(t, err, ErrUnavailable)

	sub, err := sys.nc.Subscribe("nobody.rpc.quote", func(*nats.Msg) {}) // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	sys.nc.Flush()
	t0 := time.Now()
	_, err = c.Quote(context.Background(), "AAPL")
	wantKind(t, err, ErrTimeout)
	if d := time.Since(t0); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("timeout after %v, want the 300 ms request timeout", d)
	}
	if !IsRetryable(err) {
		t.Fatal("a timeout is retryable")
	}
}
