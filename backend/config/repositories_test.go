package config

import (
	"strings"
	"testing"
)

const chartsHead = "github:\n  token: env:T\ncharts:\n  - repository: a/b\n    file: Chart.yaml\n"

func TestRepositories(t *testing.T) {
	c, err := Parse([]byte(chartsHead + `repositories:
  bitnami: https://charts.bitnami.com/bitnami
  private:
    url: https://charts.example.org/stable/
    username: bot
    password: env:CHARTS_PASSWORD
  ghcr:
    url: oci://ghcr.io/acme/charts
    token: file:/etc/helmupgradebot/ghcr-token
  acr: {url: oci://hub23.azurecr.io/helm}
  local:
    url: http://127.0.0.1:8879/charts
    username: dev
    password: env:LOCAL_PW
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Repository{
		"bitnami": {URL: "https://charts.bitnami.com/bitnami"},
		"private": {URL: "https://charts.example.org/stable/", Username: "bot", Password: "env:CHARTS_PASSWORD"},
		"ghcr":    {URL: "oci://ghcr.io/acme/charts", Token: "file:/etc/helmupgradebot/ghcr-token"},
		"acr":     {URL: "oci://hub23.azurecr.io/helm"},
		"local":   {URL: "http://127.0.0.1:8879/charts", Username: "dev", Password: "env:LOCAL_PW"},
	}
	if len(c.Repositories) != len(want) {
		t.Fatalf("repositories = %+v", c.Repositories)
	}
	for name, w := range want {
		if got := c.Repositories[name]; got != w {
			t.Errorf("repositories.%s = %+v, want %+v", name, got, w)
		}
	}
	for _, tc := range []struct{ in, want, err string }{
		{"@bitnami", "https://charts.bitnami.com/bitnami", ""},
		{"alias:private", "https://charts.example.org/stable/", ""},
		{"https://example.org/x", "https://example.org/x", ""},
		{"@nope", "", `repository "@nope" names the repository nope, which the configuration's repositories map does not have; it has: acr, bitnami, ghcr, local, private`},
	} {
		got, err := c.ResolveRepository(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("ResolveRepository(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
	var none Config
	if _, err := none.ResolveRepository("@bitnami"); err == nil || !strings.Contains(err.Error(), "no repositories map") || !strings.Contains(err.Error(), "bitnami") {
		t.Errorf("alias without a map: %v", err)
	}
}

func TestRepositoryErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"no url", "repositories:\n  bitnami: {username: u, password: env:P}\n", "line 7: repositories.bitnami.url: missing"},
		{"null", "repositories:\n  bitnami:\n", "line 7: repositories.bitnami.url: missing"},
		{"no scheme", "repositories:\n  bitnami: charts.bitnami.com/bitnami\n", "line 7: repositories.bitnami.url: has no scheme"},
		{"wrong scheme", "repositories:\n  bitnami:\n    url: ftp://charts.example.org/\n", "line 8: repositories.bitnami.url: scheme ftp: is not a chart repository's"},
		{"no host", "repositories:\n  x: oci:///helm\n", "repositories.x.url: has no host; want oci://HOST/PATH"},
		{"password in the URL", "repositories:\n  x: https://bot:hunter2hunter2@charts.example.org/\n", "repositories.x.url: holds user information"},
		{"query", "repositories:\n  x: https://charts.example.org/?token=abc\n", "repositories.x.url: has a query or fragment"},
		{"bad name", "repositories:\n  \"my/charts\": https://charts.example.org/\n", `repositories.my/charts: "my/charts" is not a repository name`},
		{"the same URL twice", "repositories:\n  a: https://Charts.example.org:443/stable\n  b: https://charts.example.org/stable/\n",
			"line 8: repositories.b.url: the same repository as repositories.a"},
		{"username alone", "repositories:\n  x:\n    url: https://charts.example.org/\n    username: bot\n", "repositories.x.password: basic auth needs a password reference"},
		{"password alone", "repositories:\n  x:\n    url: https://charts.example.org/\n    password: env:P\n", "line 7: repositories.x.username: basic auth needs a username"},
		{"token and basic", "repositories:\n  x:\n    url: https://charts.example.org/\n    username: bot\n    password: env:P\n    token: env:T\n",
			"line 11: repositories.x.token: give a token or a username and password, not both"},
		{"not a reference", "repositories:\n  x:\n    url: https://charts.example.org/\n    token: hunter2\n", "line 9: repositories.x.token: resolve secret: not a secret reference"},
		{"clear text credentials", "repositories:\n  x:\n    url: http://charts.example.org/\n    token: env:T\n", "line 8: repositories.x.url: credentials would cross the network in clear text"},
		{"a list", "repositories:\n  x: [https://charts.example.org/]\n", "line 7: repositories.x: want a chart repository URL or a mapping with url, got a list"},
		{"wrong type inside", "repositories:\n  x:\n    url: https://charts.example.org/\n    username: [a]\n", "line 9: repositories.x.username: want a single value (text), got a list"},
		{"unknown key", "repositories:\n  x:\n    url: https://charts.example.org/\n    pasword: env:P\n", "line 9: repositories.x.pasword: unknown key; did you mean password?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(chartsHead + tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			for _, secret := range []string{"hunter2", "token=abc"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows %q: %v", secret, err)
				}
			}
		})
	}
}

func TestRepositoryKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"https://Charts.Example.org:443/stable/", "https://charts.example.org/stable"},
		{"http://h:80/x", "http://h/x"},
		{"https://bot@h/x", "https://h/x"},
		{"oci://ghcr.io/acme/charts/", "oci://ghcr.io/acme/charts"},
	} {
		if RepositoryKey(tc.a) != RepositoryKey(tc.b) {
			t.Errorf("RepositoryKey(%q) = %q, RepositoryKey(%q) = %q: want equal", tc.a, RepositoryKey(tc.a), tc.b, RepositoryKey(tc.b))
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"https://h/x", "http://h/x"},
		{"https://h:8443/x", "https://h/x"},
		{"https://h/x", "https://h/x/y"},
		{"https://h/X", "https://h/x"},
	} {
		if RepositoryKey(tc.a) == RepositoryKey(tc.b) {
			t.Errorf("RepositoryKey(%q) == RepositoryKey(%q): want different", tc.a, tc.b)
		}
	}
}
