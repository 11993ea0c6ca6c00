package headless

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/usage"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Report is the JSON document --headless --json prints. Its field names are
// part of helmupgradebot's interface: add fields, never rename them.
type Report struct {
	Registry *RegistryReport `json:"registry,omitempty"`
	Charts   []ChartReport   `json:"charts,omitempty"`
	// GitHub is absent unless github.status_issue is on (statusissue.go).
	GitHub *GitHubReport `json:"github,omitempty"`
}

// RegistryReport is what a registry run found, planned and did.
type RegistryReport struct {
	URL string `json:"url"`
	// Flavor is the API the registry was listed with: acr or distribution.
	Flavor       string    `json:"flavor"`
	ScannedAt    time.Time `json:"scanned_at"`
	Repositories int       `json:"repositories"`
	Images       int       `json:"images"`
	Tags         int       `json:"tags"`
	// UntaggedImages counts manifests no tag points at (ACR lists them;
	// the distribution API cannot, so there it is 0).
	UntaggedImages  int   `json:"untagged_images"`
	TotalBytes      int64 `json:"total_bytes"`
	CapBytes        int64 `json:"cap_bytes"`
	ReclaimBytes    int64 `json:"reclaim_bytes"`
	TotalAfterBytes int64 `json:"total_after_bytes"`
	// ShortfallBytes > 0: the cap cannot be reached without held images.
	ShortfallBytes int64 `json:"shortfall_bytes"`
	// UnknownAge counts images with a missing or pre-2000 created time,
	// never deleted for age.
	UnknownAge int `json:"unknown_age_images"`
	// Refused is why the plan was not applied (max_delete_fraction).
	Refused string `json:"refused,omitempty"`
	Applied bool   `json:"applied"`
	// Interrupted: the run was stopped (Ctrl-C, SIGTERM) while deleting.
	Interrupted bool `json:"interrupted"`
	NotStarted  int  `json:"not_started"`
	// FreedBytes is what the deletions freed: the blobs of the manifests
	// deleted that nothing still stored references (on distribution,
	// after garbage collection). Absent when nothing was applied.
	FreedBytes *int64         `json:"freed_bytes,omitempty"`
	AuditLog   string         `json:"audit_log,omitempty"`
	Plan       []ImageReport  `json:"plan"`
	Deleted    []ImageReport  `json:"deleted"`
	Failed     []FailedReport `json:"failed"`
	Errors     []ErrorReport  `json:"errors"`
	// Held counts the images the plan keeps, by hold: protected, locked,
	// incomplete, keep-latest, undated, in-index.
	Held map[string]int `json:"held"`
	// SkippedRepositories had an incomplete scan: nothing in them is
	// planned. A repository of "" is the catalog itself.
	SkippedRepositories []SkippedRepository `json:"skipped_repositories"`
	// Skipped are planned deletions the apply did not send: the image
	// changed since the scan, or the index it belongs to was not deleted.
	Skipped []SkippedReport `json:"skipped"`
	// Notes say what the policy did that may surprise.
	Notes []string `json:"notes,omitempty"`
	// RegistryRules are the registry's own retention rules (ECR lifecycle
	// policies): it may expire images by them whatever the plan says.
	RegistryRules []RegistryRuleReport `json:"registry_rules,omitempty"`
	// Usage is what the usage sources (registry.policy.usage) said; absent
	// without them.
	Usage *UsageReport `json:"usage,omitempty"`
	// Forecast is the growth over the run history and the day the cap is
	// reached.
	Forecast *ForecastReport `json:"forecast"`
	// Recovered are deletions a killed run attempted without recording
	// the outcome, as the registry answered them at this run's start.
	Recovered []RecoveredReport `json:"recovered"`
	// Locked lists the images a registry lock holds (held.locked counts
	// them), each with the lock.
	Locked []LockedReport `json:"locked"`
	// LockedBy counts Locked by the level of the lock: manifest (its own),
	// tag, platform (a locked platform manifest of the index), repository
	// (its writes are disabled).
	LockedBy map[string]int `json:"locked_by"`
	// RepositoryLocks are the repositories whose own attributes disable
	// deletes or writes (ACR).
	RepositoryLocks []RepositoryLockReport `json:"repository_locks"`
	// LocksUnread counts the repositories whose own attributes and tags'
	// locks were not read (ACR, where the plan deletes nothing): Locked
	// has only their images' own locks. 0 when every lock was read.
	LocksUnread int `json:"locks_unread"`

	// planned, when not nil, makes Plan's images as the report is written
	// (writeReport), instead of Plan holding them all: a dry run planning
	// most of 100,000 images held 18 MB of them beside the inventory.
	planned *plannedImages
}

// plannedImages are a plan's images for the report, made one at a time.
type plannedImages struct {
	inv  *model.Inventory
	dels []model.Deletion
	use  *usage.Result
}

// at is the report of the k-th deletion.
func (p *plannedImages) at(k int) ImageReport {
	d := p.dels[k]
	return withUsage(imageReport(p.inv, d), p.use, d.Image)
}

// plannedCount is how many images the plan deletes.
func (r *RegistryReport) plannedCount() int {
	if r.planned != nil {
		return len(r.planned.dels)
	}
	return len(r.Plan)
}

// plannedAt is the plan's k-th image.
func (r *RegistryReport) plannedAt(k int) ImageReport {
	if r.planned != nil {
		return r.planned.at(k)
	}
	return r.Plan[k]
}

// LockedReport is an image a registry lock holds, and which lock.
type LockedReport struct {
	Repository string   `json:"repository"`
	Digest     string   `json:"digest"`
	Tags       []string `json:"tags"`
	// Level is manifest, tag, platform or repository.
	Level string `json:"level"`
	// Lock names the lock: "manifest" (the image's own), "tag hub:stable",
	// "platform linux/arm64", "repository".
	Lock string `json:"lock"`
	// Hold is how the console says it: "locked", "locked (tag hub:stable)".
	Hold string `json:"hold"`
}

// RepositoryLockReport is a repository whose own attributes disable
// deletes (the repository cannot be deleted; its images still can) or
// writes (every image in it is locked).
type RepositoryLockReport struct {
	Repository    string `json:"repository"`
	DeleteEnabled bool   `json:"delete_enabled"`
	WriteEnabled  bool   `json:"write_enabled"`
	// LockedImages counts the images it holds: with writes disabled, those
	// no other lock holds first; else none.
	LockedImages int `json:"locked_images"`
}

// lockReports describes the inventory's locks for the report.
func lockReports(inv *model.Inventory) ([]LockedReport, map[string]int, []RepositoryLockReport) {
	locked := []LockedReport{}
	byRepo := map[string]int{}
	for i := range inv.Images {
		im := &inv.Images[i]
		if !im.Locked {
			continue
		}
		level := im.LockLevel()
		tags := im.Tags
		if tags == nil {
			tags = []string{}
		}
		locked = append(locked, LockedReport{Repository: im.Repository, Digest: im.Digest.String(), Tags: tags, Level: level, Lock: cmp.Or(im.Lock, level), Hold: im.LockText()})
		if level == model.LockRepository {
			byRepo[im.Repository]++
		}
	}
	repos := []RepositoryLockReport{}
	for _, l := range inv.RepositoryLocks {
		repos = append(repos, RepositoryLockReport{Repository: l.Repository, DeleteEnabled: !l.DeleteDisabled, WriteEnabled: !l.WriteDisabled, LockedImages: byRepo[l.Repository]})
	}
	return locked, inv.LockLevels(), repos
}

// lockSummary is what the text summary says of the locks: how many images
// they hold and by what, each image held by other than its repository's
// lock, and each repository lock.
func lockSummary(w io.Writer, r *RegistryReport) {
	if r.LocksUnread > 0 {
		fmt.Fprintf(w, "locks: repository and tag locks read only where the plan deletes; %d of %d repositories not read (their images' own locks were)\n", r.LocksUnread, r.Repositories)
	}
	if len(r.Locked) > 0 {
		fmt.Fprintf(w, "locked: %d image%s held (%s)\n", len(r.Locked), plural(len(r.Locked)), model.LockLevelsText(r.LockedBy))
		for _, l := range r.Locked {
			if l.Level == model.LockRepository {
				continue
			}
			ref := l.Repository + "@" + l.Digest
			if len(l.Tags) > 0 {
				ref += " (" + strings.Join(l.Tags, ", ") + ")"
			}
			fmt.Fprintf(w, "  %s: %s\n", ref, l.Hold)
		}
	}
	for _, l := range r.RepositoryLocks {
		switch {
		case !l.WriteEnabled:
			fmt.Fprintf(w, "repository %s: writes disabled, %d image%s locked (repository)\n", l.Repository, l.LockedImages, plural(l.LockedImages))
		default:
			fmt.Fprintf(w, "repository %s: deletes disabled: it cannot be deleted, its images can\n", l.Repository)
		}
	}
}

// RecoveredReport is an unrecorded deletion and what became of it:
// outcome "deleted" (gone) or "present" (the delete never took).
type RecoveredReport struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Outcome    string `json:"outcome"`
}

// SkippedRepository is a repository that got no deletions, and why.
type SkippedRepository struct {
	Repository string `json:"repository"`
	Reason     string `json:"reason"`
}

// SkippedReport is a planned deletion that was not sent, and why (reasons
// that start "changed since the scan" mean the registry moved under it).
type SkippedReport struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Reason     string `json:"reason"`
}

// ImageReport is one image in a plan or among the deleted.
type ImageReport struct {
	Repository string       `json:"repository"`
	Digest     model.Digest `json:"digest"`
	Tags       []string     `json:"tags"`
	Created    time.Time    `json:"created"`
	// SizeBytes counts every blob of the image; ReclaimBytes only what its
	// deletion frees given the deletions before it.
	SizeBytes    int64    `json:"size_bytes"`
	ReclaimBytes int64    `json:"reclaim_bytes"`
	Reason       string   `json:"reason"`
	Children     []string `json:"children,omitempty"`
	// Pushed is the registry's push time where it records one (ACR), with
	// age_from: built as well as pushed.
	Pushed *time.Time `json:"pushed,omitempty"`
	// ConfigCreated is no longer set: ACR's ages are push times read
	// without the config (age_from: pushed), or the config's created time
	// itself (age_from: built, with pushed beside it). Kept so that readers
	// of the field do not break.
	ConfigCreated *time.Time `json:"config_created,omitempty"`
	AlreadyGone   bool       `json:"already_gone,omitempty"`
	// Left are planned platform manifests of a deleted index still
	// stored: a planned index sharing them was kept, or their DELETE
	// failed (then they are in failed too).
	Left []string `json:"left,omitempty"`
	// Launches counts the image's launches within keep_launched_within and
	// LastLaunch is its newest launch seen; both only with usage sources.
	Launches   *int       `json:"launches,omitempty"`
	LastLaunch *time.Time `json:"last_launch,omitempty"`
	// LastPulled is the registry's record of the image's last pull (ECR);
	// absent where the registry keeps none or never saw one.
	LastPulled *time.Time `json:"last_pulled,omitempty"`
	// VendorSizeBytes is the registry's own size of the image (ECR's
	// imageSizeInBytes): not deduplicated, never the reclaim.
	VendorSizeBytes int64 `json:"vendor_size_bytes,omitempty"`
}

// RegistryRuleReport is a retention rule the registry applies on its own
// (an ECR lifecycle policy).
type RegistryRuleReport struct {
	Repository string `json:"repository"`
	Kind       string `json:"kind"`
	Summary    string `json:"summary"`
}

// FailedReport is a deletion that did not succeed: a planned image, or a
// platform manifest of a deleted index (Index is then that index's
// digest).
type FailedReport struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Index      string `json:"index,omitempty"`
	Error      string `json:"error"`
	// Unknown: whether it took effect is unknown (no answer, and the
	// registry could not be asked); the next run's recovery settles it.
	Unknown bool `json:"unknown,omitempty"`
}

// ErrorReport is a scan problem; the rest of the scan was used. An error
// makes its repository skipped; a warning does not.
type ErrorReport struct {
	Repository string `json:"repository,omitempty"`
	Reference  string `json:"reference,omitempty"`
	Error      string `json:"error"`
	Warning    bool   `json:"warning,omitempty"`
}

// ChartReport is one tracked chart dependency, or one image a values file
// pins (kind image): then dependency is its YAML path, current its tag and
// latest its newest tag.
type ChartReport struct {
	// Kind is chart or image.
	Kind            string `json:"kind"`
	Repository      string `json:"repository"`
	File            string `json:"file"`
	Dependency      string `json:"dependency"`
	ChartRepository string `json:"chart_repository"`
	// Path and Image, of an image row: the image's YAML path in file and
	// its name.
	Path    string `json:"path,omitempty"`
	Image   string `json:"image,omitempty"`
	Current string `json:"current"`
	Latest  string `json:"latest"`
	// Proposed is what a pull request writes in place of current when
	// that is not latest as spelled: a range rewritten to admit latest
	// (~1.8.0), or latest in the pin's own spelling (v kept or left out).
	Proposed string `json:"proposed,omitempty"`
	// Status is up-to-date, outdated, pr-open, pr-opened, pr-updated,
	// edited, pr-closed, skipped or error.
	Status      string `json:"status"`
	PullRequest string `json:"pull_request,omitempty"`
	Error       string `json:"error,omitempty"`
	// Warning: the PR is open but lacks a label or reviewer asked for.
	Warning string `json:"warning,omitempty"`
	// PullRequestState is open (pull_request is open: pr-open, pr-opened,
	// pr-updated, edited, or outdated with an older PR), closed
	// (pr-closed), merged (no open PR, and the last run's was merged
	// since), or absent.
	PullRequestState string `json:"pull_request_state,omitempty"`
	// Of the open PR, as GitHub reported it during the check (absent for
	// a PR this run opened or updated): when it was opened, mergeable
	// (absent while GitHub computes it), mergeable_state (clean, dirty,
	// blocked, behind, unstable, has_hooks, draft, unknown), and the
	// checks of its head commit (passing, failing, pending, none, unknown)
	// with the failing ones named.
	PullRequestCreatedAt *time.Time `json:"pull_request_created_at,omitempty"`
	Mergeable            *bool      `json:"mergeable,omitempty"`
	MergeableState       string     `json:"mergeable_state,omitempty"`
	Checks               string     `json:"checks,omitempty"`
	FailingChecks        []string   `json:"failing_checks,omitempty"`
	// MergedSinceLastRun is a PR the last run recorded open for this
	// dependency that has been merged since: the bump is deployed.
	MergedSinceLastRun *MergedReport `json:"merged_since_last_run,omitempty"`
}

// MergedReport is a merged pull request.
type MergedReport struct {
	Number   int       `json:"number"`
	URL      string    `json:"url"`
	MergedAt time.Time `json:"merged_at"`
}

// chartReport is a dependency's row in the report.
func chartReport(r model.DependencyStatus) ChartReport {
	c := ChartReport{
		Kind:       string(cmp.Or(r.Kind, model.KindChart)),
		Repository: r.Repository, File: r.File, Dependency: r.Dependency, ChartRepository: r.ChartRepository,
		Path: r.Path, Image: r.Image,
		Current: r.Current, Latest: r.Latest.Version, Status: string(r.State), PullRequest: r.PRURL, Error: r.Error,
		Warning: r.Warning, PullRequestState: r.PullRequestState(),
		Mergeable: r.PRMergeable, MergeableState: r.PRMergeableState, Checks: string(r.PRChecks), FailingChecks: r.PRFailedChecks,
	}
	if r.Latest.Version != "" && !r.IsImage() && r.State != model.StateUpToDate && r.State != model.StateError && r.State != model.StateSkipped {
		if pin := r.Bump().Pin(); pin != r.Latest.Version {
			c.Proposed = pin
		}
	}
	if !r.PRCreatedAt.IsZero() {
		t := r.PRCreatedAt
		c.PullRequestCreatedAt = &t
	}
	if m := r.Merged; m != nil {
		c.MergedSinceLastRun = &MergedReport{Number: m.Number, URL: m.URL, MergedAt: m.MergedAt}
	}
	return c
}

// what is how the text summary names a row: the dependency, "image NAME
// at PATH", or "images" for a values file that could not be read.
func (c ChartReport) what() string {
	switch {
	case c.Kind != string(model.KindImage):
		return c.Dependency
	case c.Path == "":
		return "images"
	}
	return "image " + model.ImageDisplayName(c.Image) + " at " + c.Path
}

// prNote is what the text summary adds about a row's pull requests:
// " (checks failing: test; conflicts)", " merged #12 since the last run URL".
func prNote(c ChartReport) string {
	var parts []string
	if c.Checks != "" {
		checks := "checks " + c.Checks
		if len(c.FailingChecks) > 0 {
			checks += ": " + strings.Join(c.FailingChecks, ", ")
		}
		parts = append(parts, checks)
	}
	switch {
	case c.Mergeable != nil && !*c.Mergeable:
		parts = append(parts, "not mergeable ("+c.MergeableState+")")
	case c.Mergeable != nil:
		parts = append(parts, "mergeable ("+c.MergeableState+")")
	case c.MergeableState != "":
		parts = append(parts, "mergeable unknown")
	}
	note := ""
	if len(parts) > 0 {
		note = " (" + strings.Join(parts, "; ") + ")"
	}
	if m := c.MergedSinceLastRun; m != nil {
		note += fmt.Sprintf(" merged #%d since the last run %s", m.Number, m.URL)
	}
	return note
}

func imageReport(inv *model.Inventory, d model.Deletion) ImageReport {
	im := &inv.Images[d.Image]
	tags := im.Tags
	if tags == nil {
		tags = []string{}
	}
	return ImageReport{
		Repository:      im.Repository,
		Digest:          im.Digest,
		Tags:            tags,
		Created:         im.Created,
		SizeBytes:       inv.ImageSize(d.Image),
		ReclaimBytes:    d.Reclaim,
		Reason:          string(d.Reason),
		Children:        model.DigestStrings(d.Children),
		Pushed:          timeOrNil(im.Pushed),
		ConfigCreated:   timeOrNil(im.ConfigCreated),
		LastPulled:      timeOrNil(im.LastPulled),
		VendorSizeBytes: im.VendorSize,
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// timeOrNil is t, or nil when it is zero (absent from the report).
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
