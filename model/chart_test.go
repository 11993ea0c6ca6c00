package model_test

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/model"
)

func versions(vs ...string) []model.ChartVersion {
	out := make([]model.ChartVersion, len(vs))
	for i, v := range vs {
		out[i] = model.ChartVersion{Version: v}
	}
	return out
}

func TestSelectNewest(t *testing.T) {
	tests := []struct {
		name     string
		current  string
		versions []model.ChartVersion
		opts     model.SelectOptions
		want     string // "" means ok=false
	}{
		{
			name:     "newest stable",
			current:  "1.0.0",
			versions: versions("1.0.0", "1.2.0", "1.10.0", "1.9.9", "2.0.0-beta.1"),
			want:     "1.10.0",
		},
		{
			name:     "prereleases admitted",
			current:  "1.0.0",
			versions: versions("1.0.0", "1.2.0", "2.0.0-beta.1", "2.0.0-alpha.3"),
			opts:     model.SelectOptions{Prereleases: true},
			want:     "2.0.0-beta.1",
		},
		{
			name:     "only prereleases without opt-in",
			current:  "1.0.0-0.dev.git.1.habcdef0",
			versions: versions("1.0.0-0.dev.git.5.h1234567", "1.0.0-0.dev.git.10.h7654321"),
			want:     "",
		},
		{
			name:     "chartpress build numbers compare numerically",
			current:  "1.0.0-0.dev.git.9.habcdef0",
			versions: versions("1.0.0-0.dev.git.10.h7654321", "1.0.0-0.dev.git.9.h1234567", "1.0.0-0.dev.git.100.h0000000"),
			opts:     model.SelectOptions{Prereleases: true},
			want:     "1.0.0-0.dev.git.100.h0000000",
		},
		{
			name:     "never a downgrade",
			current:  "3.0.0",
			versions: versions("2.9.0", "1.0.0", "3.0.0"),
			want:     "",
		},
		{
			name:     "equal is not newer",
			current:  "3.0.0",
			versions: versions("3.0.0", "3.0.0+build.2"),
			want:     "",
		},
		{
			name:     "versions helm cannot read are skipped",
			current:  "0.1.0",
			versions: versions("0.2.0-072.544c0b1", "latest", "", "0.3.0", "1.2.3.4", "1.x"),
			opts:     model.SelectOptions{Prereleases: true},
			want:     "0.3.0",
		},
		{
			name:     "versions are read as helm reads them: a v, a short version",
			current:  "0.1.0",
			versions: versions("v9.0.0", "0.3.0", "9.1"),
			want:     "9.1",
		},
		{
			name:     "a v pin",
			current:  "v1.7.1",
			versions: versions("v1.7.1", "v1.8.0"),
			want:     "v1.8.0",
		},
		{
			name:     "a bare pin against a v index",
			current:  "1.7.1",
			versions: versions("v1.7.1", "v1.8.0"),
			want:     "v1.8.0",
		},
		{
			name:     "constraint narrows",
			current:  "1.0.0",
			versions: versions("1.5.0", "2.0.0", "2.1.0"),
			opts:     model.SelectOptions{Constraint: "<2"},
			want:     "1.5.0",
		},
		{
			name:     "constraint without prerelease still admits prereleases when asked",
			current:  "1.0.0",
			versions: versions("1.5.0", "1.6.0-beta.1", "2.0.0"),
			opts:     model.SelectOptions{Constraint: "<2", Prereleases: true},
			want:     "1.6.0-beta.1",
		},
		{
			name:     "constraint with prerelease does not admit prereleases on its own",
			current:  "1.0.0",
			versions: versions("1.5.0", "1.6.0-beta.1"),
			opts:     model.SelectOptions{Constraint: ">=1.0.0-0"},
			want:     "1.5.0",
		},
		{
			name:     "constraint excludes everything newer",
			current:  "1.0.0",
			versions: versions("2.0.0"),
			opts:     model.SelectOptions{Constraint: "~1.0"},
			want:     "",
		},
		{
			name:     "pinned prerelease moves to the release",
			current:  "2.0.0-beta.1",
			versions: versions("2.0.0", "1.9.0"),
			want:     "2.0.0",
		},
		{
			name:    "build metadata tie broken by created",
			current: "1.0.0",
			versions: []model.ChartVersion{
				{Version: "1.1.0+a", Created: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
				{Version: "1.1.0+b", Created: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)},
				{Version: "1.1.0+c", Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
			},
			want: "1.1.0+b",
		},
		{
			name:     "no versions",
			current:  "1.0.0",
			versions: nil,
			want:     "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := model.SelectNewest(tt.current, tt.versions, tt.opts)
			if err != nil {
				t.Fatalf("SelectNewest: %v", err)
			}
			if tt.want == "" {
				if ok {
					t.Fatalf("SelectNewest = %q, want nothing newer", got.Version)
				}
				return
			}
			if !ok || got.Version != tt.want {
				t.Fatalf("SelectNewest = %q (ok=%v), want %q", got.Version, ok, tt.want)
			}
		})
	}
}

func TestSelectNewestErrors(t *testing.T) {
	tests := []struct {
		name, current, constraint, wantInErr string
	}{
		{"range pinned", "~1.2.0", "", `pinned version "~1.2.0"`},
		{"operator pinned", "=1.2.0", "", `pinned version "=1.2.0" is not a version`},
		{"short pinned", "1.2", "", `pinned version "1.2"`},
		{"empty pinned", "", "", `pinned version ""`},
		{"leading zero pinned", "0.2.0-072.544c0b1", "", `pinned version "0.2.0-072.544c0b1"`},
		{"bad constraint", "1.0.0", ">>> 1", `version constraint ">>> 1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := model.SelectNewest(tt.current, versions("9.9.9"), model.SelectOptions{Constraint: tt.constraint})
			if err == nil {
				t.Fatal("SelectNewest succeeded, want error")
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("error %q does not mention %q", err, tt.wantInErr)
			}
		})
	}
}

// fixtureIndex reads the real JupyterHub chart index that the project keeps,
// gzipped, in testdata/ at the repository's root.
func fixtureIndex(t testing.TB) map[string][]model.ChartVersion {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "jupyterhub-helm-chart-index.yaml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var ix struct {
		Entries map[string][]struct {
			Version    string    `yaml:"version"`
			Created    time.Time `yaml:"created"`
			Home       string    `yaml:"home"`
			Sources    []string  `yaml:"sources"`
			AppVersion string    `yaml:"appVersion"`
			Digest     string    `yaml:"digest"`
		} `yaml:"entries"`
	}
	if err := yaml.Unmarshal(data, &ix); err != nil {
		t.Fatalf("parse fixture index: %v", err)
	}
	out := map[string][]model.ChartVersion{}
	for name, es := range ix.Entries {
		for _, e := range es {
			out[name] = append(out[name], model.ChartVersion{
				Version: e.Version, Created: e.Created, Home: e.Home,
				Sources: e.Sources, AppVersion: e.AppVersion, Digest: e.Digest,
			})
		}
	}
	return out
}

func TestSelectNewestRealIndex(t *testing.T) {
	ix := fixtureIndex(t)
	tests := []struct {
		chart, current string
		opts           model.SelectOptions
		want           string
	}{
		{"binderhub", "0.1.0-fd778a3", model.SelectOptions{Prereleases: true}, "1.0.0-0.dev.git.3506.hba24eb2a"},
		{"binderhub", "1.0.0-0.dev.git.3497.hf25ee22", model.SelectOptions{Prereleases: true}, "1.0.0-0.dev.git.3506.hba24eb2a"},
		{"binderhub", "0.1.0-fd778a3", model.SelectOptions{}, ""}, // no stable releases at all
		{"binderhub", "1.0.0-0.dev.git.3506.hba24eb2a", model.SelectOptions{Prereleases: true}, ""},
		{"jupyterhub", "1.0.0", model.SelectOptions{}, "3.3.8"},
		{"jupyterhub", "3.3.7", model.SelectOptions{}, "3.3.8"},
		{"jupyterhub", "3.3.8", model.SelectOptions{}, ""},
		{"jupyterhub", "1.0.0", model.SelectOptions{Prereleases: true}, "4.0.0-beta.4.git.6831.habe06f4d"},
		{"jupyterhub", "1.0.0", model.SelectOptions{Prereleases: true, Constraint: "<4.0.0-0"}, "3.3.8"},
		{"jupyterhub", "1.0.0", model.SelectOptions{Constraint: ">=2, <3"}, "2.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.chart+"/"+tt.current, func(t *testing.T) {
			vs := ix[tt.chart]
			if len(vs) == 0 {
				t.Fatalf("chart %s not in fixture index", tt.chart)
			}
			got, ok, err := model.SelectNewest(tt.current, vs, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != tt.want || ok != (tt.want != "") {
				t.Fatalf("SelectNewest(%s, %+v) = %q ok=%v, want %q", tt.current, tt.opts, got.Version, ok, tt.want)
			}
			if ok && (got.Created.IsZero() || got.Digest == "" || len(got.Sources) == 0) {
				t.Errorf("selected version lost its details: %+v", got)
			}
		})
	}
}

func TestChartpressHash(t *testing.T) {
	tests := []struct {
		version, want string
	}{
		{"1.0.0-0.dev.git.3497.hf25ee22", "f25ee22"},
		{"4.0.0-beta.4.git.6831.habe06f4d", "abe06f4d"},
		{"1.0.0-0.dev.git.3506.hba24eb2a", "ba24eb2a"},
		{"0.2.0-n653.h195caac", "195caac"},
		{"1.0.0-0.dev.git.12.h0123456+build.1", "0123456"},
		{"3.3.8", ""},
		{"0.1.0-fd778a3", ""},
		{"1.0.0-beta.1", ""},
		{"1.0.0-0.dev.git.x.hf25ee22", ""},  // count not numeric
		{"1.0.0-0.dev.git.12.hXYZ1234", ""}, // not hex
		{"1.0.0-0.dev.git.12.habc", ""},     // too short for a commit hash
		{"1.0.0-h1234567", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := model.ChartpressHash(tt.version)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ChartpressHash(%q) = %q, %v; want %q", tt.version, got, ok, tt.want)
		}
	}
}
