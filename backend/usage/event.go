// Package usage reads who uses which image: BinderHub's launch events (from
// files or daily files over HTTP) and the images of a cluster's running
// pods, and matches them to a registry's inventory as per-image launch
// counts, last launches and in-use flags for the planner.
package usage

import (
	"bytes"
	"encoding/binary"
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

// scanner walks one line.
type scanner struct {
	buf []byte
	i   int
	p   *Parser
}

func (s *scanner) ws() {
	if s.i < len(s.buf) && s.buf[s.i] > ' ' {
		return
	}
	for s.i < len(s.buf) {
		switch s.buf[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) fail(what string) error {
	if s.i >= len(s.buf) {
		return errTruncated
	}
	return &syntaxError{what, s.i}
}

const maxDepth = 64

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

// next passes the ',' between members, or the closing bracket, which ends
// the object or array (done).
func (s *scanner) next(closing byte) (done bool, err error) {
	s.ws()
	switch {
	case s.i >= len(s.buf):
		return false, errTruncated
	case s.buf[s.i] == ',':
		s.i++
		return false, nil
	case s.buf[s.i] == closing:
		s.i++
		return true, nil
	}
	return false, s.fail("want ',' or '" + string(closing) + "'")
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

// str reads a string at s.i and returns its contents, unescaped.
func (s *scanner) str() ([]byte, error) {
	s.i++ // "
	start := s.i
	for s.i < len(s.buf) {
		s.plain()
		for s.i < len(s.buf) && !special[s.buf[s.i]] {
			s.i++
		}
		if s.i >= len(s.buf) {
			break
		}
		c := s.buf[s.i]
		switch {
		case c == '"':
			v := s.buf[start:s.i]
			s.i++
			return v, nil
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return nil, &syntaxError{"control character in a string", s.i}
		}
		s.i++
	}
	return nil, errTruncated
}

// plain skips, eight bytes at a time, string bytes that are neither a
// quote, a backslash nor a control character (it may stop early, never
// late).
func (s *scanner) plain() {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for s.i+8 <= len(s.buf) {
		x := binary.LittleEndian.Uint64(s.buf[s.i:])
		q, b := x^(0x22*lo), x^(0x5c*lo)
		if ((x-0x20*lo)&^x|(q-lo)&^q|(b-lo)&^b)&hi != 0 {
			return
		}
		s.i += 8
	}
}

// special marks the bytes that end a plain run of a string: the quote,
// the backslash and control characters.
var special = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// escaped finishes a string that holds escapes, unescaping it into the
// parser's scratch space.
func (s *scanner) escaped(start int) ([]byte, error) {
	from := len(s.p.scratch)
	out := append(s.p.scratch, s.buf[start:s.i]...)
	for s.i < len(s.buf) {
		c := s.buf[s.i]
		switch {
		case c == '"':
			s.i++
			s.p.scratch = out
			return out[from:], nil
		case c < 0x20:
			return nil, &syntaxError{"control character in a string", s.i}
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.buf) {
			return nil, errTruncated
		}
		e := s.buf[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.fail("bad \\u escape")
			}
			if r >= 0xd800 && r < 0xdc00 && s.i+1 < len(s.buf) && s.buf[s.i] == '\\' && s.buf[s.i+1] == 'u' {
				save := s.i
				s.i += 2
				if r2, ok := s.hex4(); ok && r2 >= 0xdc00 && r2 < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
				} else {
					s.i = save
				}
			}
			if r >= 0xd800 && r < 0xe000 {
				r = 0xfffd // a lone surrogate, as encoding/json reads it
			}
			out = appendRune(out, r)
		default:
			return nil, &syntaxError{"bad escape", s.i - 1}
		}
	}
	return nil, errTruncated
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.buf) {
		return 0, false
	}
	var r rune
	for _, c := range s.buf[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

func appendRune(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xc0|byte(r>>6), 0x80|byte(r)&0x3f)
	case r < 0x10000:
		return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return append(b, 0xf0|byte(r>>18), 0x80|byte(r>>12)&0x3f, 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
}

// number checks a JSON number at s.i.
func (s *scanner) number() error {
	b := s.buf
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(b):
		return errTruncated
	case b[s.i] == '0':
		s.i++
	case b[s.i] >= '1' && b[s.i] <= '9':
		s.digits()
	default:
		return s.fail("bad number")
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if s.i >= len(b) || b[s.i] < '0' || b[s.i] > '9' {
			return s.fail("bad number")
		}
		s.digits()
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(b) || b[s.i] < '0' || b[s.i] > '9' {
			return s.fail("bad number")
		}
		s.digits()
	}
	return nil
}

func (s *scanner) digits() {
	for s.i < len(s.buf) && s.buf[s.i] >= '0' && s.buf[s.i] <= '9' {
		s.i++
	}
}

var (
	litTrue  = []byte("true")
	litFalse = []byte("false")
	litNull  = []byte("null")
)

// skip checks and passes over any value at s.i.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	if s.i >= len(s.buf) {
		return errTruncated
	}
	switch c := s.buf[s.i]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(nil, depth+1)
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.buf) && s.buf[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			if done, err := s.next(']'); done || err != nil {
				return err
			}
		}
	case c == 't':
		return s.literal(litTrue)
	case c == 'f':
		return s.literal(litFalse)
	case c == 'n':
		return s.literal(litNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.fail("want a value")
}

func (s *scanner) literal(lit []byte) error {
	if len(s.buf)-s.i < len(lit) {
		if bytes.HasPrefix(lit, s.buf[s.i:]) {
			return errTruncated
		}
		return s.fail("want a value")
	}
	if !bytes.Equal(s.buf[s.i:s.i+len(lit)], lit) {
		return s.fail("want a value")
	}
	s.i += len(lit)
	return nil
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
