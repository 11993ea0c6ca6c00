package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/imagetags"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/backend/values"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// The images a chart entry's values files pin (charts[].values): a row
// per image reference beside the entry's chart rows, with the same states
// and the same pull requests. An image row's Dependency is the image's
// YAML path, so that its branch, its duplicate detection and its history
// are keyed by repository, values file and path.
//
// States particular to images:
//   - up-to-date only when the registry lists the pinned tag and has
//     nothing newer of its shape; a pin it does not list, with nothing
//     newer, is an error;
//   - a reference by digest is skipped, with a warning: a digest names one
//     build, and is left alone;
//   - a tag of no known order (main, stable) is skipped, with a warning;
//   - a placeholder tag (set-by-chartpress, latest, empty, a template) and
//     an image the entry's images rules leave out have no row;
//   - a registry that cannot be reached is an error row naming its host;
//     each lookup is bounded by the retry policy, and the entries' values
//     files are checked while the chart files are.

// WithImageTagOptions passes options to the image tag client (after the
// engine's own: the retry policy, the keychain, the Azure identity).
func WithImageTagOptions(opts ...imagetags.Option) Option {
	return func(o *buildOptions) { o.imagetags = append(o.imagetags, opts...) }
}

// ImageTags builds the client that lists the tags of the images values
// files pin: under the retry policy, logged in through the docker
// configuration's keychain, and to Azure Container Registries (and the
// configured registry when its flavor is acr) with the Azure identity,
// built when first asked for a token, as for chart repositories; extra
// options come before WithImageTagOptions'.
func (b *Builder) ImageTags(extra ...imagetags.Option) *imagetags.Client {
	var acrHosts []string
	if r := b.cfg.Registry; r.URL != "" && r.Flavor == config.FlavorACR {
		acrHosts = append(acrHosts, r.URL)
	}
	opts := []imagetags.Option{imagetags.WithRetry(b.retryPolicy()), imagetags.WithKeychain(authn.DefaultKeychain),
		imagetags.WithAzureCredential(lazyCredential{b.res}, acrHosts...)}
	opts = append(append(opts, extra...), b.o.imagetags...)
	return imagetags.New(opts...)
}

// imageTagClients makes a check's image tag client: a new one each check,
// so that a refresh sees tags pushed since (a client keeps what it
// learns), over one transport, so that connections are reused.
func (b *Builder) imageTagClients() func() *imagetags.Client {
	t := retry.NewBaseTransport(b.retryPolicy())
	t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 2*imagetags.DefaultConcurrency)
	return func() *imagetags.Client { return b.ImageTags(imagetags.WithTransport(t)) }
}

// tracksImages reports whether some entry lists values files.
func tracksImages(entries []config.Chart) bool {
	return slices.ContainsFunc(entries, func(e config.Chart) bool { return len(e.Values) > 0 })
}

// startImages checks the values files of every entry in the background
// with a new image tag client; the function it returns waits for entry
// i's rows.
func (c *Charts) startImages(ctx context.Context) func(i int) []model.DependencyStatus {
	rows := make([][]model.DependencyStatus, len(c.entries))
	if c.newImages == nil || !tracksImages(c.entries) {
		return func(int) []model.DependencyStatus { return nil }
	}
	cli := c.newImages()
	var wg sync.WaitGroup
	for i, e := range c.entries {
		if len(e.Values) > 0 {
			wg.Go(func() { rows[i] = c.checkImages(ctx, cli, e) })
		}
	}
	return func(i int) []model.DependencyStatus {
		wg.Wait()
		return rows[i]
	}
}

// entryRows is an entry's rows: its chart rows, marked as such, then its
// image rows.
func entryRows(e config.Chart, charts, images []model.DependencyStatus) []model.DependencyStatus {
	for i := range charts {
		charts[i].Kind, charts[i].Entry = model.KindChart, e.File
	}
	return append(charts, images...)
}

// checkImages checks every values file of e, in parallel: its rows, in the
// order of e.Values and of each file.
func (c *Charts) checkImages(ctx context.Context, cli *imagetags.Client, e config.Chart) []model.DependencyStatus {
	owner, name, _ := strings.Cut(e.Repository, "/")
	base := e.Base
	if base == "" {
		b, err := c.gh.DefaultBranch(ctx, owner, name)
		if err != nil {
			var out []model.DependencyStatus
			for _, file := range e.Values {
				out = append(out, imageError(e, "", file, err))
			}
			return out
		}
		base = b
	}
	perFile := make([][]model.DependencyStatus, len(e.Values))
	var wg sync.WaitGroup
	for i, file := range e.Values {
		wg.Go(func() { perFile[i] = c.checkValues(ctx, cli, e, base, file) })
	}
	wg.Wait()
	var out []model.DependencyStatus
	for _, rows := range perFile {
		out = append(out, rows...)
	}
	return out
}

// imageError is the error row of a values file that cannot be checked.
func imageError(e config.Chart, base, file string, err error) model.DependencyStatus {
	return model.DependencyStatus{Kind: model.KindImage, Repository: e.Repository, File: file, Base: base, Entry: e.File,
		Group: e.Group, State: model.StateError, Error: err.Error()}
}

// checkValues reads one values file at base and checks the images it
// pins that e's rules admit.
func (c *Charts) checkValues(ctx context.Context, cli *imagetags.Client, e config.Chart, base, file string) []model.DependencyStatus {
	owner, name, _ := strings.Cut(e.Repository, "/")
	content, _, err := c.gh.GetFile(ctx, owner, name, file, base)
	if err != nil {
		return []model.DependencyStatus{imageError(e, base, file, err)}
	}
	c.mu.Lock()
	c.files[fileKey{e.Repository, file}] = fileState{base: base, content: content}
	c.mu.Unlock()
	_, results, err := cli.CheckFile(ctx, file, content, e.Images.Model())
	if err != nil {
		return []model.DependencyStatus{imageError(e, base, file, fmt.Errorf("%s: %w", e.Repository, err))}
	}
	rows := make([]model.DependencyStatus, len(results))
	var wg sync.WaitGroup
	for i, res := range results {
		wg.Go(func() { rows[i] = imageRow(ctx, cli, e, base, file, res) })
	}
	wg.Wait()
	for i := range rows {
		r := &rows[i]
		if r.State != model.StateOutdated || r.Group {
			continue // a grouped entry's rows are looked at together (markGroupPR)
		}
		if _, err := c.markPR(ctx, []*model.DependencyStatus{r}, github.BranchName(r.File, r.Dependency)); err != nil {
			r.State, r.Error = model.StateError, err.Error()
		}
	}
	return rows
}

// imageRow is the row of one checked reference. An outdated one gets its
// newest tag's created time and the source and compare links its pull
// request's body shows, when the image says (best effort).
func imageRow(ctx context.Context, cli *imagetags.Client, e config.Chart, base, file string, res imagetags.Result) model.DependencyStatus {
	ref := res.Reference
	row := model.DependencyStatus{Kind: model.KindImage, Repository: e.Repository, File: file, Base: base, Entry: e.File,
		Group: e.Group, Dependency: ref.Path, Path: ref.Path, Image: ref.Image, Line: ref.Line, Current: ref.Tag}
	where := fmt.Sprintf("%s %s line %d", e.Repository, file, ref.Line)
	var unordered *model.UnorderedTagError
	switch {
	case ref.Kind == values.ByDigest:
		row.Current = ref.Digest
		if ref.Tag != "" {
			row.Current = ref.Tag + "@" + ref.Digest
		}
		row.State = model.StateSkipped
		row.Warning = fmt.Sprintf("%s is pinned by digest: a digest names one build, left alone (pin a tag to have it followed)", ref.Written)
	case errors.As(res.Err, &unordered):
		row.State = model.StateSkipped
		row.Warning = fmt.Sprintf("%v; not followed: pin a tag with a version, or leave the image out with images.exclude", res.Err)
	case res.Err != nil:
		row.State, row.Error = model.StateError, fmt.Sprintf("%s: %v", where, res.Err)
	case !res.HasNewer() && res.Listed:
		row.State, row.Latest = model.StateUpToDate, model.ChartVersion{Version: ref.Tag}
	case !res.HasNewer():
		row.State = model.StateError
		row.Error = fmt.Sprintf("%s: %s does not list the tag %s of %s, and lists no newer tag of its shape", where, ref.Registry, ref.Tag, ref.Image)
	default:
		newest := res.Newest
		row.Latest = model.ChartVersion{Version: newest.Tag, Created: newest.Created}
		if err := ref.CanSetTag(); err != nil {
			row.State, row.Error = model.StateError, fmt.Sprintf("%s: %s has %s newer, but %v", where, ref.Image, newest.Tag, err)
			return row
		}
		row.State = model.StateOutdated
		if src, err := cli.Sources(ctx, ref.Image, ref.Tag, newest.Tag); err == nil && src.Source != "" {
			row.Latest.Sources, row.ImageCompare = []string{src.Source}, src.CompareURL
		}
		if d, err := cli.Describe(ctx, ref.Image, newest.Tag); err == nil { // read by Sources: no request
			row.Latest.Digest = d.Digest
			if row.Latest.Created.IsZero() {
				row.Latest.Created = d.Created
			}
		}
	}
	return row
}

// fileEdits groups deps by the file they edit, in the order they come.
type fileEdits struct {
	file string
	deps []model.DependencyStatus
}

func byFile(deps []model.DependencyStatus) []fileEdits {
	var out []fileEdits
	for _, d := range deps {
		i := slices.IndexFunc(out, func(f fileEdits) bool { return f.file == d.File })
		if i < 0 {
			i = len(out)
			out = append(out, fileEdits{file: d.File})
		}
		out[i].deps = append(out[i].deps, d)
	}
	return out
}

// editEntry is a pull request's edit of the files of one entry: the chart
// bumps in the chart file (and its lock file), the image tags in each
// values file.
func editEntry(cur github.Files, deps []model.DependencyStatus) (github.Files, error) {
	out := github.Files{}
	for _, g := range byFile(deps) {
		if g.deps[0].IsImage() {
			edited, err := applyBumps(cur[g.file], g.deps)
			if err != nil {
				return nil, err
			}
			out[g.file] = edited
			continue
		}
		edited, err := applyFiles(g.file, cur, g.deps)
		if err != nil {
			return nil, err
		}
		for f, content := range edited {
			out[f] = content
		}
	}
	return out, nil
}
