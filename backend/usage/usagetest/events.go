// Package usagetest holds stand-ins for usage sources, shared by tests, the
// benchmark and the demo: a generator of BinderHub launch events and a tiny
// Kubernetes API serving a pod list.
package usagetest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Target is something people launch: a repository at a resolved ref.
type Target struct {
	// Provider is BinderHub's provider name: GitHub, GitLab, Git, Gist,
	// Zenodo...
	Provider string
	// Repo is the spec's repository part ("org/repo" for GitHub).
	Repo string
	// Ref is the resolved ref, the image's tag.
	Ref string
}

// Events describes an event log to write.
type Events struct {
	// Targets are launched with a popularity skew: the first is the most
	// launched, the k-th about 1/k^1.1 as often (Zipf's law, as launches
	// of mybinder.org's repositories are).
	Targets []Target
	// From and To bound the timestamps, which rise line by line.
	From, To time.Time
	// N is the number of events.
	N    int
	Seed uint64
	// Version is the schema version written (default 5). Versions before
	// 4 carry no ref; the spec then asks for the ref itself or a branch.
	Version int
	// FailureRate is the share of launches with status failure.
	FailureRate float64
	// Origin is the BinderHub host (default gke.mybinder.org).
	Origin string
}

// Write writes the events as JSON lines, as BinderHub's event log (and
// mybinder.org's archive) does.
func Write(w io.Writer, e Events) error {
	if len(e.Targets) == 0 || e.N <= 0 {
		return nil
	}
	if e.Version == 0 {
		e.Version = 5
	}
	if e.Origin == "" {
		e.Origin = "gke.mybinder.org"
	}
	r := rand.New(rand.NewPCG(e.Seed, 0x5eed))
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(e.Targets)-1))
	bw := bufio.NewWriterSize(w, 256<<10)
	step := e.To.Sub(e.From) / time.Duration(e.N)
	var line []byte
	for k := range e.N {
		t := e.From.Add(time.Duration(k) * step)
		if step > 0 {
			t = t.Add(time.Duration(r.Int64N(int64(step))))
		}
		tg := e.Targets[zipf.Uint64()]
		line = appendEvent(line[:0], e, tg, t, r)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

var branches = []string{"HEAD", "HEAD", "main", "master"}

func appendEvent(b []byte, e Events, tg Target, t time.Time, r *rand.Rand) []byte {
	b = append(b, `{"timestamp": "`...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, `", "schema": "binderhub.jupyter.org/launch", "version": `...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, `, "provider": `...)
	b = strconv.AppendQuote(b, tg.Provider)
	// persistent links ask for the ref itself, others for a branch
	asked := branches[r.IntN(len(branches))]
	if r.IntN(4) == 0 {
		asked = tg.Ref
	}
	b = append(b, `, "spec": `...)
	b = strconv.AppendQuote(b, specOf(tg, asked))
	if e.Version >= 4 {
		b = append(b, `, "ref": `...)
		b = strconv.AppendQuote(b, tg.Ref)
	}
	status := "success"
	if e.FailureRate > 0 && r.Float64() < e.FailureRate {
		status = "failure"
	}
	b = append(b, `, "status": "`...)
	b = append(b, status...)
	b = append(b, '"')
	if e.Version >= 5 {
		b = append(b, `, "build_token": `...)
		b = strconv.AppendBool(b, r.IntN(10) == 0)
	}
	if e.Version >= 3 {
		b = append(b, `, "origin": `...)
		b = strconv.AppendQuote(b, e.Origin)
	}
	if e.Version >= 6 {
		b = append(b, `, "request_origin": "same-origin"`...)
	}
	return append(b, "}\n"...)
}

func specOf(tg Target, ref string) string {
	switch tg.Provider {
	case "GitHub", "GitLab", "Git":
		return tg.Repo + "/" + ref
	case "Gist":
		return tg.Repo + "/" + ref
	}
	return tg.Repo
}

// Repos returns n GitHub targets named org-k/repo-k with 40-hex refs, for
// benchmarks that need many distinct refs.
func Repos(n int, seed uint64) []Target {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]Target, n)
	for i := range out {
		out[i] = Target{Provider: "GitHub", Repo: fmt.Sprintf("org-%d/repo-%d", i%997, i), Ref: fmt.Sprintf("%016x%016x%08x", r.Uint64(), r.Uint64(), r.Uint32())}
	}
	return out
}
