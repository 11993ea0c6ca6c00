// Package starter writes helmupgradebot's commented starter configuration
// (helmupgradebot init): the template, filled with what the operator
// answered in a short form (see Ask) or with examples, always a file that
// config.Load accepts.
package starter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// DefaultPath is where init writes without a PATH.
const DefaultPath = "helmupgradebot.yaml"

// Answers are what the form asks. An empty RegistryHost leaves the
// registry chore out (its section stays as a commented example); an empty
// Repository leaves the chart chore out; both empty write the examples.
type Answers struct {
	RegistryHost string
	// RegistryAuth is azure, basic, docker or anonymous (DefaultAuth).
	RegistryAuth string
	// RegistryUser and RegistryPassword (a secret reference) go with basic.
	RegistryUser, RegistryPassword string
	// Repository is the deployment repository, owner/name.
	Repository string
	// ChartFile is the Chart.yaml (or requirements.yaml) path in it.
	ChartFile string
	// TokenRef is the GitHub token's secret reference.
	TokenRef string
}

// Examples fill the template when nothing is asked.
var Examples = Answers{
	RegistryHost:     "myregistry.azurecr.io",
	RegistryAuth:     config.AuthAzure,
	RegistryUser:     "helmupgradebot",
	RegistryPassword: "env:HELMUPGRADEBOT_REGISTRY_PASSWORD",
	Repository:       "my-org/my-hub-deploy",
	ChartFile:        "deploy/Chart.yaml",
	TokenRef:         "env:HELMUPGRADEBOT_GITHUB_TOKEN",
}

// AuthChoices are the registry logins a host may use, the default first:
// an Azure Container Registry logs in with the machine's Azure identity;
// a loopback registry is usually open; others use the docker login.
func AuthChoices(host string) []string {
	switch {
	case config.IsACRHost(host):
		return []string{config.AuthAzure, config.AuthBasic, config.AuthDocker, config.AuthAnonymous}
	case loopback.Host(host):
		return []string{config.AuthAnonymous, config.AuthBasic, config.AuthDocker}
	}
	return []string{config.AuthDocker, config.AuthBasic, config.AuthAnonymous}
}

// DefaultAuth is the login a host uses unless the operator says otherwise.
func DefaultAuth(host string) string { return AuthChoices(host)[0] }

var (
	hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)
	repoRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$`)
	// plainRE: a YAML plain scalar that needs no quotes (no ": ", no "#").
	plainRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/@:+-]*$`)
)

// ValidateHost accepts host[:port] without a scheme or path; empty means
// no registry.
func ValidateHost(s string) error {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil
	case strings.Contains(s, "://"):
		return errors.New("give host[:port] without https:// (e.g. myregistry.azurecr.io)")
	case strings.Contains(s, "/"):
		return errors.New("give the registry's host only; every repository under it is inventoried")
	case !hostRE.MatchString(s):
		return errors.New("not a host name such as myregistry.azurecr.io or registry.example.org:5000")
	}
	return nil
}

// ValidateRepository accepts owner/name; empty means no chart upgrades.
func ValidateRepository(s string) error {
	if s = strings.TrimSpace(s); s != "" && !repoRE.MatchString(s) {
		return errors.New("give the GitHub repository as owner/name, e.g. my-org/hub-deploy")
	}
	return nil
}

// ValidateChartFile accepts a relative path to a .yaml file.
func ValidateChartFile(s string) error {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return errors.New("give the path of Chart.yaml in the repository, e.g. deploy/Chart.yaml")
	case strings.HasPrefix(s, "/") || strings.Contains(s, ".."):
		return errors.New("give the path from the repository's root, without a leading / or ..")
	case !strings.HasSuffix(s, ".yaml") && !strings.HasSuffix(s, ".yml"):
		return errors.New("give a Chart.yaml (apiVersion v2) or requirements.yaml")
	}
	return nil
}

// ValidateReference accepts a secret reference, and refuses a credential
// pasted in its place without showing it.
func ValidateReference(s string) error {
	if _, err := secrets.ParseReference(strings.TrimSpace(s)); err != nil {
		return fmt.Errorf("%v; never the secret itself", err)
	}
	return nil
}

// normalize trims the answers, fills in what is left to defaults, and
// checks them.
func (a Answers) normalize() (Answers, error) {
	for _, p := range []*string{&a.RegistryHost, &a.RegistryAuth, &a.RegistryUser, &a.RegistryPassword, &a.Repository, &a.ChartFile, &a.TokenRef} {
		*p = strings.TrimSpace(*p)
	}
	if a.RegistryHost == "" && a.Repository == "" {
		return Examples, nil
	}
	if a.RegistryAuth == "" {
		a.RegistryAuth = DefaultAuth(a.RegistryHost)
	}
	if a.RegistryAuth == config.AuthBasic {
		a.RegistryUser = cmpOr(a.RegistryUser, Examples.RegistryUser)
		a.RegistryPassword = cmpOr(a.RegistryPassword, Examples.RegistryPassword)
	}
	a.ChartFile = cmpOr(a.ChartFile, "Chart.yaml")
	a.TokenRef = cmpOr(a.TokenRef, Examples.TokenRef)
	var errs []error
	for _, err := range []error{ValidateHost(a.RegistryHost), ValidateRepository(a.Repository)} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if a.RegistryAuth == config.AuthBasic {
		if err := ValidateReference(a.RegistryPassword); err != nil {
			errs = append(errs, fmt.Errorf("registry password: %w", err))
		}
	}
	if a.Repository != "" {
		if err := ValidateChartFile(a.ChartFile); err != nil {
			errs = append(errs, err)
		}
		if err := ValidateReference(a.TokenRef); err != nil {
			errs = append(errs, fmt.Errorf("GitHub token: %w", err))
		}
	}
	return a, errors.Join(errs...)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// quote writes s as a YAML scalar: plain when it is safe, else
// double-quoted (a JSON string is a YAML double-quoted scalar).
func quote(s string) string {
	if plainRE.MatchString(s) {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func flavor(acr bool) string {
	if acr {
		return config.FlavorACR
	}
	return config.FlavorDistribution
}

// kv writes "key: value" (value quoted as needed) padded so that the
// comment after it lines up with the template's others.
func kv(prefix, value string) string {
	s := prefix + quote(value)
	return s + strings.Repeat(" ", max(1, 38-len([]rune(s))))
}

var tmpl = template.Must(template.New("config").Funcs(template.FuncMap{"q": quote, "kv": kv, "flavor": flavor}).Parse(`# helmupgradebot configuration, written by "helmupgradebot init".
# Check it, changing nothing:  helmupgradebot --check-config --config {{.Path}}
#
# Secrets are never written here, only referenced: env:NAME, file:PATH (a
# file only its owner may read) or keyvault://VAULT/SECRET (Azure Key Vault,
# read with the machine's managed identity). The README describes every key.
{{if .RegistryHost}}
registry:
{{kv "  url: " .RegistryHost}}# host[:port]; every repository under it is inventoried
  # insecure: false                   # plain HTTP; allowed without it only for loopback hosts
{{kv "  # flavor: " (flavor .ACR)}}# acr (ACR's listing API; the default for *.azurecr.io) or distribution
  auth:
{{kv "    type: " .RegistryAuth}}# azure (the machine's Azure identity) | basic | docker (docker login) | anonymous
{{- if eq .RegistryAuth "basic"}}
    username: {{q .RegistryUser}}
{{kv "    password: " .RegistryPassword}}# a secret reference
{{- end}}
  # concurrency: 16                   # parallel registry requests (1..64)
  policy:
    max_age: 90d                      # images created longer ago are deleted
    # untagged_max_age: 7d            # untagged manifests (ACR lists them) older than this are deleted
    keep_latest: 1                    # per repository, the N newest are never deleted
    protect: []                       # regexes on "repo" or "repo:tag" that are never deleted, e.g. ["^jupyterhub/"]
    # cap: 2TiB                       # the registry's size budget, shown on the gauge
    # aggressive: false               # over the cap: delete what frees the most until under it (needs cap)
    max_delete_fraction: 0.5          # refuse a plan deleting more than this share of images, unless --force
{{else}}
# The registry chore is off. To clean a container registry, uncomment:
# registry:
#   url: myregistry.azurecr.io
#   auth:
#     type: azure
#   policy:
#     max_age: 90d
{{end}}
# audit_log: ""                       # every deletion, one JSON line; default $XDG_STATE_HOME/helmupgradebot/audit.jsonl
{{if .Repository}}
github:
  # api_url: https://api.github.com/  # GitHub Enterprise: https://HOST/api/v3/
{{kv "  token: " .TokenRef}}# needs Contents and Pull requests: read and write
  # To sign in as a GitHub App instead, drop token and give:
  # app_id: 123456                    # the App ID from the App's settings
  # installation_id: 12345678         # from the installation's settings URL
  # private_key: keyvault://my-vault/helmupgradebot-app-key   # the App's .pem, as a secret reference
  mode: branch                        # branch: push a branch to the repository; fork: through the token owner's fork

charts:
{{kv "  - repository: " .Repository}}# owner/name of the deployment repository
{{kv "    file: " .ChartFile}}# Chart.yaml (apiVersion v2) or requirements.yaml
    # base: main                      # the branch pull requests target; default: the repository's default branch
    # dependencies:                   # default: every dependency with a chart repository
    #   binderhub: {prereleases: true}
    #   jupyterhub: {constraint: ">=3.0.0"}
    labels: [dependencies]
    # reviewers: []
    # team_reviewers: []
    # group: false                    # true: one pull request for all outdated dependencies of the file
{{else}}
# The chart chore is off. To keep Helm chart pins current, uncomment:
# github:
#   token: env:HELMUPGRADEBOT_GITHUB_TOKEN
# charts:
#   - repository: my-org/my-hub-deploy
#     file: deploy/Chart.yaml
{{end}}
# azure:
#   client_id: ""                     # a user-assigned managed identity; empty: the system-assigned one
`))

// Render fills the template with a (normalized: trimmed, defaults filled,
// checked) for a file at path, and checks that the result loads.
func Render(a Answers, path string) ([]byte, error) {
	a, err := a.normalize()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, struct {
		Answers
		Path string
		ACR  bool
	}{a, path, config.IsACRHost(a.RegistryHost) && a.RegistryAuth == config.AuthAzure}); err != nil {
		return nil, err
	}
	if _, err := config.Parse(b.Bytes()); err != nil {
		return nil, fmt.Errorf("the starter configuration does not load (a bug): %w", err)
	}
	return b.Bytes(), nil
}

// ErrExists: the file is there and force was not given.
var ErrExists = errors.New("the file exists")

// Write writes data to path, creating its directory. It never replaces an
// existing file unless force.
func Write(path string, data []byte, force bool) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w; pass --force to overwrite it", path, ErrExists)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
