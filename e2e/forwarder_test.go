package e2e

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// forwarderDialTimeout bounds the connection to one backend: a backend
// that does not accept within it counts as down and the next is tried.
const forwarderDialTimeout = time.Second

// forwarder is a TCP forwarder on a free loopback port in front of the
// frontends of a cluster's nodes. A client of the SDK dials one host:port;
// in compose it would be the temporal service's name, in production a load
// balancer, and either would lead it to a live node. The forwarder stands
// for them: each new connection goes to the first backend of the list
// that accepts it, and a connection whose backend dies is dropped, so that
// gRPC dials again and lands on a live node.
type forwarder struct {
	ln       net.Listener
	backends []string

	mu    sync.Mutex
	conns map[net.Conn]bool // both ends of every open connection
	// served counts the connections forwarded to each backend.
	served map[string]int
	closed bool
	wg     sync.WaitGroup
}

// startForwarder listens on a free loopback port and forwards to backends,
// in order of preference, until t ends.
func startForwarder(t *testing.T, backends ...string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("forwarder: listen on loopback: %v", err)
	}
	f := &forwarder{ln: ln, backends: backends, conns: map[net.Conn]bool{}, served: map[string]int{}}
	f.wg.Go(f.serve)
	t.Cleanup(f.close)
	return f
}

// addr is the address the clients dial.
func (f *forwarder) addr() string { return f.ln.Addr().String() }

// connections is how many connections have been forwarded to backend.
func (f *forwarder) connections(backend string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[backend]
}

func (f *forwarder) serve() {
	for {
		client, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.wg.Go(func() { f.forward(client) })
	}
}

// forward pipes client to the first live backend until either end closes,
// then closes both: a backend killed mid-stream drops its clients.
func (f *forwarder) forward(client net.Conn) {
	backend, err := f.dial()
	if err != nil {
		client.Close()
		return
	}
	if !f.track(client, backend) {
		client.Close()
		backend.Close()
		return
	}
	defer f.untrack(client, backend)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	<-done
	client.Close()
	backend.Close()
	<-done
}

// dial connects to the first backend that accepts.
func (f *forwarder) dial() (net.Conn, error) {
	var errs []error
	for _, b := range f.backends {
		conn, err := net.DialTimeout("tcp", b, forwarderDialTimeout)
		if err == nil {
			f.mu.Lock()
			f.served[b]++
			f.mu.Unlock()
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// track records an open connection's two ends, unless the forwarder has
// closed.
func (f *forwarder) track(client, backend net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[client], f.conns[backend] = true, true
	return true
}

func (f *forwarder) untrack(client, backend net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, client)
	delete(f.conns, backend)
}

// close stops listening, closes every connection and waits until the
// forwarder's goroutines have ended.
func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// TestRehearsalForwarder checks the forwarder that the rehearsal puts in
// front of the cluster's nodes: a connection goes to the first backend,
// is dropped when that backend dies, and the next one goes to the second.
func TestRehearsalForwarder(t *testing.T) {
	first, second := startEchoServer(t, "first"), startEchoServer(t, "second")
	f := startForwarder(t, first.addr(), second.addr())

	conn := dialForwarder(t, f)
	if got := exchange(t, conn, "ping"); got != "first:ping" {
		t.Fatalf("first connection answered %q, want the first backend's %q", got, "first:ping")
	}

	first.kill()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d byte(s) on a connection whose backend died, want it closed", n)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the connection to a dead backend stayed open, want it dropped")
	}

	again := dialForwarder(t, f)
	if got := exchange(t, again, "pong"); got != "second:pong" {
		t.Fatalf("connection after the first backend died answered %q, want the second backend's %q", got, "second:pong")
	}
	if a, b := f.connections(first.addr()), f.connections(second.addr()); a != 1 || b != 1 {
		t.Errorf("forwarded %d connection(s) to the first backend and %d to the second, want 1 and 1", a, b)
	}
}

func dialForwarder(t *testing.T, f *forwarder) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", f.addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial the forwarder: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// exchange writes msg and reads the echo server's answer.
func exchange(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatalf("write through the forwarder: %v", err)
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read through the forwarder: %v", err)
	}
	return string(buf[:n])
}

// echoServer answers each read with its name, a colon and what it read.
type echoServer struct {
	ln    net.Listener
	name  string
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startEchoServer(t *testing.T, name string) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, name: name}
	s.wg.Go(s.serve)
	t.Cleanup(s.kill)
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		s.wg.Go(func() {
			buf := make([]byte, 64)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				if _, err := conn.Write(append([]byte(s.name+":"), buf[:n]...)); err != nil {
					return
				}
			}
		})
	}
}

// kill closes the listener and every connection, as the kernel does for a
// process killed with SIGKILL.
func (s *echoServer) kill() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
