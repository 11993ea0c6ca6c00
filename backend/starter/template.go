package starter

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// The template carries every key of the configuration: the optional ones
// commented out with their default (or an example, where the comment says
// so), and a chore left out as its whole section commented out, with
// examples. TestTemplateHasEveryKey holds it to config's types.

// plainRE: a YAML plain scalar that needs no quotes (no ": ", no "#").
var plainRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/@:+=,-]*$`)

// quote writes s as a YAML scalar: plain when it reads back as the same
// string (not true, null or a number, for a string key), else
// double-quoted (a JSON string is a YAML double-quoted scalar).
func quote(s string) string {
	if plainRE.MatchString(s) {
		var v map[string]any
		if yaml.Unmarshal([]byte("k: "+s), &v) == nil && v["k"] == s {
			return s
		}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// kv writes "key: value" (value quoted as needed) padded so that the
// comment after it lines up with the template's others.
func kv(prefix, value string) string {
	s := prefix + quote(value)
	return s + strings.Repeat(" ", max(1, 38-len([]rune(s))))
}

// commentOut comments every line of a section out.
func commentOut(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("# "+l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// view is what the template shows: the answers, or the examples in a
// section whose chore is off.
type view struct {
	Path string
	// R fills the registry section, C the github and charts sections.
	R, C     Answers
	Flavor   string
	AgeFrom  string // the flavor's default
	ClientID string
	// Events and Pods: the usage sources R reads.
	Events, Pods bool
	Window       string
}

var tmpl = template.Must(template.New("config").Funcs(template.FuncMap{"q": quote, "kv": kv}).Parse(`
{{- define "header" -}}
# helmupgradebot configuration, written by "helmupgradebot init".
# Check it, changing nothing:  helmupgradebot --check-config --config {{.Path}}
#
# Every key is here. The optional ones are commented out with their default
# (or an example, where the comment says so). Secrets are never written
# here, only referenced: env:NAME, file:PATH (a file only its owner may
# read) or keyvault://VAULT/SECRET (Azure Key Vault, read with the machine's
# managed identity). The README describes every key.
{{end}}

{{- define "registry" -}}
registry:
{{kv "  url: " .R.RegistryHost}}# host[:port]; every repository under it is inventoried
  # insecure: false                   # plain HTTP; allowed without it only for loopback hosts
{{if eq .Flavor "harbor"}}{{kv "  flavor: " .Flavor}}{{else}}{{kv "  # flavor: " .Flavor}}{{end}}# acr (ACR's listing API; the default for *.azurecr.io with azure login), ecr (Amazon ECR's API; the default for *.dkr.ecr.*.amazonaws.com with aws login), gar (Google's listing; the default for gcr.io and *-docker.pkg.dev with google login), harbor (Harbor's API) or distribution
{{- if eq .Flavor "gar"}}
{{kv "  root: " .R.RegistryRoot}}# gar: PROJECT (gcr.io) or PROJECT/REPOSITORY (Artifact Registry), listed with everything under it
{{- else}}
  # root: ""                          # gar only: PROJECT (gcr.io) or PROJECT/REPOSITORY (Artifact Registry) to list under
{{- end}}
{{kv "  # age_from: " .AgeFrom}}# an image's age: pushed (its push time; acr, ecr, gar and harbor only, their default) or built (its config's created time)
  auth:
{{kv "    type: " .R.RegistryAuth}}# azure (the machine's Azure identity) | aws (the AWS credential chain, ECR) | google (Application Default Credentials) | basic | docker (docker login) | anonymous
{{- if eq .R.RegistryAuth "basic"}}
{{kv "    username: " .R.RegistryUser}}# basic only
{{kv "    password: " .R.RegistryPassword}}# basic only: a secret reference, never the password
{{- else}}
    # username: ""                    # basic only
    # password: ""                    # basic only: a secret reference, never the password
{{- end}}
  # concurrency: 16                   # parallel registry requests (1..64)
  # projects: []                      # harbor only: the projects to clean, e.g. [mybinder-builds]; none: every project the login sees
  policy:
    max_age: 90d                      # images created longer ago are deleted
    # untagged_max_age: 0             # untagged manifests (ACR lists them) older than this are deleted, e.g. 7d; 0: none by age
    keep_latest: 1                    # per repository, the N newest are never deleted
    # keep_pulled_within: 0           # ECR only: images ECR recorded a pull of this recently are held, e.g. 30d
    protect: []                       # regexes on "repo" or "repo:tag" that are never deleted, e.g. ["^jupyterhub/"]
{{- if .R.Cap}}
{{kv "    cap: " .R.Cap}}# the registry's size budget, shown on the gauge and in the forecast
{{- else}}
    # cap: 2TiB                       # an example: the registry's size budget, with its unit, shown on the gauge; absent: no cap
{{- end}}
    # aggressive: false               # over the cap: delete what frees the most until under it (needs cap)
    max_delete_fraction: 0.5          # refuse a plan deleting more than this share of images, unless --force
{{- if .Events}}
{{kv "    keep_launched_within: " .Window}}# an image launched this recently is never deleted
{{- else}}
    # keep_launched_within: 0         # an image launched this recently is never deleted, e.g. 30d (needs an events source)
{{- end}}
{{- if eq .R.Launches "none"}}
    # No usage source: images people still launch are deleted by age (and
    # cap) alone. To keep them, uncomment usage and a source or both.
    # usage:                          # default none
{{- else}}
    usage:                            # launched and running images are never deleted; a source that cannot be read holds every image
{{- end}}
{{- if .Events}}
{{kv "      - events: " .R.Events}}# BinderHub's event log: a file or glob (relative to this file), or an http(s) URL with {date}
        # allow_empty: false          # true: a window without launches is expected (else it holds every image)
{{- else}}
      # - events: "/var/log/binderhub/events-*.jsonl"   # an example: BinderHub's event log, a file or glob (relative to this file), or an http(s) URL with {date}; needs keep_launched_within
      #   allow_empty: false          # true: a window without launches is expected (else it holds every image)
{{- end}}
{{- if .Pods}}
      - kubernetes:                   # the images of the running user pods
{{kv "          namespace: " .R.Namespace}}# "": the pod's own namespace, or the kubeconfig context's
{{kv "          selector: " .R.Selector}}# the user pods' labels
          # kubeconfig: ""            # "": in a pod its service account, else $KUBECONFIG or ~/.kube/config
          # context: ""               # "": the kubeconfig's current-context
{{- else}}
      # - kubernetes:                 # the images of the running user pods
      #     namespace: ""             # "": the pod's own namespace, or the kubeconfig context's
      #     selector: component=singleuser-server   # the user pods' labels
      #     kubeconfig: ""            # "": in a pod its service account, else $KUBECONFIG or ~/.kube/config
      #     context: ""               # "": the kubeconfig's current-context
{{- end}}
{{end}}

{{- define "audit" -}}
# audit_log: ""                       # every deletion, one JSON line; "": $XDG_STATE_HOME/helmupgradebot/audit.jsonl
{{end}}

{{- define "charts" -}}
github:
  # api_url: https://api.github.com/  # GitHub Enterprise: https://HOST/api/v3/
{{kv "  token: " .C.TokenRef}}# a secret reference; needs Contents and Pull requests: read and write
  # To sign in as a GitHub App instead, drop token and give these three:
  # app_id: 123456                    # an example: the App ID from the App's settings
  # installation_id: 12345678         # an example: from the installation's settings URL
  # private_key: keyvault://my-vault/helmupgradebot-app-key   # an example: the App's .pem, as a secret reference
  # mode: branch                      # branch: push a branch to the repository; fork: through the token owner's fork
  # status_issue: false               # true: headless runs keep a status issue in each deployment repository (needs Issues: read and write)

charts:
{{kv "  - repository: " .C.Repository}}# owner/name of the deployment repository
{{kv "    file: " .C.ChartFile}}# Chart.yaml (apiVersion v2) or requirements.yaml, from the repository's root
    # base: ""                        # the branch pull requests target, e.g. main; "": the repository's default branch
    # dependencies:                   # an example; default: every dependency with a chart repository
    #   binderhub: {prereleases: true}
    #   jupyterhub: {prereleases: false, constraint: ">=3.0.0", range: replace}   # range: replace, bump or widen
    labels: [dependencies]
    # reviewers: []
    # team_reviewers: []
    # group: false                    # true: one pull request for all outdated dependencies and images of the entry
    # values: []                      # an example: values files whose image tags are kept current, e.g. [hub/values.yaml]
    # images:                         # an example; default: every image the values files pin
    #   include: []                   # globs on the image name, e.g. ["quay.io/jupyterhub/*"]; []: every image
    #   exclude: []                   # globs on the image name left out
    #   prereleases: false            # true: a release pin may move to git-describe, .devN and prerelease tags
    #   constraint: ""                # a semver constraint on the tag's version, e.g. ">=2023"

# repositories:                       # an example: names for repository: "@name" in chart files, and credentials of private ones
#   bitnami: https://charts.bitnami.com/bitnami
#   private:
#     url: https://charts.example.org/stable
#     username: bot
#     password: env:CHARTS_PASSWORD   # a secret reference; or token: for a bearer token
{{end}}

{{- define "azure" -}}
{{- if .ClientID -}}
azure:
{{kv "  client_id: " .ClientID}}# the user-assigned managed identity for the registry and keyvault:// secrets
{{- else -}}
# azure:
#   client_id: ""                     # a user-assigned managed identity's client ID; "": the system-assigned one
{{- end}}
{{end}}

{{- define "retry" -}}
# retry:                              # every registry, chart repository and GitHub call
#   max_attempts: 5                   # the most attempts one call makes, the first included (1..20; 1: no retry)
#   max_wait: 2m                      # the longest one call takes, its attempts and waits included (1s..1h)
{{end}}

{{- define "metrics" -}}
# metrics:                            # Prometheus metrics of each headless run (docs/metrics.md)
#   file: /var/lib/node_exporter/textfile_collector/helmupgradebot.prom   # an example: for node_exporter's textfile collector
#   push: http://pushgateway.monitoring:9091   # an example: a Pushgateway; each run replaces its group
#   instance: ""                      # the group's name; "": the registry's host, else the chart file's repository
#   job: helmupgradebot               # the Pushgateway job
{{end}}
`))

// render writes the configuration file for normalized answers.
func render(a Answers, path string) ([]byte, error) {
	v := view{Path: path, R: a, C: a, ClientID: a.ClientID, Window: DefaultWindow}
	registryOn, chartsOn := a.RegistryHost != "", a.Repository != ""
	if !registryOn {
		v.R, _ = Examples.normalize()
	}
	if !chartsOn {
		v.C, _ = Examples.normalize()
	}
	v.Flavor, v.AgeFrom = config.FlavorDistribution, config.AgeFromBuilt
	if config.IsACRHost(v.R.RegistryHost) && v.R.RegistryAuth == config.AuthAzure {
		v.Flavor, v.AgeFrom = config.FlavorACR, config.AgeFromPushed
	}
	if config.IsECRHost(v.R.RegistryHost) && v.R.RegistryAuth == config.AuthAWS {
		v.Flavor, v.AgeFrom = config.FlavorECR, config.AgeFromPushed
	}
	if listsGoogle(v.R.RegistryHost, v.R.RegistryAuth) {
		v.Flavor, v.AgeFrom = config.FlavorGAR, config.AgeFromPushed
	}
	if config.IsHarborHost(v.R.RegistryHost) {
		v.Flavor, v.AgeFrom = config.FlavorHarbor, config.AgeFromPushed
	}
	v.Events, v.Pods = readsEvents(v.R.Launches), readsPods(v.R.Launches)

	var b bytes.Buffer
	section := func(name, off string, on bool) error {
		var s bytes.Buffer
		if err := tmpl.ExecuteTemplate(&s, name, v); err != nil {
			return err
		}
		b.WriteString("\n")
		if on {
			b.Write(s.Bytes())
			return nil
		}
		b.WriteString(off)
		b.WriteString(commentOut(s.String()))
		return nil
	}
	if err := tmpl.ExecuteTemplate(&b, "header", v); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		name, off string
		on        bool
	}{
		{"registry", "# The registry chore is off. To clean a container registry, uncomment this\n# section and give its url.\n", registryOn},
		{"audit", "", true},
		{"charts", "# The chart chore is off. To keep Helm chart pins current, uncomment these\n# sections and give the deployment repository.\n", chartsOn},
		{"azure", "", true},
		{"retry", "", true},
		{"metrics", "", true},
	} {
		if err := section(s.name, s.off, s.on); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}
