// This file is over 500 lines: --check-config's checklist, whose items run
// in a fixed order, share one report and, for the registry, one switch over
// the kinds; read top to bottom it is the list an operator sees.

// Package check verifies everything a run needs, without changing
// anything (helmupgradebot --check-config): the configuration decodes,
// every secret reference resolves, the registry answers, lets the bot in and
// lists (for ACR, whether the identity may delete, where ACR's token says),
// GitHub accepts the token or App and lets it push to each deployment
// repository (or its fork), each pinned file exists on its base branch, and
// each chart repository (of the repositories map, with its credentials, or
// named by the files) answers, and each repository name the files use is
// in the map. Each result is an [Item]
// with, for a failure, what to do about it.
package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile"
	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Status is an item's outcome.
type Status string

// Statuses. Unknown (the answer cannot be had, e.g. whether a distribution
// login may delete) and Skipped (an earlier failure stands in the way) do
// not fail the check.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
	Skipped Status = "skipped"
)

// Kinds of check.
const (
	KindConfig    = "config"
	KindSecret    = "secret"
	KindRegistry  = "registry"
	KindGitHub    = "github"
	KindFile      = "file"
	KindChartRepo = "chart repository"
)

// Item is one checked thing.
type Item struct {
	Kind    string `json:"check"`
	Subject string `json:"subject"`
	Status  Status `json:"status"`
	Detail  string `json:"detail,omitempty"`
	// Fix says what to do about a failure.
	Fix string `json:"fix,omitempty"`
}

// Report is the checklist.
type Report struct {
	Config string `json:"config"`
	OK     bool   `json:"ok"`
	// BadConfig: the configuration did not load; nothing else was checked.
	BadConfig bool    `json:"bad_config,omitempty"`
	Summary   Summary `json:"summary"`
	Items     []Item  `json:"checks"`
}

// Summary counts the items by status.
type Summary struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Unknown int `json:"unknown"`
	Skipped int `json:"skipped"`
}

// Exit codes of --check-config.
const (
	ExitOK        = 0
	ExitFailed    = 1
	ExitBadConfig = 2
)

// ExitCode is 0 when everything passed, 1 when something failed and 2
// when the configuration did not load.
func (r *Report) ExitCode() int {
	switch {
	case r.BadConfig:
		return ExitBadConfig
	case r.Summary.Failed > 0:
		return ExitFailed
	}
	return ExitOK
}

// timeout bounds each network check, so that a check never hangs.
const timeout = 45 * time.Second

// File loads the configuration at path and checks it. opts are passed to
// the engine's builder (getenv, transports); the digest and chart index
// caches are not used, so nothing is written.
func File(ctx context.Context, path string, opts ...engine.Option) *Report {
	r := &Report{Config: path}
	cfg, err := config.Load(path)
	if err != nil {
		r.BadConfig = true
		r.add(Item{Kind: KindConfig, Subject: path, Status: Fail, Detail: err.Error(),
			Fix: "correct the key on the line the message names (docs/configuration.md lists every key), or write a starter file with helmupgradebot init"})
		return r.done()
	}
	return Config(ctx, cfg, opts...)
}

// Config checks a loaded configuration.
func Config(ctx context.Context, cfg *config.Config, opts ...engine.Option) *Report {
	r := &Report{Config: cfg.Path}
	r.add(Item{Kind: KindConfig, Subject: cmpOr(cfg.Path, "configuration"), Status: Pass, Detail: "decodes: " + summarize(cfg)})
	opts = append(slices.Clone(opts), engine.WithoutDigestCache(), engine.WithChartRepoOptions(chartrepo.WithCacheDir("")))
	b := engine.NewBuilder(cfg, opts...)
	secretOK := r.secrets(ctx, b, cfg)
	if cfg.Registry.URL != "" {
		r.registry(ctx, b, cfg, secretOK)
	}
	if len(cfg.Charts) > 0 {
		used := r.charts(ctx, b, cfg, secretOK)
		r.chartRepositories(ctx, b, cfg, secretOK, used)
	}
	return r.done()
}

func (r *Report) add(it Item) { r.Items = append(r.Items, it) }

func (r *Report) done() *Report {
	r.Summary = Summary{}
	for _, it := range r.Items {
		switch it.Status {
		case Pass:
			r.Summary.Passed++
		case Fail:
			r.Summary.Failed++
		case Unknown:
			r.Summary.Unknown++
		case Skipped:
			r.Summary.Skipped++
		}
	}
	r.OK = r.Summary.Failed == 0 && !r.BadConfig
	return r
}

func summarize(cfg *config.Config) string {
	var parts []string
	if rc := cfg.Registry; rc.URL != "" {
		parts = append(parts, fmt.Sprintf("registry %s (%s, %s auth)", rc.URL, rc.Flavor, rc.Auth.Type))
	}
	if n := len(cfg.Charts); n > 0 {
		who := "a token"
		if cfg.GitHub.App() {
			who = fmt.Sprintf("GitHub App %d", cfg.GitHub.AppID)
		}
		parts = append(parts, fmt.Sprintf("%d chart file%s through %s as %s, %s mode", n, plural(n), cfg.GitHub.APIURL, who, cfg.GitHub.Mode))
	}
	return strings.Join(parts, "; ")
}

// secrets resolves each reference of the configuration, never showing a
// value, and returns which resolved (by key).
func (r *Report) secrets(ctx context.Context, b *engine.Builder, cfg *config.Config) map[string]bool {
	ok := map[string]bool{}
	type ref struct{ key, ref string }
	var refs []ref
	if cfg.Registry.URL != "" && cfg.Registry.Auth.Type == config.AuthBasic {
		refs = append(refs, ref{"registry.auth.password", cfg.Registry.Auth.Password})
	}
	if len(cfg.Charts) > 0 {
		if cfg.GitHub.App() {
			refs = append(refs, ref{"github.private_key", cfg.GitHub.PrivateKey})
		} else {
			refs = append(refs, ref{"github.token", cfg.GitHub.Token})
		}
		for _, name := range slices.Sorted(maps.Keys(cfg.Repositories)) {
			e := cfg.Repositories[name]
			if e.Password != "" {
				refs = append(refs, ref{"repositories." + name + ".password", e.Password})
			}
			if e.Token != "" {
				refs = append(refs, ref{"repositories." + name + ".token", e.Token})
			}
		}
	}
	for _, s := range refs {
		kind := "reference"
		if p, err := secrets.ParseReference(s.ref); err == nil {
			kind = string(p.Kind) + " reference"
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		v, err := b.Resolve(cctx, s.ref)
		cancel()
		switch {
		case err != nil:
			r.add(Item{Kind: KindSecret, Subject: s.key, Status: Fail, Detail: err.Error(), Fix: secretFix(s.key, err)})
		case strings.TrimSpace(v.Reveal()) == "":
			r.add(Item{Kind: KindSecret, Subject: s.key, Status: Fail, Detail: "the " + kind + " resolves to blanks", Fix: "store the value itself where " + s.key + " points"})
		default:
			ok[s.key] = true
			r.add(Item{Kind: KindSecret, Subject: s.key, Status: Pass, Detail: "the " + kind + " resolves (value not shown)"})
		}
	}
	return ok
}

func secretFix(key string, err error) string {
	switch {
	case errors.Is(err, secrets.ErrNotSet):
		return "give the secret a value: set the variable in the run's environment (systemd Environment=/EnvironmentFile=, a Kubernetes Secret), fill the file, or set the vault secret; " + key + " says where"
	case errors.Is(err, secrets.ErrInsecureFile):
		return "make the file readable by its owner only: chmod 600 FILE"
	case errors.Is(err, secrets.ErrNotFound):
		return "create the file or vault secret " + key + " names, or correct the reference"
	case errors.Is(err, secrets.ErrPermission):
		return "let this identity read it: for Key Vault the \"Key Vault Secrets User\" role or an access policy with secret get; for a file, its owner must be the user the bot runs as"
	case errors.Is(err, secrets.ErrNoIdentity), errors.Is(err, secrets.ErrAuthentication):
		return "give the machine an Azure identity the vault trusts: a managed identity on the VM (azure.client_id for a user-assigned one) or workload identity on AKS"
	case errors.Is(err, secrets.ErrBadReference):
		return "write " + key + " as env:NAME, file:PATH or keyvault://VAULT/SECRET"
	}
	return "check that the secret store can be reached from this machine and try again"
}

// registry probes the registry: one listing page, and for ACR the
// identity's delete rights.
func (r *Report) registry(ctx context.Context, b *engine.Builder, cfg *config.Config, secretOK map[string]bool) {
	rc := cfg.Registry
	subject := rc.URL
	if rc.Auth.Type == config.AuthBasic && !secretOK["registry.auth.password"] {
		r.add(Item{Kind: KindRegistry, Subject: subject, Status: Skipped, Detail: "not tried: registry.auth.password does not resolve"})
		return
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := b.RegistryClient(cctx)
	if err != nil {
		r.add(Item{Kind: KindRegistry, Subject: subject, Status: Fail, Detail: err.Error(), Fix: registryFix(rc, err)})
		return
	}
	p, err := client.Probe(cctx)
	if err != nil {
		r.add(Item{Kind: KindRegistry, Subject: subject, Status: Fail, Detail: err.Error(), Fix: registryFix(rc, err)})
		return
	}
	listing := "the catalog"
	switch rc.Flavor {
	case config.FlavorACR:
		listing = "the ACR listing"
	case config.FlavorECR:
		listing = "ECR's DescribeRepositories"
	case config.FlavorGAR:
		listing = "Google's listing of " + rc.Root
	case config.FlavorHarbor:
		listing = "the first project's repositories (Harbor's API)"
	}
	r.add(Item{Kind: KindRegistry, Subject: subject, Status: Pass,
		Detail: fmt.Sprintf("answers, lets the bot in (%s auth) and lists: %d repositor%s on the first page of %s", rc.Auth.Type, len(p.Repositories), plural2(len(p.Repositories)), listing)})
	if rc.Flavor == config.FlavorGAR {
		r.add(Item{Kind: KindRegistry, Subject: subject + " delete rights", Status: Unknown, Detail: p.DeleteDetail})
		return
	}
	if rc.Flavor != config.FlavorACR && rc.Flavor != config.FlavorHarbor && rc.Flavor != config.FlavorECR {
		return
	}
	it := Item{Kind: KindRegistry, Subject: subject + " delete rights", Detail: p.DeleteDetail}
	switch p.Delete {
	case registry.DeleteGranted:
		it.Status = Pass
	case registry.DeleteDenied:
		it.Status = Fail
		it.Fix = "assign the identity the AcrDelete role on the registry (az role assignment create --role AcrDelete --assignee CLIENT_ID --scope REGISTRY_ID); a dry run works without it"
		if rc.Flavor == config.FlavorECR {
			it.Fix = "allow ecr:BatchDeleteImage on the repositories in the IAM policy of the bot's role (and no Deny in their repository policies); a dry run works without it"
		}
		if rc.Flavor == config.FlavorHarbor {
			it.Fix = "give the account the Maintainer role in the project, or a robot account with the permission to delete artifacts; a dry run works without it"
		}
	default:
		it.Status = Unknown
	}
	r.add(it)
	if lc, ok := client.(lockCounter); ok {
		r.add(locksItem(cctx, lc, subject, p.Repositories))
	}
}

// lockCounter reads the locks of some repositories (registry.ACR).
type lockCounter interface {
	Locks(ctx context.Context, repositories []string) (registry.LockCensus, error)
}

// locksItem says what the locks of the repositories on the catalog's
// first page hold: how many images, by which lock, and each repository
// lock. Locks fail nothing: a locked image is never deleted.
func locksItem(ctx context.Context, lc lockCounter, subject string, repos []string) Item {
	it := Item{Kind: KindRegistry, Subject: subject + " locks"}
	if len(repos) == 0 {
		it.Status, it.Detail = Unknown, "the registry has no repository to read locks in"
		return it
	}
	c, err := lc.Locks(ctx, repos)
	if err != nil {
		it.Status, it.Detail = Unknown, "locks not read: "+err.Error()
		return it
	}
	it.Status = Pass
	scope := fmt.Sprintf("in the first %d repositor%s (%d image%s)", c.Repositories, plural2(c.Repositories), c.Images, plural(c.Images))
	n := 0
	for _, k := range c.Locked {
		n += k
	}
	if n == 0 && len(c.RepositoryLocks) == 0 {
		it.Detail = "no lock " + scope
		return it
	}
	parts := []string{fmt.Sprintf("%d image%s locked %s", n, plural(n), scope)}
	if n > 0 {
		parts[0] += ": " + model.LockLevelsText(c.Locked)
	}
	for _, l := range c.RepositoryLocks {
		if l.WriteDisabled {
			parts = append(parts, "repository "+l.Repository+": writes disabled")
		} else {
			parts = append(parts, "repository "+l.Repository+": deletes disabled, its images can still be deleted")
		}
	}
	it.Detail = strings.Join(parts, "; ") + "; locked images are never deleted"
	return it
}

func registryFix(rc config.Registry, err error) string {
	var ce *registry.CallError
	msg := err.Error()
	switch {
	case rc.Flavor == config.FlavorACR && strings.Contains(msg, "Entra"):
		return "give the machine an Azure identity: a managed identity on the VM (azure.client_id for a user-assigned one), workload identity on AKS, or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET"
	case rc.Flavor == config.FlavorACR && (strings.Contains(msg, " 401 ") || strings.Contains(msg, " 403 ")):
		return "assign the identity AcrPull (to list) and AcrDelete (to delete) on the registry, and check azure.client_id"
	case rc.Flavor == config.FlavorECR && errors.As(err, &ce) && ce.Status/100 == 4:
		return "give the machine AWS credentials (IRSA on EKS, an instance profile, or AWS_* variables) whose IAM policy allows ecr:GetAuthorizationToken, ecr:DescribeRepositories, ecr:DescribeImages, ecr:BatchGetImage and ecr:GetLifecyclePolicy"
	case rc.Flavor == config.FlavorECR:
		return "check registry.url (ACCOUNT.dkr.ecr.REGION.amazonaws.com), that this machine reaches ECR's API in that region, and its AWS credentials"
	case rc.Flavor == config.FlavorGAR && strings.Contains(msg, "Google login"):
		return "give the machine Google credentials: GKE Workload Identity or the GCE service account, GOOGLE_APPLICATION_CREDENTIALS naming a key file, or registry.auth.password referencing one"
	case rc.Flavor == config.FlavorGAR && (strings.Contains(msg, " 401 ") || strings.Contains(msg, " 403 ") || strings.Contains(msg, " 404 ")):
		return "grant the identity roles/artifactregistry.reader (repoAdmin to delete) on the repository, and check registry.root"
	case rc.Flavor == config.FlavorHarbor && errors.As(err, &ce) && (ce.Status == 401 || ce.Status == 403):
		return "check registry.auth: a robot account's full name (robot$project+name) and its secret, and that it may list repositories and artifacts of the projects in registry.projects"
	case errors.As(err, &ce) && (ce.Status == 401 || ce.Status == 403):
		return "check registry.auth: the type, the username and the password reference, and that the account may list the catalog"
	case errors.As(err, &ce):
		return "check registry.url and that the registry is up"
	}
	return "check registry.url (host[:port]), that this machine reaches it, and registry.insecure for a plain-HTTP registry"
}

// usedRepository is a chart repository the chart files name, by its URL,
// and the charts they take from it.
type usedRepository struct {
	url    string
	charts []string
}

// charts checks GitHub, each deployment repository and file, and the
// repository names the files use; it returns the chart repositories the
// files name, in the order met.
func (r *Report) charts(ctx context.Context, b *engine.Builder, cfg *config.Config, secretOK map[string]bool) []usedRepository {
	g := cfg.GitHub
	key := "github.token"
	if g.App() {
		key = "github.private_key"
	}
	if !secretOK[key] {
		r.add(Item{Kind: KindGitHub, Subject: strings.TrimSuffix(g.APIURL, "/"), Status: Skipped, Detail: "not tried: " + key + " does not resolve"})
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	gh, err := b.GitHub(cctx)
	if err != nil {
		r.add(Item{Kind: KindGitHub, Subject: strings.TrimSuffix(g.APIURL, "/"), Status: Fail, Detail: err.Error(), Fix: githubFix(g, err)})
		return nil
	}
	id, err := gh.Whoami(cctx)
	switch {
	case err != nil:
		r.add(Item{Kind: KindGitHub, Subject: strings.TrimSuffix(g.APIURL, "/"), Status: Fail, Detail: err.Error(), Fix: githubFix(g, err)})
		return nil
	case id.App():
		r.add(Item{Kind: KindGitHub, Subject: fmt.Sprintf("GitHub App %d, installation %d", id.AppID, id.InstallationID), Status: Pass,
			Detail: "GitHub issued an installation token (" + permissions(id.Permissions) + ")"})
	default:
		r.add(Item{Kind: KindGitHub, Subject: "token of " + id.Login, Status: Pass, Detail: "GitHub accepts the token"})
	}

	repos := map[string]github.Access{}
	visible := map[string]bool{}
	for _, e := range cfg.Charts {
		if _, done := visible[e.Repository]; done {
			continue
		}
		visible[e.Repository] = r.repository(cctx, gh, g, id, e.Repository, repos)
	}
	var used []usedRepository
	at := map[string]int{}       // config.RepositoryKey → index in used
	badName := map[string]bool{} // repository names already reported
	for _, e := range cfg.Charts {
		subject := e.Repository + " " + e.File
		if !visible[e.Repository] {
			r.add(Item{Kind: KindFile, Subject: subject, Status: Skipped, Detail: "not tried: the repository cannot be read"})
			continue
		}
		base := cmpOr(e.Base, repos[e.Repository].DefaultBranch)
		owner, name, _ := strings.Cut(e.Repository, "/")
		content, _, err := gh.GetFile(cctx, owner, name, e.File, base)
		if err != nil {
			fix := "correct charts[].file (a path from the repository's root) or charts[].base"
			if errors.Is(err, github.ErrNotFound) {
				fix = fmt.Sprintf("the file is not on %s: correct charts[].file (a path from the repository's root) or charts[].base", base)
			}
			r.add(Item{Kind: KindFile, Subject: subject, Status: Fail, Detail: err.Error(), Fix: fix})
			continue
		}
		f, err := chartfile.Parse(content)
		if err != nil {
			r.add(Item{Kind: KindFile, Subject: subject, Status: Fail, Detail: err.Error(), Fix: "point charts[].file at a Chart.yaml (apiVersion v2) or requirements.yaml with a dependencies list"})
			continue
		}
		deps := followed(f, e)
		r.add(Item{Kind: KindFile, Subject: subject, Status: Pass,
			Detail: fmt.Sprintf("exists on %s: %d dependenc%s followed", base, len(deps), plural2(len(deps)))})
		for _, d := range deps {
			u, err := cfg.ResolveRepository(d.Repository)
			if err != nil {
				if !badName[d.Repository] {
					badName[d.Repository] = true
					name, _ := config.Alias(d.Repository)
					r.add(Item{Kind: KindChartRepo, Subject: d.Repository, Status: Fail, Detail: "alias unresolvable: " + err.Error(),
						Fix: fmt.Sprintf("add %s with its URL to the configuration's repositories map, or write the repository's URL in %s %s", name, e.Repository, e.File)})
				}
				continue
			}
			k := config.RepositoryKey(u)
			i, ok := at[k]
			if !ok {
				i = len(used)
				at[k] = i
				used = append(used, usedRepository{url: u})
			}
			if !slices.Contains(used[i].charts, d.Name) {
				used[i].charts = append(used[i].charts, d.Name)
			}
		}
	}
	return used
}

// repository checks that the client may push to a deployment repository
// (or, in fork mode, to its fork) and reports whether it can read it.
func (r *Report) repository(ctx context.Context, gh *github.Client, g config.GitHub, id github.Identity, full string, repos map[string]github.Access) bool {
	owner, name, _ := strings.Cut(full, "/")
	a, err := gh.RepoAccess(ctx, owner, name)
	if err != nil {
		r.add(Item{Kind: KindGitHub, Subject: full, Status: Fail, Detail: err.Error(), Fix: githubFix(g, err)})
		return false
	}
	repos[full] = a
	if g.Mode != config.ModeFork {
		if a.Push {
			r.add(Item{Kind: KindGitHub, Subject: full, Status: Pass, Detail: "can push (branches for pull requests)"})
		} else {
			r.add(Item{Kind: KindGitHub, Subject: full, Status: Fail, Detail: "cannot push", Fix: a.Why})
		}
		return true
	}
	fork, err := gh.RepoAccess(ctx, id.Login, name)
	switch {
	case errors.Is(err, github.ErrNotVisible):
		r.add(Item{Kind: KindGitHub, Subject: full + " (fork mode)", Status: Pass,
			Detail: fmt.Sprintf("readable; %s has no fork %s/%s yet: the first pull request creates it", id.Login, id.Login, name)})
	case err != nil:
		r.add(Item{Kind: KindGitHub, Subject: full + " (fork mode)", Status: Fail, Detail: err.Error(), Fix: githubFix(g, err)})
	case fork.Push:
		r.add(Item{Kind: KindGitHub, Subject: full + " (fork mode)", Status: Pass, Detail: "can push to the fork " + fork.FullName})
	default:
		r.add(Item{Kind: KindGitHub, Subject: full + " (fork mode)", Status: Fail, Detail: "cannot push to " + fork.FullName, Fix: fork.Why})
	}
	return true
}

func githubFix(g config.GitHub, err error) string {
	switch {
	case errors.Is(err, github.ErrAppAuth):
		return "see the message: it names the GitHub App setting to correct (github.app_id, github.installation_id or github.private_key)"
	case errors.Is(err, github.ErrBadToken) && g.App():
		return "check github.app_id, github.installation_id and github.private_key"
	case errors.Is(err, github.ErrBadToken):
		return "GitHub does not accept the token github.token points to (revoked, expired or mistyped): create a new one (fine-grained: Contents and Pull requests read and write on the deployment repositories) and store it there"
	case errors.Is(err, github.ErrNotVisible) && g.App():
		return "add the repository to the App's installation (Repository access), or correct charts[].repository"
	case errors.Is(err, github.ErrNotVisible):
		return "correct charts[].repository, or give the token access to it (a fine-grained token lists its repositories)"
	case errors.Is(err, github.ErrRateLimited):
		return "wait for the rate limit to reset and check again"
	case errors.Is(err, github.ErrForbidden):
		return "give the token (or App) Contents and Pull requests read and write on the repository"
	}
	return "check github.api_url and that this machine reaches GitHub"
}

func permissions(p map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, k+": "+p[k])
	}
	if len(parts) == 0 {
		return "no permissions"
	}
	return strings.Join(parts, ", ")
}

// followed lists the dependencies a run follows in a file: the configured
// ones, else every one with a chart repository or a repository name.
func followed(f *chartfile.File, e config.Chart) []chartfile.Dependency {
	var out []chartfile.Dependency
	for _, d := range f.Dependencies {
		_, listed := e.Dependencies[d.Key()]
		if d.Skipped() != nil || (len(e.Dependencies) > 0 && !listed) {
			continue
		}
		if _, alias := config.Alias(d.Repository); alias {
			out = append(out, d)
			continue
		}
		for _, scheme := range []string{"https://", "http://", "oci://"} {
			if strings.HasPrefix(d.Repository, scheme) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// chartRepositories reaches each chart repository with its credentials:
// the configured ones (by name), then the others the chart files name.
// One whose credentials did not resolve is skipped; for one the files take
// charts from, each chart's versions are listed, for the others Probe
// reads the index or gets an OCI registry token.
func (r *Report) chartRepositories(ctx context.Context, b *engine.Builder, cfg *config.Config, secretOK map[string]bool, used []usedRepository) {
	type target struct {
		name, url string
		charts    []string
	}
	var targets []target
	named := map[string]int{} // config.RepositoryKey → index in targets
	for _, name := range slices.Sorted(maps.Keys(cfg.Repositories)) {
		named[config.RepositoryKey(cfg.Repositories[name].URL)] = len(targets)
		targets = append(targets, target{name: name, url: cfg.Repositories[name].URL})
	}
	for _, u := range used {
		if i, ok := named[config.RepositoryKey(u.url)]; ok {
			targets[i].charts = u.charts
			continue
		}
		targets = append(targets, target{url: u.url, charts: u.charts})
	}
	if len(targets) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var unresolved []string
	for _, t := range targets {
		if t.name == "" {
			continue
		}
		e, at := cfg.Repositories[t.name], "repositories."+t.name
		if (e.Password != "" && !secretOK[at+".password"]) || (e.Token != "" && !secretOK[at+".token"]) {
			unresolved = append(unresolved, t.name)
		}
	}
	cr, err := b.ChartRepositories(cctx, unresolved...) // the others are still checked, with their credentials
	if err != nil {
		r.add(Item{Kind: KindChartRepo, Subject: "chart repositories", Status: Fail, Detail: err.Error(), Fix: "correct the secret reference the message names"})
		return
	}
	for _, t := range targets {
		subject := t.url
		if t.name != "" {
			subject = t.name + " " + t.url
		}
		if slices.Contains(unresolved, t.name) {
			r.add(Item{Kind: KindChartRepo, Subject: subject, Status: Skipped, Detail: "not tried: the credentials of repositories." + t.name + " do not resolve"})
			continue
		}
		r.add(chartRepository(cctx, cr, cfg, t.name, t.url, subject, t.charts))
	}
}

// chartRepository checks that a chart repository answers, with its
// credentials, and lists charts' versions (or, with no chart, answers
// Probe).
func chartRepository(ctx context.Context, cr *chartrepo.Client, cfg *config.Config, name, repo, subject string, charts []string) Item {
	how := ""
	if e, ok := cfg.Repositories[name]; ok && e.HasCredentials() {
		how = " with basic auth"
		if e.Token != "" {
			how = " with a bearer token"
		}
	}
	fail := func(err error) Item {
		fix := "check the repository URL (in the chart file or repositories), and that this machine reaches it"
		var nf *chartrepo.ChartNotFoundError
		switch {
		case errors.As(err, &nf):
			fix = "the repository answers but has no chart " + nf.Chart + ": correct the dependency's name or repository in the chart file"
		case chartrepo.Unauthorized(err) && how != "":
			fix = fmt.Sprintf("the repository refused the credentials: correct repositories.%s (username and password, or token) or what its references hold", name)
		case chartrepo.Unauthorized(err) && strings.HasPrefix(repo, "oci://"):
			fix = "give the registry's credentials in the configuration's repositories map (username and password, or token), or log in with docker login as the user the bot runs as; for ACR, give the Azure identity AcrPull"
		case chartrepo.Unauthorized(err):
			fix = "give the repository's credentials in the configuration's repositories map (username and password, or token)"
		}
		return Item{Kind: KindChartRepo, Subject: subject, Status: Fail, Detail: err.Error(), Fix: fix}
	}
	if len(charts) == 0 {
		detail, err := cr.Probe(ctx, repo)
		if err != nil {
			return fail(err)
		}
		return Item{Kind: KindChartRepo, Subject: subject, Status: Pass, Detail: detail + "; no chart file takes a chart from it"}
	}
	var counts []string
	for _, c := range charts {
		vs, err := cr.Versions(ctx, repo, c)
		if err != nil {
			return fail(err)
		}
		counts = append(counts, fmt.Sprintf("%s: %d versions", c, len(vs)))
	}
	kind := "index.yaml"
	if strings.HasPrefix(repo, "oci://") {
		kind = "OCI tags"
	}
	return Item{Kind: KindChartRepo, Subject: subject, Status: Pass, Detail: "answers" + how + " (" + kind + "): " + strings.Join(counts, ", ")}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func plural2(n int) string {
	if n == 1 {
		return "y"
	}
	return "ies"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Marks of the text checklist.
var marks = map[Status]string{Pass: "✓", Fail: "✗", Unknown: "?", Skipped: "-"}

// WriteText prints the checklist: one line per item with ✓, ✗, ? (unknown)
// or - (skipped), the fix under each ✗, and a summary line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Checking %s (nothing is changed)\n\n", cmpOr(r.Config, "the configuration"))
	width := 0
	for _, it := range r.Items {
		width = max(width, len(it.Kind))
	}
	for _, it := range r.Items {
		fmt.Fprintf(&b, "%s %-*s  %s", marks[it.Status], width, it.Kind, it.Subject)
		if it.Detail != "" {
			fmt.Fprintf(&b, ": %s", it.Detail)
		}
		b.WriteByte('\n')
		if it.Fix != "" {
			fmt.Fprintf(&b, "  %*s  fix: %s\n", width, "", it.Fix)
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "\n%d passed, %d failed", s.Passed, s.Failed)
	if s.Unknown > 0 {
		fmt.Fprintf(&b, ", %d unknown", s.Unknown)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", s.Skipped)
	}
	switch {
	case r.BadConfig:
		b.WriteString(": the configuration does not load\n")
	case s.Failed > 0:
		b.WriteString(": correct each ✗ and check again\n")
	default:
		b.WriteString(": ready to run\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the checklist as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
