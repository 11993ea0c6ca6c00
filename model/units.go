package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12, "p": 1e15, "pb": 1e15,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
	"ti": 1 << 40, "tib": 1 << 40, "pi": 1 << 50, "pib": 1 << 50,
}

// ParseSize reads a byte size with an optional SI (kB, MB, GB, TB, PB) or
// IEC (KiB, MiB, GiB, TiB, PiB) unit: "500MB", "2TiB", "1.5 GB", "1024".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if num == "" || !ok {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 500MB, 1.5GB or 2TiB", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %q is not a number", s, num)
	}
	b := v * mult
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(math.Round(b)), nil
}

// maxAge bounds durations: acr purge once overflowed a huge --ago into
// "delete everything".
const maxAge = 100 * 365 * 24 * time.Hour

// ParseAge reads a non-negative duration: Go syntax ("36h", "90m") plus days
// and weeks ("90d", "2w", "1w3d12h").
func ParseAge(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("duration %q is empty: want e.g. 90d, 2w or 36h", s)
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	var total time.Duration
	rest := t
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 || (rest[i] != 'd' && rest[i] != 'w') {
			break
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > int64(maxAge/(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q is too large (at most 100 years)", s)
		}
		unit := 24 * time.Hour
		if rest[i] == 'w' {
			unit *= 7
		}
		total += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want Go syntax plus d and w, e.g. 90d, 2w, 36h", s)
		}
		if d < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		total += d
	}
	if total > maxAge {
		return 0, fmt.Errorf("duration %q is too large (at most 100 years)", s)
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
