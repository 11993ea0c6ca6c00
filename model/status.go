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

// DependencyKind is what a row follows: a chart dependency pinned in a
// chart file, or an image tag pinned in a values file.
type DependencyKind string

// Kinds of rows.
const (
	KindChart DependencyKind = "chart"
	KindImage DependencyKind = "image"
)

// DependencyStatus is one chart dependency pinned in a deployment file, or
// one image a values file of the same configuration entry pins (Kind
// image): then Dependency is the image's YAML path (its key for branches,
// pull requests and the history), Current its tag and Latest its newest
// tag.
type DependencyStatus struct {
	// Kind is chart or image; "" reads as chart.
	Kind DependencyKind
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
	// NewPin is what a bump writes in place of Current when Current is a
	// range (Resolution.Pin): the range rewritten to admit Latest. Empty for
	// a bare version, which becomes Latest in Current's spelling.
	NewPin string
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
	// Entry is the chart file of the configuration entry (charts[].file)
	// the row belongs to: its chart and image rows share a grouped pull
	// request. "" means File (EntryFile).
	Entry string

	// Of an image row: Path is the YAML path of the image in File
	// (binderhub.config.BinderHub.build_image), Image its normalised name
	// (quay.io/jupyterhub/repo2docker), Line the line of its tag, and
	// ImageCompare the GitHub compare link between the commits the two
	// tags were built from, when both name one. Latest.Sources holds the
	// image's org.opencontainers.image.source, when it says.
	Path         string
	Image        string
	Line         int
	ImageCompare string

	// What GitHub says of the open pull request (HasOpenPR), read by the
	// check; zero when there is none or it could not be read.
	PRCreatedAt time.Time
	// PRMergeable is GitHub's mergeable: nil while GitHub is still
	// computing it, or when it could not be read.
	PRMergeable *bool
	// PRMergeableState is GitHub's mergeable_state: clean, dirty
	// (conflicts), blocked, behind, unstable, has_hooks, draft or unknown.
	PRMergeableState string
	// PRChecks rolls up the check runs and commit statuses of the pull
	// request's head commit; PRFailedChecks names the failing ones.
	PRChecks       ChecksState
	PRFailedChecks []string
	// Merged is a pull request the last run recorded open for this
	// dependency that GitHub now reports merged: the bump was deployed.
	Merged *MergedPR
	// Notes are the release notes of an outdated dependency's bump, for
	// its pull request's body; nil when none were found.
	Notes *ReleaseNotes
}

// ChecksState rolls up a commit's check runs and commit statuses, as the
// merge box of a pull request does.
type ChecksState string

// Checks states.
const (
	ChecksPassing ChecksState = "passing" // every check succeeded (or was neutral or skipped)
	ChecksFailing ChecksState = "failing" // at least one failed, errored, timed out or was cancelled
	ChecksPending ChecksState = "pending" // none failed and at least one has not finished
	ChecksNone    ChecksState = "none"    // the commit has no checks at all
	ChecksUnknown ChecksState = "unknown" // they could not be read
)

// MergedPR is a merged pull request.
type MergedPR struct {
	Number   int
	URL      string
	MergedAt time.Time
}

// HasOpenPR reports whether an open pull request carries (a version of)
// this dependency's bump: PRNumber names it.
func (d *DependencyStatus) HasOpenPR() bool {
	return d.PRNumber > 0 && d.State != StatePRClosed && d.State != StateError
}

// PullRequestState is "open" with an open pull request, "closed" when one
// was closed without merging (pr-closed), "merged" when the last run's
// pull request has been merged since, and "" otherwise.
func (d *DependencyStatus) PullRequestState() string {
	switch {
	case d.HasOpenPR():
		return "open"
	case d.State == StatePRClosed:
		return "closed"
	case d.Merged != nil:
		return "merged"
	}
	return ""
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

// IsImage reports whether the row is an image pinned in a values file.
func (d *DependencyStatus) IsImage() bool { return d.Kind == KindImage }

// EntryFile is the chart file of the row's configuration entry.
func (d *DependencyStatus) EntryFile() string {
	if d.Entry != "" {
		return d.Entry
	}
	return d.File
}

// Bump describes the dependency's upgrade for a pull request's text.
func (d *DependencyStatus) Bump() Bump {
	return Bump{
		Kind:            d.Kind,
		File:            d.File,
		Image:           d.Image,
		Path:            d.Path,
		Compare:         d.ImageCompare,
		Dependency:      d.Dependency,
		ChartRepository: d.ChartRepository,
		From:            d.Current,
		FromVersion:     d.CurrentVersion,
		To:              d.Latest,
		Notes:           d.Notes,
		ToPin:           d.NewPin,
	}
}
