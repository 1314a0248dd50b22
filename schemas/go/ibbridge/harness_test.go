package ibbridge

// The real system for the tests: nats-server (JetStream, free port, temp dir) + ib-sim (free ports,
// seeded) + ib-bridge, started from the binaries ctest names (IB_SIM_BIN, IB_BRIDGE_BIN; NATS_SERVER
// or nats-server on PATH), as tests/node/stack.js does.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log.Len() > 1<<20 {
		p.log.Reset()
	}
	return p.log.Write(b)
}

func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.log.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

func start(name string, args []string, env []string, stdout *bytes.Buffer) (*proc, error) {
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p
	if stdout != nil {
		p.cmd.Stdout = &lockedWriter{p: p, buf: stdout}
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

type lockedWriter struct {
	p   *proc
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.buf.Write(b)
}

func (p *proc) stop(sig syscall.Signal, wait time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(port int, d time.Duration) error {
	until := time.Now().Add(d)
	for time.Now().Before(until) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("port %d not listening after %v", port, d)
}

type stack struct {
	natsURL     string
	natsDir     string
	natsCmd     []string
	natsPort    int
	nats        *proc
	sim         *proc
	simPort     int
	controlPort int
	bridge      *proc
	bridgeEnv   []string
	nc          *nats.Conn
	problems    []string // sanitizer reports, non-zero exits of ib-bridge / ib-sim
}

var sanitizerRE = regexp.MustCompile(`AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer`)

// checkExit records a sanitizer report or a non-zero exit of a stopped process.
func (st *stack) checkExit(name string, p *proc) {
	if p == nil {
		return
	}
	p.mu.Lock()
	full := p.log.String()
	p.mu.Unlock()
	if sanitizerRE.MatchString(full) {
		st.problems = append(st.problems, name+" sanitizer report:\n"+p.Log())
	}
	if ps := p.cmd.ProcessState; ps != nil && !ps.Success() {
		st.problems = append(st.problems, fmt.Sprintf("%s exited %v:\n%s", name, ps, p.Log()))
	}
}

func startStack() (*stack, error) {
	st := &stack{}
	natsBin := os.Getenv("NATS_SERVER")
	if natsBin == "" {
		natsBin = "nats-server"
	}
	simBin, bridgeBin := os.Getenv("IB_SIM_BIN"), os.Getenv("IB_BRIDGE_BIN")
	if simBin == "" || bridgeBin == "" {
		return nil, fmt.Errorf("IB_SIM_BIN and IB_BRIDGE_BIN must name the ib-sim and ib-bridge binaries")
	}
	dir, err := os.MkdirTemp("", "ibbridge-go-")
	if err != nil {
		return nil, err
	}
	st.natsDir = dir
	port := freePort()
	st.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	st.natsCmd = []string{natsBin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", dir}
	st.natsPort = port
	if st.nats, err = start(st.natsCmd[0], st.natsCmd[1:], nil, nil); err != nil {
		return nil, err
	}
	if err := waitPort(port, 10*time.Second); err != nil {
		return nil, err
	}
	if err := st.startSim(simBin); err != nil {
		st.stop()
		return nil, err
	}
	st.bridgeEnv = []string{"IB_HOST=127.0.0.1", fmt.Sprintf("IB_PORT=%d", st.simPort), "IB_SIMULATOR=true",
		"NATS_URL=" + st.natsURL, fmt.Sprintf("IB_CLIENT_ID=%d", 1+rand.Intn(1000)), "IBB_QUOTE_ENCODING=both"}
	if err := st.startBridge(); err != nil {
		st.stop()
		return nil, err
	}
	if st.nc, err = nats.Connect(st.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond)); err != nil {
		st.stop()
		return nil, err
	}
	if err := st.waitReady(20 * time.Second); err != nil {
		st.stop()
		return nil, err
	}
	return st, nil
}

var simReady = regexp.MustCompile(`ib-sim ready port=(\d+) control_port=(\d+)`)

func (st *stack) startSim(bin string) error {
	var out bytes.Buffer
	p, err := start(bin, []string{"--port", "0", "--control-port", "0", "--seed", "1"}, nil, &out)
	if err != nil {
		return err
	}
	st.sim = p
	until := time.Now().Add(10 * time.Second)
	for time.Now().Before(until) {
		p.mu.Lock()
		m := simReady.FindStringSubmatch(out.String())
		p.mu.Unlock()
		if m != nil {
			fmt.Sscan(m[1], &st.simPort)
			fmt.Sscan(m[2], &st.controlPort)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("ib-sim did not start: %s", p.Log())
}

func (st *stack) startBridge() error {
	p, err := start(os.Getenv("IB_BRIDGE_BIN"), nil, st.bridgeEnv, nil)
	if err != nil {
		return err
	}
	st.bridge = p
	return nil
}

// restartNats kills nats-server and starts it again on the same port and store.
func (st *stack) restartNats(down time.Duration) error {
	st.nats.stop(syscall.SIGKILL, 5*time.Second)
	time.Sleep(down)
	p, err := start(st.natsCmd[0], st.natsCmd[1:], nil, nil)
	if err != nil {
		return err
	}
	st.nats = p
	return waitPort(st.natsPort, 10*time.Second)
}

// restartBridge stops ib-bridge (SIGTERM) and starts a new one.
func (st *stack) restartBridge() error {
	st.bridge.stop(syscall.SIGTERM, 10*time.Second)
	st.checkExit("ib-bridge", st.bridge)
	return st.startBridge()
}

func (st *stack) waitReady(d time.Duration) error {
	c, err := New(st.nc, WithoutBreaker())
	if err != nil {
		return err
	}
	defer c.Close()
	until := time.Now().Add(d)
	var last error
	for time.Now().Before(until) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s, err := c.Status(ctx)
		cancel()
		if err == nil && s.Connected && s.OrdersReady {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("ib-bridge not ready after %v (%v): %s", d, last, st.bridge.Log())
}

func (st *stack) simControl(line string) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", st.controlPort), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return "", err
	}
	s, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(s), err
}

func (st *stack) simStats(t *testing.T) map[string]interface{} {
	t.Helper()
	s, err := st.simControl("stats")
	if err != nil {
		t.Fatalf("sim stats: %v", err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("sim stats %q: %v", s, err)
	}
	return m
}

func (st *stack) stop() {
	if st.nc != nil {
		st.nc.Close()
	}
	st.bridge.stop(syscall.SIGTERM, 10*time.Second)
	st.checkExit("ib-bridge", st.bridge)
	st.sim.stop(syscall.SIGTERM, 5*time.Second)
	st.checkExit("ib-sim", st.sim)
	st.nats.stop(syscall.SIGKILL, 5*time.Second)
	if st.natsDir != "" {
		os.RemoveAll(st.natsDir)
	}
}

var sys *stack

func TestMain(m *testing.M) {
	rand.Seed(time.Now().UnixNano())
	var err error
	sys, err = startStack()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: could not start the system:", err)
		os.Exit(1)
	}
	os.Setenv("IBB_EXAMPLE_NATS_URL", sys.natsURL)
	code := m.Run()
	sys.stop()
	for _, p := range sys.problems {
		fmt.Fprintln(os.Stderr, "FAIL:", p)
		code = 1
	}
	os.Exit(code)
}
