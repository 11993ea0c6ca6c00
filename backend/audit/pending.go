package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// OutcomePresent: recovery found that an attempted deletion did not take
// effect (the manifest is still there).
const OutcomePresent = "present"

// maxLine bounds one audit line (an index with many platform manifests and
// tags stays far below it).
const maxLine = 4 << 20

// Pending reads the log at path and returns the attempts at deleting from
// registry that no later line answers: deletions a run that was killed sent,
// or was about to send, without recording what happened. A missing log has
// none. Lines that do not parse (a line torn by a crash) are skipped and
// counted in bad.
func Pending(path, registry string) (pending []Entry, bad int, err error) {
	return PendingFor(path, func(r string) bool { return r == registry })
}

// PendingFor is Pending for the registry that match recognises, however a
// line spells it (another configuration may name the same registry
// otherwise: upper case, a default port).
func PendingFor(path string, match func(registry string) bool) (pending []Entry, bad int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read audit log %s: %w", path, err)
	}
	defer f.Close()
	pending, bad, err = pendingIn(f, match)
	if err != nil {
		return nil, bad, fmt.Errorf("read audit log %s: %w", path, err)
	}
	return pending, bad, nil
}

func pendingIn(r io.Reader, match func(string) bool) ([]Entry, int, error) {
	type key struct{ repo, digest string }
	open := map[key]int{}
	var attempts []Entry
	bad := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil || e.Outcome == "" {
			bad++
			continue
		}
		if e.Action != ActionDelete || !match(e.Registry) {
			continue
		}
		k := key{e.Repository, e.Digest}
		if e.Outcome == OutcomeAttempt {
			open[k] = len(attempts)
			attempts = append(attempts, e)
			continue
		}
		delete(open, k)
	}
	if err := sc.Err(); err != nil {
		return nil, bad, err
	}
	var out []Entry
	for i, e := range attempts {
		if j, ok := open[key{e.Repository, e.Digest}]; ok && j == i {
			out = append(out, e)
		}
	}
	return out, bad, nil
}
