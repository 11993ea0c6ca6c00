// This file is over 500 lines: the configuration's types and their
// validation, key by key in the order of the file, so that every message
// names its key and line the same way.

// Package config loads helmupgradebot's YAML configuration: strictly (an
// unknown key, a wrong type or a bad value is an error naming the key and
// its line) and with defaults filled in.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Config is the whole configuration file.
type Config struct {
	Registry Registry `yaml:"registry"`
	// AuditLog is where deletions are recorded, one JSON line each.
	AuditLog string  `yaml:"audit_log"`
	GitHub   GitHub  `yaml:"github"`
	Charts   []Chart `yaml:"charts"`
	// Repositories names chart repositories (Helm's repositories.yaml
	// names) for dependencies written "@name" or "alias:name", and gives
	// their credentials. See repositories.go.
	Repositories map[string]Repository `yaml:"repositories"`
	Azure        Azure                 `yaml:"azure"`
	// Retry bounds the retries of every registry, chart repository and
	// GitHub call.
	Retry Retry `yaml:"retry"`
	// Metrics says where each headless run's Prometheus metrics go. See
	// metrics.go.
	Metrics Metrics `yaml:"metrics"`

	// Path is the file the configuration came from.
	Path string `yaml:"-"`
}

// Registry configures the container registry to inventory and clean.
type Registry struct {
	// URL is host[:port]; repositories are listed under it.
	URL string `yaml:"url"`
	// Insecure allows plain HTTP (always allowed for loopback hosts).
	Insecure bool `yaml:"insecure"`
	// Flavor is acr (Azure Container Registry's listing API), ecr (Amazon
	// ECR's API), gar (Google's extended tags/list), harbor (Harbor's v2.0
	// API) or distribution (the OCI distribution API); default acr for
	// *.azurecr.io, *.azurecr.cn and *.azurecr.us hosts, ecr for
	// ACCOUNT.dkr.ecr.REGION.amazonaws.com hosts.
	Flavor string `yaml:"flavor"`
	// Root is where flavor gar lists from: PROJECT on gcr.io,
	// PROJECT/REPOSITORY on Artifact Registry (*.pkg.dev).
	Root string `yaml:"root"`
	// AgeFrom is what an image's age is: pushed (its push time, ACR's
	// createdTime, ECR's imagePushedAt or Google's timeUploadedMs; no
	// image config is read) or built (its config's created time: read per
	// config on acr and ecr, Google's timeCreatedMs on gar). Default pushed
	// for acr, ecr, gar and harbor (its push_time; built is refused
	// there); the distribution API records no push times, so built there.
	AgeFrom     string `yaml:"age_from"`
	Auth        Auth   `yaml:"auth"`
	Concurrency int    `yaml:"concurrency"`
	// Projects are the Harbor projects to scan (flavor harbor); none:
	// every project the credentials see.
	Projects []string `yaml:"projects"`
	Policy   Policy   `yaml:"policy"`
}

// What an image's age is (Registry.AgeFrom).
const (
	AgeFromPushed = "pushed"
	AgeFromBuilt  = "built"
)

// Auth types.
const (
	AuthAnonymous = "anonymous"
	AuthBasic     = "basic"
	AuthDocker    = "docker"
	// AuthAzure logs in to ACR with a Microsoft Entra token (the managed
	// identity, or the default credential chain): no password.
	AuthAzure = "azure"
	// AuthAWS logs in to ECR with the AWS SDK's default credential chain
	// (environment, shared files, IRSA's web identity, the instance
	// profile): no password.
	AuthAWS = "aws"
	// AuthGoogle logs in to Google's registries with Application Default
	// Credentials, or with the service-account key Password references.
	AuthGoogle = "google"
)

// Registry flavors.
const (
	FlavorACR          = "acr"
	FlavorECR          = "ecr"
	FlavorDistribution = "distribution"
	// FlavorGAR lists Google Artifact Registry and gcr.io through
	// Google's extended tags/list.
	FlavorGAR = "gar"
	// FlavorHarbor lists through Harbor's v2.0 API, logged in with basic
	// auth (a robot account), a docker login or anonymously.
	FlavorHarbor = "harbor"
)

// ecrHost matches an Amazon ECR registry host.
var ecrHost = regexp.MustCompile(`^\d{12}\.(dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?|dkr-ecr\.[a-z0-9-]+\.on\.aws)$`)

// IsECRHost reports whether host is an Amazon ECR registry
// (ACCOUNT.dkr.ecr.REGION.amazonaws.com).
func IsECRHost(host string) bool { return ecrHost.MatchString(strings.ToLower(host)) }

// IsGoogleHost reports whether host[:port] is Google's registry: gcr.io
// and its regions, or an Artifact Registry host (*-docker.pkg.dev).
func IsGoogleHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.ToLower(h)
	return h == "gcr.io" || strings.HasSuffix(h, ".gcr.io") || strings.HasSuffix(h, "-docker.pkg.dev")
}

// IsACRHost reports whether host[:port] is an Azure Container Registry
// login server.
func IsACRHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.ToLower(h)
	for _, s := range []string{".azurecr.io", ".azurecr.cn", ".azurecr.us"} {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// IsHarborHost reports whether host[:port] is a registry known to be
// Harbor: OVHcloud's managed private registry (*.container-registry.ovh.net).
func IsHarborHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	return strings.HasSuffix(strings.ToLower(h), ".container-registry.ovh.net")
}

// Auth says how to log in to the registry.
type Auth struct {
	Type     string `yaml:"type"`
	Username string `yaml:"username"`
	// Password is a secret reference: env:NAME, file:PATH or
	// keyvault://VAULT/SECRET.
	Password string `yaml:"password"`
}

// Policy is the deletion policy as written in the file.
type Policy struct {
	MaxAge            Age      `yaml:"max_age"`
	UntaggedMaxAge    Age      `yaml:"untagged_max_age"`
	KeepLatest        int      `yaml:"keep_latest"`
	Protect           []Regexp `yaml:"protect"`
	Cap               Size     `yaml:"cap"`
	Aggressive        bool     `yaml:"aggressive"`
	MaxDeleteFraction *float64 `yaml:"max_delete_fraction"`
	// KeepLaunchedWithin holds images launched this recently; Usage says
	// where launches (and running pods) are read from. See usage.go.
	KeepLaunchedWithin Age           `yaml:"keep_launched_within"`
	Usage              []UsageSource `yaml:"usage"`
	// KeepPulledWithin holds images the registry recorded a pull of this
	// recently (ECR's lastRecordedPullTime).
	KeepPulledWithin Age `yaml:"keep_pulled_within"`
}

// GitHub modes.
const (
	ModeBranch = "branch"
	ModeFork   = "fork"
)

// GitHub configures where pull requests go, and how the bot signs in:
// with a token, or as a GitHub App installation.
type GitHub struct {
	APIURL string `yaml:"api_url"`
	// Token is a secret reference.
	Token string `yaml:"token"`
	Mode  string `yaml:"mode"`
	// AppID, InstallationID and PrivateKey (a secret reference to the
	// App's PEM private key) sign in as a GitHub App installation instead
	// of with a token.
	AppID          int64  `yaml:"app_id"`
	InstallationID int64  `yaml:"installation_id"`
	PrivateKey     string `yaml:"private_key"`
	// StatusIssue keeps one issue in each deployment repository (each
	// distinct charts[].repository) up to date after every headless run:
	// the chart rows and their pull requests, the registry against its
	// cap, the forecast, the run's deletions and the usage holds.
	StatusIssue bool `yaml:"status_issue"`
}

// App reports whether the bot signs in as a GitHub App.
func (g GitHub) App() bool { return g.AppID != 0 || g.InstallationID != 0 || g.PrivateKey != "" }

// Chart is a deployment file whose chart dependencies are kept current.
type Chart struct {
	// Repository is the GitHub repository, "owner/name".
	Repository string `yaml:"repository"`
	// File is Chart.yaml (apiVersion v2) or requirements.yaml.
	File string `yaml:"file"`
	// Base is the branch PRs target; empty: the default branch.
	Base string `yaml:"base"`
	// Dependencies narrows and tunes the dependencies followed; empty: all
	// with a repository.
	Dependencies  map[string]Dependency `yaml:"dependencies"`
	Labels        []string              `yaml:"labels"`
	Reviewers     []string              `yaml:"reviewers"`
	TeamReviewers []string              `yaml:"team_reviewers"`
	// Group opens one PR for all outdated dependencies of the file and
	// images of its values files.
	Group bool `yaml:"group"`
	// Values lists values files in the same repository (paths from its
	// root, like File) whose image tags are kept current; Images narrows
	// them (images.go).
	Values []string   `yaml:"values"`
	Images ImageRules `yaml:"images"`
}

// Dependency tunes version selection for one dependency.
type Dependency struct {
	Prereleases bool   `yaml:"prereleases"`
	Constraint  string `yaml:"constraint"`
	// Range is how a version written as a range follows new versions:
	// replace (the default), bump or widen (model.RangeStrategy).
	Range string `yaml:"range"`
}

// Azure configures the managed identity.
type Azure struct {
	// ClientID selects a user-assigned managed identity; empty: the
	// system-assigned one or the default credential chain.
	ClientID string `yaml:"client_id"`
}

// Defaults.
const (
	DefaultConcurrency       = 16
	DefaultMaxDeleteFraction = 0.5
	DefaultGitHubAPI         = "https://api.github.com/"
)

// Age is a duration written as 90d, 2w or 36h.
type Age struct{ time.Duration }

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *Age) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineError(n, errors.New("want a duration such as 90d, 2w or 36h, got "+kindOf(n)))
	}
	d, err := model.ParseAge(n.Value)
	if err != nil {
		return lineError(n, err)
	}
	a.Duration = d
	return nil
}

// Size is a byte size written with its unit: 500MB, 1.5GB or 2TiB (or
// 2048B). A bare number other than 0 is refused: cap: 10 is more likely
// meant as 10GB than as 10 bytes.
type Size struct {
	Bytes int64
	// given: the file wrote a value (cap: 0 is refused, no cap is not)
	given bool
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineError(n, errors.New("want a size with its unit, such as 500MB, 1.5GB or 2TiB, got "+kindOf(n)))
	}
	t := strings.TrimSpace(n.Value)
	if bareNumber(t) && strings.Trim(t, "0.") != "" {
		return lineError(n, fmt.Errorf("%s: a size needs a unit, e.g. %sGiB or %sGB", t, t, t))
	}
	v, err := model.ParseSize(n.Value)
	if err != nil {
		// every size here has a unit
		return lineError(n, errors.New(strings.Replace(err.Error(), "a number with an optional unit", "a number and a unit", 1)))
	}
	s.Bytes, s.given = v, true
	return nil
}

// bareNumber reports whether s is digits with at most one decimal point:
// a number without a unit.
func bareNumber(s string) bool {
	if s == "" || s == "." || strings.Count(s, ".") > 1 {
		return false
	}
	return strings.Trim(s, "0123456789.") == ""
}

// Regexp is a compiled regular expression.
type Regexp struct{ *regexp.Regexp }

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineError(n, errors.New("want a regular expression, got "+kindOf(n)))
	}
	re, err := regexp.Compile(n.Value)
	if err != nil {
		return lineError(n, fmt.Errorf("bad regular expression: %w", err))
	}
	r.Regexp = re
	return nil
}

func lineError(n *yaml.Node, err error) error {
	return fmt.Errorf("line %d: %w", n.Line, err)
}

// DefaultPath returns ./helmupgradebot.yaml when it exists, else
// $XDG_CONFIG_HOME/helmupgradebot/config.yaml (~/.config when unset).
func DefaultPath(getenv func(string) string) string {
	if _, err := os.Stat("helmupgradebot.yaml"); err == nil {
		return "helmupgradebot.yaml"
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if home := getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".config")
		}
	}
	return filepath.Join(dir, "helmupgradebot", "config.yaml")
}

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// Parse decodes and validates a configuration document.
func Parse(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, cleanYAMLError(err, nil)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	keys := keyPaths(&root)
	unknown := unknownKeys(&root)
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeError(err, keys, collectionPaths(&root), unknown)
	}
	if len(unknown) > 0 { // the decoder reports them too; kept as a guard
		return nil, decodeError(nil, keys, nil, unknown)
	}
	if err := c.validate(keys); err != nil {
		return nil, err
	}
	return &c, nil
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// cleanYAMLError turns yaml.v3's errors into one line per problem, each
// naming the key at that line and saying what it wants in the file's
// words, not Go's.
func cleanYAMLError(err error, keys map[int]string) error {
	return decodeError(err, keys, nil, nil)
}

// decodeError joins the unknown keys and the decoder's errors (err may be
// nil), in the order of their lines. The decoder's own unknown-key errors
// are dropped where unknown has the key, with its path and a suggestion.
// An error about a mapping or a list where a value belongs names the key
// holding it (collections), not a key inside it on the same line.
func decodeError(err error, keys map[int]string, collections map[int][]collection, unknown []problem) error {
	var lines []string
	if err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			lines = append(lines, te.Errors...)
		} else {
			lines = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
		}
	}
	covered := map[int]bool{}
	for _, p := range unknown {
		covered[p.line] = true
	}
	all := append([]problem(nil), unknown...)
	var other []string // without a line
	for _, l := range lines {
		l = strings.TrimPrefix(l, "yaml: ")
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			other = append(other, l)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if covered[n] && notFoundRE.MatchString(m[2]) {
			continue
		}
		msg := yamlMessage(m[2])
		k := keys[n]
		if c, ok := holder(collections, n, msg); ok {
			k = c
		}
		if k != "" && !strings.HasPrefix(msg, k+": ") {
			msg = k + ": " + msg
		}
		all = append(all, problem{n, msg})
	}
	slices.SortStableFunc(all, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	out := make([]string, 0, len(all)+len(other))
	for _, p := range all {
		out = append(out, p.String())
	}
	return errors.New(strings.Join(append(out, other...), "; "))
}

// keyPaths maps each line holding a key or a value to its dotted key path
// ("registry.policy.cap", "charts[0].file").
func keyPaths(root *yaml.Node) map[int]string {
	out := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				out[k.Line] = p
				if _, ok := out[v.Line]; !ok || v.Kind == yaml.ScalarNode {
					out[v.Line] = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if _, ok := out[c.Line]; !ok || c.Kind == yaml.ScalarNode {
					out[c.Line] = p
				}
				walk(c, p)
			}
		default:
			if _, ok := out[n.Line]; !ok {
				out[n.Line] = path
			}
		}
	}
	walk(root, "")
	return out
}

// lineOf finds the line of a key path (its first line, or that of the
// first key under it), for errors found after decoding; a key the file does
// not have (a missing url) is shown at the line of the nearest key holding
// it.
func lineOf(keys map[int]string, path string) string {
	for at := path; at != ""; {
		best := 0
		for l, p := range keys {
			under := p == at || strings.HasPrefix(p, at+".") || strings.HasPrefix(p, at+"[")
			if under && (best == 0 || l < best) {
				best = l
			}
		}
		if best != 0 {
			return fmt.Sprintf("line %d: %s", best, path)
		}
		i := strings.LastIndexByte(at, '.')
		if i < 0 {
			break
		}
		at = at[:i]
	}
	return path
}

func (c *Config) validate(keys map[int]string) error {
	var errs []string
	bad := func(path, format string, args ...any) {
		errs = append(errs, lineOf(keys, path)+": "+fmt.Sprintf(format, args...))
	}
	r := &c.Registry
	if r.URL != "" {
		host := strings.TrimSuffix(r.URL, "/")
		if strings.Contains(host, "://") {
			bad("registry.url", "give host[:port] without a scheme (e.g. myregistry.azurecr.io); use insecure: true for plain HTTP")
		} else if strings.ContainsAny(host, "/ ") {
			bad("registry.url", "give host[:port] only; repositories are listed under it")
		} else if h, _, err := net.SplitHostPort(host); err == nil && h == "" {
			bad("registry.url", "host is empty")
		}
		r.URL = host
	}
	// An ACR host defaults to the acr flavor and azure auth; one given a
	// password or docker login keeps the distribution API.
	acrHost, ecrHost := IsACRHost(r.URL), IsECRHost(r.URL)
	if r.Auth.Type == "" && (r.Flavor == FlavorACR || (r.Flavor == "" && acrHost)) {
		r.Auth.Type = AuthAzure
	}
	if r.Auth.Type == "" && (r.Flavor == FlavorECR || (r.Flavor == "" && ecrHost)) {
		r.Auth.Type = AuthAWS
	}
	// A Google host defaults to the gar flavor and google auth.
	if r.Auth.Type == "" && (r.Flavor == FlavorGAR || (r.Flavor == "" && IsGoogleHost(r.URL))) {
		r.Auth.Type = AuthGoogle
	}
	switch r.Flavor {
	case "":
		r.Flavor = FlavorDistribution
		if acrHost && r.Auth.Type == AuthAzure {
			r.Flavor = FlavorACR
		}
		if ecrHost && r.Auth.Type == AuthAWS {
			r.Flavor = FlavorECR
		}
		if IsGoogleHost(r.URL) && r.Auth.Type == AuthGoogle {
			r.Flavor = FlavorGAR
		}
	case FlavorECR:
		if r.Auth.Type != AuthAWS {
			bad("registry.flavor", "ecr lists through ECR's own API, which needs registry.auth.type: aws (the AWS credential chain, no password); with %s auth use flavor: distribution", r.Auth.Type)
		}
	case FlavorACR:
		if r.Auth.Type != AuthAzure {
			bad("registry.flavor", "acr lists through ACR's own API, which needs registry.auth.type: azure (a managed identity, no password); with %s auth use flavor: distribution", r.Auth.Type)
		}
	case FlavorDistribution:
	case FlavorGAR:
		if r.Auth.Type == AuthAzure {
			bad("registry.flavor", "gar logs in with Google credentials (auth.type google, basic with _json_key, or docker), not azure")
		}
	case FlavorHarbor:
		for _, p := range r.Projects {
			if p == "" || strings.ContainsAny(p, "/ ") {
				bad("registry.projects", "%q is not a Harbor project name", p)
			}
		}
	default:
		bad("registry.flavor", "%q is not one of acr, ecr, distribution, gar, harbor", r.Flavor)
	}
	if len(r.Projects) > 0 && r.Flavor != FlavorHarbor {
		bad("registry.projects", "projects are Harbor's; set registry.flavor: harbor")
	}
	switch {
	case r.Flavor == FlavorGAR && r.Root == "":
		bad("registry.flavor", "gar needs registry.root: the PROJECT (gcr.io) or PROJECT/REPOSITORY (Artifact Registry) to list under")
	case r.Flavor != FlavorGAR && r.Root != "":
		bad("registry.root", "root is for flavor gar only")
	case strings.HasPrefix(r.Root, "/") || strings.HasSuffix(r.Root, "/") || strings.ContainsAny(r.Root, " :@"):
		bad("registry.root", "%q is not a repository path such as my-project/binder", r.Root)
	}
	switch r.AgeFrom {
	case "":
		r.AgeFrom = AgeFromBuilt
		if r.Flavor == FlavorACR || r.Flavor == FlavorECR || r.Flavor == FlavorGAR || r.Flavor == FlavorHarbor {
			r.AgeFrom = AgeFromPushed
		}
	case AgeFromPushed:
		if r.Flavor != FlavorACR && r.Flavor != FlavorECR && r.Flavor != FlavorGAR && r.Flavor != FlavorHarbor {
			bad("registry.age_from", "the distribution API records no push times: an image's age is its config's created time (built); pushed needs flavor: acr, ecr, gar or harbor")
		}
	case AgeFromBuilt:
		if r.Flavor == FlavorHarbor {
			bad("registry.age_from", "harbor's age is the artifact's push_time: use pushed")
		}
	default:
		bad("registry.age_from", "%q is not one of pushed, built", r.AgeFrom)
	}
	switch r.Auth.Type {
	case "":
		r.Auth.Type = AuthAnonymous
	case AuthAzure:
		if r.Flavor != FlavorACR {
			bad("registry.auth.type", "azure logs in to Azure Container Registry only; set registry.flavor: acr (the default for *.azurecr.io)")
		}
	case AuthAWS:
		if r.Flavor != FlavorECR {
			bad("registry.auth.type", "aws logs in to Amazon ECR only; set registry.flavor: ecr (the default for ACCOUNT.dkr.ecr.REGION.amazonaws.com)")
		}
	case AuthGoogle:
		if r.Flavor != FlavorGAR {
			bad("registry.auth.type", "google logs in to Google's registries only; set registry.flavor: gar (the default for gcr.io and *-docker.pkg.dev)")
		}
	case AuthAnonymous, AuthDocker:
	case AuthBasic:
		if r.Auth.Username == "" {
			bad("registry.auth.username", "basic auth needs a username")
		}
		if r.Auth.Password == "" {
			bad("registry.auth.password", "basic auth needs a password reference (env:NAME, file:PATH or keyvault://VAULT/SECRET)")
		}
	default:
		bad("registry.auth.type", "%q is not one of anonymous, basic, docker, azure, aws, google", r.Auth.Type)
	}
	if r.Auth.Password != "" {
		if _, err := secrets.ParseReference(r.Auth.Password); err != nil {
			bad("registry.auth.password", "%v; never write the password itself", err)
		}
	}
	switch {
	case r.Concurrency == 0:
		r.Concurrency = DefaultConcurrency
	case r.Concurrency < 0 || r.Concurrency > 64:
		bad("registry.concurrency", "%d is out of range 1..64", r.Concurrency)
	}
	p := &r.Policy
	if p.KeepLatest < 0 {
		bad("registry.policy.keep_latest", "%d is negative", p.KeepLatest)
	}
	if p.MaxDeleteFraction == nil {
		f := DefaultMaxDeleteFraction
		p.MaxDeleteFraction = &f
	} else if f := *p.MaxDeleteFraction; !(f >= 0 && f <= 1) { // also NaN, which compares false
		bad("registry.policy.max_delete_fraction", "%v is not between 0 and 1", f)
	}
	if p.Cap.given && p.Cap.Bytes == 0 {
		bad("registry.policy.cap", "a cap of 0 is a budget of nothing (the gauge and the forecast would measure against it); remove cap to set no size budget")
	}
	if p.Aggressive && p.Cap.Bytes == 0 {
		bad("registry.policy.aggressive", "aggressive mode needs a cap")
	}
	p.validateUsage(bad)
	if p.KeepPulledWithin.Duration > 0 && !recordsPulls(r.Flavor) {
		bad("registry.policy.keep_pulled_within", "the %s flavor does not record pulls; keep_pulled_within needs a registry that does (flavor: ecr or harbor)", r.Flavor)
	}

	g := &c.GitHub
	if g.APIURL == "" {
		g.APIURL = DefaultGitHubAPI
	} else if !strings.HasPrefix(g.APIURL, "https://") && !strings.HasPrefix(g.APIURL, "http://") {
		bad("github.api_url", "want an http(s) URL such as https://api.github.com/")
	}
	if !strings.HasSuffix(g.APIURL, "/") {
		g.APIURL += "/"
	}
	switch g.Mode {
	case "":
		g.Mode = ModeBranch
	case ModeBranch, ModeFork:
	default:
		bad("github.mode", "%q is not one of branch, fork", g.Mode)
	}
	if g.Token != "" {
		if _, err := secrets.ParseReference(g.Token); err != nil {
			bad("github.token", "%v; never write the token itself", err)
		}
	}
	g.validateApp(bad)
	c.Retry.validate(bad)
	c.Metrics.validate(bad)
	if len(c.Charts) > 0 && g.Token == "" && !g.App() {
		bad("github.token", "charts are configured but no token reference is given (github.token), nor a GitHub App (github.app_id, github.installation_id, github.private_key)")
	}
	for i := range c.Charts {
		ch := &c.Charts[i]
		at := fmt.Sprintf("charts[%d]", i)
		if o, n, ok := strings.Cut(ch.Repository, "/"); !ok || o == "" || n == "" || strings.Contains(n, "/") {
			bad(at+".repository", "%q is not owner/name", ch.Repository)
		}
		if ch.File == "" {
			bad(at+".file", "missing: the path of Chart.yaml or requirements.yaml in the repository")
		}
		for name, d := range ch.Dependencies {
			if d.Constraint != "" {
				if _, err := semver.NewConstraint(d.Constraint); err != nil {
					bad(at+".dependencies."+name+".constraint", "%q is not a semver constraint: %v", d.Constraint, err)
				}
			}
			r, err := model.ParseRangeStrategy(d.Range)
			if err != nil {
				bad(at+".dependencies."+name+".range", "%v", err)
				continue
			}
			d.Range = string(r)
			ch.Dependencies[name] = d
		}
		ch.validateImages(at, bad)
	}
	c.validateRepositories(bad)
	if r.URL == "" && len(c.Charts) == 0 {
		errs = append(errs, "nothing to do: configure registry.url, charts, or both")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// recordsPulls reports whether a flavor's listing gives each image's last
// pull.
func recordsPulls(flavor string) bool { return flavor == FlavorECR || flavor == FlavorHarbor }

// ModelPolicy converts the file's policy into the model's.
func (p Policy) ModelPolicy() model.Policy {
	mp := model.Policy{
		MaxAge:           p.MaxAge.Duration,
		UntaggedMaxAge:   p.UntaggedMaxAge.Duration,
		KeepLatest:       p.KeepLatest,
		Cap:              p.Cap.Bytes,
		Aggressive:       p.Aggressive,
		KeepPulledWithin: p.KeepPulledWithin.Duration,
	}
	if p.MaxDeleteFraction != nil {
		mp.MaxDeleteFraction = *p.MaxDeleteFraction
	}
	for _, r := range p.Protect {
		mp.Protect = append(mp.Protect, r.Regexp)
	}
	return mp
}

// AuditPath returns the audit log's path: audit_log, or the default under
// $XDG_STATE_HOME (~/.local/state when unset).
func (c *Config) AuditPath(getenv func(string) string) string {
	if c.AuditLog != "" {
		return c.AuditLog
	}
	dir := getenv("XDG_STATE_HOME")
	if dir == "" {
		dir = filepath.Join(getenv("HOME"), ".local", "state")
	}
	return filepath.Join(dir, "helmupgradebot", "audit.jsonl")
}

// validateApp checks the GitHub App keys: all three or none, and not
// beside a token.
func (g *GitHub) validateApp(bad func(path, format string, args ...any)) {
	if !g.App() {
		return
	}
	if g.Token != "" {
		bad("github.token", "give github.token or a GitHub App (github.app_id, github.installation_id, github.private_key), not both")
	}
	if g.AppID <= 0 {
		bad("github.app_id", "a GitHub App needs its App ID (a positive number, shown on the App's settings page)")
	}
	if g.InstallationID <= 0 {
		bad("github.installation_id", "a GitHub App needs the ID of its installation on the deployment repositories' owner (the number at the end of the installation's settings URL)")
	}
	if g.PrivateKey == "" {
		bad("github.private_key", "a GitHub App needs a reference to its private key (.pem): env:NAME, file:PATH or keyvault://VAULT/SECRET")
	} else if _, err := secrets.ParseReference(g.PrivateKey); err != nil {
		bad("github.private_key", "%v; never write the key itself", err)
	}
	if g.Mode == ModeFork {
		bad("github.mode", "fork mode pushes to the token owner's fork; a GitHub App has no account to fork into: use mode: branch (the App pushes its branches to the repositories it is installed on)")
	}
}
