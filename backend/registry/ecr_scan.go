package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// ecrImage is what DescribeImages says of one image.
type ecrImage struct {
	digest, mediaType string
	tags              []string
	pushed, pulled    time.Time
	size              int64
}

func (im ecrImage) listedDigest() string { return im.digest }
func (im ecrImage) listedTagged() bool   { return len(im.tags) > 0 }

// Scan lists the repositories, then every image of each (and its
// lifecycle policy), then reads each distinct manifest by digest, at most
// once and not at all when the digest cache or the previous scan has it.
func (e *ECR) Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := e.tokens.get(ctx); err != nil {
		return nil, err
	}
	s := newScanner(e.Client)
	s.skipConfigs = e.ageFrom == AgeFromPushed
	known := e.prev.take(!s.skipConfigs) // before the listing: seed.go
	defer s.endCache(nil)
	scannedAt := e.now()
	stop := s.runProgress(progress)
	defer stop()

	var repos []string
	pager := ecr.NewDescribeRepositoriesPaginator(e.api, &ecr.DescribeRepositoriesInput{RegistryId: e.regID(), MaxResults: aws.Int32(ecrPage)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = ecrCallError(fmt.Sprintf("list repositories of %s (DescribeRepositories) after %d", e.host, len(repos)), err)
			if len(repos) == 0 {
				return nil, err
			}
			s.addError(model.ScanError{Error: err.Error() + "; the repositories listed so far are scanned"})
			break
		}
		for _, r := range page.Repositories {
			if r.RepositoryName != nil {
				repos = append(repos, *r.RepositoryName)
			}
		}
		s.nRepos.Store(int64(len(repos)))
		s.bump()
	}
	slices.Sort(repos)
	repos = slices.Compact(repos)

	images := make([][]ecrImage, len(repos))
	rules := make([]*model.RegistryRule, len(repos))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.concurrency)
	for k, repo := range repos {
		g.Go(func() error {
			ims, err := e.listImages(gctx, repo)
			if err == nil {
				rules[k], err = e.lifecycleRule(gctx, repo)
			}
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				s.addError(model.ScanError{Repository: repo, Error: err.Error()})
			}
			images[k] = ims
			s.nImages.Add(int64(len(ims)))
			s.nReposDone.Add(1)
			s.bump()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	if err := readListed(ctx, s, repos, images, known, nil); err != nil {
		return nil, err
	}
	s.configs.reset()
	inv := e.assemble(s, repos, images, rules, scannedAt)
	s.endCache(inv)
	e.prev.set(inv)
	return inv, nil
}

// listImages pages through DescribeImages of repo.
func (e *ECR) listImages(ctx context.Context, repo string) ([]ecrImage, error) {
	var out []ecrImage
	pager := ecr.NewDescribeImagesPaginator(e.api, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), RegistryId: e.regID(), MaxResults: aws.Int32(ecrPage)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return out, ecrCallError(fmt.Sprintf("list images of %s (DescribeImages) after %d", repo, len(out)), err)
		}
		for _, d := range page.ImageDetails {
			if d.ImageDigest == nil {
				continue
			}
			im := ecrImage{digest: *d.ImageDigest, mediaType: aws.ToString(d.ImageManifestMediaType), tags: slices.Clone(d.ImageTags),
				pushed: aws.ToTime(d.ImagePushedAt).UTC(), pulled: aws.ToTime(d.LastRecordedPullTime).UTC(), size: aws.ToInt64(d.ImageSizeInBytes)}
			if d.LastRecordedPullTime == nil {
				im.pulled = time.Time{}
			}
			if d.ImagePushedAt == nil {
				im.pushed = time.Time{}
			}
			slices.Sort(im.tags)
			out = append(out, im)
		}
	}
	// a page boundary may meet an image deleted meanwhile twice: keep one
	slices.SortFunc(out, func(a, b ecrImage) int { return strings.Compare(a.digest, b.digest) })
	return slices.CompactFunc(out, func(a, b ecrImage) bool { return a.digest == b.digest }), nil
}

// lifecycleRule reads repo's lifecycle policy; nil when it has none.
func (e *ECR) lifecycleRule(ctx context.Context, repo string) (*model.RegistryRule, error) {
	out, err := e.api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo), RegistryId: e.regID()})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "LifecyclePolicyNotFoundException" {
		return nil, nil
	}
	if err != nil {
		return nil, ecrCallError(fmt.Sprintf("read the lifecycle policy of %s (GetLifecyclePolicy)", repo), err)
	}
	text := aws.ToString(out.LifecyclePolicyText)
	return &model.RegistryRule{Repository: repo, Kind: "ECR lifecycle policy", Summary: SummarizeLifecyclePolicy(text), Text: text}, nil
}

// ecrLifecycleRule is a rule of an ECR lifecycle policy, as far as
// SummarizeLifecyclePolicy reads it.
type ecrLifecycleRule struct {
	RulePriority int    `json:"rulePriority"`
	Description  string `json:"description"`
	Selection    struct {
		TagStatus      string   `json:"tagStatus"`
		TagPrefixList  []string `json:"tagPrefixList"`
		TagPatternList []string `json:"tagPatternList"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit"`
		CountNumber    int      `json:"countNumber"`
	} `json:"selection"`
	Action struct {
		Type string `json:"type"`
	} `json:"action"`
}

// SummarizeLifecyclePolicy says in a line what an ECR lifecycle policy
// expires, rule by rule in priority order.
func SummarizeLifecyclePolicy(text string) string {
	var pol struct {
		Rules []ecrLifecycleRule `json:"rules"`
	}
	if err := json.Unmarshal([]byte(text), &pol); err != nil || len(pol.Rules) == 0 {
		return "a lifecycle policy this version cannot read; see it with aws ecr get-lifecycle-policy"
	}
	slices.SortFunc(pol.Rules, func(a, b ecrLifecycleRule) int { return cmp.Compare(a.RulePriority, b.RulePriority) })
	var parts []string
	for _, r := range pol.Rules {
		sel := r.Selection
		what := strings.ToLower(sel.TagStatus) + " images"
		if sel.TagStatus == "" || sel.TagStatus == "any" {
			what = "images"
		}
		if pats := append(slices.Clone(sel.TagPrefixList), sel.TagPatternList...); len(pats) > 0 {
			what += " tagged " + strings.Join(pats, ", ")
		}
		var when string
		switch sel.CountType {
		case "imageCountMoreThan":
			when = fmt.Sprintf("beyond the newest %d", sel.CountNumber)
		case "sinceImagePushed":
			when = fmt.Sprintf("pushed more than %d %s ago", sel.CountNumber, sel.CountUnit)
		case "sinceImagePulled":
			when = fmt.Sprintf("not pulled for %d %s", sel.CountNumber, sel.CountUnit)
		default:
			when = sel.CountType
		}
		action := r.Action.Type
		if action == "" {
			action = "expire"
		}
		parts = append(parts, fmt.Sprintf("rule %d: %s %s %s", r.RulePriority, action, what, when))
	}
	return strings.Join(parts, "; ")
}

// assemble builds the inventory from the listing and the manifests read.
func (e *ECR) assemble(s *scanner, repos []string, images [][]ecrImage, rules []*model.RegistryRule, scannedAt time.Time) *model.Inventory {
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetRepositories(len(repos))
	b.SetVendorSizeName("ECR size")
	errs := slices.Clone(s.errs)
	for k, repo := range repos {
		if rules[k] != nil {
			b.AddRegistryRule(*rules[k])
		}
		child := map[string]bool{}
		for _, im := range images[k] {
			if info := s.manifests.peek(im.digest); info != nil && info.err == nil {
				for _, c := range info.children() {
					child[c] = true
				}
			}
		}
		for _, im := range images[k] {
			info := s.manifests.peek(im.digest)
			if child[im.digest] && len(im.tags) == 0 {
				continue // a platform manifest: part of its index
			}
			ref := repo + "@" + im.digest
			switch {
			case info == nil:
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: "manifest not read"})
				continue
			case info.err != nil:
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: info.err.Error()})
				continue
			}
			for _, w := range info.warnings() {
				errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
			}
			mi := model.Image{
				Repository: repo, Digest: model.ParseDigest(im.digest), Tags: im.tags, MediaType: im.mediaType,
				Platform: info.platform, Platforms: slices.Clone(info.platforms()), Children: model.ParseDigests(info.children()), Subject: model.DigestRef(info.subject()),
				LastPulled: im.pulled, VendorSize: im.size,
			}
			if mi.MediaType == "" {
				mi.MediaType = info.mediaType
			}
			agePushed(&mi, e.ageFrom, im.pushed, info)
			if err := info.addTo(b, mi); err != nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
			}
		}
		images[k] = nil
	}
	return withErrors(b, errs)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
