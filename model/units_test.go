package model

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1024", 1024, false},
		{"500MB", 500e6, false},
		{"500 mb", 500e6, false},
		{"2TiB", 2 << 40, false},
		{"1.5GB", 1.5e9, false},
		{"1.5 GiB", 3 << 29, false},
		{"10k", 10e3, false},
		{"", 0, true},
		{"MB", 0, true},
		{"12 parsecs", 0, true},
		{"1.2.3GB", 0, true},
		{"-5GB", 0, true},
		{"99999999PB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseAge(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90d", 90 * day, false},
		{"2w", 14 * day, false},
		{"1w3d12h", 10*day + 12*time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"0", 0, false},
		{"", 0, true},
		{"-1d", 0, true},
		{"-5h", 0, true},
		{"3 days", 0, true},
		{"d", 0, true},
		{"999999999999d", 0, true},
		{"40000d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseAge(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormat(t *testing.T) {
	bytes := map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.50 KiB", 12 << 30: "12.0 GiB", 300 << 20: "300 MiB", -2048: "-2.00 KiB"}
	for in, want := range bytes {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
	ages := map[time.Duration]string{30 * time.Second: "30s", 5 * time.Hour: "5h", 3 * 24 * time.Hour: "3d", 100 * 24 * time.Hour: "14w", 800 * 24 * time.Hour: "2y"}
	for in, want := range ages {
		if got := FormatAge(in); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", in, got, want)
		}
	}
}
