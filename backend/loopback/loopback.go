// Package loopback tells whether a host names this machine: the rules that
// allow plain http, or a stand-in, only there ask it.
package loopback

import (
	"net"
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
