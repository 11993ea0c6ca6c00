package starter

import (
	"context"
	"fmt"
	"io"
	"strings"

	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
)

// AskOptions tune Ask.
type AskOptions struct {
	// Accessible asks line by line, without redrawing (huh's accessible
	// mode, for screen readers): each question's description comes first,
	// its default in brackets after its title.
	Accessible bool
	// Input and Output default to the terminal.
	Input  io.Reader
	Output io.Writer
	// NoColor drops the colours (NO_COLOR).
	NoColor bool
}

var authHelp = map[string]string{
	config.AuthAzure:     "azure: the machine's Azure identity (managed or workload identity), no password",
	config.AuthGoogle:    "google: Google's Application Default Credentials (workload identity, the GCE service account, GOOGLE_APPLICATION_CREDENTIALS)",
	config.AuthBasic:     "basic: a username and a password reference",
	config.AuthDocker:    "docker: the docker login on this machine (config and credential helpers)",
	config.AuthAnonymous: "anonymous: no login",
	config.AuthAWS:       "aws: the AWS credential chain (IRSA, the instance profile, AWS_* variables), no password",
}

var launchesHelp = []struct{ value, help string }{
	{LaunchesKubernetes, "running pods: the images of BinderHub's user pods, read from Kubernetes"},
	{LaunchesEvents, "launch events: BinderHub's event log, a file, glob or URL (launches within " + DefaultWindow + ")"},
	{LaunchesBoth, "both: launch events and running pods"},
	{LaunchesNone, "none: delete by age (and cap) alone"},
}

// question is one text field. Its hint (huh's placeholder, never a value
// typed over) is what an empty answer gives, and its description says so;
// a required question has no default, and its hint is an example.
type question struct {
	// key is the configuration key the answer goes to (the field's huh
	// key).
	key, title, desc, hint string
	required               bool
	value                  *string
	validate               func(string) error
}

// group puts q in a group of its own, so that its error shows right under
// it. huh's accessible mode prompts with the title alone: there the
// description goes first, as a note, and the default follows the title.
func (o AskOptions) group(q question) *huh.Group {
	in := huh.NewInput().Key(q.key).Title(q.title).Description(q.desc).Placeholder(q.hint).Value(q.value).Validate(q.validate)
	if !o.Accessible {
		return huh.NewGroup(in)
	}
	title := q.title + ":"
	if !q.required {
		title = q.title + " [" + q.hint + "]:"
	}
	return huh.NewGroup(huh.NewNote().Description(q.desc), in.Title(title))
}

// choose is a select of its own group, described before it in accessible
// mode as group does.
func (o AskOptions) choose(key, title, desc string, value *string, opts ...huh.Option[string]) *huh.Group {
	sel := huh.NewSelect[string]().Key(key).Title(title).Description(desc).Options(opts...).Value(value)
	if !o.Accessible {
		return huh.NewGroup(sel)
	}
	return huh.NewGroup(huh.NewNote().Description(desc), sel)
}

const intro = "A few questions. An empty answer takes the default its field shows; every other key gets a commented default."

// Forms are the questions Ask puts, in order: the registry, how to log in
// to it (and basic auth's credentials), its Azure identity (ACR), its cap
// and where BinderHub's launches come from (and that source); then the
// deployment repository, its Chart.yaml and the GitHub token. Each form
// is built when its turn comes, so it sees the answers before it; one
// that does not apply is nil. Every answer is checked as config.Parse
// checks it.
func Forms(a *Answers, o AskOptions) []func() *huh.Form {
	hasRegistry := func() bool { return strings.TrimSpace(a.RegistryHost) != "" }
	registry := func() *huh.Form {
		g := o.group(question{key: "registry.url", title: "Container registry", hint: "none", value: &a.RegistryHost, validate: validateRegistry,
			desc: "host[:port] of the registry to clean, e.g. myregistry.azurecr.io. Empty: none, no registry cleanup."})
		if o.Accessible {
			return huh.NewForm(huh.NewGroup(huh.NewNote().Title("helmupgradebot init").Description(intro)), g)
		}
		return huh.NewForm(g.Title("helmupgradebot init").Description(intro + "\n"))
	}
	// The login's choices follow the host, so they are asked once it is
	// known (huh's accessible mode has no options that change as one types).
	auth := func() *huh.Form {
		if !hasRegistry() {
			return nil
		}
		if host, err := normalizeRegistry(a.RegistryHost); err == nil {
			a.RegistryHost = host // as config reads it: hub.azurecr.io/ is an ACR host
		}
		host := a.RegistryHost
		var opts []huh.Option[string]
		for _, c := range AuthChoices(host) {
			opts = append(opts, huh.NewOption(authHelp[c], c))
		}
		return huh.NewForm(o.choose("registry.auth.type", "Registry login", "How helmupgradebot logs in to "+host+".", &a.RegistryAuth, opts...))
	}
	root := func() *huh.Form {
		if !hasRegistry() || !listsGoogle(a.RegistryHost, a.RegistryAuth) {
			return nil
		}
		return huh.NewForm(o.group(question{key: "registry.root", title: "What to list (registry.root)", hint: "my-project/binder", value: &a.RegistryRoot,
			validate: validateRoot,
			desc:     "PROJECT on gcr.io, PROJECT/REPOSITORY on Artifact Registry: every repository under it is inventoried."}))
	}
	login := func() *huh.Form {
		if !hasRegistry() || a.RegistryAuth != config.AuthBasic {
			return nil
		}
		return huh.NewForm(
			o.group(question{key: "registry.auth.username", title: "Registry username", hint: Examples.RegistryUser, value: &a.RegistryUser,
				validate: orDefault(Examples.RegistryUser, validateUsername),
				desc:     "The registry login's user name. Empty: " + Examples.RegistryUser + "."}),
			o.group(question{key: "registry.auth.password", title: "Registry password reference", hint: Examples.RegistryPassword, value: &a.RegistryPassword,
				validate: orDefault(Examples.RegistryPassword, validatePassword),
				desc:     "env:NAME, file:PATH or keyvault://VAULT/SECRET: where the password is, never the password. Empty: " + Examples.RegistryPassword + "."}),
		)
	}
	identity := func() *huh.Form {
		if !hasRegistry() || !asksIdentity(strings.TrimSpace(a.RegistryHost), a.RegistryAuth) {
			return nil
		}
		return huh.NewForm(o.group(question{key: "azure.client_id", title: "Azure identity (azure.client_id)", hint: "system-assigned", value: &a.ClientID,
			validate: validateClientID,
			desc: "The client ID of the user-assigned managed identity helmupgradebot signs in to the registry (and Key Vault) with. " +
				"Empty: the machine's system-assigned identity."}))
	}
	policy := func() *huh.Form {
		if !hasRegistry() {
			return nil
		}
		var opts []huh.Option[string]
		for _, l := range launchesHelp {
			opts = append(opts, huh.NewOption(l.help, l.value))
		}
		return huh.NewForm(
			o.group(question{key: "registry.policy.cap", title: "Size cap (registry.policy.cap)", hint: "no cap", value: &a.Cap, validate: validateCap,
				desc: "The registry's size budget, a size with a unit such as 2TiB or 500GB, shown on the gauge and in the forecast " +
					"(deleting down to it needs aggressive: true in the file). Empty: no cap."}),
			o.choose("registry.policy.usage", "Where BinderHub's launches come from",
				"An image launched recently or run by a pod is never deleted, and if a source cannot be read nothing is. "+
					"Without a source, images people still launch are deleted by age alone.", &a.Launches, opts...),
		)
	}
	sources := func() *huh.Form {
		if !hasRegistry() {
			return nil
		}
		var groups []*huh.Group
		if readsEvents(a.Launches) {
			groups = append(groups, o.group(question{key: "registry.policy.usage.events", title: "Launch events", hint: "required, e.g. /var/log/binderhub/events-*.jsonl",
				required: true, value: &a.Events, validate: validateEvents,
				desc: "BinderHub's event log: a file or glob (relative to the configuration file), or an http(s) URL with {date} for a file a day, " +
					"e.g. https://archive.analytics.mybinder.org/events-{date}.jsonl. An image launched within " + DefaultWindow + " is kept. Required."}))
		}
		if readsPods(a.Launches) {
			groups = append(groups,
				o.group(question{key: "registry.policy.usage.kubernetes.namespace", title: "Kubernetes namespace", hint: "current namespace", value: &a.Namespace,
					validate: func(s string) error { return validateKubernetes(strings.TrimSpace(s), "") },
					desc: "Where BinderHub's user pods run, e.g. binderhub. Empty: the pod's own namespace when helmupgradebot runs in the cluster, " +
						"else the kubeconfig context's."}),
				o.group(question{key: "registry.policy.usage.kubernetes.selector", title: "User pod selector", hint: usage.DefaultSelector, value: &a.Selector,
					validate: orDefault(usage.DefaultSelector, func(s string) error { return validateKubernetes("", s) }),
					desc:     "The label selector of BinderHub's user pods. Empty: " + usage.DefaultSelector + "."}))
		}
		if len(groups) == 0 {
			return nil
		}
		return huh.NewForm(groups...)
	}
	repository := func() *huh.Form {
		return huh.NewForm(o.group(question{key: "charts.repository", title: "Deployment repository", hint: "none", value: &a.Repository,
			validate: func(s string) error {
				if err := validateSomethingToDo(a.RegistryHost, s); err != nil {
					return fmt.Errorf("%w; give the deployment repository (or start again, giving a registry)", err)
				}
				return validateRepository(s)
			},
			desc: "owner/name of the GitHub repository pinning the charts, e.g. my-org/hub-deploy. Empty: none, no chart upgrades."}))
	}
	charts := func() *huh.Form {
		if strings.TrimSpace(a.Repository) == "" {
			return nil
		}
		return huh.NewForm(
			o.group(question{key: "charts.file", title: "Chart.yaml path", hint: defaultChartFile, value: &a.ChartFile,
				validate: orDefault(defaultChartFile, validateChartFile),
				desc:     "From the repository's root, e.g. deploy/Chart.yaml (or a requirements.yaml). Empty: " + defaultChartFile + "."}),
			o.group(question{key: "github.token", title: "GitHub token reference", hint: Examples.TokenRef, value: &a.TokenRef,
				validate: orDefault(Examples.TokenRef, validateToken),
				desc: "env:NAME, file:PATH or keyvault://VAULT/SECRET: where the token is, never the token " +
					"(a GitHub App is set up in the file). Empty: " + Examples.TokenRef + "."}),
		)
	}
	return []func() *huh.Form{registry, auth, root, login, identity, policy, sources, repository, charts}
}

// Ask puts the questions and fills a. It returns huh.ErrUserAborted when
// the operator gives up (ctrl+c).
func Ask(ctx context.Context, a *Answers, o AskOptions) error {
	for _, build := range Forms(a, o) {
		f := build()
		if f == nil {
			continue
		}
		if err := o.decorate(f).RunWithContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// decorate gives a form Ask's theme, help, mode and terminal.
func (o AskOptions) decorate(f *huh.Form) *huh.Form {
	f = f.WithTheme(theme(o.NoColor)).WithShowHelp(true).WithAccessible(o.Accessible)
	if o.Input != nil {
		f = f.WithInput(o.Input)
	}
	if o.Output != nil {
		f = f.WithOutput(o.Output)
	}
	return f
}

// theme is the console's: its violet accent for titles and the cursor,
// muted descriptions, its red for errors; without colour, huh's plain base.
func theme(noColor bool) huh.Theme {
	if noColor {
		return huh.ThemeFunc(huh.ThemeBase)
	}
	return huh.ThemeFunc(func(dark bool) *huh.Styles {
		t := huh.ThemeBase(dark)
		ld := lipgloss.LightDark(dark)
		accent := ld(lipgloss.Color("#5A3FC0"), lipgloss.Color("#9D86F7"))
		muted := ld(lipgloss.Color("#767676"), lipgloss.Color("#8A8A8A"))
		green := ld(lipgloss.Color("#00875F"), lipgloss.Color("#3FD68A"))
		red := ld(lipgloss.Color("#C0262D"), lipgloss.Color("#FF6B6B"))
		f := &t.Focused
		f.Base = f.Base.BorderForeground(accent)
		f.Card = f.Base
		f.Title = f.Title.Foreground(accent).Bold(true)
		f.Description = f.Description.Foreground(muted)
		f.ErrorIndicator = f.ErrorIndicator.Foreground(red)
		f.ErrorMessage = f.ErrorMessage.Foreground(red)
		f.SelectSelector = f.SelectSelector.Foreground(accent)
		f.SelectedOption = f.SelectedOption.Foreground(green)
		f.TextInput.Cursor = f.TextInput.Cursor.Foreground(accent)
		f.TextInput.Prompt = f.TextInput.Prompt.Foreground(accent)
		f.TextInput.Placeholder = f.TextInput.Placeholder.Foreground(muted)
		f.FocusedButton = f.FocusedButton.Foreground(lipgloss.Color("#FFFFFF")).Background(accent)
		f.Next = f.FocusedButton
		t.Blurred = *f
		t.Blurred.Base = f.Base.BorderStyle(lipgloss.HiddenBorder())
		t.Blurred.Card = t.Blurred.Base
		t.Blurred.Title = f.Title.Bold(false).Foreground(muted)
		t.Blurred.NextIndicator = lipgloss.NewStyle()
		t.Blurred.PrevIndicator = lipgloss.NewStyle()
		t.Group.Title = f.Title
		t.Group.Description = f.Description
		return t
	})
}
