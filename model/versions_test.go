package model_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// resolveCase is one pin against an index. wantPin "" with wantErr ""
// means up to date.
type resolveCase struct {
	name       string
	pin        string
	versions   []string
	opts       model.SelectOptions
	wantPin    string
	wantLatest string
	wantErr    string // a substring of the error
}

func runResolve(t *testing.T, tests []resolveCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := model.Resolve(tt.pin, versions(tt.versions...), tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%q) = %+v, %v; want an error with %q", tt.pin, res, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.pin, err)
			}
			if res.Pin != tt.wantPin || res.Outdated() != (tt.wantPin != "") {
				t.Errorf("Resolve(%q).Pin = %q, want %q", tt.pin, res.Pin, tt.wantPin)
			}
			if tt.wantLatest != "" && res.Latest.Version != tt.wantLatest {
				t.Errorf("Resolve(%q).Latest = %q, want %q", tt.pin, res.Latest.Version, tt.wantLatest)
			}
		})
	}
}

func TestResolveBareVersions(t *testing.T) {
	runResolve(t, []resolveCase{
		{name: "v pin moves, keeping its v", pin: "v1.7.1", versions: []string{"v1.7.1", "v1.8.0"}, wantPin: "v1.8.0", wantLatest: "v1.8.0"},
		{name: "v pin against a bare index", pin: "v1.7.1", versions: []string{"1.7.1", "1.8.0"}, wantPin: "v1.8.0", wantLatest: "1.8.0"},
		{name: "bare pin against a v index is outdated, not up to date", pin: "1.7.1", versions: []string{"v1.7.1", "v1.8.0"}, wantPin: "1.8.0", wantLatest: "v1.8.0"},
		{name: "bare pin equal to a v version is up to date", pin: "1.8.0", versions: []string{"v1.7.1", "v1.8.0"}, wantLatest: "v1.8.0"},
		{name: "equal but for build metadata is up to date", pin: "1.2.3", versions: []string{"1.2.3+b", "1.0.0"}, wantLatest: "1.2.3+b"},
		{name: "a partial index version is read as helm reads it, and written in full", pin: "1.2.0", versions: []string{"1.2", "1.3"}, wantPin: "1.3.0", wantLatest: "1.3"},
		{name: "unpublished pin with something newer is outdated", pin: "1.7.2", versions: []string{"1.7.1", "1.8.0"}, wantPin: "1.8.0"},
		{name: "unpublished pin with nothing newer", pin: "1.9.0", versions: []string{"v1.7.1", "v1.8.0"},
			wantErr: "version 1.9.0 is not published, and nothing newer is accepted: the newest published version is v1.8.0"},
		{name: "unpublished pin, newest published not accepted", pin: "1.9.0", versions: []string{"1.8.0", "2.0.0-beta.1"},
			wantErr: "the newest published version is 2.0.0-beta.1, the newest accepted 1.8.0"},
		{name: "unpublished pin, nothing accepted", pin: "1.0.0-0.dev.git.3.h0000000", versions: []string{"1.0.0-0.dev.git.5.h1111111"},
			wantErr: "the newest published version is 1.0.0-0.dev.git.5.h1111111, and none is accepted"},
		{name: "unpublished pin, empty repository", pin: "1.0.0", wantErr: "lists no versions"},
		{name: "published prerelease pin with prereleases off is up to date", pin: "2.0.0-beta.1", versions: []string{"1.9.0", "2.0.0-beta.1", "2.0.0-beta.2"}, wantLatest: "2.0.0-beta.1"},
		{name: "prerelease pin moves to the release", pin: "2.0.0-beta.1", versions: []string{"2.0.0-beta.1", "2.0.0"}, wantPin: "2.0.0"},
		{name: "chartpress builds with prereleases on", pin: "1.0.0-0.dev.git.3478.h0000000",
			versions: []string{"1.0.0-0.dev.git.3478.h0000000", "1.0.0-0.dev.git.3506.hba24eb2a"}, opts: model.SelectOptions{Prereleases: true},
			wantPin: "1.0.0-0.dev.git.3506.hba24eb2a"},
		{name: "constraint narrows", pin: "1.0.0", versions: []string{"1.0.0", "1.5.0", "2.0.0"}, opts: model.SelectOptions{Constraint: "<2"}, wantPin: "1.5.0"},
		{name: "pin above the constraint is up to date", pin: "2.0.0", versions: []string{"1.5.0", "2.0.0"}, opts: model.SelectOptions{Constraint: "<2"}, wantLatest: "2.0.0"},
		{name: "a range strategy does not apply to a bare version", pin: "1.0.0", versions: []string{"1.0.0", "2.0.0"}, opts: model.SelectOptions{Range: model.RangeWiden}, wantPin: "2.0.0"},
		{name: "not a version or range", pin: "latest", versions: []string{"1.0.0"}, wantErr: `version "latest" is neither a version nor a range`},
		{name: "empty", pin: " ", versions: []string{"1.0.0"}, wantErr: "empty"},
		{name: "bad constraint", pin: "1.0.0", versions: []string{"1.0.0"}, opts: model.SelectOptions{Constraint: ">>1"}, wantErr: `version constraint ">>1"`},
		{name: "bad strategy", pin: "1.0.0", versions: []string{"1.0.0"}, opts: model.SelectOptions{Range: "stretch"}, wantErr: `"stretch" is not one of replace, bump, widen`},
	})
}

// index is the repository the range cases resolve against: the newest
// stable version is 2.1.0.
var index = []string{"1.2.3", "1.4.0", "1.7.1", "1.8.0", "2.0.0", "2.1.0", "3.0.0-beta.1"}

func TestResolveRanges(t *testing.T) {
	replace, bump, widen := model.SelectOptions{}, model.SelectOptions{Range: model.RangeBump}, model.SelectOptions{Range: model.RangeWiden}
	var tests []resolveCase
	add := func(opts model.SelectOptions, pin, want string) {
		tests = append(tests, resolveCase{name: fmt.Sprintf("%s %s", opts.Range, pin), pin: pin, versions: index, opts: opts, wantPin: want, wantLatest: "2.1.0"})
	}
	// replace: a range that excludes 2.1.0 is rewritten around it, keeping
	// its shape; one that admits it stays.
	add(replace, "~1.7.0", "~2.1.0")
	add(replace, "~1.7", "~2.1")
	add(replace, "~> 1.2", "~> 2.1")
	add(replace, "^1.2.3", "^2.1.0")
	add(replace, "^v1.2.3", "^v2.1.0")
	add(replace, "1.x", "2.x")
	add(replace, "1.2.x", "2.1.x")
	add(replace, "1.2", "2.1")
	add(replace, "1", "2")
	add(replace, "=1.2.3", "=2.1.0")
	add(replace, ">=1.2.3 <2", ">=2.1.0 <3")
	add(replace, ">=1.2.3, <2.0.0", ">=2.1.0, <3.0.0")
	add(replace, ">= 1.2.3 < 1.8", ">= 2.1.0 < 2.7") // six minors wide, as before
	add(replace, ">=1.2.3 <2.0.0-0", ">=2.1.0 <3.0.0-0")
	add(replace, ">=1.0.0 <3 !=2.0.0", "")
	add(replace, "<2.0.0", "<3.0.0")
	add(replace, "1.2 - 1.4.0", "2.1 - 2.3.0")
	add(replace, "^1.0.0 || ^2.0.0", "")
	add(replace, "^0.1.0 || ^1.0.0", "^0.1.0 || ^2.1.0")
	add(replace, "^1.0.0", "^2.1.0")
	add(replace, "^2.0.0", "")
	add(replace, ">=1.2.3", "")
	add(replace, "*", "")
	add(replace, "2.x", "")
	// bump also moves the floor of a range that admits 2.1.0.
	add(bump, "^2.0.0", "^2.1.0")
	add(bump, ">=1.2.3", ">=2.1.0")
	add(bump, ">=2.0.0 <3", ">=2.1.0 <3")
	add(bump, "~2.1.0", "")
	add(bump, "2.x", "")
	add(bump, "*", "")
	add(bump, "^1.0.0 || ^2.0.0", "^1.0.0 || ^2.1.0")
	add(bump, "~1.7.0", "~2.1.0")
	// widen extends a range that excludes 2.1.0.
	add(widen, "^1.0.0", "^1.0.0 || ^2.1.0")
	add(widen, "~1.7", "~1.7 || ~2.1")
	add(widen, "1.x", "1.x || 2.x")
	add(widen, "^0.1.0||^1.0.0", "^0.1.0||^1.0.0||^2.1.0")
	add(widen, ">=1.2.3 <2", ">=1.2.3 <3")
	add(widen, ">1.2.3 <2", ">1.2.3 <3")
	add(widen, "1.2 - 1.4.0", "1.2 - 2.3.0")
	add(widen, "<2.0.0", "<3.0.0")
	add(widen, "^2.0.0", "")
	tests = append(tests,
		resolveCase{name: "prerelease newest: a caret range takes the prerelease", pin: "^1.2.3", versions: []string{"1.2.3", "1.5.0", "1.6.0-beta.1"},
			opts: model.SelectOptions{Prereleases: true}, wantPin: "^1.6.0-beta.1"},
		resolveCase{name: "prerelease newest: a tilde range written short is written in full", pin: "~1.5", versions: []string{"1.5.0", "1.6.0-beta.1"},
			opts: model.SelectOptions{Prereleases: true}, wantPin: "~1.6.0-beta.1"},
		resolveCase{name: "prerelease newest: an x-range cannot admit it", pin: "1.x", versions: []string{"1.5.0", "2.0.0-beta.1"},
			opts: model.SelectOptions{Prereleases: true}, wantErr: `the x-range "1.x" cannot admit the prerelease 2.0.0-beta.1`},
		resolveCase{name: "prerelease newest: * cannot admit it", pin: "*", versions: []string{"1.5.0", "2.0.0-beta.1"},
			opts: model.SelectOptions{Prereleases: true}, wantErr: `range "*" admits every release but no prerelease`},
		resolveCase{name: "a range resolving above every accepted version is up to date", pin: "^2.0.0", versions: []string{"1.5.0", "2.0.0"},
			opts: model.SelectOptions{Constraint: "<2"}, wantLatest: "2.0.0"},
		resolveCase{name: "bump never lowers what the range resolves to", pin: "^1.0.0", versions: []string{"1.2.0", "1.5.0", "1.9.0"},
			opts: model.SelectOptions{Constraint: "<1.6", Range: model.RangeBump}, wantPin: "^1.5.0", wantLatest: "1.5.0"},
		resolveCase{name: "a range admitting nothing published, nothing newer", pin: "^5.0.0", versions: index,
			wantErr: `range "^5.0.0" admits no published version: the newest published version is 3.0.0-beta.1, the newest accepted 2.1.0`},
		resolveCase{name: "an upper bound that is not a whole step", pin: ">=1.2.3 <1.4.7", versions: index,
			wantErr: "its upper bound <1.4.7 is not a whole number of steps above 1.2.3"},
		resolveCase{name: "a hyphen range that is not a whole step", pin: "1.0.0 - 1.9.9", versions: index,
			wantErr: "its upper bound 1.9.9 is not a whole number of steps above 1.0.0"},
		resolveCase{name: "an exclusive floor cannot move", pin: ">1.2.3 <2", versions: index,
			wantErr: `the floor of ">1.2.3 <2" is exclusive (>)`},
		resolveCase{name: "bump on an exclusive floor", pin: ">1.2.3", versions: index, opts: bump,
			wantErr: `the floor of ">1.2.3" is exclusive (>)`},
		resolveCase{name: "two lower bounds", pin: ">=1.0.0 >=1.1.0 <2", versions: index,
			wantErr: "has more than one lower bound"},
		resolveCase{name: "a caret beside a bound", pin: "^1.2.3 <1.5", versions: index,
			wantErr: "mixes ^1.2.3 with other comparisons"},
		resolveCase{name: "a != that excludes the newest", pin: ">=1.0.0 <2 !=2.1.0", versions: index,
			wantErr: "which does not admit 2.1.0"},
	)
	runResolve(t, tests)
}

// TestResolveNeverDowngrades checks every rewrite, of many ranges against
// many repositories, with Masterminds itself: the new range reads, admits
// the newest accepted version, and resolves no lower than the old one.
func TestResolveNeverDowngrades(t *testing.T) {
	pins := []string{
		"1.2.3", "v1.2.3", "=1.2.3", "1.x", "1.2.x", "1.2", "1", "*", "^1.2.3", "^0.2.3", "^0.0.3", "^1.2", "~1.2.3", "~1.2", "~>1.2.3",
		">=1.2.3", ">=1.2.3 <2", ">=1.2.3, <2.0.0", ">=1.2 <1.4", ">1.2.3 <2", "<2", "<=1.5", "1.2 - 1.4", "1 - 2",
		"^1.0.0 || ^2.0.0", "~1.2 || >=3.0.0 <4", ">=1.2.3 <2.0.0-0", "^1.2.3-0",
	}
	repos := [][]string{
		{"1.2.3", "1.2.9"},
		{"1.2.3", "1.3.0", "1.9.9"},
		{"0.2.3", "0.3.0", "1.0.0", "2.0.0", "2.5.1"},
		{"1.0.0", "2.0.0-rc.1"},
		{"v1.2.3", "v1.4.0", "v3.1.4"},
		{"0.0.3", "0.0.4"},
		{"4.0.0", "5.0.0"},
	}
	for _, pin := range pins {
		for _, repo := range repos {
			for _, s := range model.RangeStrategies {
				for _, pre := range []bool{false, true} {
					opts := model.SelectOptions{Range: s, Prereleases: pre}
					res, err := model.Resolve(pin, versions(repo...), opts)
					if err != nil || !res.Outdated() {
						continue
					}
					old, _ := semver.NewConstraint(pin)
					c, err := semver.NewConstraint(res.Pin)
					if err != nil {
						t.Errorf("%s %q in %v: rewrote to %q, which does not read: %v", s, pin, repo, res.Pin, err)
						continue
					}
					latest := semver.MustParse(res.Latest.Version)
					if !c.Check(latest) {
						t.Errorf("%s %q in %v: %q does not admit the newest %s", s, pin, repo, res.Pin, latest)
					}
					if was, now := top(old, repo), top(c, repo); was != nil && (now == nil || now.LessThan(was)) {
						t.Errorf("%s %q in %v: %q resolves to %v, below %v", s, pin, repo, res.Pin, now, was)
					}
					if res.Range != (pin != "1.2.3" && pin != "v1.2.3") {
						t.Errorf("%q: Range = %v", pin, res.Range)
					}
				}
			}
		}
	}
}

func top(c *semver.Constraints, repo []string) *semver.Version {
	var best *semver.Version
	for _, s := range repo {
		v := semver.MustParse(s)
		if c.Check(v) && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	return best
}

// TestResolveRealIndex: pins and ranges against JupyterHub's real index.
func TestResolveRealIndex(t *testing.T) {
	ix := fixtureIndex(t)
	tests := []struct {
		chart, pin string
		opts       model.SelectOptions
		wantPin    string
		wantErr    string
	}{
		{"jupyterhub", "3.3.7", model.SelectOptions{}, "3.3.8", ""},
		{"jupyterhub", "v3.3.7", model.SelectOptions{}, "v3.3.8", ""},
		{"jupyterhub", "3.3.8", model.SelectOptions{}, "", ""},
		{"jupyterhub", "^3.0.0", model.SelectOptions{}, "", ""},
		{"jupyterhub", "^3.0.0", model.SelectOptions{Range: model.RangeBump}, "^3.3.8", ""},
		{"jupyterhub", "~3.2.0", model.SelectOptions{}, "~3.3.8", ""},
		{"jupyterhub", "2.x", model.SelectOptions{}, "3.x", ""},
		{"jupyterhub", ">=2.0.0 <3", model.SelectOptions{}, ">=3.3.8 <4", ""},
		{"jupyterhub", "^2.0.0", model.SelectOptions{Range: model.RangeWiden}, "^2.0.0 || ^3.3.8", ""},
		{"jupyterhub", "^3.0.0", model.SelectOptions{Prereleases: true}, "^4.0.0-beta.4.git.6831.habe06f4d", ""},
		{"jupyterhub", "9.9.9", model.SelectOptions{}, "", "version 9.9.9 is not published, and nothing newer is accepted: the newest published version is 4.0.0-beta.4.git.6831.habe06f4d, the newest accepted 3.3.8"},
		{"binderhub", "1.0.0-0.dev.git.3497.hf25ee22", model.SelectOptions{Prereleases: true}, "1.0.0-0.dev.git.3506.hba24eb2a", ""},
		{"binderhub", ">=1.0.0-0", model.SelectOptions{Prereleases: true}, "", ""},
		{"binderhub", "1.0.0-0.dev.git.3497.hf25ee22", model.SelectOptions{}, "", ""}, // published; nothing stable
	}
	for _, tt := range tests {
		t.Run(tt.chart+"/"+tt.pin+"/"+string(tt.opts.Range), func(t *testing.T) {
			res, err := model.Resolve(tt.pin, ix[tt.chart], tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve = %+v, %v; want %q", res, err, tt.wantErr)
				}
				return
			}
			if err != nil || res.Pin != tt.wantPin {
				t.Fatalf("Resolve = %q, %v; want %q", res.Pin, err, tt.wantPin)
			}
			if res.Current == nil || res.Latest.Created.IsZero() {
				t.Errorf("resolution lost its index entries: %+v", res)
			}
		})
	}
}

func TestSpellLike(t *testing.T) {
	for _, tt := range []struct{ pin, version, want string }{
		{"v1.7.1", "1.8.0", "v1.8.0"},
		{"v1.7.1", "v1.8.0", "v1.8.0"},
		{"1.7.1", "v1.8.0", "1.8.0"},
		{"1.7.1", "1.8.0", "1.8.0"},
		{"1.2.0", "1.3", "1.3.0"}, // 1.3 in a chart file would be the range 1.3.x
		{"v1.2.0", "v2", "v2.0.0"},
	} {
		if got := model.SpellLike(tt.pin, tt.version); got != tt.want {
			t.Errorf("SpellLike(%q, %q) = %q, want %q", tt.pin, tt.version, got, tt.want)
		}
	}
}

func TestParseRangeStrategy(t *testing.T) {
	for in, want := range map[string]model.RangeStrategy{"": model.RangeReplace, "replace": model.RangeReplace, "bump": model.RangeBump, "widen": model.RangeWiden} {
		if got, err := model.ParseRangeStrategy(in); err != nil || got != want {
			t.Errorf("ParseRangeStrategy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := model.ParseRangeStrategy("Replace"); err == nil || !strings.Contains(err.Error(), "replace, bump, widen") {
		t.Errorf("ParseRangeStrategy(Replace): %v", err)
	}
}
