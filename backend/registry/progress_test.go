package registry

import (
	"testing"
	"time"
)

func TestProgressRate(t *testing.T) {
	tests := []struct {
		p       Progress
		elapsed time.Duration
		rate    float64
		eta     time.Duration
		ok      bool
	}{
		{Progress{Images: 100, ImagesDone: 0}, 10 * time.Second, 0, 0, false},
		{Progress{Images: 100, ImagesDone: 50}, 500 * time.Millisecond, 0, 0, false},
		{Progress{Images: 100, ImagesDone: 50}, 10 * time.Second, 5, 10 * time.Second, true},
		{Progress{Images: 100, ImagesDone: 100}, 4 * time.Second, 25, 0, true},
	}
	for _, tt := range tests {
		rate, eta, ok := tt.p.Rate(tt.elapsed)
		if rate != tt.rate || eta != tt.eta || ok != tt.ok {
			t.Errorf("%+v after %v: %v/s, eta %v, %v; want %v, %v, %v", tt.p, tt.elapsed, rate, eta, ok, tt.rate, tt.eta, tt.ok)
		}
	}
}
