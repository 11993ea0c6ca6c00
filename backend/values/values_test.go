package values

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/yamledit"
)

// mybinderValues reads one of mybinder.org's real values files (from
// jupyterhub/mybinder.org-deploy's mybinder/values.yaml): 2022 is the
// commit that pinned repo2docker 2021.08.0-136.g47ea95a, 2026 a recent
// one (with a key written twice, as Helm allows).
func mybinderValues(t testing.TB, year string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mybinder-values-"+year+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const digest = "sha256:5a642dfa4769f656efb6d3349f7ab94a4490d155773987df0aebe19a9a982efb"

// short is a reference as tests compare it.
type short struct {
	Path, Image, Tag string
	Kind             Kind
	Form             Form
	Line             int
}

func shorts(f *File) []short {
	out := make([]short, len(f.References))
	for i, r := range f.References {
		out[i] = short{r.Path, r.Image, r.Tag, r.Kind, r.Form, r.Line}
	}
	return out
}

func skippedPaths(f *File) []string {
	var out []string
	for _, s := range f.Skipped {
		out = append(out, s.Path+" "+s.Why)
	}
	return out
}

// parseWants parses in and checks its references and skipped images.
func parseWants(t *testing.T, in []byte, want []short, skipped []string) *File {
	t.Helper()
	f, err := Parse("values.yaml", in)
	if err != nil {
		t.Fatal(err)
	}
	if got := shorts(f); !slices.Equal(got, want) {
		t.Errorf("references\n got %+v\nwant %+v", got, want)
	}
	if got := skippedPaths(f); !slices.Equal(got, skipped) {
		t.Errorf("skipped\n got %q\nwant %q", got, skipped)
	}
	return f
}

func TestParseMybinder(t *testing.T) {
	tests := []struct {
		year    string
		want    []short
		skipped []string
	}{
		{"2022", []short{
			{"binderhub.config.BinderHub.build_image", "quay.io/jupyterhub/repo2docker", "2021.08.0-136.g47ea95a", ByTag, FormString, 110},
		}, []string{
			"binderhub.jupyterhub.singleuser.initContainers[0].image set-by-chartpress",
			"analyticsPublisher.image set-by-chartpress",
			"federationRedirect.image set-by-chartpress",
			"minesweeper.image set-by-chartpress",
		}},
		{"2026", []short{
			{"buildkitPruner.image", "index.docker.io/library/docker", "28.3.3-dind", ByTag, FormString, 73},
			{"binderhub.config.KubernetesBuildExecutor.build_image", "quay.io/jupyterhub/repo2docker", "2026.4.1.dev44-g97bb4e45a", ByTag, FormString, 235},
			{"awsEcrRegistryCleaner.image", "ghcr.io/manics/aws-ecr-registry-cleaner", "0.0.1", ByTag, FormString, 773},
		}, []string{
			"binderhub.jupyterhub.singleuser.initContainers[0].image set-by-chartpress",
			"analyticsPublisher.image set-by-chartpress",
			"federationRedirect.image set-by-chartpress",
			"minesweeper.image set-by-chartpress",
			"podLogs.image set-by-chartpress",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.year, func(t *testing.T) {
			f := parseWants(t, mybinderValues(t, tt.year), tt.want, tt.skipped)
			for _, r := range f.References {
				if err := r.CanSetTag(); err != nil {
					t.Errorf("%s: %v", r.Path, err)
				}
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []short
		skipped []string
	}{
		{"bitnami mapping", "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.2.4-debian-12-r9\n  digest: \"\"\n",
			[]short{{"image", "index.docker.io/bitnami/redis", "7.2.4-debian-12-r9", ByTag, FormRepositoryTag, 4}}, nil},
		{"bitnami mapping by digest", "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.2.4-debian-12-r9\n  digest: " + digest + "\n",
			[]short{{"image", "index.docker.io/bitnami/redis", "7.2.4-debian-12-r9", ByDigest, FormRepositoryTag, 4}}, nil},
		{"repository and tag under any key", "images:\n  controller: {repository: ghcr.io/a/b, tag: v1.2.3}\n",
			[]short{{"images.controller", "ghcr.io/a/b", "v1.2.3", ByTag, FormRepositoryTag, 2}}, nil},
		{"name and tag under an image key", "hub:\n  image:\n    name: quay.io/jupyterhub/k8s-hub\n    tag: \"3.3.8\"\n",
			[]short{{"hub.image", "quay.io/jupyterhub/k8s-hub", "3.3.8", ByTag, FormNameTag, 4}}, nil},
		{"name and tag under another key are no image", "users:\n  - name: alice\n    tag: admin\n", nil, nil},
		{"a string with a port", "initImage: \"localhost:5000/a/b:1.0\"\n",
			[]short{{"initImage", "localhost:5000/a/b", "1.0", ByTag, FormString, 1}}, nil},
		{"docker hub library", "x:\n  sidecar_image: nginx:1.25.3-alpine # pinned\n",
			[]short{{"x.sidecar_image", "index.docker.io/library/nginx", "1.25.3-alpine", ByTag, FormString, 2}}, nil},
		{"a string by digest", "image: nginx@" + digest + "\nbaseimage: quay.io/a/b:1.0@" + digest + "\n",
			[]short{{"image", "index.docker.io/library/nginx", "", ByDigest, FormString, 1}, {"baseimage", "quay.io/a/b", "1.0", ByDigest, FormString, 2}}, nil},
		{"list items", "containers:\n  - image: a/b:1\n  - name: c\n    image: c/d:2\n",
			[]short{{"containers[0].image", "index.docker.io/a/b", "1", ByTag, FormString, 2}, {"containers[1].image", "index.docker.io/c/d", "2", ByTag, FormString, 4}}, nil},
		{"keys with dots are quoted", "grafana:\n  grafana.ini: {image: a/b:1}\n",
			[]short{{`grafana."grafana.ini".image`, "index.docker.io/a/b", "1", ByTag, FormString, 2}}, nil},
		{"a tag that YAML reads as a number", "image: {repository: a/b, tag: 1.16}\n",
			[]short{{"image", "index.docker.io/a/b", "1.16", ByTag, FormRepositoryTag, 1}}, nil},
		{"a key written twice: the last counts", "a:\n  image: x/y:1\na:\n  image: x/y:2\n",
			[]short{{"a.image", "index.docker.io/x/y", "2", ByTag, FormString, 4}}, nil},
		{"placeholders", "a: {image: {name: a/b, tag: set-by-chartpress}}\nb: {image: {repository: a/b, tag: latest}}\nc: {image: {repository: a/b, tag: \"\"}}\nd: {image: {repository: a/b, tag: ~}}\ne: {image: {repository: a/b, tag: \"{{ .Chart.AppVersion }}\"}}\nf: {image: \"{{ .Values.image }}\"}\ng: {image: a/b}\n",
			nil, []string{"a.image set-by-chartpress", "b.image latest", "c.image empty", "d.image empty", "e.image template", "f.image template", "g.image no tag"}},
		{"not images", "image: true\nbuild_image: \"not an image!\"\nchart: {repository: https://charts.example/x, tag: v1}\nimagePullPolicy: IfNotPresent\nimage2: a/b:1\n", nil, nil},
		{"merged keys", "base: &b {repository: a/b}\nx:\n  <<: *b\n  tag: \"1.0\"\n",
			[]short{{"x", "index.docker.io/a/b", "1.0", ByTag, FormRepositoryTag, 4}}, nil},
		{"an empty file", "", nil, nil},
		{"a comment only", "# nothing\n", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parseWants(t, []byte(tt.in), tt.want, tt.skipped)
		})
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a: 1\nb: [\n", "values file config/prod.yaml line 2: did not find expected node content"},
		{"a: 1\nb:\n  c: 1\n d: 2\n", "values file config/prod.yaml line 3: did not find expected key"},
		{"a: 1\n\tb: 2\n", "values file config/prod.yaml line 2"},
		{"x: &a [*a]\n", "values file config/prod.yaml: line 1: the YAML alias *a refers to a node that holds it"},
		{laughs(12), "values file config/prod.yaml: more than 65536 YAML nodes"},
	}
	for _, tt := range tests {
		_, err := Parse("config/prod.yaml", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v; want an error with %q", tt.in, err, tt.want)
		}
	}
}

// laughs is a file of n levels of aliases, each nine aliases to the level
// below: 9^n nodes when they are followed.
func laughs(n int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 {image: x/y:1}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9))
	}
	return b.String()
}

func TestSetTag(t *testing.T) {
	tests := []struct {
		name, in, path, tag, want string
	}{
		{"plain mapping tag with a comment", "image:\n  repository: nginx\n  tag: 1.25.3 # pinned\n", "image", "1.26.0",
			"image:\n  repository: nginx\n  tag: 1.26.0 # pinned\n"},
		{"single quoted", "image:\n  name: a/b\n  tag: '1.0'\n", "image", "1.1", "image:\n  name: a/b\n  tag: '1.1'\n"},
		{"double quoted", "image:\n  name: a/b\n  tag: \"1.0\" # c\n", "image", "1.10", "image:\n  name: a/b\n  tag: \"1.10\" # c\n"},
		{"a flow mapping", "image: {repository: nginx, tag: 1.25.3} # c\n", "image", "1.26.0", "image: {repository: nginx, tag: 1.26.0} # c\n"},
		{"a string", "build_image: quay.io/jupyterhub/repo2docker:2021.08.0-136.g47ea95a # x\n", "build_image", "2026.4.1.dev44-g97bb4e45a",
			"build_image: quay.io/jupyterhub/repo2docker:2026.4.1.dev44-g97bb4e45a # x\n"},
		{"a quoted string", "a:\n  image: 'localhost:5000/a/b:1.0'\n  b_image: \"x/y:2\"\n", "a.image", "1.1", "a:\n  image: 'localhost:5000/a/b:1.1'\n  b_image: \"x/y:2\"\n"},
		{"the second of two", "a:\n  image: x/y:1\n  b_image: \"x/y:1\"\n", "a.b_image", "2", "a:\n  image: x/y:1\n  b_image: \"x/y:2\"\n"},
		{"CRLF", "image:\r\n  repository: nginx\r\n  tag: \"1.0\"\r\n", "image", "2.0", "image:\r\n  repository: nginx\r\n  tag: \"2.0\"\r\n"},
		{"in a list", "c:\n- image: a/b:1\n- image: a/b:1\n", "c[1].image", "2", "c:\n- image: a/b:1\n- image: a/b:2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetTag([]byte(tt.in), tt.path, tt.tag)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("SetTag\n got %q\nwant %q", out, tt.want)
			}
		})
	}
}

// The edit henchbot made: one line of mybinder.org's values.yaml.
func TestSetTagMybinder(t *testing.T) {
	in := mybinderValues(t, "2022")
	out, err := SetTag(in, "binderhub.config.BinderHub.build_image", "2026.4.1.dev44-g97bb4e45a")
	if err != nil {
		t.Fatal(err)
	}
	changed, same := yamledit.ChangedLines(in, out)
	if !same || !slices.Equal(changed, []int{110}) {
		t.Fatalf("changed lines %v (same count %v), want [110]", changed, same)
	}
	if got, want := string(yamledit.NewLines(out).Line(110)), "      build_image: quay.io/jupyterhub/repo2docker:2026.4.1.dev44-g97bb4e45a\n"; got != want {
		t.Errorf("line 110 = %q, want %q", got, want)
	}
}

func TestSetTagRefused(t *testing.T) {
	tests := []struct {
		name, in, path, tag string
		want                []string
	}{
		{"a block scalar", "image:\n  repository: a/b\n  tag: >-\n    1.0\n", "image", "2.0", []string{"line 3", "block scalar"}},
		{"an explicit tag", "image: {repository: a/b, tag: !!str 1.0}\n", "image", "2.0", []string{"explicit YAML tag"}},
		{"an anchored tag used elsewhere", "a:\n  image: {repository: a/b, tag: &t \"1.0\"}\nb:\n  image: {repository: c/d, tag: *t}\n", "a.image", "2.0",
			[]string{"anchor &t on line 2", "also used on line 4"}},
		{"the alias of a tag", "a:\n  image: {repository: a/b, tag: &t \"1.0\"}\nb:\n  image: {repository: c/d, tag: *t}\n", "b.image", "2.0",
			[]string{"alias *t on line 4"}},
		{"an aliased image mapping", "base: &img {repository: a/b, tag: \"1.0\"}\nother:\n  image: *img\n", "other.image", "2.0",
			[]string{"alias *img on line 3"}},
		{"the anchored image mapping", "base: &img {repository: a/b, tag: \"1.0\"}\nother:\n  image: *img\n", "base", "2.0",
			[]string{"anchor &img on line 1", "also used on line 3"}},
		{"a merged tag", "base: &b {tag: \"1.0\"}\nx:\n  <<: *b\n  repository: a/b\ny:\n  <<: *b\n  repository: c/d\n", "x", "2.0",
			[]string{"merge key << on line 3"}},
		{"by digest", "image: nginx@" + digest + "\n", "image", "2.0", []string{"pinned by digest"}},
		{"a placeholder", "image: {name: a/b, tag: set-by-chartpress}\n", "image", "2.0", []string{"placeholder", "set-by-chartpress"}},
		{"no such path", "a: {image: x/y:1}\nb: {image: x/y:1}\n", "c.image", "2", []string{"no image at c.image", "a.image, b.image"}},
		{"no images", "a: 1\n", "a", "2", []string{"pins none"}},
		{"not a tag", "image: x/y:1\n", "image", "1 2", []string{"is not a tag"}},
		{"a dash first", "image: x/y:1\n", "image", "-1", []string{"is not a tag"}},
		{"a number would become a number", "image: {repository: a/b, tag: 1.16}\n", "image", "1.20", []string{"would not read back as a string", "quote the tag"}},
		{"escapes", "image: \"x/y:1\\x2e0\"\n", "image", "2", []string{"escapes"}},
		{"a broken file", "a: 1\nimage: [\n", "image", "2", []string{"values file line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetTag([]byte(tt.in), tt.path, tt.tag)
			if err == nil {
				t.Fatalf("SetTag edited it:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func FuzzSetTag(f *testing.F) {
	f.Add([]byte("image:\n  repository: nginx\n  tag: \"1.0\" # c\n"), "image", "1.2.3")
	f.Add([]byte("a: [{image: 'x/y:1'}]\r\n"), "a[0].image", "v2")
	f.Add([]byte("b: &b {repository: a/b, tag: 1}\nc: *b\n"), "c", "2")
	f.Add(mybinderValues(f, "2022"), "binderhub.config.BinderHub.build_image", "2022.02.0")
	f.Add(mybinderValues(f, "2026"), "buildkitPruner.image", "29.0.0-dind")
	f.Fuzz(func(t *testing.T, in []byte, path, tag string) {
		out, err := SetTag(in, path, tag)
		if err != nil {
			return
		}
		g, err := Parse("out", out)
		if err != nil {
			t.Fatalf("output does not parse: %v\nin:  %q\nout: %q", err, in, out)
		}
		r, ok := g.Find(path)
		if !ok || r.Tag != tag {
			t.Fatalf("%s reads back as %+v\nin:  %q\nout: %q", path, r, in, out)
		}
		changed, same := yamledit.ChangedLines(in, out)
		if !same || len(changed) != 1 && !bytes.Equal(in, out) {
			t.Fatalf("lines %v changed\nin:  %q\nout: %q", changed, in, out)
		}
	})
}
