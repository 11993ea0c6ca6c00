package usage

import (
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// PodImage is one container image of a running pod.
type PodImage struct {
	Namespace, Pod, Container string
	// Image is the pod spec's image ("host/repo:tag" or "host/repo@digest").
	Image string
	// ImageID is what the kubelet reports it pulled
	// ("docker-pullable://host/repo@sha256:..."), when it says.
	ImageID string
}

// Observed is what the usage sources said, before matching.
type Observed struct {
	// Window is keep_launched_within; Since its start.
	Window time.Duration
	Since  time.Time
	// Launches are the launch events read, aggregated.
	Launches *Tally
	// Pods are the images of the running pods read; PodsSeen counts the
	// pods.
	Pods     []PodImage
	PodsSeen int
	// Sources says what each source gave.
	Sources []SourceReport
}

// SourceReport is one configured source's outcome.
type SourceReport struct {
	// Source names it as configured: "events: PATH-OR-URL" or
	// "kubernetes: NAMESPACE (SELECTOR)".
	Source string `json:"source"`
	Kind   string `json:"kind"` // events | kubernetes
	// Files counts the files (or days' files) read; Skipped the days
	// whose file is not published yet.
	Files   int `json:"files,omitempty"`
	Skipped int `json:"skipped,omitempty"`
	// Stats count the lines and events of an events source (none for a
	// kubernetes source).
	*Stats
	// Pods counts the running pods of a kubernetes source.
	Pods int `json:"pods,omitempty"`
	// Error is why the source could not be read whole; "" when it was.
	Error string `json:"error,omitempty"`
}

// Failed reports whether any source could not be read whole.
func (o *Observed) Failed() []SourceReport {
	var out []SourceReport
	for _, s := range o.Sources {
		if s.Error != "" {
			out = append(out, s)
		}
	}
	return out
}

// Result is usage matched to an inventory: the plan's usage input and the
// numbers for the report.
type Result struct {
	Observed
	// Usage is per image, indexed like the inventory's images.
	Usage model.Usage
	// Matched and Unmatched count the successful launches in the window
	// that matched an image, and those that matched none.
	Matched, Unmatched int
	// Launched counts the images launched in the window; InUse those a
	// running pod uses.
	Launched, InUse int
	// PodImagesUnmatched counts running pods' images not in the registry
	// (other registries' images, images the scan did not see).
	PodImagesUnmatched int
}

// Match attributes launches and pods to images, and sets Usage.Unknown
// when a source failed.
//
// A launch matches the images tagged with its resolved ref (schema version
// 4 on) whose repository ends with the image name BinderHub derives from
// its provider and spec (ImageName); when no image with that tag is in
// such a repository (another naming, a provider whose name needs a
// lookup), every image tagged with the ref matches: a wrong match holds an
// image, a missed one deletes it. A launch without a ref (versions 1 to 3)
// matches by its spec: a full commit sha in the spec counts as the ref;
// otherwise the images of the derived repository tagged with the spec's
// ref (or, for 7 or more hex digits, whose tag starts with them). Anything
// else is unmatched.
func Match(inv *model.Inventory, obs *Observed) *Result {
	res := &Result{Observed: *obs, Usage: model.Usage{Images: make([]model.ImageUsage, len(inv.Images))}}
	byTag := make(map[string][]int32, len(inv.Images))
	for i := range inv.Images {
		for _, t := range inv.Images[i].Tags {
			byTag[t] = append(byTag[t], int32(i))
		}
	}
	var byHash map[string][]int32 // images by their repository's last 6 characters, built on demand
	repoImages := func(name string) []int32 {
		if byHash == nil {
			byHash = map[string][]int32{}
			for i := range inv.Images {
				if r := inv.Images[i].Repository; len(r) > 7 && r[len(r)-7] == '-' {
					byHash[r[len(r)-6:]] = append(byHash[r[len(r)-6:]], int32(i))
				}
			}
		}
		var out []int32
		for _, i := range byHash[name[len(name)-6:]] {
			if nameMatches(inv.Images[i].Repository, name) {
				out = append(out, i)
			}
		}
		return out
	}
	var hits []int32
	credit := func(l *Launches) {
		for _, i := range hits {
			u := &res.Usage.Images[i]
			u.Launches += l.InWindow
			if l.Last.After(u.LastLaunch) {
				u.LastLaunch = l.Last
			}
		}
		if len(hits) > 0 {
			res.Matched += l.InWindow
		} else {
			res.Unmatched += l.InWindow
		}
	}
	if obs.Launches != nil {
		obs.Launches.Each(func(l *Launches) {
			hits = hits[:0]
			name := ""
			if slug, ok := BuildSlug(l.Provider, l.Repo); ok {
				name = ImageName(slug)
			}
			ref, exact := l.Ref, l.HasRef
			if !exact {
				if l.Provider == "GitLab" || l.Provider == "Git" {
					ref = unquote(ref)
				}
				exact = len(ref) == 40 && isHex(ref, 40)
			}
			switch {
			case exact:
				tagged := byTag[tagOf(ref)]
				if name != "" {
					for _, i := range tagged {
						if nameMatches(inv.Images[i].Repository, name) {
							hits = append(hits, i)
						}
					}
				}
				if len(hits) == 0 {
					hits = append(hits, tagged...)
				}
			case name != "" && ref != "":
				t := tagOf(ref)
				prefix := isHex(ref, 7)
				for _, i := range repoImages(name) {
					for _, tag := range inv.Images[i].Tags {
						if tag == t || prefix && strings.HasPrefix(tag, strings.ToLower(ref)) {
							hits = append(hits, i)
							break
						}
					}
				}
			}
			credit(l)
		})
	}
	res.matchPods(inv)
	for _, u := range res.Usage.Images {
		if u.InUse {
			res.InUse++
		} else if u.Launches > 0 {
			res.Launched++
		}
	}
	if failed := obs.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, f := range failed {
			names[i] = f.Source + ": " + f.Error
		}
		res.Usage.Unknown = "a usage source could not be read, so any image may be in use (" + strings.Join(names, "; ") + ")"
	}
	return res
}

// matchPods marks the images running pods use: by digest when the kubelet
// reported one (an index's platform manifest marks its index too), else by
// repository and tag, the reference defaulted as Kubernetes pulls it (no
// tag is latest; foo is docker.io/library/foo). The registry host is not
// compared: a cluster may pull through another name for the same registry.
func (res *Result) matchPods(inv *model.Inventory) {
	if len(res.Pods) == 0 {
		return
	}
	type tagged struct{ repo, tag string }
	type pinned struct {
		repo   string
		digest model.Digest
	}
	byTag := make(map[tagged][]int32, len(inv.Images))
	byDigest := make(map[pinned][]int32, len(inv.Images))
	for i := range inv.Images {
		im := &inv.Images[i]
		k := pinned{im.Repository, im.Digest}
		byDigest[k] = append(byDigest[k], int32(i))
		for _, c := range im.Children {
			k := pinned{im.Repository, c}
			byDigest[k] = append(byDigest[k], int32(i))
		}
		for _, t := range im.Tags {
			k := tagged{im.Repository, t}
			byTag[k] = append(byTag[k], int32(i))
		}
	}
	for _, p := range res.Pods {
		repo, tag, digest := parseImageRef(p.Image)
		if _, d := splitImageID(p.ImageID); d != "" {
			digest = d
		}
		var hits []int32
		if digest != "" {
			hits = byDigest[pinned{repo, model.ParseDigest(digest)}]
		}
		if len(hits) == 0 && tag != "" {
			hits = byTag[tagged{repo, tag}]
		}
		for _, i := range hits {
			res.Usage.Images[i].InUse = true
		}
		if len(hits) == 0 {
			res.PodImagesUnmatched++
		}
	}
}

// parseImageRef reads a pod's image as Kubernetes (the container runtime)
// pulls it: the repository path without the registry host, the tag and the
// digest. A reference with neither tag nor digest is pulled as latest; a
// Docker Hub name is normalized (foo is docker.io/library/foo, user/foo
// docker.io/user/foo, index.docker.io and registry-1.docker.io are
// docker.io). A reference the library does not parse (upper case, say) is
// split as written, so that it can still match, and hold, an image.
func parseImageRef(ref string) (repo, tag, digest string) {
	if rest, ok := strings.CutPrefix(ref, "registry-1.docker.io/"); ok {
		ref = "docker.io/" + rest // the library knows index.docker.io only
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return splitImageRef(ref)
	}
	named = reference.TagNameOnly(named)
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		digest = d.Digest().String()
	}
	return reference.Path(named), tag, digest
}

// splitImageRef splits "host[:port]/path[:tag][@digest]" as written into
// the repository path (without a host), the tag and the digest.
func splitImageRef(ref string) (repo, tag, digest string) {
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		ref, digest = ref[:at], ref[at+1:]
	}
	if slash := strings.LastIndexByte(ref, '/'); strings.LastIndexByte(ref, ':') > slash {
		c := strings.LastIndexByte(ref, ':')
		ref, tag = ref[:c], ref[c+1:]
	}
	if first, rest, ok := strings.Cut(ref, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		ref = rest
	}
	if tag == "" && digest == "" {
		tag = "latest"
	}
	return ref, tag, digest
}

// splitImageID reads a kubelet imageID: "docker-pullable://host/repo@sha256:…"
// or "host/repo@sha256:…" give the manifest digest; a bare "sha256:…" (or
// "docker://sha256:…") is the image's config, not its manifest, and gives
// none.
func splitImageID(id string) (repo, digest string) {
	if _, rest, ok := strings.Cut(id, "://"); ok {
		id = rest
	}
	at := strings.IndexByte(id, '@')
	if at < 0 {
		return "", ""
	}
	return id[:at], id[at+1:]
}
