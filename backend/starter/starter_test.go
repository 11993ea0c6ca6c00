package starter_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/starter"
	"github.com/helmupgradebot/helmupgradebot/backend/starter/startertest"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
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
	month := 30 * 24 * time.Hour
	for _, tc := range []struct {
		name   string
		a      starter.Answers
		check  func(*config.Config) bool
		within []string
	}{
		{"nothing asked: the examples", starter.Answers{}, func(c *config.Config) bool {
			return c.Registry.URL == "myregistry.azurecr.io" && c.Registry.Flavor == config.FlavorACR && c.Registry.Auth.Type == config.AuthAzure &&
				len(c.Charts) == 1 && c.Charts[0].Repository == "my-org/my-hub-deploy" && c.GitHub.Token == "env:HELMUPGRADEBOT_GITHUB_TOKEN" &&
				len(c.Registry.Policy.Usage) == 1 && c.Registry.Policy.Usage[0].Kubernetes != nil &&
				c.Registry.Policy.Usage[0].Kubernetes.Selector == usage.DefaultSelector
		}, []string{"# app_id:", "# private_key:", "max_age: 90d", "--check-config", "# keep_launched_within:", "# retry:"}},
		{"ACR and a repository", starter.Answers{RegistryHost: "hub23.azurecr.io", Repository: "alan-turing-institute/hub23-deploy", ChartFile: "hub23-chart/Chart.yaml", TokenRef: "keyvault://hub-vault/github-token"},
			func(c *config.Config) bool {
				return c.Registry.Auth.Type == config.AuthAzure && c.Charts[0].File == "hub23-chart/Chart.yaml" && c.GitHub.Token == "keyvault://hub-vault/github-token" &&
					c.Azure.ClientID == ""
			}, []string{"# azure:"}},
		{"basic auth", starter.Answers{RegistryHost: "registry.example.org:5000", RegistryAuth: "basic", RegistryUser: "bot", RegistryPassword: "file:/etc/helmupgradebot/registry-password"},
			func(c *config.Config) bool {
				return c.Registry.Flavor == config.FlavorDistribution && c.Registry.Auth.Username == "bot" && len(c.Charts) == 0
			}, []string{"# The chart chore is off", "# github:", "#   - repository: my-org/my-hub-deploy"}},
		{"ECR", starter.Answers{RegistryHost: "123456789012.dkr.ecr.us-west-2.amazonaws.com"}, func(c *config.Config) bool {
			return c.Registry.Flavor == config.FlavorECR && c.Registry.Auth.Type == config.AuthAWS
		}, []string{"# keep_pulled_within:"}},
		{"Artifact Registry", starter.Answers{RegistryHost: "us-docker.pkg.dev", RegistryRoot: "my-project/binder"}, func(c *config.Config) bool {
			return c.Registry.Flavor == config.FlavorGAR && c.Registry.Auth.Type == config.AuthGoogle && c.Registry.Root == "my-project/binder"
		}, []string{"  root: my-project/binder"}},
		{"gcr.io with a _json_key login", starter.Answers{RegistryHost: "gcr.io", RegistryAuth: "basic", RegistryUser: "_json_key", RegistryPassword: "file:/etc/key.json"},
			func(c *config.Config) bool {
				return c.Registry.Flavor == config.FlavorDistribution && c.Registry.Root == ""
			}, nil},
		{"OVH's managed Harbor, a robot account", starter.Answers{RegistryHost: "2lmrrh8f.gra7.container-registry.ovh.net", RegistryAuth: "basic",
			RegistryUser: "robot$mybinder-builds+cleaner", RegistryPassword: "env:HARBOR_ROBOT_SECRET"},
			func(c *config.Config) bool {
				return c.Registry.Flavor == config.FlavorHarbor && c.Registry.Auth.Username == "robot$mybinder-builds+cleaner"
			}, []string{"  flavor: harbor", "# projects: []"}},
		{"loopback registry only", starter.Answers{RegistryHost: "localhost:5000"}, func(c *config.Config) bool {
			return c.Registry.Auth.Type == config.AuthAnonymous
		}, nil},
		{"a trailing slash", starter.Answers{RegistryHost: "hub23.azurecr.io/"}, func(c *config.Config) bool {
			return c.Registry.URL == "hub23.azurecr.io" && c.Registry.Flavor == config.FlavorACR && c.Registry.Auth.Type == config.AuthAzure
		}, nil},
		{"charts only, odd path", starter.Answers{Repository: "o/r", ChartFile: "my chart: #1/Chart.yaml"}, func(c *config.Config) bool {
			return c.Registry.URL == "" && c.Charts[0].File == "my chart: #1/Chart.yaml" && c.Charts[0].Labels[0] == "dependencies"
		}, []string{"# The registry chore is off", "# registry:", "#     # keep_launched_within:"}},
		{"identity, cap, events", starter.Answers{RegistryHost: "hub23.azurecr.io", ClientID: "0a1b2c3d-0000-4000-8000-123456789abc", Cap: "2TiB",
			Launches: starter.LaunchesEvents, Events: "https://archive.analytics.mybinder.org/events-{date}.jsonl"},
			func(c *config.Config) bool {
				p := c.Registry.Policy
				return c.Azure.ClientID == "0a1b2c3d-0000-4000-8000-123456789abc" && p.Cap.Bytes == 2<<40 && p.KeepLaunchedWithin.Duration == month &&
					len(p.Usage) == 1 && p.Usage[0].Events == "https://archive.analytics.mybinder.org/events-{date}.jsonl"
			}, []string{"# allow_empty: false", "# - kubernetes:"}},
		{"both sources", starter.Answers{RegistryHost: "localhost:5000", Launches: starter.LaunchesBoth, Events: "/var/log/binderhub/events-*.jsonl",
			Namespace: "binderhub", Selector: "app=jupyterhub,component=singleuser-server"},
			func(c *config.Config) bool {
				p := c.Registry.Policy
				return p.KeepLaunchedWithin.Duration == month && len(p.Usage) == 2 && p.Usage[0].Events == "/var/log/binderhub/events-*.jsonl" &&
					p.Usage[1].Kubernetes.Namespace == "binderhub" && p.Usage[1].Kubernetes.Selector == "app=jupyterhub,component=singleuser-server"
			}, nil},
		{"a namespace YAML would misread", starter.Answers{RegistryHost: "localhost:5000", Namespace: "null"}, func(c *config.Config) bool {
			return c.Registry.Policy.Usage[0].Kubernetes.Namespace == "null"
		}, nil},
		{"no launches: by age alone, said so", starter.Answers{RegistryHost: "localhost:5000", Launches: starter.LaunchesNone}, func(c *config.Config) bool {
			return len(c.Registry.Policy.Usage) == 0 && c.Registry.Policy.KeepLaunchedWithin.Duration == 0
		}, []string{"# No usage source: images people still launch are deleted by age", "    # usage:"}},
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

// TestRenderRefuses: every answer is checked as config.Parse checks it,
// and the error names the key (never the probe's line numbers), without
// showing a credential pasted as a reference.
func TestRenderRefuses(t *testing.T) {
	tok := "ghp_" + strings.Repeat("R3alT0kenX", 3) + "q7Wz9K"
	for _, tc := range []struct {
		a    starter.Answers
		want string
	}{
		{starter.Answers{RegistryHost: "https://myregistry.azurecr.io"}, "registry.url: give host[:port] without a scheme"},
		{starter.Answers{RegistryHost: "myregistry.azurecr.io/hub"}, "registry.url: give host[:port] only"},
		{starter.Answers{RegistryHost: "localhost:5000", RegistryAuth: "basic", RegistryPassword: "hunter2"}, "registry.auth.password:"},
		{starter.Answers{RegistryHost: "localhost:5000", Cap: "2 potatoes"}, `registry.policy.cap: size "2 potatoes"`},
		{starter.Answers{RegistryHost: "localhost:5000", Launches: starter.LaunchesEvents}, "give BinderHub's event log"},
		{starter.Answers{RegistryHost: "localhost:5000", Launches: starter.LaunchesEvents, Events: "https://example.org/events.jsonl"}, "put {date}"},
		{starter.Answers{RegistryHost: "localhost:5000", Launches: starter.LaunchesEvents, Events: "/var/log/[events"}, "not a valid glob"},
		{starter.Answers{RegistryHost: "localhost:5000", Namespace: "Bin_Der"}, `kubernetes.namespace: "Bin_Der" is not a Kubernetes namespace name`},
		{starter.Answers{RegistryHost: "localhost:5000", Launches: "sometimes"}, `launches "sometimes"`},
		{starter.Answers{RegistryHost: "gcr.io"}, "gar needs registry.root"},
		{starter.Answers{RegistryHost: "gcr.io", RegistryRoot: "/p"}, `registry.root: "/p" is not a repository path`},
		{starter.Answers{Repository: "hub23-deploy"}, `charts[0].repository: "hub23-deploy" is not owner/name`},
		{starter.Answers{Repository: "o/r", TokenRef: tok}, "github.token:"},
		{starter.Answers{Repository: "o/r", TokenRef: "env:" + tok}, "looks like a GitHub token"},
	} {
		_, err := starter.Render(tc.a, "x.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.a, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), tok[4:14]) || strings.Contains(err.Error(), "line ")) {
			t.Errorf("the error shows the token or a probe's line: %v", err)
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
		"123456789012.dkr.ecr.eu-central-1.amazonaws.com": config.AuthAWS,
		"gcr.io": config.AuthGoogle, "eu.gcr.io": config.AuthGoogle, "europe-west1-docker.pkg.dev": config.AuthGoogle,
		"2lmrrh8f.gra7.container-registry.ovh.net": config.AuthBasic,
	} {
		if got := starter.DefaultAuth(host); got != want {
			t.Errorf("DefaultAuth(%q) = %s, want %s", host, got, want)
		}
	}
}

// TestAskAccessible runs the form as a screen reader user would, line by
// line (huh's accessible mode): each question is described before it and
// shows its default in brackets; an empty answer takes that default (the
// answer stays empty, Render fills it in); a bad answer is refused with
// config's own error, and asked again.
func TestAskAccessible(t *testing.T) {
	tok := "ghp_" + strings.Repeat("R3alT0kenX", 3) + "q7Wz9K"
	month := 30 * 24 * time.Hour
	for _, tc := range []struct {
		name   string
		input  []string
		want   starter.Answers
		asked  []string
		said   []string
		loaded func(*config.Config) bool
	}{
		{"ACR, defaults", []string{"hub23.azurecr.io", "", "", "", "", "", "", "alan-turing-institute/hub23-deploy", "hub23-chart/Chart.yaml", ""},
			starter.Answers{RegistryHost: "hub23.azurecr.io", RegistryAuth: config.AuthAzure, Launches: starter.LaunchesKubernetes,
				Repository: "alan-turing-institute/hub23-deploy", ChartFile: "hub23-chart/Chart.yaml"},
			[]string{"Container registry [none]:", "Registry login", "Azure identity (azure.client_id) [system-assigned]:", "Size cap (registry.policy.cap) [no cap]:",
				"Where BinderHub's launches come from", "Kubernetes namespace [current namespace]:", "User pod selector [component=singleuser-server]:",
				"Deployment repository [none]:", "Chart.yaml path [Chart.yaml]:", "GitHub token reference [env:HELMUPGRADEBOT_GITHUB_TOKEN]:"},
			[]string{"An empty answer takes the default", "Empty: the machine's system-assigned identity.", "Empty: no cap.", "Empty: env:HELMUPGRADEBOT_GITHUB_TOKEN."},
			func(c *config.Config) bool {
				u := c.Registry.Policy.Usage
				return c.GitHub.Token == "env:HELMUPGRADEBOT_GITHUB_TOKEN" && c.Azure.ClientID == "" && c.Registry.Policy.Cap.Bytes == 0 &&
					len(u) == 1 && u[0].Kubernetes.Namespace == "" && u[0].Kubernetes.Selector == usage.DefaultSelector
			}},
		{"basic login, events, retries", []string{"https://registry.example.org", "registry.example.org", "2", "bot", "hunter2", "env:REGISTRY_PASSWORD",
			"2 potatoes", "500GB", "2", "", "https://example.org/events.jsonl", "/var/log/binderhub/events-*.jsonl",
			"not-a-repo", "org/deploy", "", tok, "keyvault://hubvault/github-token"},
			starter.Answers{RegistryHost: "registry.example.org", RegistryAuth: config.AuthBasic, RegistryUser: "bot", RegistryPassword: "env:REGISTRY_PASSWORD",
				Cap: "500GB", Launches: starter.LaunchesEvents, Events: "/var/log/binderhub/events-*.jsonl", Repository: "org/deploy", TokenRef: "keyvault://hubvault/github-token"},
			[]string{"Registry username [helmupgradebot]:", "Registry password reference [env:HELMUPGRADEBOT_REGISTRY_PASSWORD]:", "Launch events:"},
			[]string{"registry.url: give host[:port] without a scheme", "registry.auth.password:", `registry.policy.cap: size "2 potatoes"`,
				"give BinderHub's event log", "put {date}", `charts[0].repository: "not-a-repo" is not owner/name`, "github.token:"},
			func(c *config.Config) bool {
				p := c.Registry.Policy
				return p.Cap.Bytes == 500e9 && p.KeepLaunchedWithin.Duration == month && len(p.Usage) == 1 && p.Usage[0].Events != "" && c.Charts[0].File == "Chart.yaml"
			}},
		{"both sources, an identity", []string{"hub23.azurecr.io", "", "0a1b2c3d-0000-4000-8000-123456789abc", "2TiB", "3",
			"https://archive.analytics.mybinder.org/events-{date}.jsonl", "Bin_Der", "binderhub", "", ""},
			starter.Answers{RegistryHost: "hub23.azurecr.io", RegistryAuth: config.AuthAzure, ClientID: "0a1b2c3d-0000-4000-8000-123456789abc", Cap: "2TiB",
				Launches: starter.LaunchesBoth, Events: "https://archive.analytics.mybinder.org/events-{date}.jsonl", Namespace: "binderhub"},
			nil, []string{`"Bin_Der" is not a Kubernetes namespace name`},
			func(c *config.Config) bool {
				p := c.Registry.Policy
				return c.Azure.ClientID != "" && len(c.Charts) == 0 && p.KeepLaunchedWithin.Duration == month && len(p.Usage) == 2 &&
					p.Usage[1].Kubernetes.Namespace == "binderhub" && p.Usage[1].Kubernetes.Selector == usage.DefaultSelector
			}},
		{"a trailing slash", []string{"hub23.azurecr.io/", "", "", "", "4", ""},
			starter.Answers{RegistryHost: "hub23.azurecr.io", RegistryAuth: config.AuthAzure, Launches: starter.LaunchesNone},
			[]string{"Azure identity (azure.client_id) [system-assigned]:"}, []string{"1. azure: the machine's Azure identity"},
			func(c *config.Config) bool {
				return c.Registry.Flavor == config.FlavorACR && len(c.Registry.Policy.Usage) == 0 && len(c.Charts) == 0
			}},
		{"charts only", []string{"", "", "org/deploy", "Chart.yaml", "file:/etc/helmupgradebot/token"},
			starter.Answers{Repository: "org/deploy", ChartFile: "Chart.yaml", TokenRef: "file:/etc/helmupgradebot/token"},
			nil, []string{"nothing to do", "give the deployment repository (or start again, giving a registry)"},
			func(c *config.Config) bool {
				return c.Registry.URL == "" && c.GitHub.Token == "file:/etc/helmupgradebot/token"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a starter.Answers
			var out bytes.Buffer
			in := startertest.NewLines(tc.input...)
			err := starter.Ask(context.Background(), &a, starter.AskOptions{Accessible: true, NoColor: true, Input: in, Output: &out})
			if err != nil {
				t.Fatal(err)
			}
			if in.Left() != 0 {
				t.Errorf("%d answers left unread\n%s", in.Left(), out.String())
			}
			if a != tc.want {
				t.Errorf("answers %+v, want %+v\n%s", a, tc.want, out.String())
			}
			if strings.Contains(out.String(), tok[4:14]) {
				t.Errorf("the form shows the pasted token:\n%s", out.String())
			}
			for _, q := range append(tc.asked, tc.said...) {
				if !strings.Contains(out.String(), q) {
					t.Errorf("the form did not say %q:\n%s", q, out.String())
				}
			}
			if strings.Contains(out.String(), "line ") {
				t.Errorf("an error shows a probe's line number:\n%s", out.String())
			}
			data, err := starter.Render(a, "helmupgradebot.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if cfg := load(t, data); !tc.loaded(cfg) {
				t.Errorf("loaded %+v from\n%s", cfg, data)
			}
		})
	}
}
