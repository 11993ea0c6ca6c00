package ecrtest_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// loopbackOnly fails any request that is not to a loopback address: the
// SDK must reach nothing else (no IMDS, no AWS endpoint).
type loopbackOnly struct{ t *testing.T }

func (l loopbackOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	host, _, err := net.SplitHostPort(req.URL.Host)
	if err != nil {
		host = req.URL.Host
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		l.t.Errorf("request to %s left loopback", req.URL)
		return nil, fmt.Errorf("refused: %s is not loopback", req.URL.Host)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// sdkClient is aws-sdk-go-v2's ECR client on the stand-in, its retries off
// unless retries says.
func sdkClient(t *testing.T, srv *ecrtest.Server, secret string, retries int) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       ecrtest.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(ecrtest.AccessKeyID, secret, ""),
		BaseEndpoint: aws.String(srv.URL()),
		HTTPClient:   &http.Client{Transport: loopbackOnly{t}},
		Retryer: awsretry.NewStandard(func(o *awsretry.StandardOptions) {
			o.MaxAttempts = retries
			o.MaxBackoff = time.Millisecond
		}),
	})
}

type pushed struct {
	reg           *registrytest.Registry
	images        []string // repo "a": 25 images
	index, child  string   // repo "b": an index over child
	other, lonely string   // repo "b": a second image, untagged
}

func populate(t *testing.T) *pushed {
	reg := registrytest.Serve(t)
	p := &pushed{reg: reg}
	put := func(ref string, x remote.Taggable) string {
		r, err := name.ParseReference(reg.Host() + "/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		pu, err := remote.NewPusher()
		if err != nil {
			t.Fatal(err)
		}
		if err := pu.Push(t.Context(), r, x); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		d, err := x.(interface{ Digest() (v1.Hash, error) }).Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	img := func() v1.Image {
		im, err := random.Image(100, 2)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	for i := range 25 {
		p.images = append(p.images, put(fmt.Sprintf("a:t%02d", i), img()))
	}
	child := img()
	p.child = put("b@"+digestOf(t, child), child)
	p.index = put("b:multi", mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: child, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}}))
	p.other = put("b:other", img())
	lonely := img()
	p.lonely = put("b@"+digestOf(t, lonely), lonely)
	return p
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) string {
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestSignedRequests: the SDK's signed requests are accepted; a request
// signed with another secret, or not signed, is refused as AWS does.
func TestSignedRequests(t *testing.T) {
	p := populate(t)
	srv := ecrtest.Serve(t, p.reg)
	cases := []struct {
		name, secret string
		want         string // error code; "" accepted
	}{
		{"right secret", ecrtest.SecretAccessKey, ""},
		{"wrong secret", "not-the-secret", "InvalidSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdkClient(t, srv, tc.secret, 1).DescribeRepositories(t.Context(), &ecr.DescribeRepositoriesInput{})
			if got := apiCode(err); got != tc.want || tc.want == "" && err != nil {
				t.Errorf("got %v (code %q), want code %q", err, got, tc.want)
			}
		})
	}
	t.Run("unsigned", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"/", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
			t.Errorf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
		}
	})
	for _, r := range srv.Requests() {
		if r.Kind == ecrtest.KindAPI && r.Target != "DescribeRepositories" {
			t.Errorf("recorded target %q", r.Target)
		}
	}
}

// TestPaging pages through DescribeRepositories and DescribeImages with
// the SDK's paginators, which follow nextToken.
func TestPaging(t *testing.T) {
	p := populate(t)
	srv := ecrtest.Serve(t, p.reg)
	c := sdkClient(t, srv, ecrtest.SecretAccessKey, 1)
	for _, n := range []int32{1, 7, 10, 25, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var got []string
			pages := 0
			pg := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{RepositoryName: aws.String("a"), MaxResults: aws.Int32(n)})
			for pg.HasMorePages() {
				out, err := pg.NextPage(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(out.ImageDetails) > int(n) {
					t.Errorf("page of %d, asked %d", len(out.ImageDetails), n)
				}
				for _, d := range out.ImageDetails {
					got = append(got, *d.ImageDigest)
					if d.ImagePushedAt == nil || aws.ToInt64(d.ImageSizeInBytes) <= 0 || len(d.ImageTags) != 1 {
						t.Errorf("%s: pushed %v size %d tags %v", *d.ImageDigest, d.ImagePushedAt, aws.ToInt64(d.ImageSizeInBytes), d.ImageTags)
					}
				}
			}
			want := slices.Sorted(slices.Values(p.images))
			if !slices.Equal(got, want) {
				t.Errorf("paged %d digests, want %d", len(got), len(want))
			}
			if wantPages := (25 + int(n) - 1) / int(n); pages != wantPages && pages != wantPages+1 {
				t.Errorf("%d pages, want %d", pages, wantPages)
			}
		})
	}
	var repos []string
	pg := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(1)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Repositories {
			repos = append(repos, *r.RepositoryName)
		}
	}
	if !slices.Equal(repos, []string{"a", "b"}) {
		t.Errorf("repositories %v", repos)
	}
	// untagged images, a filter, a lookup by id
	out, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("b"), Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusUntagged}})
	if err != nil {
		t.Fatal(err)
	}
	var untagged []string
	for _, d := range out.ImageDetails {
		untagged = append(untagged, *d.ImageDigest)
	}
	if want := slices.Sorted(slices.Values([]string{p.child, p.lonely})); !slices.Equal(untagged, want) {
		t.Errorf("untagged %v, want %v", untagged, want)
	}
}

// TestErrors checks the typed errors the SDK makes of the stand-in's
// answers.
func TestErrors(t *testing.T) {
	p := populate(t)
	srv := ecrtest.Serve(t, p.reg)
	c := sdkClient(t, srv, ecrtest.SecretAccessKey, 1)
	ctx := t.Context()
	var rnf *types.RepositoryNotFoundException
	if _, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("nope")}); !errors.As(err, &rnf) {
		t.Errorf("unknown repository: %v", err)
	}
	var inf *types.ImageNotFoundException
	if _, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("a"),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String("sha256:" + strings.Repeat("1", 64))}}}); !errors.As(err, &inf) {
		t.Errorf("unknown image: %v", err)
	}
	var ipe *types.InvalidParameterException
	if _, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("a"), MaxResults: aws.Int32(1001)}); !errors.As(err, &ipe) {
		t.Errorf("maxResults 1001: %v", err)
	}
	var lnf *types.LifecyclePolicyNotFoundException
	if _, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("a")}); !errors.As(err, &lnf) {
		t.Errorf("no lifecycle policy: %v", err)
	}
	srv.SetLifecyclePolicy("a", `{"rules":[]}`)
	if out, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("a")}); err != nil || aws.ToString(out.LifecyclePolicyText) != `{"rules":[]}` {
		t.Errorf("lifecycle policy: %v %v", out, err)
	}
	srv.Throttle(1)
	if _, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); apiCode(err) != "ThrottlingException" {
		t.Errorf("throttled without retries: %v", err)
	}
	srv.Throttle(2)
	if _, err := sdkClient(t, srv, ecrtest.SecretAccessKey, 3).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Errorf("the SDK's retries should outlast two throttles: %v", err)
	}
}

// TestBatchDeleteImage deletes a batch with the SDK and checks the
// failures ECR reports per image.
func TestBatchDeleteImage(t *testing.T) {
	p := populate(t)
	srv := ecrtest.Serve(t, p.reg)
	c := sdkClient(t, srv, ecrtest.SecretAccessKey, 1)
	ctx := t.Context()
	missing := "sha256:" + strings.Repeat("2", 64)
	srv.FailDelete("b", p.lonely, "KmsError")
	out, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("b"), ImageIds: []types.ImageIdentifier{
		{ImageDigest: aws.String(p.other)}, {ImageDigest: aws.String(p.child)}, {ImageDigest: aws.String(missing)},
		{ImageDigest: aws.String("sha256:nothex")}, {}, {ImageDigest: aws.String(p.index), ImageTag: aws.String("other")},
		{ImageDigest: aws.String(p.lonely)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	failures := map[string]types.ImageFailureCode{}
	for _, f := range out.Failures {
		failures[aws.ToString(f.ImageId.ImageDigest)] = f.FailureCode
	}
	want := map[string]types.ImageFailureCode{
		p.child: types.ImageFailureCodeImageReferencedByManifestList, missing: types.ImageFailureCodeImageNotFound,
		"sha256:nothex": types.ImageFailureCodeInvalidImageDigest, "": types.ImageFailureCodeMissingDigestAndTag,
		p.index: types.ImageFailureCodeImageTagDoesNotMatchDigest, p.lonely: "KmsError",
	}
	if fmt.Sprint(failures) != fmt.Sprint(want) {
		t.Errorf("failures\n%v\nwant\n%v", failures, want)
	}
	if len(out.ImageIds) != 1 || aws.ToString(out.ImageIds[0].ImageDigest) != p.other || aws.ToString(out.ImageIds[0].ImageTag) != "other" {
		t.Errorf("deleted %+v", out.ImageIds)
	}
	// the index first, then its platform manifest, in one call
	out, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("b"), ImageIds: []types.ImageIdentifier{
		{ImageDigest: aws.String(p.index)}, {ImageDigest: aws.String(p.child)}}})
	if err != nil || len(out.Failures) != 0 || len(out.ImageIds) != 2 {
		t.Errorf("index and child: %+v %v", out, err)
	}
	left, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("b")})
	if err != nil || len(left.ImageDetails) != 1 || *left.ImageDetails[0].ImageDigest != p.lonely {
		t.Errorf("left in b: %+v %v", left, err)
	}
	var ipe *types.InvalidParameterException
	ids := make([]types.ImageIdentifier, 101)
	for i := range ids {
		ids[i] = types.ImageIdentifier{ImageDigest: aws.String(missing)}
	}
	if _, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("a"), ImageIds: ids}); !errors.As(err, &ipe) {
		t.Errorf("101 ids: %v", err)
	}
}

// TestLoginAndPulls logs in to /v2/ with GetAuthorizationToken's token and
// checks that a manifest GET records a pull, but not an excluded
// principal's.
func TestLoginAndPulls(t *testing.T) {
	p := populate(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	srv := ecrtest.Serve(t, p.reg, ecrtest.WithClock(func() time.Time { return now }))
	c := sdkClient(t, srv, ecrtest.SecretAccessKey, 1)
	ctx := t.Context()
	ref, err := name.ParseReference(srv.Host() + "/a:t03")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(ref, remote.WithContext(ctx)); err == nil {
		t.Error("anonymous pull went through")
	}
	tok, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(*tok.AuthorizationData[0].AuthorizationToken)
	user, pass, _ := strings.Cut(string(raw), ":")
	if err != nil || user != "AWS" || !tok.AuthorizationData[0].ExpiresAt.Equal(now.Add(ecrtest.TokenLifetime)) {
		t.Fatalf("token %q %v expires %v", user, err, tok.AuthorizationData[0].ExpiresAt)
	}
	pulled := func(digest string) *time.Time {
		out, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("a"), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digest)}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.ImageDetails[0].LastRecordedPullTime
	}
	if got := pulled(p.images[3]); got != nil {
		t.Errorf("pulled before any pull: %v", got)
	}
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: pass})
	if _, err := remote.Get(ref, remote.WithContext(ctx), auth); err != nil {
		t.Fatal(err)
	}
	if got := pulled(p.images[3]); got == nil || !got.Equal(now) {
		t.Errorf("pull recorded %v, want %v", got, now)
	}
	srv.ExcludeFromPullTime(ecrtest.AccessKeyID)
	now = now.Add(time.Hour)
	if _, err := remote.Get(ref, remote.WithContext(ctx), auth); err != nil {
		t.Fatal(err)
	}
	if got := pulled(p.images[3]); got == nil || !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("an excluded principal's pull moved the pull time to %v", got)
	}
}
