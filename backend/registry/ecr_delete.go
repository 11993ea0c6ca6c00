package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	gcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
)

// BatchLimit is the most image ids one BatchDeleteImage takes (100).
func (e *ECR) BatchLimit() int { return ecrBatch }

// DeleteManifest deletes repository@digest (and its tags) with
// BatchDeleteImage, joined with the other deletions under way in the
// repository into one call of up to 100 image ids; at most the client's
// concurrency (WithConcurrency) of calls are in flight. ECR's per-image
// failures map onto the delete errors as DeleteBatch says. A deletion
// whose ctx ends before its call goes out is not sent; once it is out,
// its answer is waited for.
func (e *ECR) DeleteManifest(ctx context.Context, repository, digest string) error {
	if _, err := v1.NewHash(digest); err != nil {
		return fmt.Errorf("delete %s@%s: not a digest: %w", repository, digest, err)
	}
	return e.batches.delete(ctx, repository, digest)
}

// DeleteBatch deletes digests of repository (and their tags) with one
// BatchDeleteImage. ECR's per-image failures map onto the delete errors:
// ImageNotFound (and a repository that is gone) matches ErrNotFound;
// ImageReferencedByManifestList (a platform manifest of a manifest list
// that stays) is a refusal; the others name ECR's failure code. A digest
// that is not one fails alone, unsent.
func (e *ECR) DeleteBatch(ctx context.Context, repository string, digests []string) ([]error, error) {
	failed := make([]error, len(digests))
	var ids []types.ImageIdentifier
	for k, d := range digests {
		if _, err := v1.NewHash(d); err != nil {
			failed[k] = fmt.Errorf("delete %s@%s: not a digest: %w", repository, d, err)
			continue
		}
		ids = append(ids, types.ImageIdentifier{ImageDigest: aws.String(d)})
	}
	if len(ids) == 0 {
		return failed, nil
	}
	out, err := e.api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repository), RegistryId: e.regID(), ImageIds: ids})
	if err != nil {
		op := fmt.Sprintf("delete %d image(s) of %s (BatchDeleteImage)", len(ids), repository)
		if len(ids) == 1 {
			op = fmt.Sprintf("delete %s@%s (BatchDeleteImage)", repository, aws.ToString(ids[0].ImageDigest))
		}
		err = ecrCallError(op, err)
		var ce *CallError
		if errors.As(err, &ce) && ce.HasCode("AccessDeniedException") {
			ce.Hint = "the AWS credentials may not delete: allow ecr:BatchDeleteImage on the repository"
		}
		return nil, err
	}
	for _, f := range out.Failures {
		d := aws.ToString(f.ImageId.ImageDigest)
		for k := range digests {
			if digests[k] == d && failed[k] == nil {
				failed[k] = ecrFailure(repository, d, string(f.FailureCode), aws.ToString(f.FailureReason))
			}
		}
	}
	return failed, nil
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
