package quic

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests take the built tree's programs from the environment (make
// binding-test sets them), else from where the Makefile puts them.
func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

var (
	certDir    = env("CERT_DIR", "../../build/certs")
	quicServer = env("QUIC_SERVER", "../../build/quic-server")
	quicClient = env("QUIC_CLIENT", "../../build/quic-client")
	python     = env("AIOQUIC_PYTHON", "../../build/venv/bin/python")
	hqPy       = env("HQ_PY", "../../tests/endpoints/hq.py")
)

func need(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found at %s (make binding-test builds it): %v", what, path, err)
	}
}

func clientConfig(t *testing.T, alpn string) *Config {
	t.Helper()
	cfg, err := NewClientConfig(WithALPN(alpn), WithServerName("localhost"),
		WithCAFile(filepath.Join(certDir, "ca.pem")), WithIdleTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cfg.Close)
	return cfg
}

func serverConfig(t *testing.T, alpn string) *Config {
	t.Helper()
	cfg, err := NewServerConfig(WithALPN(alpn),
		WithCertificate(filepath.Join(certDir, "server.pem"), filepath.Join(certDir, "server.key")),
		WithIdleTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cfg.Close)
	return cfg
}

func randomFile(t *testing.T, dir, name string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// Two Conns driven by hand in memory: the caller-driven API, events as
// Go types, a stream each way and the close seen by the peer.
func TestConnInMemory(t *testing.T) {
	client, err := NewClientConn(clientConfig(t, "echo"), netip.MustParseAddrPort("127.0.0.1:4433"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Free()
	scfg := serverConfig(t, "echo")
	var server *Conn
	caddr, saddr := netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("127.0.0.1:4433")
	buf := make([]byte, 2048)
	now := time.Now()
	message := []byte("hello from go")
	var echoed []byte
	var gotALPN string
	var terminated *ConnectionTerminated

	pump := func() bool {
		moved := false
		for {
			n, to, err := client.Send(buf, now)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if to != saddr {
				t.Fatalf("client sends to %v, want %v", to, saddr)
			}
			if server == nil {
				if server, err = NewServerConn(scfg, buf[:n]); err != nil {
					t.Fatal(err)
				}
			}
			// As a dual-stack socket reports an IPv4 peer: the binding
			// unmaps it, so the server answers the plain IPv4 address.
			if err := server.Recv(buf[:n], netip.AddrPortFrom(netip.AddrFrom16(caddr.Addr().As16()), caddr.Port()), now); err != nil {
				t.Fatal(err)
			}
			moved = true
		}
		for server != nil {
			n, to, err := server.Send(buf, now)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if to != caddr {
				t.Fatalf("server sends to %v, want %v", to, caddr)
			}
			if err := client.Recv(buf[:n], saddr, now); err != nil {
				t.Fatal(err)
			}
			moved = true
		}
		for _, ev := range client.Events() {
			switch e := ev.(type) {
			case HandshakeCompleted:
				gotALPN = e.ALPN
				id, err := client.OpenStream(false)
				if err != nil {
					t.Fatal(err)
				}
				if err := client.StreamSend(id, message, true); err != nil {
					t.Fatal(err)
				}
			case StreamDataReceived:
				echoed = append(echoed, e.Data...)
				if e.EndStream {
					if err := client.Close(7, "done", now); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if server != nil {
			for _, ev := range server.Events() {
				switch e := ev.(type) {
				case StreamDataReceived:
					if err := server.StreamSend(e.StreamID, e.Data, e.EndStream); err != nil {
						t.Fatal(err)
					}
				case ConnectionTerminated:
					terminated = &e
				}
			}
		}
		return moved
	}
	for i := 0; i < 1000 && terminated == nil; i++ {
		if !pump() {
			next, ok := client.Timeout()
			if !ok || !next.After(now) {
				next = now.Add(time.Millisecond)
			}
			now = next
			_ = client.HandleTimer(now)
			if server != nil {
				_ = server.HandleTimer(now)
			}
		}
	}
	if gotALPN != "echo" {
		t.Errorf("ALPN %q, want echo", gotALPN)
	}
	if !bytes.Equal(echoed, message) {
		t.Errorf("echo %q, want %q", echoed, message)
	}
	if terminated == nil {
		t.Fatal("the server never saw the close")
	}
	if terminated.Termination != TerminationPeerApplication || terminated.ErrorCode != 7 || terminated.Reason != "done" {
		t.Errorf("server saw %+v, want the peer's application close 7 \"done\"", *terminated)
	}
	if server != nil {
		server.Free()
	}
}

// Errors are Go errors wrapping the library's result codes.
func TestErrorsWrapResultCodes(t *testing.T) {
	_, err := NewServerConfig(WithCertificate("/nonexistent/cert.pem", "/nonexistent/key.pem"))
	var qe *Error
	if !errors.As(err, &qe) || qe.Code >= 0 || qe.Op != "certificate" {
		t.Fatalf("a missing certificate gave %v, want a *quic.Error from \"certificate\"", err)
	}
	if _, err := NewClientConfig(WithALPN(strings.Repeat("x", 300))); !errors.Is(err, ResultInvalidArgument) {
		t.Errorf("a 300-byte ALPN gave %v, want ResultInvalidArgument", err)
	}
	client, err := NewClientConn(clientConfig(t, "x"), netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Free()
	if _, _, err := client.Send(nil, time.Now()); !errors.Is(err, ResultBufferTooSmall) {
		t.Errorf("Send into no buffer gave %v, want ResultBufferTooSmall", err)
	}
	client.Free()
	if err := client.StreamSend(0, nil, true); !errors.Is(err, ResultInvalidState) {
		t.Errorf("a freed Conn gave %v, want ResultInvalidState", err)
	}
}

// startServer runs a program that prints "listening ..." when ready and
// returns the port (given, or read from that line).
func startServer(t *testing.T, port string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)
	ready := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if line := lines.Text(); strings.HasPrefix(line, "listening") {
				ready <- line
				break
			}
		}
		for lines.Scan() {
		}
	}()
	select {
	case line := <-ready:
		if port == "" {
			port = line[strings.LastIndex(line, ":")+1:]
		}
		return port
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start", name)
	}
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	return port
}

func download(t *testing.T, port string, names []string, want map[string][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sess, err := Dial(ctx, "127.0.0.1:"+port, clientConfig(t, "hq-interop"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		body, err := Get(ctx, sess, "https://127.0.0.1:"+port+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, want[name]) {
			t.Fatalf("%s: %d bytes arrived, want the %d of the file", name, len(body), len(want[name]))
		}
	}
	st, err := sess.Stats()
	if err != nil || st.BytesReceived == 0 {
		t.Errorf("stats %+v, %v", st, err)
	}
	if err := sess.Close(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := sess.Err(); err != nil {
		t.Errorf("a clean close ended with %v", err)
	}
	if _, ok := <-sess.Events(); ok {
		// Drain: Events must be closed once the Session is done.
		for range sess.Events() {
		}
	}
}

// Dial and Get against the C example server over UDP.
func TestDownloadFromQuicServer(t *testing.T) {
	need(t, quicServer, "quic-server")
	www := t.TempDir()
	want := map[string][]byte{"big.bin": randomFile(t, www, "big.bin", 5_000_000), "small.txt": randomFile(t, www, "small.txt", 100)}
	port := startServer(t, "", quicServer, "--listen", "127.0.0.1:0", "--cert", filepath.Join(certDir, "server.pem"),
		"--key", filepath.Join(certDir, "server.key"), "--root", www)
	download(t, port, []string{"big.bin", "small.txt"}, want)
}

// Dial and Get against aioquic's server over UDP.
func TestDownloadFromAioquicServer(t *testing.T) {
	need(t, python, "Python with aioquic")
	need(t, hqPy, "tests/endpoints/hq.py")
	www := t.TempDir()
	want := map[string][]byte{"file.bin": randomFile(t, www, "file.bin", 2_000_000)}
	port := freePort(t)
	startServer(t, port, python, hqPy, "serve", "127.0.0.1", port, filepath.Join(certDir, "server.pem"),
		filepath.Join(certDir, "server.key"), www)
	download(t, port, []string{"file.bin"}, want)
}

// serveHQ answers hq-interop requests from www on every accepted Session.
func serveHQ(ctx context.Context, t *testing.T, l *Listener, www string) {
	for {
		sess, err := l.Accept(ctx)
		if err != nil {
			return
		}
		go serveSession(t, sess, www)
	}
}

// Listen serves the C example client, and the Go client, over UDP.
func TestListenServesClients(t *testing.T) {
	need(t, quicClient, "quic-client")
	www := t.TempDir()
	want := map[string][]byte{"a.bin": randomFile(t, www, "a.bin", 3_000_000)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := Listen(ctx, "127.0.0.1:0", serverConfig(t, "hq-interop"))
	if err != nil {
		t.Fatal(err)
	}
	go serveHQ(ctx, t, l, www)
	port := l.Addr().(*net.UDPAddr).Port

	out := t.TempDir()
	cmd := exec.Command(quicClient, "--ca", filepath.Join(certDir, "ca.pem"), "--output", out,
		"https://127.0.0.1:"+itoa(port)+"/a.bin")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("quic-client: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(filepath.Join(out, "a.bin"))
	if err != nil || !bytes.Equal(got, want["a.bin"]) {
		t.Fatalf("quic-client got %d bytes (%v), want the %d of the file", len(got), err, len(want["a.bin"]))
	}
	download(t, itoa(port), []string{"a.bin"}, want)

	// Cancelling the Listener's context closes it; Accept then fails.
	cancel()
	if _, err := l.Accept(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after the context ended: %v, want net.ErrClosed", err)
	}
}

// A Dial to a port where nobody answers ends when its context does.
func TestDialHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, "127.0.0.1:"+freePort(t), clientConfig(t, "hq-interop"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial gave %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Dial returned %v after its context ended", time.Since(start))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The example program downloads a file from quic-server.
func TestExampleGetDownloads(t *testing.T) {
	need(t, quicServer, "quic-server")
	www, out := t.TempDir(), t.TempDir()
	want := randomFile(t, www, "e.bin", 1_000_000)
	port := startServer(t, "", quicServer, "--listen", "127.0.0.1:0", "--cert", filepath.Join(certDir, "server.pem"),
		"--key", filepath.Join(certDir, "server.key"), "--root", www)
	cmd := exec.Command("go", "run", "./example/get", "-ca", filepath.Join(certDir, "ca.pem"), "-o", out,
		"https://127.0.0.1:"+port+"/e.bin")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("example/get: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(filepath.Join(out, "e.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("example/get saved %d bytes (%v), want the %d of the file", len(got), err, len(want))
	}
}

// A server certificate the client cannot verify ends Dial with a
// *CloseError carrying a CRYPTO_ERROR (0x100 + the TLS alert).
func TestDialRefusesAnUnverifiedServer(t *testing.T) {
	need(t, quicServer, "quic-server")
	port := startServer(t, "", quicServer, "--listen", "127.0.0.1:0", "--cert", filepath.Join(certDir, "server.pem"),
		"--key", filepath.Join(certDir, "server.key"), "--root", t.TempDir())
	// The server's own certificate is no CA for itself.
	cfg, err := NewClientConfig(WithALPN("hq-interop"), WithServerName("localhost"),
		WithCAFile(filepath.Join(certDir, "server.pem")))
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = Dial(ctx, "127.0.0.1:"+port, cfg)
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("Dial gave %v, want a *quic.CloseError", err)
	}
	if ce.ErrorCode < 0x100 || ce.ErrorCode > 0x1ff || ce.Termination != TerminationLocalError {
		t.Errorf("Dial ended with %+v, want our CRYPTO_ERROR", ce.ConnectionTerminated)
	}
}

// A server Session whose reader never reads holds up neither the
// Listener nor its other Sessions, and what it holds stops growing: its
// streams are paused, so the peer stops at its flow-control window.
func TestASessionNobodyReadsHoldsUpNoOther(t *testing.T) {
	www := t.TempDir()
	want := randomFile(t, www, "b.bin", 1_000_000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scfg, err := NewServerConfig(WithALPN("hq-interop"), WithDatagrams(1200),
		WithCertificate(filepath.Join(certDir, "server.pem"), filepath.Join(certDir, "server.key")))
	if err != nil {
		t.Fatal(err)
	}
	defer scfg.Close()
	l, err := Listen(ctx, "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	stalled := make(chan *Session, 1)
	go func() {
		for first := true; ; first = false {
			s, err := l.Accept(ctx)
			if err != nil {
				return
			}
			if first {
				stalled <- s // never read
				continue
			}
			go serveSession(t, s, www)
		}
	}()

	acfg, err := NewClientConfig(WithALPN("hq-interop"), WithServerName("localhost"), WithDatagrams(1200),
		WithCAFile(filepath.Join(certDir, "ca.pem")))
	if err != nil {
		t.Fatal(err)
	}
	defer acfg.Close()
	a, err := Dial(ctx, addr, acfg)
	if err != nil {
		t.Fatal(err)
	}
	s := <-stalled
	id, err := a.OpenStream(false)
	if err != nil {
		t.Fatal(err)
	}
	upload := make([]byte, 16<<20)
	if err := a.StreamSend(id, upload, true); err != nil {
		t.Fatal(err)
	}
	held := func() (n int, bytes int) {
		s.backlog.mu.Lock()
		defer s.backlog.mu.Unlock()
		for _, ev := range s.backlog.events {
			if d, ok := ev.(StreamDataReceived); ok {
				bytes += len(d.Data)
			}
		}
		return len(s.backlog.events), bytes
	}
	deadline := time.Now().Add(20 * time.Second)
	for n, _ := held(); n < highWater && time.Now().Before(deadline); n, _ = held() {
		time.Sleep(10 * time.Millisecond)
	}

	b, err := Dial(ctx, addr, clientConfig(t, "hq-interop"))
	if err != nil {
		t.Fatalf("a second client, while the first Session is not read: %v", err)
	}
	getCtx, getCancel := context.WithTimeout(ctx, 20*time.Second)
	defer getCancel()
	body, err := Get(getCtx, b, "https://"+addr+"/b.bin")
	if err != nil || !bytes.Equal(body, want) {
		t.Fatalf("the second client got %d bytes (%v), want the %d of the file", len(body), err, len(want))
	}

	n1, bytes1 := held()
	time.Sleep(500 * time.Millisecond)
	n2, bytes2 := held()
	if n2 != n1 || bytes2 >= len(upload) {
		t.Errorf("the unread Session's backlog went from %d events (%d bytes) to %d (%d): not paused",
			n1, bytes1, n2, bytes2)
	}
	t.Logf("held for the unread Session: %d events, %d bytes of a %d-byte upload", n2, bytes2, len(upload))

	// DATAGRAM frames, which no window bounds, are dropped while it is full.
	for i := 0; i < 50; i++ {
		if err := a.SendDatagram([]byte("unreliable")); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.backlog.mu.Lock()
		dropped := s.backlog.dropped
		s.backlog.mu.Unlock()
		if dropped > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	n3, _ := held()
	s.backlog.mu.Lock()
	dropped := s.backlog.dropped
	s.backlog.mu.Unlock()
	if dropped == 0 || n3 != n2 {
		t.Errorf("with the backlog full, %d DATAGRAM frames were dropped and it went from %d events to %d",
			dropped, n2, n3)
	}

	// Closing the Listener ends the unread Session too: its Events close.
	cancel()
	ended := make(chan struct{})
	go func() {
		for range s.Events() {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the unread Session's Events stayed open after the Listener closed")
	}
	if err := s.Err(); !errors.Is(err, ResultClosing) && err != nil {
		t.Errorf("the unread Session ended with %v", err)
	}
}

// serveSession answers one Session's hq-interop requests from www.
func serveSession(t *testing.T, sess *Session, www string) {
	requests := map[uint64][]byte{}
	for ev := range sess.Events() {
		e, ok := ev.(StreamDataReceived)
		if !ok {
			continue
		}
		requests[e.StreamID] = append(requests[e.StreamID], e.Data...)
		if !e.EndStream {
			continue
		}
		line := strings.TrimSpace(string(requests[e.StreamID]))
		body, err := os.ReadFile(filepath.Join(www, filepath.Base(strings.TrimPrefix(line, "GET "))))
		if err != nil {
			_ = sess.StreamReset(e.StreamID, 0x10)
			continue
		}
		if err := sess.StreamSend(e.StreamID, body, true); err != nil {
			t.Errorf("serving %s: %v", line, err)
		}
	}
}
