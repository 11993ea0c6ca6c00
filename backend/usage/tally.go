package usage

import (
	"bytes"
	"time"
)

// Tally aggregates launch events as they stream by: one entry per
// repository and ref launched, so its memory grows with the distinct refs,
// never with the events.
type Tally struct {
	since time.Time
	m     map[string]*Launches
	key   []byte

	// Events counts the launch events added; Failed those whose status was
	// failure (they hold nothing); InWindow the successful ones at or
	// after the window's start.
	Events, Failed, InWindow int
}

// Launches is one repository and ref's successful launches.
type Launches struct {
	Provider string
	// Repo is the spec's repository part (splitSpec).
	Repo string
	// Ref is the resolved ref BinderHub tagged the image with when HasRef;
	// else the ref the spec asked for (events before schema version 4).
	Ref    string
	HasRef bool
	// InWindow counts the launches at or after the window's start; Last is
	// the newest launch, in the window or not.
	InWindow int
	Last     time.Time
}

// NewTally starts a tally whose window begins at since.
func NewTally(since time.Time) *Tally {
	return &Tally{since: since, m: make(map[string]*Launches)}
}

// Add counts one launch event.
func (t *Tally) Add(ev *Event) {
	t.Events++
	if !ev.Success() {
		t.Failed++
		return
	}
	repo, specRef := splitSpecBytes(ev.Provider, ev.Spec)
	ref := specRef
	if ev.HasRef {
		ref = ev.Ref
	}
	k := append(t.key[:0], ev.Provider...)
	k = append(k, 0)
	k = append(k, repo...)
	k = append(k, 0)
	k = append(k, ref...)
	if ev.HasRef {
		k = append(k, 0, 'r')
	}
	t.key = k
	l := t.m[string(k)]
	if l == nil {
		l = &Launches{Provider: string(ev.Provider), Repo: string(repo), Ref: string(ref), HasRef: ev.HasRef}
		t.m[string(k)] = l
	}
	if !ev.Timestamp.Before(t.since) {
		l.InWindow++
		t.InWindow++
	}
	if ev.Timestamp.After(l.Last) {
		l.Last = ev.Timestamp
	}
}

// Merge adds another tally's launches (with the same window) to t.
func (t *Tally) Merge(o *Tally) {
	t.Events += o.Events
	t.Failed += o.Failed
	t.InWindow += o.InWindow
	for k, ol := range o.m {
		l := t.m[k]
		if l == nil {
			c := *ol
			t.m[k] = &c
			continue
		}
		l.InWindow += ol.InWindow
		if ol.Last.After(l.Last) {
			l.Last = ol.Last
		}
	}
}

// Len is the number of distinct repositories and refs launched.
func (t *Tally) Len() int { return len(t.m) }

// Each calls fn for every repository and ref launched, in no order.
func (t *Tally) Each(fn func(*Launches)) {
	for _, l := range t.m {
		fn(l)
	}
}

// splitSpecBytes is splitSpec over bytes, without allocating, for the
// providers whose repository part the tally keys on. The ref part of a
// GitLab or Git spec stays quoted here; splitSpec unquotes it.
func splitSpecBytes(provider, spec []byte) (repo, ref []byte) {
	switch string(provider) {
	case "GitHub", "Gist":
		// user/repo/ref (the ref may hold "/"); user/gist[/ref[/...]]
		i := bytes.IndexByte(spec, '/')
		j := -1
		if i >= 0 {
			j = bytes.IndexByte(spec[i+1:], '/')
		}
		if j < 0 {
			return spec, nil
		}
		repo, ref = spec[:i+1+j], spec[i+2+j:]
		if k := bytes.IndexByte(ref, '/'); k >= 0 && provider[1] == 'i' {
			ref = ref[:k]
		}
		return repo, ref
	case "GitLab", "Git":
		if i := bytes.IndexByte(spec, '/'); i >= 0 {
			return spec[:i], spec[i+1:]
		}
	}
	return spec, nil
}
