package starter

import (
	"context"
	"io"
	"strings"

	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// AskOptions tune Ask.
type AskOptions struct {
	// Accessible asks line by line, without redrawing (huh's accessible
	// mode, for screen readers and for tests): an empty answer keeps the
	// value shown.
	Accessible bool
	// Input and Output default to the terminal.
	Input  io.Reader
	Output io.Writer
	// NoColor drops the colours (NO_COLOR).
	NoColor bool
}

var authHelp = map[string]string{
	config.AuthAzure:     "azure: the machine's Azure identity (managed or workload identity), no password",
	config.AuthBasic:     "basic: a username and a password reference",
	config.AuthDocker:    "docker: the docker login on this machine (config and credential helpers)",
	config.AuthAnonymous: "anonymous: no login",
}

// Forms are the questions Ask puts, in order: the registry, how to log in
// to it and the credentials for basic auth (only when there is one), then
// GitHub. Each is built when its turn comes, so
// it sees the answers before it.
func Forms(a *Answers, o AskOptions) []func() *huh.Form {
	keep := func(validate func(string) error) func(string) error {
		return func(s string) error {
			if o.Accessible && strings.TrimSpace(s) == "" {
				return nil // keeps the value shown
			}
			return validate(s)
		}
	}
	ifCharts := func(validate func(string) error) func(string) error {
		return keep(func(s string) error {
			if strings.TrimSpace(a.Repository) == "" {
				return nil
			}
			return validate(s)
		})
	}
	registry := func() *huh.Form {
		return huh.NewForm(huh.NewGroup(
			huh.NewInput().Title("Container registry").
				Description("host[:port] of the registry to clean, e.g. myregistry.azurecr.io; empty: no registry cleanup").
				Placeholder("myregistry.azurecr.io").Value(&a.RegistryHost).Validate(ValidateHost),
		).Title("helmupgradebot init").Description("A few questions; every other key gets a commented default.\n"))
	}
	// The login's choices follow the host, so they are asked once it is
	// known (huh's accessible mode has no options that change as one types).
	auth := func() *huh.Form {
		host := strings.TrimSpace(a.RegistryHost)
		if host == "" {
			return nil
		}
		var opts []huh.Option[string]
		for _, c := range AuthChoices(host) {
			opts = append(opts, huh.NewOption(authHelp[c], c))
		}
		return huh.NewForm(huh.NewGroup(
			huh.NewSelect[string]().Title("Registry login").Description("how helmupgradebot logs in to " + host).
				Options(opts...).Value(&a.RegistryAuth),
		))
	}
	login := func() *huh.Form {
		if a.RegistryAuth != config.AuthBasic || strings.TrimSpace(a.RegistryHost) == "" {
			return nil
		}
		if a.RegistryPassword == "" {
			a.RegistryPassword = Examples.RegistryPassword
		}
		return huh.NewForm(huh.NewGroup(
			huh.NewInput().Title("Registry username").Placeholder(Examples.RegistryUser).Value(&a.RegistryUser),
			huh.NewInput().Title("Registry password reference").
				Description("env:NAME, file:PATH or keyvault://VAULT/SECRET: where the password is, never the password").
				Value(&a.RegistryPassword).Validate(keep(ValidateReference)),
		))
	}
	github := func() *huh.Form {
		if a.TokenRef == "" {
			a.TokenRef = Examples.TokenRef
		}
		return huh.NewForm(huh.NewGroup(
			huh.NewInput().Title("Deployment repository").
				Description("owner/name of the GitHub repository pinning the charts; empty: no chart upgrades").
				Placeholder("my-org/hub-deploy").Value(&a.Repository).Validate(ValidateRepository),
			huh.NewInput().Title("Chart.yaml path").
				Description("from the repository's root (default Chart.yaml)").
				Placeholder("deploy/Chart.yaml").Value(&a.ChartFile).Validate(ifCharts(ValidateChartFile)),
			huh.NewInput().Title("GitHub token reference").
				Description("env:NAME, file:PATH or keyvault://VAULT/SECRET: where the token is, never the token (a GitHub App is set up in the file)").
				Value(&a.TokenRef).Validate(ifCharts(ValidateReference)),
		))
	}
	return []func() *huh.Form{registry, auth, login, github}
}

// Ask puts the questions and fills a. It returns huh.ErrUserAborted when
// the operator gives up (ctrl+c).
func Ask(ctx context.Context, a *Answers, o AskOptions) error {
	for _, build := range Forms(a, o) {
		f := build()
		if f == nil {
			continue
		}
		f = f.WithTheme(theme(o.NoColor)).WithShowHelp(true).WithAccessible(o.Accessible)
		if o.Input != nil {
			f = f.WithInput(o.Input)
		}
		if o.Output != nil {
			f = f.WithOutput(o.Output)
		}
		if err := f.RunWithContext(ctx); err != nil {
			return err
		}
	}
	return nil
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
