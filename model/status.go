package model

import "time"

// DependencyState is where a tracked chart dependency stands.
type DependencyState string

// Dependency states, as reports and the console show them.
const (
	StateUpToDate  DependencyState = "up-to-date"
	StateOutdated  DependencyState = "outdated"
	StatePROpen    DependencyState = "pr-open"    // a PR to the newest version was already open
	StatePROpened  DependencyState = "pr-opened"  // this run opened it
	StatePRUpdated DependencyState = "pr-updated" // this run moved an older PR to the newest version
	StateError     DependencyState = "error"
)

// DependencyStatus is one chart dependency pinned in a deployment file.
type DependencyStatus struct {
	// Repository is the deployment's GitHub repository, "owner/name".
	Repository string
	// File is the deployment file's path in it.
	File string
	// Base is the branch pull requests target.
	Base            string
	Dependency      string
	ChartRepository string
	Current         string
	// Latest is the newest accepted version (empty when unknown).
	Latest ChartVersion
	// CurrentVersion is the pinned version's index entry, when found.
	CurrentVersion *ChartVersion
	State          DependencyState
	// PRNumber and PRURL name the pull request when one is open.
	PRNumber int
	PRURL    string
	// Error says what went wrong when State is StateError.
	Error string
	// Warning says what a PR lacks that was asked for (a label or a
	// reviewer GitHub refused); the PR itself is open.
	Warning string
	// Group: this file's dependencies go into one pull request.
	Group bool
}

// Outdated reports whether a newer version exists and no PR carries it yet.
func (d *DependencyStatus) Outdated() bool { return d.State == StateOutdated }

// LatestAge is how long ago the newest version was published (zero when
// the repository does not say).
func (d *DependencyStatus) LatestAge(now time.Time) time.Duration {
	if d.Latest.Created.IsZero() {
		return 0
	}
	return now.Sub(d.Latest.Created)
}

// Bump describes the dependency's upgrade for a pull request's text.
func (d *DependencyStatus) Bump() Bump {
	return Bump{
		Dependency:      d.Dependency,
		ChartRepository: d.ChartRepository,
		From:            d.Current,
		FromVersion:     d.CurrentVersion,
		To:              d.Latest,
	}
}
