// Package loopback tells whether a host names this machine: the rules that
// allow plain http, or a stand-in, only there ask it.
package loopback

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Host reports whether host, with or without a port (an IPv6 address in
// brackets), is localhost or a loopback address.
func Host(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// RequireTLS wraps base so that it refuses plain-HTTP requests to any host
// but a loopback one. go-containerregistry would otherwise fall back to
// plain HTTP for private addresses too.
func RequireTLS(base http.RoundTripper) http.RoundTripper { return requireTLS{base: base} }

type requireTLS struct{ base http.RoundTripper }

func (t requireTLS) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !Host(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries may be reached without TLS", req.URL.Host)
	}
	return t.base.RoundTrip(req)
}
