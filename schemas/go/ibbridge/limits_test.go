package ibbridge

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"syscall"
	"testing"
	"time"
)

// A second ib-bridge on the same nats-server and ib-sim, under its own prefix, read-only, with a
// small order size limit and a 2-line market-data budget: the real replies read_only, risk_limit
// and line_limit map to their Err kinds (in both encodings), and WithPrefix reaches that bridge.
func TestLimitsOfAnotherBridge(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		env    []string
		check  func(t *testing.T, c *Client)
	}{
		{"ro.paper", []string{"IBB_READ_ONLY=true"}, func(t *testing.T, c *Client) {
			_, err := c.PlaceOrder(ctxT(t, 10*time.Second), OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 1})
			wantKind(t, err, ErrReadOnly, ErrForbidden)
			if IsRetryable(err) {
				t.Fatal("read_only is not retryable")
			}
		}},
		{"risk", []string{"IBB_MAX_ORDER_QTY=5", "IBB_MD_LINE_BUDGET=2"}, func(t *testing.T, c *Client) {
			ctx := ctxT(t, 20*time.Second)
			_, err := c.PlaceOrder(ctx, OrderRequest{Symbol: "AAPL", Side: "BUY", Qty: 10})
			wantKind(t, err, ErrRiskLimit, ErrUnprocessable)
			_, err = c.Subscribe(ctx, KindQuote, "AAPL", "MSFT", "SPY")
			wantKind(t, err, ErrLineLimit, ErrRateLimited)
		}},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			env := append([]string{"IB_HOST=127.0.0.1", fmt.Sprintf("IB_PORT=%d", sys.simPort), "IB_SIMULATOR=true",
				"NATS_URL=" + sys.natsURL, fmt.Sprintf("IB_CLIENT_ID=%d", 1001+rand.Intn(1000)),
				"IBB_SUBJECT_PREFIX=" + tc.prefix}, tc.env...)
			p, err := start(os.Getenv("IB_BRIDGE_BIN"), nil, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				p.stop(syscall.SIGTERM, 10*time.Second)
				sys.checkExit("ib-bridge "+tc.prefix, p)
			}()
			for _, enc := range []Encoding{MsgPack, JSON} {
				c := newClient(t, enc, WithPrefix(tc.prefix))
				until := time.Now().Add(20 * time.Second)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					st, err := c.Status(ctx)
					cancel()
					if err == nil && st.Connected && st.OrdersReady {
						break
					}
					if time.Now().After(until) {
						t.Fatalf("%s not ready: %v %s", tc.prefix, err, p.Log())
					}
					time.Sleep(100 * time.Millisecond)
				}
				tc.check(t, c)
			}
		})
	}
}
