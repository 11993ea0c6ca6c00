package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
)

// Recovered is an attempted deletion that a killed run left without an
// outcome, as the registry now answers it.
type Recovered struct {
	Repository string
	Digest     string
	// Outcome is audit.OutcomeDeleted (the manifest is gone) or
	// audit.OutcomePresent (it is still there: the delete never took).
	Outcome string
}

// Exists reports whether repository@digest is in the registry (a HEAD by
// digest; 404 means no).
func (c *Client) Exists(ctx context.Context, repository, digest string) (bool, error) {
	p, err := c.puller(c.pageSize)
	if err != nil {
		return false, err
	}
	_, err = p.Head(ctx, c.reg.Repo(repository).Digest(digest))
	switch {
	case err == nil:
		return true, nil
	case isManifestUnknown(err):
		return false, nil
	}
	return false, describe(fmt.Sprintf("check %s@%s", repository, digest), err)
}

// Recover asks the registry about each pending attempt (audit.Pending) and
// writes its outcome line to the log: deleted when the manifest is gone,
// present when it is still there. An attempt the registry cannot answer
// for now is left pending, and the error says why.
func Recover(ctx context.Context, d Deleter, log *audit.Log, pending []audit.Entry) ([]Recovered, error) {
	var out []Recovered
	var firstErr error
	for _, e := range pending {
		there, err := d.Exists(ctx, e.Repository, e.Digest)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("recover the unrecorded deletion of %s@%s: %w", e.Repository, e.Digest, err)
			}
			continue
		}
		r := Recovered{Repository: e.Repository, Digest: e.Digest, Outcome: audit.OutcomeDeleted}
		if there {
			r.Outcome = audit.OutcomePresent
		}
		line := e // its outcome line, stamped now
		line.Time, line.Outcome, line.Recovered, line.Error = time.Time{}, r.Outcome, true, ""
		if err := log.Write(line); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, firstErr
}
