package loopback

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is an HTTP server on a free 127.0.0.1 port, plain http: the
// front door of the stand-ins for remote services.
type Server struct {
	host   string
	srv    *http.Server
	served chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Serve serves h on 127.0.0.1 (a free port, plain http) until Close. The
// server's own error log is discarded: clients that hang up are normal in
// tests.
func Serve(h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	s := &Server{
		host:   ln.Addr().String(),
		srv:    &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(io.Discard, "", 0)},
		served: make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // http.ErrServerClosed after Close
	}()
	return s, nil
}

// Host is "127.0.0.1:PORT".
func (s *Server) Host() string { return s.host }

// URL is "http://127.0.0.1:PORT".
func (s *Server) URL() string { return "http://" + s.host }

// Close stops serving, cutting open connections (not Shutdown: that waits
// for idle connections clients leave open), and returns once the server
// has stopped. Later calls do nothing and return the first one's error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		<-s.served
	})
	return s.closeErr
}
