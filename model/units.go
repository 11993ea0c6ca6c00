package model

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// sizeUnits maps a lower-case unit to its multiplier in bytes.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"p": 1e15, "pb": 1e15, "e": 1e18, "eb": 1e18,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
	"ti": 1 << 40, "tib": 1 << 40, "pi": 1 << 50, "pib": 1 << 50, "ei": 1 << 60, "eib": 1 << 60,
}

// ParseSize reads a byte size with an optional SI (kB, MB, GB, TB, PB, EB)
// or IEC (KiB, MiB, GiB, TiB, PiB, EiB) unit: "500MB", "2TiB", "1.5 GB",
// "1024". The arithmetic is exact (a fraction of a byte rounds half up), and
// a size beyond the int64 range (8EiB or more) is an error, never a wrapped
// or rounded value.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimLeft(t[i:], " \t")
	}
	mult, ok := sizeUnits[asciiLower(unit)]
	if num == "" || !ok {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 500MB, 1.5GB or 2TiB", s)
	}
	whole, frac, ok := splitDecimal(num)
	if !ok {
		return 0, fmt.Errorf("size %q: %q is not a number", s, num)
	}
	// whole*mult + round(0.frac * mult), exactly; more than 19 digits cannot fit
	whole = strings.TrimLeft(whole, "0")
	tooLarge := fmt.Errorf("size %q is too large (at most 8EiB less one byte)", s)
	if len(whole) > 19 {
		return 0, tooLarge
	}
	v := new(big.Int)
	if whole != "" {
		v.SetString(whole, 10)
	}
	v.Mul(v, big.NewInt(mult))
	if frac != "" {
		f, _ := new(big.Int).SetString(frac, 10)
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
		f.Mul(f, big.NewInt(mult))
		f.Add(f.Add(f, f), scale) // (2*f*mult + scale) / (2*scale): half up
		f.Quo(f, scale.Add(scale, scale))
		v.Add(v, f)
	}
	if !v.IsInt64() {
		return 0, tooLarge
	}
	return v.Int64(), nil
}

// splitDecimal splits "12.5" into "12" and "5"; at least one digit, at most
// one point.
func splitDecimal(num string) (whole, frac string, ok bool) {
	whole, frac, _ = strings.Cut(num, ".")
	if whole == "" && frac == "" || strings.Contains(frac, ".") {
		return "", "", false
	}
	return whole, frac, true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// maxAge bounds durations: 100 years (of 365 days). acr purge once turned a
// huge --ago into a wrapped-around, negative age, which deleted everything.
const maxAge = 36500 * 24 * time.Hour

// ageUnits are the units of ParseAge, in nanoseconds.
var ageUnits = []struct {
	name string
	unit time.Duration
}{
	// longer names first: "ms" before "m" and "s"
	{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"\u00b5s", time.Microsecond}, {"\u03bcs", time.Microsecond},
	{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
	{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour},
}

// ParseAge reads a non-negative duration: Go syntax ("36h", "90m", "1.5h")
// plus days and weeks ("90d", "2w", "1w3d12h", "1.5w"). Every term and the
// running sum are checked against maxAge before they are added, so no value
// wraps around: anything beyond 100 years is an error.
func ParseAge(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("duration %q is empty: want e.g. 90d, 2w or 36h", s)
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	syntax := fmt.Errorf("duration %q: want Go syntax plus d and w, e.g. 90d, 2w, 36h", s)
	t = strings.TrimPrefix(t, "+")
	switch t {
	case "0":
		return 0, nil
	case "":
		return 0, syntax
	}
	tooLarge := fmt.Errorf("duration %q is too large (at most 100 years, 36500d)", s)
	var total time.Duration
	for t != "" {
		i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i < 0 {
			return 0, syntax // a number without a unit
		}
		whole, frac, ok := splitDecimal(t[:i])
		if !ok {
			return 0, syntax
		}
		t = t[i:]
		unit := time.Duration(0)
		for _, u := range ageUnits {
			if strings.HasPrefix(t, u.name) {
				unit, t = u.unit, t[len(u.name):]
				break
			}
		}
		if unit == 0 {
			return 0, syntax
		}
		// the whole part: n stays at most maxAge/unit, so n*unit <= maxAge
		limit := int64(maxAge / unit)
		var n int64
		for _, c := range whole {
			d := int64(c - '0')
			if n > (limit-d)/10 {
				return 0, tooLarge
			}
			n = n*10 + d
		}
		v := time.Duration(n) * unit
		// the fraction, below one unit, computed as time.ParseDuration does
		if frac != "" {
			var f int64
			scale := 1.0
			for _, c := range frac {
				if f > (math.MaxInt64-9)/10 {
					break // further digits are far below a nanosecond
				}
				f, scale = f*10+int64(c-'0'), scale*10
			}
			v += time.Duration(float64(f) * (float64(unit) / scale))
		}
		// v is at most maxAge plus one unit and total at most maxAge: no overflow
		if total+v > maxAge {
			return 0, tooLarge
		}
		total += v
	}
	return total, nil
}

// FormatBytes renders a byte count in IEC units with three significant
// figures: "512 B", "1.50 KiB", "12.3 GiB".
func FormatBytes(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	const units = "KMGTPE"
	s := fmt.Sprintf("%d B", n)
	if n >= 1024 {
		v, u := float64(n), -1
		for v >= 1024 && u < len(units)-1 {
			v /= 1024
			u++
		}
		switch {
		case v >= 100:
			s = fmt.Sprintf("%.0f %ciB", v, units[u])
		case v >= 10:
			s = fmt.Sprintf("%.1f %ciB", v, units[u])
		default:
			s = fmt.Sprintf("%.2f %ciB", v, units[u])
		}
	}
	if neg {
		return "-" + s
	}
	return s
}

// FormatAge renders a duration coarsely: "45s", "12m", "5h", "3d", "14w", "2y".
func FormatAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 14*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dw", int(d.Hours()/24/7))
	default:
		return fmt.Sprintf("%dy", int(d.Hours()/24/365))
	}
}
