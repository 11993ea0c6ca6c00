package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const full = `registry:
  url: myregistry.azurecr.io
  insecure: false
  auth:
    type: basic
    username: bot
    password: env:REGISTRY_PASSWORD
  concurrency: 8
  policy:
    max_age: 90d
    keep_latest: 1
    protect: ["^jupyterhub/", "^base:latest$"]
    cap: 2TiB
    aggressive: true
    max_delete_fraction: 0.25
audit_log: /var/log/hub/audit.jsonl
github:
  token: keyvault://hub-vault/github-token
  mode: fork
charts:
  - repository: alan-turing-institute/hub23-deploy
    file: hub23-chart/Chart.yaml
    dependencies:
      binderhub: {prereleases: true}
      jupyterhub: {constraint: ">=3.0.0", range: widen}
    labels: [dependencies]
azure:
  client_id: 1234
`

func TestParseFull(t *testing.T) {
	c, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Registry
	if r.URL != "myregistry.azurecr.io" || r.Auth.Type != AuthBasic || r.Auth.Password != "env:REGISTRY_PASSWORD" || r.Concurrency != 8 {
		t.Errorf("registry = %+v", r)
	}
	p := r.Policy.ModelPolicy()
	if p.MaxAge != 90*24*time.Hour || p.KeepLatest != 1 || p.Cap != 2<<40 || !p.Aggressive || p.MaxDeleteFraction != 0.25 {
		t.Errorf("policy = %+v", p)
	}
	if len(p.Protect) != 2 || !p.Protect[1].MatchString("base:latest") {
		t.Errorf("protect = %v", p.Protect)
	}
	if c.GitHub.APIURL != DefaultGitHubAPI || c.GitHub.Mode != ModeFork {
		t.Errorf("github = %+v", c.GitHub)
	}
	if len(c.Charts) != 1 || !c.Charts[0].Dependencies["binderhub"].Prereleases || c.Charts[0].Dependencies["jupyterhub"].Constraint != ">=3.0.0" ||
		c.Charts[0].Dependencies["jupyterhub"].Range != "widen" || c.Charts[0].Dependencies["binderhub"].Range != "replace" {
		t.Errorf("charts = %+v", c.Charts)
	}
	if c.Azure.ClientID != "1234" {
		t.Errorf("azure = %+v", c.Azure)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("registry:\n  url: 127.0.0.1:5000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Registry.Auth.Type != AuthAnonymous || c.Registry.Concurrency != DefaultConcurrency ||
		*c.Registry.Policy.MaxDeleteFraction != DefaultMaxDeleteFraction || c.GitHub.Mode != ModeBranch {
		t.Errorf("defaults not applied: %+v", c)
	}
	env := map[string]string{"HOME": "/home/op"}
	if got := c.AuditPath(func(k string) string { return env[k] }); got != "/home/op/.local/state/helmupgradebot/audit.jsonl" {
		t.Errorf("audit path = %s", got)
	}
	env["XDG_STATE_HOME"] = "/state"
	if got := c.AuditPath(func(k string) string { return env[k] }); got != "/state/helmupgradebot/audit.jsonl" {
		t.Errorf("audit path = %s", got)
	}
}

// TestAgeFrom: an ACR or ECR image's age is its push time unless age_from says
// built; on the distribution API it is always the build time.
func TestAgeFrom(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"registry:\n  url: hub.azurecr.io\n", AgeFromPushed},
		{"registry:\n  url: hub.azurecr.io\n  age_from: built\n", AgeFromBuilt},
		{"registry:\n  url: 127.0.0.1:5000\n  flavor: acr\n  age_from: pushed\n", AgeFromPushed},
		{"registry:\n  url: 127.0.0.1:5000\n", AgeFromBuilt},
		{"registry:\n  url: 127.0.0.1:5000\n  age_from: built\n", AgeFromBuilt},
		{"registry:\n  url: 123456789012.dkr.ecr.us-east-1.amazonaws.com\n", AgeFromPushed},
		{"registry:\n  url: 127.0.0.1:5000\n  flavor: ecr\n  age_from: built\n", AgeFromBuilt},
	} {
		c, err := Parse([]byte(tc.doc))
		if err != nil {
			t.Fatalf("%q: %v", tc.doc, err)
		}
		if c.Registry.AgeFrom != tc.want {
			t.Errorf("%q: age_from %q, want %q", tc.doc, c.Registry.AgeFrom, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error
	}{
		{"unknown key", "registry:\n  url: r.io\n  polcy: {}\n", []string{"line 3: registry.polcy: unknown key; did you mean policy?"}},
		{"wrong type", "registry:\n  url: r.io\n  concurrency: lots\n", []string{"line 3", "registry.concurrency", "lots"}},
		{"bad regex", "registry:\n  url: r.io\n  policy:\n    protect: [\"(\"]\n", []string{"line 4", "registry.policy.protect", "regular expression"}},
		{"negative age", "registry:\n  url: r.io\n  policy:\n    max_age: -3d\n", []string{"line 4", "registry.policy.max_age", "negative"}},
		{"bad size", "registry:\n  url: r.io\n  policy:\n    cap: 2 parsecs\n", []string{"line 4", "registry.policy.cap", "2 parsecs"}},
		{"negative keep", "registry:\n  url: r.io\n  policy:\n    keep_latest: -1\n", []string{"line 4", "registry.policy.keep_latest", "negative"}},
		{"fraction", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: 1.5\n", []string{"line 4", "max_delete_fraction"}},
		{"fraction nan", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: .nan\n", []string{"line 4", "registry.policy.max_delete_fraction", "NaN", "between 0 and 1"}},
		{"fraction NaN", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: .NaN\n", []string{"line 4", "registry.policy.max_delete_fraction", "NaN"}},
		{"fraction inf", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: .inf\n", []string{"line 4", "registry.policy.max_delete_fraction", "between 0 and 1"}},
		{"fraction -inf", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: -.inf\n", []string{"line 4", "registry.policy.max_delete_fraction", "between 0 and 1"}},
		{"fraction inf word", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: inf\n", []string{"line 4", "registry.policy.max_delete_fraction"}},
		{"fraction negative", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: -0.01\n", []string{"line 4", "registry.policy.max_delete_fraction", "between 0 and 1"}},
		{"fraction just over", "registry:\n  url: r.io\n  policy:\n    max_delete_fraction: 1.0000001\n", []string{"line 4", "registry.policy.max_delete_fraction", "between 0 and 1"}},
		{"age wraps to 3 days", "registry:\n  url: r.io\n  policy:\n    max_age: 30501w\n", []string{"line 4", "registry.policy.max_age", "30501w", "too large", "100 years"}},
		{"age wraps negative", "registry:\n  url: r.io\n  policy:\n    max_age: 20000w\n", []string{"line 4", "registry.policy.max_age", "20000w", "too large"}},
		{"age a day over 100 years", "registry:\n  url: r.io\n  policy:\n    max_age: 36501d\n", []string{"line 4", "registry.policy.max_age", "100 years"}},
		{"age in flow style", "registry:\n  url: r.io\n  policy: {keep_latest: 1,\n    max_age: 9223372036854775808ns}\n", []string{"line 4", "registry.policy.max_age", "too large"}},
		{"cap past int64", "registry:\n  url: r.io\n  policy:\n    cap: 8EiB\n", []string{"line 4", "registry.policy.cap", "8EiB", "too large"}},
		{"cap huge", "registry:\n  url: r.io\n  policy:\n    cap: 99999999999999999999999999TB\n", []string{"line 4", "registry.policy.cap", "too large"}},
		{"aggressive without cap", "registry:\n  url: r.io\n  policy:\n    aggressive: true\n", []string{"line 4", "needs a cap"}},
		{"scheme", "registry:\n  url: https://r.io\n", []string{"line 2", "registry.url", "without a scheme"}},
		{"auth type", "registry:\n  url: r.io\n  auth:\n    type: oauth\n", []string{"line 4", "registry.auth.type", "oauth"}},
		{"age from", "registry:\n  url: hub.azurecr.io\n  age_from: tagged\n", []string{"line 3", "registry.age_from", `"tagged" is not one of pushed, built`}},
		{"pushed on distribution", "registry:\n  url: r.io\n  age_from: pushed\n", []string{"line 3", "registry.age_from", "no push times", "flavor: acr"}},
		{"inline password", "registry:\n  url: r.io\n  auth:\n    type: basic\n    username: u\n    password: hunter2\n", []string{"line 6", "registry.auth.password", "not a secret reference"}},
		{"bad repository", "github:\n  token: env:T\ncharts:\n  - repository: hub23\n    file: Chart.yaml\n", []string{"line 4", "charts[0].repository", "owner/name"}},
		{"no file", "github:\n  token: env:T\ncharts:\n  - repository: a/b\n", []string{"charts[0].file", "missing"}},
		{"bad constraint", "github:\n  token: env:T\ncharts:\n  - repository: a/b\n    file: C.yaml\n    dependencies:\n      hub: {constraint: \"~>banana\"}\n", []string{"line 7", "constraint"}},
		{"range strategy", "github:\n  token: env:T\ncharts:\n  - repository: a/b\n    file: C.yaml\n    dependencies:\n      hub:\n        range: stretch\n",
			[]string{"line 8", "charts[0].dependencies.hub.range", `"stretch" is not one of replace, bump, widen`}},
		{"range strategy, case", "github:\n  token: env:T\ncharts:\n  - repository: a/b\n    file: C.yaml\n    dependencies:\n      hub: {range: Bump}\n",
			[]string{"line 7", "charts[0].dependencies.hub.range", `"Bump" is not one of replace, bump, widen`}},
		{"values: absolute path", imagesHead + "    values: [/hub/values.yaml]\n", []string{"line 6", "charts[0].values[0]", "repository's root"}},
		{"values: dot dot", imagesHead + "    values:\n      - ok.yaml\n      - ../other/values.yaml\n", []string{"line 8", "charts[0].values[1]", "../other/values.yaml"}},
		{"values: dot slash", imagesHead + "    values: [./values.yaml]\n", []string{"line 6", "charts[0].values[0]", "./values.yaml"}},
		{"values: empty path", imagesHead + "    values: [\"\"]\n", []string{"line 6", "charts[0].values[0]", "empty"}},
		{"values: the chart file", imagesHead + "    values: [hub/Chart.yaml]\n", []string{"line 6", "charts[0].values[0]", "chart file"}},
		{"values: twice", imagesHead + "    values: [v.yaml, v.yaml]\n", []string{"line 6", "charts[0].values[1]", "twice"}},
		{"values: not a list", imagesHead + "    values: v.yaml\n", []string{"line 6", "charts[0].values"}},
		{"values: bad include glob", imagesHead + "    values: [v.yaml]\n    images:\n      include: [\"quay.io/[\"]\n", []string{"line 8", "charts[0].images.include[0]", "quay.io/["}},
		{"values: bad exclude glob", imagesHead + "    values: [v.yaml]\n    images:\n      exclude:\n        - ok/*\n        - \"a[\"\n", []string{"line 10", "charts[0].images.exclude[1]"}},
		{"values: empty glob", imagesHead + "    values: [v.yaml]\n    images: {include: [\"\"]}\n", []string{"line 7", "charts[0].images.include[0]", "empty pattern"}},
		{"values: bad constraint", imagesHead + "    values: [v.yaml]\n    images:\n      constraint: \"~>banana\"\n", []string{"line 8", "charts[0].images.constraint", "~>banana"}},
		{"values: rules without values", imagesHead + "    images:\n      prereleases: true\n", []string{"line 6", "charts[0].images", "charts[0].values"}},
		{"values: unknown rule", imagesHead + "    values: [v.yaml]\n    images:\n      inclde: [x]\n", []string{"line 8", "charts[0].images.inclde", "did you mean include"}},
		{"no token", "charts:\n  - repository: a/b\n    file: C.yaml\n", []string{"github.token", "no token"}},
		{"mode", "github:\n  token: env:T\n  mode: pigeon\ncharts:\n  - repository: a/b\n    file: C.yaml\n", []string{"line 3", "github.mode"}},
		{"empty", "", []string{"empty"}},
		{"nothing", "audit_log: x\n", []string{"nothing to do"}},
		{"not yaml", "registry: [\n", []string{"line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the inline password", err)
			}
		})
	}
}

// TestPastedCredentialRefused: a token pasted after env:, file: or into a
// keyvault:// reference is a configuration error naming the key and line,
// and the error shows at most the token's first four characters.
func TestPastedCredentialRefused(t *testing.T) {
	// built here so that no token-shaped literal sits in the source
	tok := "ghp_" + strings.Repeat("R3alT0kenX", 3) + "q7Wz9K"
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ." + strings.Repeat("Zm9vYmFy", 4)
	random := "Xq7Lp2Vm9Rt4Wk8Zc3Nb6Hd1Jf5Gs0Ty"
	for _, tc := range []struct {
		doc, secret string
		want        []string
	}{
		{"github:\n  token: env:" + tok + "\ncharts:\n  - repository: a/b\n    file: C.yaml\n", tok, []string{"line 2", "github.token", "looks like a GitHub token", "ghp_…"}},
		{"github:\n  token: file:" + tok + "\ncharts:\n  - repository: a/b\n    file: C.yaml\n", tok, []string{"line 2", "github.token", "looks like a GitHub token"}},
		{"github:\n  token: keyvault://hubvault/" + random + "\ncharts:\n  - repository: a/b\n    file: C.yaml\n", random, []string{"line 2", "github.token", "looks like a random secret"}},
		{"registry:\n  url: r.io\n  auth:\n    type: basic\n    username: u\n    password: file:" + jwt + "\n", jwt, []string{"line 6", "registry.auth.password", "looks like a JSON Web Token"}},
		{"registry:\n  url: r.io\n  auth:\n    type: basic\n    username: u\n    password: env:" + random + "\n", random, []string{"line 6", "registry.auth.password", "looks like a random secret"}},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil {
			t.Errorf("accepted a pasted credential:\n%s", strings.ReplaceAll(tc.doc, tc.secret, "<credential>"))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", strings.ReplaceAll(err.Error(), tc.secret, "<LEAKED>"), w)
			}
		}
		if strings.Contains(err.Error(), tc.secret[4:12]) {
			t.Errorf("error %q shows the credential", strings.ReplaceAll(err.Error(), tc.secret[4:12], "<LEAKED>"))
		}
	}
	// a long, real variable name is not mistaken for one
	if _, err := Parse([]byte("github:\n  token: env:HELMUPGRADEBOT_GITHUB_TOKEN_FOR_PRODUCTION_DEPLOYMENTS\ncharts:\n  - repository: a/b\n    file: C.yaml\n")); err != nil {
		t.Errorf("real variable name refused: %v", err)
	}
}

// TestPolicyLimits: the largest accepted values load as written.
func TestPolicyLimits(t *testing.T) {
	for _, tc := range []struct {
		doc      string
		age      time.Duration
		cap      int64
		fraction float64
	}{
		{"max_age: 36500d\n    cap: 9223372036854775807B\n    max_delete_fraction: 1", 36500 * 24 * time.Hour, 1<<63 - 1, 1},
		{"max_age: 5214w2d\n    cap: 7EiB\n    max_delete_fraction: 0", 36500 * 24 * time.Hour, 7 << 60, 0},
		{"max_age: 876000h\n    cap: 1.5 GiB\n    max_delete_fraction: -0.0", 36500 * 24 * time.Hour, 3 << 29, 0},
	} {
		c, err := Parse([]byte("registry:\n  url: r.io\n  policy:\n    " + tc.doc + "\n"))
		if err != nil {
			t.Errorf("%q: %v", tc.doc, err)
			continue
		}
		p := c.Registry.Policy.ModelPolicy()
		if p.MaxAge != tc.age || p.Cap != tc.cap || p.MaxDeleteFraction != tc.fraction {
			t.Errorf("%q: policy = %+v", tc.doc, p)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("registry:\n  url: r.io\n  bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("Load error = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file error = %v", err)
	}
}
