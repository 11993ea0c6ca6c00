package usage

import (
	"bytes"
	"encoding/binary"
)

// The JSON scanner under Parser: white space, strings (an escaped one is
// unescaped into the Parser's scratch space), numbers, literals, and
// passing over the values Parse does not read.

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
