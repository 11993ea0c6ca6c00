package config

import (
	"strings"
	"testing"
)

const appCharts = "charts:\n  - repository: a/b\n    file: C.yaml\n"

func TestGitHubApp(t *testing.T) {
	c, err := Parse([]byte("github:\n  app_id: 12345\n  installation_id: 678\n  private_key: keyvault://hubvault/github-app-key\n" + appCharts))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.GitHub; !g.App() || g.AppID != 12345 || g.InstallationID != 678 || g.Token != "" || g.Mode != ModeBranch {
		t.Errorf("decoded %+v", g)
	}
	if c, err := Parse([]byte("github:\n  token: env:T\n" + appCharts)); err != nil || c.GitHub.App() {
		t.Errorf("a token configuration is not an App one: %v %+v", err, c)
	}
}

func TestGitHubAppErrors(t *testing.T) {
	pem := "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAsecretsecretsecret\\n-----END RSA PRIVATE KEY-----"
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"token and app", "github:\n  token: env:T\n  app_id: 1\n  installation_id: 2\n  private_key: env:K\n" + appCharts,
			[]string{"line 2", "github.token", "not both"}},
		{"no installation", "github:\n  app_id: 1\n  private_key: env:K\n" + appCharts,
			[]string{"github.installation_id", "installation"}},
		{"no app id", "github:\n  installation_id: 2\n  private_key: env:K\n" + appCharts,
			[]string{"github.app_id", "App ID"}},
		{"no key", "github:\n  app_id: 1\n  installation_id: 2\n" + appCharts,
			[]string{"github.private_key", "env:NAME"}},
		{"negative id", "github:\n  app_id: -1\n  installation_id: 2\n  private_key: env:K\n" + appCharts,
			[]string{"line 2", "github.app_id"}},
		{"id not a number", "github:\n  app_id: my-app\n  installation_id: 2\n  private_key: env:K\n" + appCharts,
			[]string{"line 2", "github.app_id"}},
		{"inline key", "github:\n  app_id: 1\n  installation_id: 2\n  private_key: \"" + pem + "\"\n" + appCharts,
			[]string{"line 4", "github.private_key", "never write the key itself"}},
		{"fork mode", "github:\n  app_id: 1\n  installation_id: 2\n  private_key: env:K\n  mode: fork\n" + appCharts,
			[]string{"line 5", "github.mode", "mode: branch"}},
		{"neither", appCharts, []string{"github.token", "no token", "GitHub App"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secretsecret") {
				t.Errorf("error %q shows the inline key", err)
			}
		})
	}
}
