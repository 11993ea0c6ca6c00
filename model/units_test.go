package model

import (
	"math"
	"strings"
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
		// at the int64 edge, in every unit: exact, or an error; never wrapped or rounded
		{"9223372036854775807", math.MaxInt64, false}, // float64 parsing rounded this up to 2^63 and refused it
		{"9223372036854775806B", math.MaxInt64 - 1, false},
		{"9223372036854775295", 9223372036854775295, false}, // float64 parsing returned 9223372036854774784
		{"9007199254740993", 9007199254740993, false},       // 2^53+1
		{"9223372036854775808", 0, true},
		{"99999999999999999999999999999999999999", 0, true},
		{"1" + strings.Repeat("0", 400), 0, true}, // float64 says +Inf
		{"7EiB", 7 << 60, false},
		{"7.99999999999999999913EiB", math.MaxInt64, false}, // 8EiB - 0.999 B rounds to MaxInt64
		{"8EiB", 0, true},
		{"9EiB", 0, true},
		{"8191PiB", 8191 << 50, false},
		{"8192PiB", 0, true},
		{"9.223372036854775807EB", math.MaxInt64, false},
		{"9.223372036854775808EB", 0, true},
		{"9223372036854775.807kB", math.MaxInt64, false},
		{"9223372036854775.808kB", 0, true},
		{"9223372036854775808e", 0, true},
		{"8388607TiB", 8388607 << 40, false},
		{"8388608TiB", 0, true},
		{"9223372036.854775807GB", math.MaxInt64, false},
		{"0.0000000001B", 0, false},
		{"0.5", 1, false}, // half a byte rounds up
		{"0.49", 0, false},
		{"1.5KiB", 1536, false},
		{"1.0000000000000000000001KiB", 1024, false},
		{".5k", 500, false},
		{"2.", 2, false},
		{"1EB", 1e18, false},
		{".", 0, true},
		{"..5", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"1e3", 0, true},
		{"-0", 0, true},
		{"+5", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%.60q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.wantErr)
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
