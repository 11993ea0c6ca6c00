package starter_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/starter"
)

// load writes data and loads it as helmupgradebot does.
func load(t *testing.T, data []byte) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helmupgradebot.yaml")
	if err := starter.Write(path, data, false); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the starter file does not load: %v\n%s", err, data)
	}
	return cfg
}

func TestTemplateLoads(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a      starter.Answers
		check  func(*config.Config) bool
		within []string
	}{
		{"nothing asked: the examples", starter.Answers{}, func(c *config.Config) bool {
			return c.Registry.URL == "myregistry.azurecr.io" && c.Registry.Flavor == config.FlavorACR && c.Registry.Auth.Type == config.AuthAzure &&
				len(c.Charts) == 1 && c.Charts[0].Repository == "my-org/my-hub-deploy" && c.GitHub.Token == "env:HELMUPGRADEBOT_GITHUB_TOKEN"
		}, []string{"# app_id:", "# private_key:", "max_age: 90d", "--check-config"}},
		{"ACR and a repository", starter.Answers{RegistryHost: "hub23.azurecr.io", Repository: "alan-turing-institute/hub23-deploy", ChartFile: "hub23-chart/Chart.yaml", TokenRef: "keyvault://hub-vault/github-token"},
			func(c *config.Config) bool {
				return c.Registry.Auth.Type == config.AuthAzure && c.Charts[0].File == "hub23-chart/Chart.yaml" && c.GitHub.Token == "keyvault://hub-vault/github-token"
			}, nil},
		{"basic auth", starter.Answers{RegistryHost: "registry.example.org:5000", RegistryAuth: "basic", RegistryUser: "bot", RegistryPassword: "file:/etc/helmupgradebot/registry-password"},
			func(c *config.Config) bool {
				return c.Registry.Flavor == config.FlavorDistribution && c.Registry.Auth.Username == "bot" && len(c.Charts) == 0
			}, []string{"# The chart chore is off"}},
		{"loopback registry only", starter.Answers{RegistryHost: "localhost:5000"}, func(c *config.Config) bool {
			return c.Registry.Auth.Type == config.AuthAnonymous
		}, nil},
		{"charts only, odd path", starter.Answers{Repository: "o/r", ChartFile: "my chart: #1/Chart.yaml"}, func(c *config.Config) bool {
			return c.Registry.URL == "" && c.Charts[0].File == "my chart: #1/Chart.yaml" && c.Charts[0].Labels[0] == "dependencies"
		}, []string{"# The registry chore is off"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := starter.Render(tc.a, "helmupgradebot.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if cfg := load(t, data); !tc.check(cfg) {
				t.Errorf("loaded %+v from\n%s", cfg, data)
			}
			for _, w := range tc.within {
				if !bytes.Contains(data, []byte(w)) {
					t.Errorf("no %q in\n%s", w, data)
				}
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	tok := "ghp_" + strings.Repeat("R3alT0kenX", 3) + "q7Wz9K"
	for _, tc := range []struct {
		a    starter.Answers
		want string
	}{
		{starter.Answers{RegistryHost: "https://myregistry.azurecr.io"}, "without https://"},
		{starter.Answers{RegistryHost: "myregistry.azurecr.io/hub"}, "host only"},
		{starter.Answers{Repository: "hub23-deploy"}, "owner/name"},
		{starter.Answers{Repository: "o/r", ChartFile: "/abs/Chart.yaml"}, "repository's root"},
		{starter.Answers{Repository: "o/r", TokenRef: tok}, "never the secret itself"},
		{starter.Answers{Repository: "o/r", TokenRef: "env:" + tok}, "looks like a GitHub token"},
	} {
		_, err := starter.Render(tc.a, "x.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.a, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), tok[4:14]) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}

func TestWriteNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "helmupgradebot.yaml")
	if err := starter.Write(path, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	err := starter.Write(path, []byte("two"), false)
	if !errors.Is(err, starter.ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second write: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Errorf("overwritten without force: %q", b)
	}
	if err := starter.Write(path, []byte("two"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("with force: %q", b)
	}
}

func TestAuthChoices(t *testing.T) {
	for host, want := range map[string]string{
		"hub23.azurecr.io": config.AuthAzure, "x.azurecr.cn:443": config.AuthAzure,
		"localhost:5000": config.AuthAnonymous, "127.0.0.1:5000": config.AuthAnonymous,
		"registry.example.org": config.AuthDocker, "": config.AuthDocker,
	} {
		if got := starter.DefaultAuth(host); got != want {
			t.Errorf("DefaultAuth(%q) = %s, want %s", host, got, want)
		}
	}
}

// lines gives one line per Read, as a terminal does: huh's accessible
// prompts each read with a fresh scanner.
type lines struct{ rest []string }

func (l *lines) Read(p []byte) (int, error) {
	if len(l.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.rest[0]+"\n")
	l.rest = l.rest[1:]
	return n, nil
}

// TestAskAccessible runs the form as a screen reader user would, line by
// line (huh's accessible mode): the defaults follow the host, an empty
// answer keeps the value shown, and a bad answer is asked again.
func TestAskAccessible(t *testing.T) {
	tok := "ghp_" + strings.Repeat("R3alT0kenX", 3) + "q7Wz9K"
	for _, tc := range []struct {
		name  string
		input []string
		want  starter.Answers
	}{
		{"ACR, defaults", []string{"hub23.azurecr.io", "", "alan-turing-institute/hub23-deploy", "hub23-chart/Chart.yaml", ""},
			starter.Answers{RegistryHost: "hub23.azurecr.io", RegistryAuth: config.AuthAzure, Repository: "alan-turing-institute/hub23-deploy",
				ChartFile: "hub23-chart/Chart.yaml", TokenRef: "env:HELMUPGRADEBOT_GITHUB_TOKEN"}},
		{"basic login, retries", []string{"https://registry.example.org", "registry.example.org", "2", "bot", "hunter2", "env:REGISTRY_PASSWORD",
			"not-a-repo", "org/deploy", "", tok, "keyvault://hubvault/github-token"},
			starter.Answers{RegistryHost: "registry.example.org", RegistryAuth: config.AuthBasic, RegistryUser: "bot", RegistryPassword: "env:REGISTRY_PASSWORD",
				Repository: "org/deploy", TokenRef: "keyvault://hubvault/github-token"}},
		{"charts only", []string{"", "org/deploy", "Chart.yaml", "file:/etc/helmupgradebot/token"},
			starter.Answers{Repository: "org/deploy", ChartFile: "Chart.yaml", TokenRef: "file:/etc/helmupgradebot/token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a starter.Answers
			var out bytes.Buffer
			err := starter.Ask(context.Background(), &a, starter.AskOptions{Accessible: true, NoColor: true, Input: &lines{tc.input}, Output: &out})
			if err != nil {
				t.Fatal(err)
			}
			if a != tc.want {
				t.Errorf("answers %+v, want %+v\n%s", a, tc.want, out.String())
			}
			if strings.Contains(out.String(), tok[4:14]) {
				t.Errorf("the form shows the pasted token:\n%s", out.String())
			}
			for _, q := range []string{"Container registry", "Deployment repository", "Chart.yaml path", "GitHub token reference"} {
				if !strings.Contains(out.String(), q) {
					t.Errorf("the form did not ask %q:\n%s", q, out.String())
				}
			}
			data, err := starter.Render(a, "helmupgradebot.yaml")
			if err != nil {
				t.Fatal(err)
			}
			load(t, data)
		})
	}
}
