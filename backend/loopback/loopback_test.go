package loopback

import (
	"net/http"
	"strings"
	"testing"
)

func TestHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true}, {"127.0.0.1:5000", true}, {"127.1.2.3", true},
		{"::1", true}, {"[::1]", true}, {"[::1]:443", true},
		{"localhost", true}, {"LocalHost:80", true},
		{"", false}, {"example.com", false}, {"localhost.example.com", false},
		{"10.0.0.1:5000", false}, {"169.254.169.254", false}, {"[[::1]]", false},
	} {
		if got := Host(tc.host); got != tc.want {
			t.Errorf("Host(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRequireTLS(t *testing.T) {
	var reached []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		reached = append(reached, r.URL.String())
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})
	rt := RequireTLS(base)
	tests := []struct {
		url     string
		allowed bool
	}{
		{"http://127.0.0.1:5000/v2/", true},
		{"http://127.8.9.10/v2/", true},
		{"http://localhost:5000/v2/", true},
		{"http://[::1]:5000/v2/", true},
		{"https://ghcr.io/v2/", true},
		{"http://10.0.0.5:5000/v2/", false},
		{"http://192.168.1.2/v2/", false},
		{"http://ghcr.io/v2/", false},
		{"http://localhost.evil.example/v2/", false},
	}
	for _, tt := range tests {
		reached = nil
		req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
		_, err := rt.RoundTrip(req)
		if tt.allowed && (err != nil || len(reached) != 1) {
			t.Errorf("%s: refused (%v), want it sent", tt.url, err)
		}
		if !tt.allowed && (err == nil || len(reached) != 0 || !strings.Contains(err.Error(), "refusing plain HTTP")) {
			t.Errorf("%s: sent (%v), want it refused", tt.url, err)
		}
	}
}
