// Package pushgatewaytest is an in-process stand-in for the Prometheus
// Pushgateway's push API, for tests and the demo:
//
//	PUT    /metrics/job/<job>{/<label>/<value>}  replace the group's metrics
//	POST   /metrics/job/<job>{/<label>/<value>}  replace the pushed names only
//	DELETE /metrics/job/<job>{/<label>/<value>}  delete the group
//	GET    /metrics                              every group, in the text format
//
// A body is the text format or delimited protobuf, by its Content-Type. A
// path component <label>@base64 takes its value in base64url ("=" for
// empty). As the Pushgateway does, it adds the grouping labels to every
// metric pushed, refuses (400) a metric whose grouping label differs from
// the URL's, or a name pushed with another type or help than it has
// elsewhere, answers 200 to a push and 202 to a delete, and keeps
// push_time_seconds and push_failure_time_seconds for each group.
package pushgatewaytest

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// Server is a running stand-in.
type Server struct {
	srv *httptest.Server
	now func() time.Time

	mu     sync.Mutex
	groups map[string]*Group // by key
	pushes []Push
}

// Group is one group's metrics, as a Pushgateway holds them.
type Group struct {
	// Labels are the grouping labels, job included.
	Labels map[string]string
	// Families are the metrics pushed, each with the grouping labels,
	// by name; push_time_seconds and push_failure_time_seconds among
	// them.
	Families map[string]*dto.MetricFamily
}

// Push is one request the stand-in answered.
type Push struct {
	Method string
	Labels map[string]string
	// Format is the body's format: text or protobuf.
	Format string
	Status int
}

// Option tunes Start.
type Option func(*Server)

// WithClock sets the clock of push_time_seconds.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Start starts a stand-in on a loopback port.
func Start(opts ...Option) *Server {
	s := &Server{now: time.Now, groups: map[string]*Group{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the stand-in's base URL, as --metrics-push takes it.
func (s *Server) URL() string { return s.srv.URL }

// Close stops it.
func (s *Server) Close() { s.srv.Close() }

// Groups returns a copy of every group, ordered by their grouping labels.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groups))
	for _, k := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[k]
		c := Group{Labels: maps.Clone(g.Labels), Families: map[string]*dto.MetricFamily{}}
		for n, mf := range g.Families {
			c.Families[n] = proto.Clone(mf).(*dto.MetricFamily)
		}
		out = append(out, c)
	}
	return out
}

// Pushes returns the requests answered so far, in order.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pushes)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.EscapedPath() == "/metrics" && r.Method == http.MethodGet {
		s.serveMetrics(w)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/metrics/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	labels, err := groupingLabels(rest)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		status, err := s.push(r, labels)
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		w.WriteHeader(status)
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.groups, key(labels))
		s.pushes = append(s.pushes, Push{Method: r.Method, Labels: labels, Status: http.StatusAccepted})
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		w.Header().Set("Allow", "PUT, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// groupingLabels reads job/<job>{/<label>/<value>} (escaped), with
// <label>@base64 taking a base64url value.
func groupingLabels(escaped string) (map[string]string, error) {
	parts := strings.Split(escaped, "/")
	if len(parts)%2 != 0 || len(parts) < 2 {
		return nil, fmt.Errorf("path /metrics/%s: want job/<job>{/<label>/<value>}", escaped)
	}
	labels := map[string]string{}
	for i := 0; i < len(parts); i += 2 {
		name, rawValue := parts[i], parts[i+1]
		value, err := pathUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("path /metrics/%s: %w", escaped, err)
		}
		if n, ok := strings.CutSuffix(name, "@base64"); ok {
			name = n
			b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(value, "="))
			if err != nil {
				return nil, fmt.Errorf("label %s: bad base64 %q: %w", name, value, err)
			}
			value = string(b)
		}
		if i == 0 && name != "job" {
			return nil, fmt.Errorf("path /metrics/%s: the first label is job", escaped)
		}
		if !validLabelName(name) {
			return nil, fmt.Errorf("%q is not a label name", name)
		}
		if _, dup := labels[name]; dup {
			return nil, fmt.Errorf("label %s given twice", name)
		}
		if name == "job" && value == "" {
			return nil, errors.New("job name is required")
		}
		labels[name] = value
	}
	return labels, nil
}

func validLabelName(n string) bool {
	if n == "" || strings.HasPrefix(n, "__") {
		return false
	}
	for i, c := range n {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func pathUnescape(s string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("bad escape in %q", s)
	}
	return v, nil
}

// push reads a push's body and stores it; it returns the status to answer.
func (s *Server) push(r *http.Request, labels map[string]string) (int, error) {
	format := "text"
	var dec expfmt.Decoder
	if f := expfmt.ResponseFormat(r.Header); f.FormatType() == expfmt.TypeProtoDelim {
		format = "protobuf"
		dec = expfmt.NewDecoder(r.Body, f)
	} else {
		dec = expfmt.NewDecoder(r.Body, expfmt.NewFormat(expfmt.TypeTextPlain))
	}
	families := map[string]*dto.MetricFamily{}
	var err error
	for err == nil {
		mf := &dto.MetricFamily{}
		if err = dec.Decode(mf); err == nil {
			families[mf.GetName()] = mf
		}
	}
	record := func(status int) {
		s.pushes = append(s.pushes, Push{Method: r.Method, Labels: labels, Format: format, Status: status})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !errors.Is(err, io.EOF) {
		record(http.StatusBadRequest)
		s.failed(labels)
		return http.StatusBadRequest, fmt.Errorf("parse %s body: %w", format, err)
	}
	for _, mf := range families {
		if err := s.check(mf, labels); err != nil {
			record(http.StatusBadRequest)
			s.failed(labels)
			return http.StatusBadRequest, err
		}
		for _, m := range mf.Metric {
			m.Label = withGrouping(m.Label, labels)
		}
	}
	k := key(labels)
	g := s.groups[k]
	if g == nil || r.Method == http.MethodPut {
		old := g
		g = &Group{Labels: labels, Families: map[string]*dto.MetricFamily{}}
		if old != nil { // a PUT keeps the failure time
			if f, ok := old.Families["push_failure_time_seconds"]; ok {
				g.Families["push_failure_time_seconds"] = f
			}
		}
		s.groups[k] = g
	}
	maps.Copy(g.Families, families)
	g.Families["push_time_seconds"] = timeFamily("push_time_seconds", "Last Unix time when changing this group in the Pushgateway succeeded.", labels, s.now())
	if _, ok := g.Families["push_failure_time_seconds"]; !ok {
		g.Families["push_failure_time_seconds"] = timeFamily("push_failure_time_seconds", "Last Unix time when changing this group in the Pushgateway failed.", labels, time.Unix(0, 0))
	}
	record(http.StatusOK)
	return http.StatusOK, nil
}

// check refuses a family whose grouping labels differ from the URL's, or
// whose type or help differs from the same name's in another group.
func (s *Server) check(mf *dto.MetricFamily, labels map[string]string) error {
	for _, m := range mf.Metric {
		for _, l := range m.Label {
			if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
				return fmt.Errorf("pushed metric %s has label %s=%q, the grouping key says %q", mf.GetName(), l.GetName(), l.GetValue(), v)
			}
		}
	}
	k := key(labels)
	for gk, g := range s.groups {
		other, ok := g.Families[mf.GetName()]
		if !ok || gk == k {
			continue
		}
		if other.GetType() != mf.GetType() || other.GetHelp() != mf.GetHelp() {
			return fmt.Errorf("pushed metric %s (%s, %q) is inconsistent with the same name in another group (%s, %q)", mf.GetName(), mf.GetType(), mf.GetHelp(), other.GetType(), other.GetHelp())
		}
	}
	return nil
}

// failed stamps push_failure_time_seconds on an existing group.
func (s *Server) failed(labels map[string]string) {
	if g := s.groups[key(labels)]; g != nil {
		g.Families["push_failure_time_seconds"] = timeFamily("push_failure_time_seconds", "Last Unix time when changing this group in the Pushgateway failed.", labels, s.now())
	}
}

// withGrouping sets the grouping labels on a metric's labels, sorted by
// name.
func withGrouping(ls []*dto.LabelPair, grouping map[string]string) []*dto.LabelPair {
	out := slices.DeleteFunc(slices.Clone(ls), func(l *dto.LabelPair) bool { _, g := grouping[l.GetName()]; return g })
	for n, v := range grouping {
		out = append(out, &dto.LabelPair{Name: proto.String(n), Value: proto.String(v)})
	}
	slices.SortFunc(out, func(a, b *dto.LabelPair) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out
}

func timeFamily(name, help string, labels map[string]string, t time.Time) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Label: withGrouping(nil, labels), Gauge: &dto.Gauge{Value: proto.Float64(float64(t.UnixNano()) / 1e9)}}}}
}

// key is a group's identity: its labels in order.
func key(labels map[string]string) string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, "%s=%q,", n, labels[n])
	}
	return b.String()
}

// serveMetrics writes every group's metrics in the text format, a name's
// series of every group together.
func (s *Server) serveMetrics(w http.ResponseWriter) {
	s.mu.Lock()
	merged := map[string]*dto.MetricFamily{}
	for _, k := range slices.Sorted(maps.Keys(s.groups)) {
		for n, mf := range s.groups[k].Families {
			if m, ok := merged[n]; ok {
				m.Metric = append(m.Metric, proto.Clone(mf).(*dto.MetricFamily).Metric...)
				continue
			}
			merged[n] = proto.Clone(mf).(*dto.MetricFamily)
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	for _, n := range slices.Sorted(maps.Keys(merged)) {
		if _, err := expfmt.MetricFamilyToText(w, merged[n]); err != nil {
			return
		}
	}
}

// TB is the part of testing.TB that Serve uses; this package does not
// import testing.
type TB interface {
	Helper()
	Cleanup(func())
}

// Serve starts a [Server] for the test t, closed when t ends.
func Serve(t TB, opts ...Option) *Server {
	t.Helper()
	s := Start(opts...)
	t.Cleanup(s.Close)
	return s
}
