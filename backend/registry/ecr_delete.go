package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	gcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
)

// ecrBatcher joins the deletions under way in a repository into
// BatchDeleteImage calls of up to ecrBatch image ids: while one call is
// out, the deletions asked meanwhile queue, and go out together when it
// returns. Each deletion gets its own image's outcome.
type ecrBatcher struct {
	e      *ECR
	mu     sync.Mutex
	queues map[string][]*ecrBatchCall // by repository; present while a sender runs
}

// ecrBatchCall is one BatchDeleteImage call in the making.
type ecrBatchCall struct {
	digests []string
	done    chan struct{}
	results map[string]error // by digest; absent: deleted
	err     error            // the whole call failed
}

// DeleteManifest deletes repository@digest (and its tags) with
// BatchDeleteImage, joined with the other deletions under way in the
// repository. ECR's per-image failures map onto the delete errors:
// ImageNotFound (and a repository that is gone) matches ErrNotFound;
// ImageReferencedByManifestList (a platform manifest of a manifest list
// that stays) is a refusal; the others name ECR's failure code.
func (e *ECR) DeleteManifest(ctx context.Context, repository, digest string) error {
	ref := repository + "@" + digest
	if _, err := v1.NewHash(digest); err != nil {
		return fmt.Errorf("delete %s: not a digest: %w", ref, err)
	}
	b := e.batches
	b.mu.Lock()
	q, running := b.queues[repository]
	var c *ecrBatchCall
	if n := len(q); n > 0 && len(q[n-1].digests) < ecrBatch {
		c = q[n-1]
	} else {
		c = &ecrBatchCall{done: make(chan struct{}), results: map[string]error{}}
		b.queues[repository] = append(q, c)
	}
	c.digests = append(c.digests, digest)
	b.mu.Unlock()
	if !running {
		go b.send(context.WithoutCancel(ctx), repository)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("delete %s: %w", ref, ctx.Err())
	}
	if c.err != nil {
		return c.err
	}
	return c.results[digest]
}

// send sends the repository's queued calls one after the other until none
// is left.
func (b *ecrBatcher) send(ctx context.Context, repo string) {
	for {
		b.mu.Lock()
		q := b.queues[repo]
		if len(q) == 0 {
			delete(b.queues, repo)
			b.mu.Unlock()
			return
		}
		c := q[0]
		b.queues[repo] = q[1:]
		b.mu.Unlock()
		dctx, cancel := context.WithTimeout(ctx, deleteTimeout)
		b.e.batchDelete(dctx, repo, c)
		cancel()
		close(c.done)
	}
}

// batchDelete makes one BatchDeleteImage call and sorts its outcome by
// image.
func (e *ECR) batchDelete(ctx context.Context, repo string, c *ecrBatchCall) {
	ids := make([]types.ImageIdentifier, len(c.digests))
	for i, d := range c.digests {
		ids[i] = types.ImageIdentifier{ImageDigest: aws.String(d)}
	}
	out, err := e.api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), RegistryId: e.regID(), ImageIds: ids})
	if err != nil {
		op := fmt.Sprintf("delete %d image(s) of %s (BatchDeleteImage)", len(ids), repo)
		if len(ids) == 1 {
			op = fmt.Sprintf("delete %s@%s (BatchDeleteImage)", repo, c.digests[0])
		}
		c.err = ecrCallError(op, err)
		var ce *CallError
		if errors.As(c.err, &ce) && ce.HasCode("AccessDeniedException") {
			ce.Hint = "the AWS credentials may not delete: allow ecr:BatchDeleteImage on the repository"
		}
		return
	}
	for _, f := range out.Failures {
		d := aws.ToString(f.ImageId.ImageDigest)
		if d == "" {
			continue
		}
		c.results[d] = ecrFailure(repo, d, string(f.FailureCode), aws.ToString(f.FailureReason))
	}
}

// ecrFailure is BatchDeleteImage's failure of one image as a *CallError:
// the call was answered, the image was not deleted. Its Status is the
// HTTP status the failure amounts to (ImageNotFound 404, a refusal 409,
// an upstream's or KMS's trouble 424, a bad request 400), never a 5xx, so that Apply does not
// take it for a deletion that may have happened.
func ecrFailure(repo, digest, code, reason string) error {
	ce := &CallError{Op: fmt.Sprintf("delete %s@%s (BatchDeleteImage)", repo, digest), Codes: []string{code}, Detail: code, err: errors.New(code)}
	if reason != "" {
		ce.Detail += ": " + reason
	}
	switch code {
	case string(types.ImageFailureCodeImageNotFound):
		ce.Status, ce.sentinel, ce.Hint = http.StatusNotFound, ErrNotFound, "already gone"
	case string(types.ImageFailureCodeImageReferencedByManifestList):
		ce.Status, ce.Hint = http.StatusConflict, "a manifest list that stays references it; ECR refuses to delete it"
	case string(types.ImageFailureCodeUpstreamAccessDenied), string(types.ImageFailureCodeUpstreamTooManyRequests),
		string(types.ImageFailureCodeUpstreamUnavailable), string(types.ImageFailureCodeKmsError), string(types.ImageFailureCodeImageInaccessible):
		ce.Status, ce.Hint = http.StatusFailedDependency, "ECR could not delete it now; the next run tries again"
	default:
		ce.Status = http.StatusBadRequest
	}
	return ce
}

// Exists asks DescribeImages whether repository@digest is in the registry.
func (e *ECR) Exists(ctx context.Context, repository, digest string) (bool, error) {
	_, err := e.api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repository), RegistryId: e.regID(),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digest)}}})
	if err == nil {
		return true, nil
	}
	err = ecrCallError(fmt.Sprintf("look up %s@%s (DescribeImages)", repository, digest), err)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return false, err
}

// Current re-reads the repository through DescribeImages: every tag and
// its digest, and the platform manifests of the tagged manifest lists the
// scan did not know (read through the distribution API). ECR has no locks.
func (e *ECR) Current(ctx context.Context, repository string, known func(digest string) bool) (Current, error) {
	cur := Current{Tags: map[string][]string{}, Referenced: map[string]bool{}}
	ims, err := e.listImages(ctx, repository)
	if errors.Is(err, ErrNotFound) {
		return cur, nil // the repository is gone: nothing is tagged
	}
	if err != nil {
		return cur, fmt.Errorf("re-read %s: %w", repository, err)
	}
	p, err := e.puller(e.pageSize)
	if err != nil {
		return cur, fmt.Errorf("re-read %s: %w", repository, err)
	}
	r := e.reg.Repo(repository)
	for _, im := range ims {
		if len(im.tags) > 0 {
			cur.Tags[im.digest] = im.tags
		}
		if known(im.digest) || len(im.tags) == 0 || !gcrtypes.MediaType(im.mediaType).IsIndex() {
			continue
		}
		got, err := p.Get(ctx, r.Digest(im.digest))
		if err != nil {
			return cur, describe(fmt.Sprintf("read new index %s@%s", repository, im.digest), err)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(got.Manifest))
		if err != nil {
			return cur, fmt.Errorf("new index %s@%s does not parse: %w", repository, im.digest, err)
		}
		for _, m := range idx.Manifests {
			cur.Referenced[m.Digest.String()] = true
		}
	}
	return cur, nil
}

// probeDigest is a digest no image has: BatchDeleteImage of it deletes
// nothing, and says whether the credentials may delete.
var probeDigest = "sha256:" + strings.Repeat("0", 64)

// Probe logs in, lists one page of repositories, and asks
// BatchDeleteImage to delete an image no repository holds (the all-zero
// digest) in the first one: AccessDeniedException says the credentials
// may not delete, ImageNotFound that they may. Nothing is deleted. The
// repository policy is read too: a Deny of ecr:BatchDeleteImage is named.
// Then IAM's policy simulator is asked what the caller may do there
// (optional: see simulate); it never overrides the real call.
func (e *ECR) Probe(ctx context.Context) (Probe, error) {
	if _, err := e.tokens.get(ctx); err != nil {
		return Probe{}, err
	}
	out, err := e.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: e.regID(), MaxResults: aws.Int32(ProbePage)})
	if err != nil {
		return Probe{}, ecrCallError("list repositories of "+e.host+" (DescribeRepositories)", err)
	}
	p := Probe{Delete: DeleteUnknown, DeleteDetail: "no repository to ask"}
	for _, r := range out.Repositories {
		p.Repositories = append(p.Repositories, aws.ToString(r.RepositoryName))
	}
	slices.Sort(p.Repositories)
	if len(p.Repositories) == 0 {
		return p, nil
	}
	repo := p.Repositories[0]
	bd, err := e.api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), RegistryId: e.regID(),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(probeDigest)}}})
	ce := &CallError{}
	switch {
	case err == nil && len(bd.Failures) == 1 && bd.Failures[0].FailureCode == types.ImageFailureCodeImageNotFound:
		p.Delete, p.DeleteDetail = DeleteGranted, fmt.Sprintf("BatchDeleteImage of an image that does not exist in %s answered ImageNotFound: the credentials may call it", repo)
	case errors.As(ecrCallError("", err), &ce) && ce.HasCode("AccessDeniedException"):
		p.Delete, p.DeleteDetail = DeleteDenied, fmt.Sprintf("BatchDeleteImage in %s: AccessDeniedException; allow ecr:BatchDeleteImage", repo)
	case err != nil:
		p.DeleteDetail = ecrCallError("BatchDeleteImage in "+repo, err).Error()
	default:
		p.DeleteDetail = fmt.Sprintf("BatchDeleteImage in %s answered %d failures for an image that does not exist", repo, len(bd.Failures))
	}
	pol, err := e.api.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(repo), RegistryId: e.regID()})
	policy := ""
	if err == nil {
		policy = aws.ToString(pol.PolicyText)
	}
	if denies(policy, "ecr:BatchDeleteImage") {
		p.DeleteDetail += fmt.Sprintf("; the repository policy of %s has a Deny naming ecr:BatchDeleteImage (for some principals)", repo)
	}
	p.DeleteDetail += "; " + e.simulate(ctx, repo, policy, p.Delete)
	return p, nil
}

// denies reports whether an IAM policy document has a Deny statement
// whose actions cover action (exactly, ecr:*, or *).
func denies(policy, action string) bool {
	var doc struct {
		Statement []struct {
			Effect string `json:"Effect"`
			Action any    `json:"Action"`
		} `json:"Statement"`
	}
	if err := jsonUnmarshal(policy, &doc); err != nil {
		return false
	}
	for _, st := range doc.Statement {
		if st.Effect != "Deny" {
			continue
		}
		var acts []string
		switch a := st.Action.(type) {
		case string:
			acts = []string{a}
		case []any:
			for _, x := range a {
				if s, ok := x.(string); ok {
					acts = append(acts, s)
				}
			}
		}
		for _, a := range acts {
			if strings.EqualFold(a, action) || a == "*" || strings.EqualFold(a, "ecr:*") {
				return true
			}
		}
	}
	return false
}
