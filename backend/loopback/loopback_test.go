package loopback

import "testing"

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
