// Package usage reads who uses which image: BinderHub's launch events (from
// files or daily files over HTTP) and the images of a cluster's running
// pods, and matches them to a registry's inventory as per-image launch
// counts, last launches and in-use flags for the planner.
package usage

import (
	"errors"
	"strconv"
	"time"
)

// LaunchSchema is the schema of BinderHub's launch events.
const LaunchSchema = "binderhub.jupyter.org/launch"

// Event is one line of an event log. Its byte fields point into the line
// (or the parser's scratch space) and are valid until the next line.
//
// BinderHub's launch event has been through six schema versions: 1 and 2
// (provider, spec, status), 3 (+ origin), 4 (+ ref, the resolved
// reference BinderHub tags the image with), 5 (+ build_token), 6 (+
// request_origin). The event log adds timestamp, schema and version. Before
// November 2018 the event was nested under "event"; Stackdriver exports nest
// it under "jsonPayload": both are read.
type Event struct {
	Schema    []byte
	Version   int
	Timestamp time.Time
	Provider  []byte
	Spec      []byte
	Ref       []byte
	Status    []byte
	Origin    []byte
	// HasRef: the event carries ref (schema version 4 and later).
	HasRef     bool
	BuildToken bool

	hasTimestamp bool
	// badTimestamp holds a timestamp that did not parse.
	badTimestamp bool
}

// Launch reports whether the event is a launch event: its schema is the
// launch schema, or it has none but carries a provider and a spec.
func (e *Event) Launch() bool {
	if len(e.Schema) > 0 {
		return string(e.Schema) == LaunchSchema
	}
	return len(e.Provider) > 0 && len(e.Spec) > 0
}

// Success reports whether the launch succeeded. Every schema version has
// status; an event without one is taken as a launch that succeeded, which
// can only hold an image, never delete one.
func (e *Event) Success() bool { return len(e.Status) == 0 || string(e.Status) == "success" }

// Parser parses event lines. Its zero value is ready; it reuses its scratch
// space, so parsing allocates nothing for lines without escapes.
type Parser struct {
	scratch []byte
}

// Errors a line can have.
var (
	errTruncated = errors.New("the line ends inside the event (truncated)")
	errNotObject = errors.New("not a JSON object")
	errTrailing  = errors.New("text after the event")
	errDepth     = errors.New("nested too deep")
)

// syntaxError says what was wrong at which byte.
type syntaxError struct {
	what string
	at   int
}

func (e *syntaxError) Error() string { return e.what + " at byte " + strconv.Itoa(e.at+1) }

// Parse parses one event line (without its newline) into ev. A line that is
// not one complete JSON object, or whose known fields have the wrong type,
// is an error; unknown fields are skipped.
func (p *Parser) Parse(line []byte, ev *Event) error {
	*ev = Event{}
	p.scratch = p.scratch[:0]
	s := scanner{buf: line, p: p}
	s.ws()
	if s.i >= len(line) {
		return errTruncated
	}
	if line[s.i] != '{' {
		return errNotObject
	}
	if err := s.object(ev, 0); err != nil {
		return err
	}
	s.ws()
	if s.i != len(line) {
		return errTrailing
	}
	if ev.badTimestamp {
		return errors.New("timestamp is not an ISO 8601 time")
	}
	return nil
}

// object reads an object at s.i into ev: its known fields, and the fields
// of a nested "event" or "jsonPayload" object. With ev nil it only checks
// and passes over the object.
func (s *scanner) object(ev *Event, depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	s.i++ // {
	s.ws()
	if s.i < len(s.buf) && s.buf[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.buf) || s.buf[s.i] != '"' {
			return s.fail("want a field name")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.buf) || s.buf[s.i] != ':' {
			return s.fail("want ':'")
		}
		s.i++
		s.ws()
		if s.i >= len(s.buf) {
			return errTruncated
		}
		if ev == nil {
			err = s.skip(depth)
		} else {
			err = s.field(ev, key, depth)
		}
		if err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// field reads the value of field key into ev, or skips it.
func (s *scanner) field(ev *Event, key []byte, depth int) error {
	c := s.buf[s.i]
	var dst *[]byte
	switch string(key) {
	case "schema":
		dst = &ev.Schema
	case "provider":
		dst = &ev.Provider
	case "spec":
		dst = &ev.Spec
	case "ref":
		dst = &ev.Ref
		ev.HasRef = c == '"'
	case "status":
		dst = &ev.Status
	case "origin":
		dst = &ev.Origin
	case "timestamp":
		if c != '"' {
			break
		}
		v, err := s.str()
		if err != nil {
			return err
		}
		ev.hasTimestamp = true
		t, ok := parseTime(v)
		ev.Timestamp, ev.badTimestamp = t, !ok
		return nil
	case "version":
		if c == '-' || (c >= '0' && c <= '9') {
			start := s.i
			if err := s.number(); err != nil {
				return err
			}
			n, err := strconv.Atoi(string(s.buf[start:s.i]))
			if err != nil {
				return &syntaxError{"version is not a whole number", start}
			}
			ev.Version = n
			return nil
		}
	case "build_token":
		if c == 't' || c == 'f' {
			ev.BuildToken = c == 't'
		}
	case "event", "jsonPayload":
		if c == '{' {
			return s.object(ev, depth+1)
		}
	}
	if dst != nil && c == '"' {
		v, err := s.str()
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
	if dst != nil && c != 'n' {
		// a known string field holding a number, an object...: not an event
		// this reader understands
		return &syntaxError{"field " + string(key) + " is not a string", s.i}
	}
	return s.skip(depth)
}

// parseTime reads the timestamps event logs hold: BinderHub's
// 2024-03-07T12:34:56.123456Z, mybinder.org's archive's
// 2024-03-07T12:34:00+00:00, and a zoneless time, taken as UTC.
func parseTime(b []byte) (time.Time, bool) {
	// YYYY-MM-DDTHH:MM:SS
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for _, c := range b[from:to] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		k := 1
		scale := 100000000
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			nsec += int(rest[k]-'0') * scale
			scale /= 10
			k++
		}
		if k == 1 {
			return time.Time{}, false
		}
		rest = rest[k:]
	}
	offset := 0
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':',
		len(rest) == 5 && (rest[0] == '+' || rest[0] == '-'):
		oh, ok1 := num(len(b)-len(rest)+1, len(b)-len(rest)+3)
		om, ok2 := num(len(b)-2, len(b))
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}
