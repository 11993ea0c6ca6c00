package usage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// MaxLine bounds an event line; a longer one is a bad line. Launch events
// are a few hundred bytes.
const MaxLine = 1 << 20

// Stats count what reading an event log met.
type Stats struct {
	// Lines counts the lines read, blank ones aside.
	Lines int `json:"lines"`
	// Events counts the launch events among them; InWindow those at or
	// after the window's start, successful or not (a source with none
	// makes the usage unknown, unless allowed to be empty). ReadEvents
	// leaves InWindow to its caller, which knows the window.
	Events   int `json:"events"`
	InWindow int `json:"in_window"`
	// Other counts well-formed events of other schemas, skipped.
	Other int `json:"other"`
	// Bad counts lines that are not events: truncated, garbage, or a
	// launch event without a timestamp, provider or spec.
	Bad int `json:"bad_lines"`
	// FirstBad says where the first bad line was and what was wrong.
	FirstBad string `json:"first_bad,omitempty"`
}

// Add adds o's counts to s (keeping s's first bad line, if any).
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Events += o.Events
	s.InWindow += o.InWindow
	s.Other += o.Other
	s.Bad += o.Bad
	if s.FirstBad == "" {
		s.FirstBad = o.FirstBad
	}
}

// ReadEvents streams the event log r (JSON lines, gzipped or not), calling
// fn for each launch event. A line that is not an event is counted as bad
// and skipped, never an error: only a failure to read r is. name labels the
// first bad line.
func ReadEvents(r io.Reader, name string, fn func(*Event)) (Stats, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Stats{}, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	var (
		st      Stats
		p       Parser
		ev      Event
		long    []byte // a line longer than the buffer, gathered
		tooLong bool   // the line being gathered is over MaxLine: dropped
		n       int    // line number
	)
	bad := func(why string) {
		st.Bad++
		if st.FirstBad == "" {
			st.FirstBad = fmt.Sprintf("%s:%d: %s", name, n, why)
		}
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if tooLong = tooLong || len(long)+len(line) > MaxLine; !tooLong {
				long = append(long, line...)
			}
			continue
		}
		switch {
		case tooLong:
			n++
			st.Lines++
			bad(fmt.Sprintf("longer than %d bytes", MaxLine))
			line, tooLong = nil, false
		case len(long) > 0:
			line = append(long, line...)
		}
		long = long[:0]
		if len(line) > 0 {
			n++
			if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
				st.Lines++
				switch perr := p.Parse(trimmed, &ev); {
				case perr != nil:
					bad(perr.Error())
				case !ev.Launch():
					st.Other++
				case !ev.hasTimestamp:
					bad("launch event without a timestamp")
				case len(ev.Provider) == 0 || len(ev.Spec) == 0:
					bad("launch event without a provider or spec")
				default:
					st.Events++
					fn(&ev)
				}
			}
		}
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", name, err)
		}
	}
}
