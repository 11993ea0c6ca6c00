package usage

import "testing"

// TestImageName checks the derivation against names BinderHub wrote: its
// client's test fixture (a real build of binder-examples/octave) and
// mybinder.org's binder-examples/requirements.
func TestImageName(t *testing.T) {
	cases := []struct{ provider, spec, repo, ref, slug, name string }{
		{"GitHub", "binder-examples/octave/HEAD", "binder-examples/octave", "HEAD", "binder-examples-octave", "binder-2dexamples-2doctave-03025a"},
		{"GitHub", "binder-examples/requirements/master", "binder-examples/requirements", "master", "binder-examples-requirements", "binder-2dexamples-2drequirements-55ab5c"},
		{"GitHub", "org/repo.git/feature/x", "org/repo.git", "feature/x", "org-repo", ""},
		{"GitLab", "gitlab-org%2Fgitlab-foss/master", "gitlab-org%2Fgitlab-foss", "master", "gitlab_-org-gitlab_-foss", ""},
		{"Git", "https%3A%2F%2Fexample.org%2Frepo.git/main", "https%3A%2F%2Fexample.org%2Frepo.git", "main", "https://example.org/repo.git", ""},
		{"Git", "git%40example.org%3Agroup%2Frepo/v1", "git%40example.org%3Agroup%2Frepo", "v1", "ssh://git@example.org/group/repo", ""},
		{"Gist", "minrk/ab12cd/0123456", "minrk/ab12cd", "0123456", "ab12cd", ""},
		{"Zenodo", "10.5281/zenodo.3242074", "10.5281/zenodo.3242074", "", "", ""},
	}
	for _, c := range cases {
		repo, ref := splitSpec(c.provider, c.spec)
		if repo != c.repo || ref != c.ref {
			t.Errorf("%s %s: split %q %q, want %q %q", c.provider, c.spec, repo, ref, c.repo, c.ref)
		}
		slug, ok := BuildSlug(c.provider, repo)
		if slug != c.slug || ok != (c.slug != "") {
			t.Errorf("%s %s: slug %q %v, want %q", c.provider, c.spec, slug, ok, c.slug)
		}
		if c.name != "" {
			if got := ImageName(slug); got != c.name {
				t.Errorf("%s: image name %q, want %q", slug, got, c.name)
			}
		}
	}
	if got := escapeSlug("a_b.c/ø"); got != "a-5Fb-2Ec-2F-C3-B8" {
		t.Errorf("escape %q", got)
	}
	if !nameMatches("binderhub-288415/r2d-staging-g5b5b759-binder-2dexamples-2doctave-03025a", "binder-2dexamples-2doctave-03025a") {
		t.Error("a prefixed repository does not match")
	}
	if nameMatches("binder-2dexamples-2doctave-03025b", "binder-2dexamples-2doctave-03025a") {
		t.Error("another hash matches")
	}
}
