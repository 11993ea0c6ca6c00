package registry

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pusher writes hand-made images to a test registry.
type pusher struct {
	t    *testing.T
	host string
}

// image makes a random single-platform image created ageDays before testNow.
func (p pusher) image(ageDays int, arch string) v1.Image {
	p.t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		p.t.Fatal(err)
	}
	return stamp(p.t, img, arch, testNow.AddDate(0, 0, -ageDays))
}

// stamp gives img's config the platform linux/arch and the created time
// (none when zero).
func stamp(t testing.TB, img v1.Image, arch string, created time.Time) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: created}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// index makes a multi-platform index over imgs (amd64, arm64, ...), told
// apart from other indexes over the same images by note.
func (p pusher) index(note string, imgs ...v1.Image) v1.ImageIndex {
	var idx v1.ImageIndex = empty.Index
	for _, img := range imgs {
		cf, _ := img.ConfigFile()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: cf.Architecture}}})
	}
	return mutate.Annotations(idx, map[string]string{"note": note}).(v1.ImageIndex)
}

func (p pusher) ref(s string) name.Reference {
	p.t.Helper()
	r, err := name.ParseReference(p.host+"/"+s, name.Insecure)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// push writes an image or index under repo:tag.
func (p pusher) push(repoTag string, x remote.Taggable) {
	p.t.Helper()
	var err error
	switch v := x.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(p.ref(repoTag), v)
	case v1.Image:
		err = remote.Write(p.ref(repoTag), v)
	}
	if err != nil {
		p.t.Fatalf("push %s: %v", repoTag, err)
	}
}

// putRaw puts a manifest as is, by digest, with a plain registry API call.
func (p pusher) putRaw(repo, digest string, mt types.MediaType, body []byte) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+p.host+"/v2/"+repo+"/manifests/"+digest, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		p.t.Fatalf("put %s@%s: %s", repo, digest, resp.Status)
	}
}

// tag points repo:tag at an existing manifest (repo@digest).
func (p pusher) tag(repoTag, existing string) {
	p.t.Helper()
	desc, err := remote.Get(p.ref(existing))
	if err != nil {
		p.t.Fatalf("get %s: %v", existing, err)
	}
	tag, ok := p.ref(repoTag).(name.Tag)
	if !ok {
		p.t.Fatalf("%s is not a tag", repoTag)
	}
	if err := remote.Tag(tag, desc); err != nil {
		p.t.Fatalf("tag %s: %v", repoTag, err)
	}
}

// digest answers which digest repo:tag (or repo@digest) resolves to now,
// failing the test when it does not resolve.
func (p pusher) resolves(ref string) string {
	p.t.Helper()
	d, err := remote.Head(p.ref(ref))
	if err != nil {
		p.t.Fatalf("%s no longer resolves: %v", ref, err)
	}
	return d.Digest.String()
}
