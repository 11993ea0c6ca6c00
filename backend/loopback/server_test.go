package loopback

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	s, err := Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	host, port, err := net.SplitHostPort(s.Host())
	if err != nil || host != "127.0.0.1" || port == "0" || !Host(s.Host()) {
		t.Fatalf("Host() = %q (%v), want 127.0.0.1 and a port", s.Host(), err)
	}
	if want := "http://" + s.Host(); s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	for _, path := range []string{"/", "/v2/", "/a/b"} {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got, want := string(body), "GET "+path; got != want {
			t.Errorf("GET %s answered %q, want %q", path, got, want)
		}
	}
}

// TestServerClose: Close cuts a request in flight, refuses new ones and
// may be called again.
func TestServerClose(t *testing.T) {
	started := make(chan struct{})
	s, err := Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // until the connection is cut
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/hang", nil)
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		failed <- err
	}()
	<-started
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := <-failed; err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the request in flight ended with %v, want its connection cut", err)
	}
	c, err := net.DialTimeout("tcp", s.Host(), time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Close", s.Host())
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("dial after Close: %v, want connection refused", err)
	}
}
