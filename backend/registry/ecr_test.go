package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// newECR is a client of the ECR stand-in srv.
func newECR(t testing.TB, srv *ecrtest.Server, opts ...Option) *ECR {
	t.Helper()
	e, err := NewECR(srv.Host(), srv.AWSConfig(), append([]Option{WithECREndpoint(srv.URL()), WithClock(func() time.Time { return testNow })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestECRScan scans images, an index and untagged manifests through the
// ECR stand-in: ages and pulls from DescribeImages, no config read, sizes
// from the layers matching what the registry stores, ECR's own size kept
// beside them, lifecycle policies read.
func TestECRScan(t *testing.T) {
	reg := registrytest.Serve(t)
	p := pusher{t, reg.Host()}
	amd, arm, old, lone := p.image(10, "amd64"), p.image(10, "arm64"), p.image(400, "amd64"), p.image(3, "amd64")
	idx := p.index("multi", amd, arm)
	p.push("hub/app:v1", idx)
	p.push("hub/app:old", old)
	p.push("hub/app:old-alias", old)
	p.push("hub/app@"+digestOf(t, lone), lone)
	p.push("base:1", old)
	srv := ecrtest.Serve(t, reg)
	srv.ExcludeFromPullTime(ecrtest.AccessKeyID)
	pulled := testNow.Add(-36 * time.Hour).Truncate(time.Millisecond)
	srv.SetPulled("hub/app", digestOf(t, old), pulled)
	srv.SetPushed("hub/app", digestOf(t, idx), testNow.AddDate(0, 0, -5))
	srv.SetLifecyclePolicy("hub/app", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`)

	inv, err := newECR(t, srv).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Fatalf("errors %+v", inv.Errors)
	}
	type got struct {
		tags     string
		pulled   time.Time
		children int
	}
	want := map[string]got{
		"hub/app@" + digestOf(t, idx):  {"v1", time.Time{}, 2},
		"hub/app@" + digestOf(t, old):  {"old,old-alias", pulled, 0},
		"hub/app@" + digestOf(t, lone): {"", time.Time{}, 0},
		"base@" + digestOf(t, old):     {"1", time.Time{}, 0},
	}
	if len(inv.Images) != len(want) {
		t.Errorf("%d images, want %d (platform manifests are part of their index)", len(inv.Images), len(want))
	}
	for _, im := range inv.Images {
		w, ok := want[im.Ref()]
		if !ok {
			t.Errorf("unexpected %s", im.Ref())
			continue
		}
		if g := (got{strings.Join(im.Tags, ","), im.LastPulled, len(im.Children)}); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: %+v, want %+v", im.Ref(), g, w)
		}
		if im.CreatedProblem != model.CreatedOK || im.Created.IsZero() || im.VendorSize <= 0 {
			t.Errorf("%s: created %v %q, vendor size %d", im.Ref(), im.Created, im.CreatedProblem, im.VendorSize)
		}
	}
	if k := slices.IndexFunc(inv.Images, func(im model.Image) bool { return im.Digest == model.ParseDigest(digestOf(t, idx)) }); k < 0 || !inv.Images[k].Created.Equal(testNow.AddDate(0, 0, -5)) {
		t.Errorf("the index's age is not its push time")
	}
	stored, err := reg.BlobBytes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if total := model.ComputeSizes(inv).Total; total != stored {
		t.Errorf("total %d, registry stores %d", total, stored)
	}
	if len(inv.RegistryRules) != 1 || inv.RegistryRules[0].Repository != "hub/app" ||
		inv.RegistryRules[0].Summary != "rule 1: expire untagged images pushed more than 14 days ago" {
		t.Errorf("registry rules %+v", inv.RegistryRules)
	}
	for _, r := range srv.Requests() {
		if r.Kind == ecrtest.KindBlob {
			t.Errorf("read a blob (a config): %s", r.Path)
		}
	}
}

// TestECRDelete: deletions under way at once go out as one
// BatchDeleteImage; each image gets its own outcome, mapped onto the
// delete errors.
func TestECRDelete(t *testing.T) {
	reg := registrytest.Serve(t)
	p := pusher{t, reg.Host()}
	var digests []string
	for i := range 12 {
		img := p.image(i, "amd64")
		p.push(fmt.Sprintf("r:t%d", i), img)
		digests = append(digests, digestOf(t, img))
	}
	child, other := p.image(1, "amd64"), p.image(1, "arm64")
	p.push("r:multi", p.index("m", child, other))
	srv := ecrtest.Serve(t, reg)
	e := newECR(t, srv)
	srv.FailDelete("r", digests[1], "KmsError")
	missing := "sha256:" + strings.Repeat("3", 64)

	cases := []struct {
		digest   string
		notFound bool
		code     string // "" deleted
		status   int
	}{
		{digests[0], false, "", 0},
		{digests[1], false, "KmsError", http.StatusFailedDependency},
		{missing, true, "ImageNotFound", http.StatusNotFound},
		{digestOf(t, child), false, "ImageReferencedByManifestList", http.StatusConflict},
	}
	for _, tc := range cases {
		t.Run(tc.digest[:12], func(t *testing.T) {
			err := e.DeleteManifest(t.Context(), "r", tc.digest)
			var ce *CallError
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("delete: %v", err)
			case tc.code == "":
				return
			case !errors.As(err, &ce) || !ce.HasCode(tc.code) || ce.Status != tc.status || errors.Is(err, ErrNotFound) != tc.notFound:
				t.Errorf("err %v, want code %s status %d not found %v", err, tc.code, tc.status, tc.notFound)
			}
			if ambiguous(err) {
				t.Errorf("a per-image failure is no ambiguous answer: %v", err)
			}
		})
	}
	before := len(srv.Requests())
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Go(func() { errs[i] = e.DeleteManifest(t.Context(), "r", digests[2+i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, r := range srv.Requests()[before:] {
		if r.Target == "BatchDeleteImage" {
			calls++
		}
	}
	if calls < 1 || calls >= 10 {
		t.Errorf("10 concurrent deletions took %d BatchDeleteImage calls; want them joined", calls)
	}
	for _, d := range digests[2:] {
		if there, err := e.Exists(t.Context(), "r", d); err != nil || there {
			t.Errorf("%s still there (%v)", d, err)
		}
	}
	cur, err := e.Current(t.Context(), "r", func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.Tags) != 2 || !cur.Referenced[digestOf(t, child)] {
		t.Errorf("current %+v", cur)
	}
}

// nonLoopback fails, and records, every request that leaves loopback.
type nonLoopback struct {
	mu   sync.Mutex
	left []string
}

func (n *nonLoopback) RoundTrip(req *http.Request) (*http.Response, error) {
	host, _, err := net.SplitHostPort(req.URL.Host)
	if err != nil {
		host = req.URL.Host
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		n.mu.Lock()
		n.left = append(n.left, req.URL.String())
		n.mu.Unlock()
		return nil, fmt.Errorf("refused: %s is not loopback", req.URL.Host)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestECRConfigChain: the SDK's default chain takes credentials from the
// environment; with none there and IMDS disabled it fails without asking
// anything off loopback (no 169.254.169.254).
func TestECRConfigChain(t *testing.T) {
	for _, withEnv := range []bool{true, false} {
		t.Run(fmt.Sprint("env=", withEnv), func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("AWS_CONFIG_FILE", dir+"/config")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			t.Setenv("AWS_CA_BUNDLE", "")
			for _, k := range []string{"AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_SESSION_TOKEN"} {
				t.Setenv(k, "")
			}
			t.Setenv("AWS_ACCESS_KEY_ID", "")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
			if withEnv {
				t.Setenv("AWS_ACCESS_KEY_ID", ecrtest.AccessKeyID)
				t.Setenv("AWS_SECRET_ACCESS_KEY", ecrtest.SecretAccessKey)
			}
			tr := &nonLoopback{}
			cfg, err := ECRConfig(t.Context(), "123456789012.dkr.ecr.eu-west-1.amazonaws.com", WithTransport(tr))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != "eu-west-1" {
				t.Errorf("region %q", cfg.Region)
			}
			creds, err := cfg.Credentials.Retrieve(t.Context())
			if withEnv && (err != nil || creds.AccessKeyID != ecrtest.AccessKeyID) {
				t.Errorf("credentials %q, %v", creds.AccessKeyID, err)
			}
			if !withEnv && err == nil {
				t.Errorf("credentials without any source: %q", creds.AccessKeyID)
			}
			if len(tr.left) > 0 {
				t.Errorf("the chain left loopback: %v", tr.left)
			}
		})
	}
}

// BenchmarkECRCost scans about 2,000 images (23 repositories of 100 tags) through the
// ECR stand-in, cold and warm (digest cache), and reports requests per
// image:
//
//	go test -run '^$' -bench ECRCost -benchtime 2x ./backend/registry
func BenchmarkECRCost(b *testing.B) {
	pop := registrytest.Population{Repositories: 23, TagsPerRepository: 100, Seed: 2000, Now: testNow, Scale: 1, Concurrency: 16}
	reg := registrytest.Serve(b)
	if _, err := reg.Populate(b.Context(), pop); err != nil {
		b.Fatal(err)
	}
	srv := ecrtest.Serve(b, reg, ecrtest.WithoutRequestLog())
	srv.ExcludeFromPullTime(ecrtest.AccessKeyID)
	for _, warm := range []bool{false, true} {
		b.Run(map[bool]string{false: "cold", true: "warm"}[warm], func(b *testing.B) {
			var requests, images int
			for b.Loop() {
				b.StopTimer()
				cache := openCache(b, b.TempDir())
				e := newECR(b, srv, WithDigestCache(cache), WithConcurrency(16))
				if warm {
					if _, err := e.Scan(b.Context(), nil); err != nil {
						b.Fatal(err)
					}
					e = newECR(b, srv, WithDigestCache(cache), WithConcurrency(16)) // a new run: the cache, no memory
				}
				start := srv.RequestCount()
				b.StartTimer()
				inv, err := e.Scan(b.Context(), nil)
				if err != nil || len(inv.Errors) != 0 {
					b.Fatalf("scan: %v %v", err, inv.Errors)
				}
				requests += srv.RequestCount() - start
				images += len(inv.Images)
			}
			b.ReportMetric(float64(requests)/float64(images), "req/image")
			b.ReportMetric(float64(images)/float64(b.N), "images")
		})
	}
}

// TestECRProbe: the probe says whether the credentials may delete, from
// BatchDeleteImage of a digest no image has, and names a repository
// policy's Deny; nothing is deleted.
func TestECRProbe(t *testing.T) {
	cases := []struct {
		name         string
		deny, policy bool
		want         string
		detail       string
	}{
		{"granted", false, false, DeleteGranted, "ImageNotFound"},
		{"denied", true, false, DeleteDenied, "AccessDeniedException"},
		{"granted, a repository policy denies some", false, true, DeleteGranted, "has a Deny naming ecr:BatchDeleteImage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := registrytest.Serve(t)
			p := pusher{t, reg.Host()}
			p.push("app:v1", p.image(1, "amd64"))
			srv := ecrtest.Serve(t, reg)
			if tc.deny {
				srv.Deny("BatchDeleteImage")
			}
			if tc.policy {
				srv.SetRepositoryPolicy("app", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":["ecr:BatchDeleteImage"]}]}`)
			}
			got, err := newECR(t, srv).Probe(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got.Delete != tc.want || !strings.Contains(got.DeleteDetail, tc.detail) || !slices.Equal(got.Repositories, []string{"app"}) {
				t.Errorf("probe %+v, want %s with %q", got, tc.want, tc.detail)
			}
			if there, err := newECR(t, srv).Exists(t.Context(), "app", digestOf(t, p.image(1, "amd64"))); err != nil || there {
				t.Errorf("exists of an unknown digest: %v %v", there, err)
			}
		})
	}
}

// TestECRAgeFrom: an ECR image's age is its push time by default (no
// config read), its config's created time with age_from: built; the push
// time is kept either way.
func TestECRAgeFrom(t *testing.T) {
	reg := registrytest.Serve(t)
	p := pusher{t, reg.Host()}
	img := p.image(100, "amd64") // built 100 days before testNow
	p.push("app:v1", img)
	srv := ecrtest.Serve(t, reg)
	srv.ExcludeFromPullTime(ecrtest.AccessKeyID)
	pushed := testNow.AddDate(0, 0, -3)
	srv.SetPushed("app", digestOf(t, img), pushed)
	for _, tc := range []struct {
		ageFrom  string
		created  time.Time
		configed bool // a config was read
	}{
		{AgeFromPushed, pushed, false},
		{AgeFromBuilt, testNow.AddDate(0, 0, -100), true},
	} {
		t.Run(tc.ageFrom, func(t *testing.T) {
			before := len(srv.Requests())
			inv, err := newECR(t, srv, WithAgeFrom(tc.ageFrom)).Scan(t.Context(), nil)
			if err != nil || len(inv.Images) != 1 {
				t.Fatalf("scan: %v %+v", err, inv)
			}
			im := inv.Images[0]
			if !im.Created.Equal(tc.created) || !im.Pushed.Equal(pushed) || im.CreatedProblem != model.CreatedOK {
				t.Errorf("created %v pushed %v (%q), want created %v pushed %v", im.Created, im.Pushed, im.CreatedProblem, tc.created, pushed)
			}
			blobs := 0
			for _, r := range srv.Requests()[before:] {
				if r.Kind == ecrtest.KindBlob {
					blobs++
				}
			}
			if (blobs > 0) != tc.configed {
				t.Errorf("%d blob reads", blobs)
			}
		})
	}
}
