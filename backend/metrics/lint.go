package metrics

import (
	"fmt"
	"regexp"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// MaxLabelValues bounds the values one label takes in one metric family:
// more means a label of unbounded cardinality (an image, a tag).
const MaxLabelValues = 32

var (
	snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	// units that are not base units, as a name's words
	nonBase = regexp.MustCompile(`_(milliseconds|microseconds|nanoseconds|ms|minutes|hours|days|weeks|kilobytes|megabytes|gigabytes|terabytes|kb|mb|gb|kib|mib|gib|tib|bits|percent)(_|$)`)
	// label names that would carry an image's identity
	identityLabel = regexp.MustCompile(`^(digest|tag|tags|image|reference|manifest|repository)$`)
	digestValue   = regexp.MustCompile(`^sha(256|384|512):[0-9a-f]{16,}$`)
)

// Lint checks metric families against Prometheus' naming conventions and
// this program's: names in snake_case under the namespace, HELP in words,
// base units (seconds, bytes) as the last word of a name that has a unit,
// points in time as _timestamp_seconds, _total on counters and only there,
// no label naming an image, digest or tag, and label values of bounded
// number. It returns one message per problem.
func Lint(families []*dto.MetricFamily) []string {
	var out []string
	bad := func(name, format string, args ...any) {
		out = append(out, name+": "+fmt.Sprintf(format, args...))
	}
	for _, mf := range families {
		name := mf.GetName()
		if !snakeCase.MatchString(name) {
			bad(name, "not snake_case")
		}
		if !strings.HasPrefix(name, Namespace+"_") {
			bad(name, "not under the namespace %s_", Namespace)
		}
		help := strings.TrimSpace(mf.GetHelp())
		if len(strings.Fields(help)) < 3 {
			bad(name, "HELP %q says too little", help)
		}
		counter := mf.GetType() == dto.MetricType_COUNTER
		switch {
		case counter && !strings.HasSuffix(name, "_total"):
			bad(name, "a counter's name ends in _total")
		case !counter && strings.HasSuffix(name, "_total"):
			bad(name, "_total is for counters; this is a %s", strings.ToLower(mf.GetType().String()))
		}
		if mf.GetType() == dto.MetricType_UNTYPED {
			bad(name, "untyped: give it a TYPE")
		}
		if nonBase.MatchString(name) {
			bad(name, "not in base units (seconds, bytes)")
		}
		base := strings.TrimSuffix(name, "_total")
		for _, unit := range []string{"seconds", "bytes"} {
			if strings.Contains(base, "_"+unit+"_") && !strings.HasSuffix(base, "_"+unit+"_per_second") {
				bad(name, "the unit %s is not the name's last word", unit)
			}
		}
		if strings.Contains(name, "timestamp") && !strings.HasSuffix(name, "_timestamp_seconds") {
			bad(name, "a point in time is _timestamp_seconds")
		}
		values := map[string]map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				n, v := l.GetName(), l.GetValue()
				if values[n] == nil {
					values[n] = map[string]bool{}
				}
				values[n][v] = true
				if digestValue.MatchString(v) {
					bad(name, "label %s holds a digest", n)
				}
			}
		}
		for n, vs := range values {
			if identityLabel.MatchString(n) {
				bad(name, "label %s names an image: unbounded", n)
			}
			if !snakeCase.MatchString(n) {
				bad(name, "label %s is not snake_case", n)
			}
			if len(vs) > MaxLabelValues {
				bad(name, "label %s takes %d values, more than %d", n, len(vs), MaxLabelValues)
			}
		}
	}
	return out
}
