package imagetags

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/values"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Result is what a check found for one image reference.
type Result struct {
	Reference values.Reference
	// Newest is the newest tag newer than the pin (with its created time
	// when it was read); zero when nothing is newer, for a reference by
	// digest (left alone) and on an error.
	Newest model.ImageTag
	// Listed: the registry lists the pinned tag. A pin it does not list,
	// with nothing newer, is not up to date: it is unknown there.
	Listed bool
	// Err says what failed, naming the registry's host; an
	// *model.UnorderedTagError for a pin of no known order.
	Err error
	// Elapsed is how long the lookup took.
	Elapsed time.Duration
}

// HasNewer reports whether a newer tag was found.
func (r Result) HasNewer() bool { return r.Newest.Tag != "" }

// Check finds the newest tag for ref under rules: the image's tags, and
// for a commit-hash pin the created times of the tags of its shape. A
// reference by digest is not looked up.
func (c *Client) Check(ctx context.Context, ref values.Reference, rules model.ImageRules) Result {
	start := time.Now()
	res := Result{Reference: ref}
	if ref.Kind == values.ByTag {
		res.Newest, res.Listed, res.Err = c.newest(ctx, ref, rules)
	}
	res.Elapsed = time.Since(start)
	return res
}

func (c *Client) newest(ctx context.Context, ref values.Reference, rules model.ImageRules) (model.ImageTag, bool, error) {
	tags, err := c.Tags(ctx, ref.Image)
	if err != nil {
		return model.ImageTag{}, false, err
	}
	listed := slices.Contains(tags, ref.Tag)
	its := make([]model.ImageTag, len(tags))
	for i, t := range tags {
		its[i] = model.ImageTag{Tag: t}
	}
	if model.ImageTagsNeedCreated(ref.Tag) {
		if !listed {
			return model.ImageTag{}, false, fmt.Errorf("%s:%s is a commit hash, ordered by created time, and %s does not list it", ref.Image, ref.Tag, ref.Registry)
		}
		if its, err = c.withCreated(ctx, ref, its, rules); err != nil {
			return model.ImageTag{}, listed, err
		}
	}
	newest, _, err := model.NewestImageTag(ref.Tag, its, rules)
	if err != nil {
		return model.ImageTag{}, listed, fmt.Errorf("%s:%s: %w", ref.Image, ref.Tag, err)
	}
	return newest, listed, nil
}

// withCreated keeps the pin and the tags of its shape, each with its
// image's created time, read in parallel.
func (c *Client) withCreated(ctx context.Context, ref values.Reference, tags []model.ImageTag, rules model.ImageRules) ([]model.ImageTag, error) {
	var keep []model.ImageTag
	for _, t := range tags {
		if t.Tag == ref.Tag || model.ImageTagComparable(ref.Tag, t.Tag, rules) {
			keep = append(keep, t)
		}
	}
	if len(keep) > c.maxDescribe {
		return nil, fmt.Errorf("%s has %d tags of the shape of %s, ordered by created time; more than the %d read for one image: pin a version, or narrow the image's rules", ref.Image, len(keep)-1, ref.Tag, c.maxDescribe)
	}
	errs := make([]error, len(keep))
	parallel(len(keep), func(i int) {
		d, err := c.Describe(ctx, ref.Image, keep[i].Tag)
		keep[i].Created, errs[i] = d.Created, err
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// parallel runs fn(0..n-1) at once; the registry calls they make take
// the Client's slots.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// CheckFile checks every image reference a values file pins that rules
// admit (by full name or as written), in parallel: one result per
// reference, in the file's order. Placeholders are skipped (f.Skipped);
// a file that does not parse is the error.
func (c *Client) CheckFile(ctx context.Context, file string, content []byte, rules model.ImageRules) (*values.File, []Result, error) {
	f, err := values.Parse(file, content)
	if err != nil {
		return nil, nil, err
	}
	var refs []values.Reference
	for _, r := range f.References {
		if rules.Admits(r.Image, r.Written) {
			refs = append(refs, r)
		}
	}
	out := make([]Result, len(refs))
	parallel(len(refs), func(i int) { out[i] = c.Check(ctx, refs[i], rules) })
	return f, out, nil
}

// Source is where an image's pull request links: the image's source
// repository and, when both tags name a commit, the compare link between
// them.
type Source struct {
	Source     string
	CompareURL string
}

// Sources reads what the images of tags from and to say of their source
// (the OCI source and revision labels); the commits come from the
// revision labels, else from the tags (2021.08.0-136.g47ea95a names
// 47ea95a). An image that says nothing is no error: Source is then empty.
func (c *Client) Sources(ctx context.Context, image, from, to string) (Source, error) {
	var old, cur Description
	var errOld, errCur error
	var wg sync.WaitGroup
	wg.Go(func() { old, errOld = c.Describe(ctx, image, from) })
	wg.Go(func() { cur, errCur = c.Describe(ctx, image, to) })
	wg.Wait()
	if errCur != nil {
		return Source{}, errCur
	}
	s := Source{Source: cur.Source}
	if errOld != nil || s.Source == "" {
		return s, nil // the old tag may be gone: the link to the source stands alone
	}
	commit := func(d Description) string {
		if d.Revision != "" {
			return d.Revision
		}
		h, _ := model.ImageTagCommit(d.Tag)
		return h
	}
	s.CompareURL, _ = model.ImageCompareURL(s.Source, commit(old), commit(cur))
	return s, nil
}
