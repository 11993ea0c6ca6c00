package model

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	day     = 24 * time.Hour
	week    = 7 * day
	century = 36500 * day // the 100 years ParseAge accepts at most
)

// TestParseAgeEdges: every unit at exactly 100 years, one unit past it, and
// at the int64 edge, where an unchecked multiplication wraps around (acr
// purge's bug: 30501w gave 3 days, 20000w a negative age that switched the
// rule off).
func TestParseAgeEdges(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration // -1: an error
	}{
		// the reported wrap-arounds
		{"30501w", -1},
		{"20000w", -1},
		{"15251w", -1},  // the first week count whose nanoseconds overflow int64
		{"15250w", -1},  // fits int64, but over 100 years
		{"106752d", -1}, // the first day count whose nanoseconds overflow int64
		{"106751d", -1},
		{"2562048h", -1}, // just past MaxInt64 nanoseconds
		{"2562047h", -1},
		{"153722868m", -1},
		{"9223372037s", -1},
		{"9223372036854775807ns", -1},
		{"9223372036854775808ns", -1},
		{"99999999999999999999999d", -1},
		{"18446744073709551616w", -1},
		// sums that overflow although each part fits
		{"15000w15000w", -1},
		{"5000w100000d", -1},
		{"36500d2562047h", -1},
		{"1w9223372036854775807ns", -1},
		// exactly 100 years in every unit, and one unit more
		{"36500d", century},
		{"36501d", -1},
		{"5214w2d", century},
		{"5214w3d", -1},
		{"5215w", -1},
		{"876000h", century},
		{"876001h", -1},
		{"52560000m", century},
		{"52560001m", -1},
		{"3153600000s", century},
		{"3153600001s", -1},
		{"3153600000000ms", century},
		{"3153600000001ms", -1},
		{"3153600000000000us", century},
		{"3153600000000000001ns", -1},
		{"3153600000000000000ns", century},
		{"36499d24h", century},
		{"36499d24h1ns", -1},
		{"36500d0s", century},
		{"36500.0d", century},
		{"36500.000000001d", -1},
		{"5214.2857142857w", 0}, // checked below, within rounding
		// fractions and order
		{"1.5w", 10*day + 12*time.Hour},
		{"0.5d", 12 * time.Hour},
		{".5h", 30 * time.Minute},
		{"1h2d", 2*day + time.Hour},
		{"+2w", 2 * week},
		{"1w3d12h", 10*day + 12*time.Hour},
		// not durations
		{"1y", -1},
		{"1.2.3d", -1},
		{"w", -1},
		{".d", -1},
		{"1d-1h", -1},
		{"1 d", -1},
		{"NaNd", -1},
		{"infh", -1},
		{"1e3h", -1},
	}
	for _, tt := range tests {
		got, err := ParseAge(tt.in)
		switch {
		case tt.want < 0:
			if err == nil {
				t.Errorf("ParseAge(%q) = %v (%d ns), want an error", tt.in, got, int64(got))
			} else if !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseAge(%q) error %q does not quote the value", tt.in, err)
			}
		case tt.in == "5214.2857142857w":
			// about 36499.99999999 days: within 100 years, within float rounding
			if err != nil || got > century || century-got > time.Second {
				t.Errorf("ParseAge(%q) = %v, %v", tt.in, got, err)
			}
		case err != nil || got != tt.want:
			t.Errorf("ParseAge(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseAge("30501w"); err == nil || !strings.Contains(err.Error(), "100 years") {
		t.Errorf("ParseAge(30501w) error %v does not give the limit", err)
	}
}

// refAgeUnits is the reference table of FuzzParseAge, written independently of
// the parser's.
var refAgeUnits = map[string]int64{
	"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
	"d": 86400e9, "w": 7 * 86400e9,
}

var ageTermRE = regexp.MustCompile(`^([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h|d|w)`)

// exactAge is a reference parser: the exact value of a duration in
// nanoseconds as a rational, the number of terms, and whether s is in the
// grammar at all.
func exactAge(s string) (*big.Rat, int, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	if s == "0" { // Go's one duration without a unit
		return new(big.Rat), 0, true
	}
	if s == "" {
		return nil, 0, false
	}
	sum, terms := new(big.Rat), 0
	for s != "" {
		m := ageTermRE.FindStringSubmatch(s)
		if m == nil || m[1] == "" || m[1] == "." {
			return nil, 0, false
		}
		v, ok := new(big.Rat).SetString(m[1])
		if !ok {
			return nil, 0, false
		}
		sum.Add(sum, v.Mul(v, new(big.Rat).SetInt64(refAgeUnits[m[2]])))
		terms++
		s = s[len(m[0]):]
	}
	return sum, terms, true
}

// FuzzParseAge: ParseAge gives an error, or a value between 0 and 100 years
// that equals the exact sum of the terms (within a nanosecond of rounding per
// term), and accepts every in-grammar value within 100 years.
func FuzzParseAge(f *testing.F) {
	for _, s := range []string{
		"90d", "2w", "36h", "1w3d12h", "1h30m", "0", "", "-1d", "3 days", "d",
		"30501w", "20000w", "15251w", "106752d", "2562048h", "9223372036854775807ns", "9223372036854775808ns",
		"36500d", "36501d", "5214w2d", "5214w3d", "876000h", "876001h", "52560000m", "3153600000s", "3153600001s",
		"36499d24h1ns", "15000w15000w", "1.5w", ".5h", "1h2d", "+2w", "1e3h", "NaNd", "5214.2857142857w",
		"0.000000000000000000001w", "+", "+0", "1.h", "1µs", "1μs", "18446744073709551616w", "99999999999999999999999d",
	} {
		f.Add(s)
	}
	maxNS := new(big.Rat).SetInt64(int64(century))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAge(s)
		if err == nil && (got < 0 || got > century) {
			t.Fatalf("ParseAge(%q) = %v (%d ns): outside 0..100 years", s, got, int64(got))
		}
		exact, terms, ok := exactAge(s)
		if !ok {
			if err == nil {
				// the reference grammar is Go's plus d and w; anything else is refused
				t.Fatalf("ParseAge(%q) = %v, want an error: not a duration", s, got)
			}
			return
		}
		tol := new(big.Rat).SetInt64(int64(terms) + 1)
		over := new(big.Rat).Sub(exact, maxNS)
		switch {
		case over.Cmp(tol) > 0:
			if err == nil {
				t.Fatalf("ParseAge(%q) = %v, want an error: %s ns is over 100 years", s, got, exact.FloatString(0))
			}
		case over.Sign() < 0 && new(big.Rat).Neg(over).Cmp(tol) > 0:
			if err != nil {
				t.Fatalf("ParseAge(%q): %v, want %s ns", s, err, exact.FloatString(0))
			}
			diff := new(big.Rat).Sub(exact, new(big.Rat).SetInt64(int64(got)))
			if diff.Abs(diff).Cmp(tol) > 0 {
				t.Fatalf("ParseAge(%q) = %d ns, want %s ns", s, int64(got), exact.FloatString(0))
			}
		}
		// within a nanosecond or two of the limit either answer is fine
	})
}

var sizeTermRE = regexp.MustCompile(`^([0-9]*\.?[0-9]*)[ \t]*([A-Za-z]*)$`)

// sizeMult is the reference table of FuzzParseSize.
var sizeMult = map[string]*big.Int{}

func init() {
	pow := func(b, e int64) *big.Int { return new(big.Int).Exp(big.NewInt(b), big.NewInt(e), nil) }
	for i, p := range []string{"k", "m", "g", "t", "p", "e"} {
		sizeMult[p] = pow(10, 3*int64(i+1))
		sizeMult[p+"b"] = sizeMult[p]
		sizeMult[p+"i"] = pow(2, 10*int64(i+1))
		sizeMult[p+"ib"] = sizeMult[p+"i"]
	}
	sizeMult[""], sizeMult["b"] = big.NewInt(1), big.NewInt(1)
}

// FuzzParseSize: ParseSize gives an error, or a non-negative value equal to
// the exact product of number and unit rounded to a byte; a value that fits
// int64 is never refused.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{
		"1024", "500MB", "500 mb", "2TiB", "1.5GB", "1.5 GiB", "10k", "", "MB", "12 parsecs", "1.2.3GB", "-5GB",
		"99999999PB", "9223372036854775807", "9223372036854775808", "9223372036854775295", "8EiB", "9EiB", "7EiB",
		"7.99999999999999999913EiB", "8191PiB", "8192PiB", "9.223372036854775807EB", "0.5", ".5k", "2.", "NaN",
		"Inf", "1e3", "1" + strings.Repeat("0", 40), "0.0000000001B",
	} {
		f.Add(s)
	}
	maxI := big.NewInt(math.MaxInt64)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSize(s)
		if err == nil && got < 0 {
			t.Fatalf("ParseSize(%q) = %d: negative", s, got)
		}
		m := sizeTermRE.FindStringSubmatch(strings.TrimSpace(s))
		var mult *big.Int
		if m != nil {
			mult = sizeMult[strings.ToLower(m[2])]
		}
		if m == nil || mult == nil || m[1] == "" || m[1] == "." {
			if err == nil {
				t.Fatalf("ParseSize(%q) = %d, want an error: not a size", s, got)
			}
			return
		}
		num, ok := new(big.Rat).SetString(m[1])
		if !ok {
			t.Skip("reference cannot read", m[1])
		}
		exact := num.Mul(num, new(big.Rat).SetInt(mult))
		// round half up
		half := new(big.Rat).Add(exact, big.NewRat(1, 2))
		want := new(big.Int).Quo(half.Num(), half.Denom())
		if want.Cmp(maxI) > 0 {
			if err == nil {
				t.Fatalf("ParseSize(%q) = %d, want an error: %s bytes do not fit int64", s, got, want)
			}
			return
		}
		if err != nil || got != want.Int64() {
			t.Fatalf("ParseSize(%q) = %d, %v; want %s", s, got, err, want)
		}
	})
}

// TestParseAgeErrorsQuote keeps each error short and pointing at the value.
func TestParseAgeErrorsQuote(t *testing.T) {
	for _, in := range []string{"30501w", "1y", strconv.Itoa(math.MaxInt32) + "w"} {
		_, err := ParseAge(in)
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseAge(%q) error = %v", in, err)
		}
	}
}
