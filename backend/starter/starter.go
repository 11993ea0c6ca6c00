// Package starter writes helmupgradebot's commented starter configuration
// (helmupgradebot init): the template, filled with what the operator
// answered in a short form (see Ask) or with examples, always a file that
// config.Load accepts.
package starter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
)

// DefaultPath is where init writes without a PATH.
const DefaultPath = "helmupgradebot.yaml"

// Where BinderHub's launches are read from (Answers.Launches).
const (
	// LaunchesKubernetes reads the images of the running user pods.
	LaunchesKubernetes = "kubernetes"
	// LaunchesEvents reads BinderHub's launch events.
	LaunchesEvents = "events"
	// LaunchesBoth reads the events and the running pods.
	LaunchesBoth = "both"
	// LaunchesNone deletes by age and cap alone.
	LaunchesNone = "none"
)

// DefaultWindow is keep_launched_within with an events source: launches
// this recent hold their image.
const DefaultWindow = "30d"

// Answers are what the form asks. An empty RegistryHost leaves the
// registry chore out (its section stays, commented out, with examples);
// an empty Repository leaves the chart chore out; both empty write the
// examples. Any other empty answer takes its field's default.
type Answers struct {
	RegistryHost string
	// RegistryRoot is what Google's registry is listed under (flavor gar):
	// PROJECT on gcr.io, PROJECT/REPOSITORY on Artifact Registry.
	RegistryRoot string
	// RegistryAuth is azure, basic, docker or anonymous (DefaultAuth).
	RegistryAuth string
	// RegistryUser and RegistryPassword (a secret reference) go with basic.
	RegistryUser, RegistryPassword string
	// ClientID is azure.client_id, a user-assigned managed identity's
	// client ID; empty: the system-assigned identity.
	ClientID string
	// Cap is registry.policy.cap, a size such as 2TiB; empty: no cap.
	Cap string
	// Launches is where BinderHub's launches are read from:
	// LaunchesKubernetes (empty), LaunchesEvents, LaunchesBoth or
	// LaunchesNone.
	Launches string
	// Events is the events source (a file, glob or URL with {date}) for
	// LaunchesEvents and LaunchesBoth.
	Events string
	// Namespace and Selector pick the running pods for LaunchesKubernetes
	// and LaunchesBoth; empty: config's defaults (the current namespace,
	// usage.DefaultSelector).
	Namespace, Selector string
	// Repository is the deployment repository, owner/name.
	Repository string
	// ChartFile is the Chart.yaml (or requirements.yaml) path in it.
	ChartFile string
	// TokenRef is the GitHub token's secret reference.
	TokenRef string
}

// Examples fill the template when nothing is asked, and the sections of a
// chore left out.
var Examples = Answers{
	RegistryHost:     "myregistry.azurecr.io",
	RegistryAuth:     config.AuthAzure,
	RegistryUser:     "helmupgradebot",
	RegistryPassword: "env:HELMUPGRADEBOT_REGISTRY_PASSWORD",
	Launches:         LaunchesKubernetes,
	Repository:       "my-org/my-hub-deploy",
	ChartFile:        "deploy/Chart.yaml",
	TokenRef:         "env:HELMUPGRADEBOT_GITHUB_TOKEN",
}

// defaultChartFile is the Chart.yaml path an empty answer takes.
const defaultChartFile = "Chart.yaml"

// AuthChoices are the registry logins a host may use, the default first:
// an Azure Container Registry logs in with the machine's Azure identity,
// Amazon ECR with the AWS credential chain, OVH's managed Harbor with a
// robot account (basic);
// a loopback registry is usually open; others use the docker login.
func AuthChoices(host string) []string {
	switch {
	case config.IsACRHost(host):
		return []string{config.AuthAzure, config.AuthBasic, config.AuthDocker, config.AuthAnonymous}
	case config.IsECRHost(host):
		return []string{config.AuthAWS, config.AuthDocker}
	case config.IsGoogleHost(host):
		return []string{config.AuthGoogle, config.AuthBasic, config.AuthDocker, config.AuthAnonymous}
	case config.IsHarborHost(host):
		return []string{config.AuthBasic, config.AuthDocker, config.AuthAnonymous} // a robot account
	case loopback.Host(host):
		return []string{config.AuthAnonymous, config.AuthBasic, config.AuthDocker}
	}
	return []string{config.AuthDocker, config.AuthBasic, config.AuthAnonymous}
}

// DefaultAuth is the login a host uses unless the operator says otherwise.
func DefaultAuth(host string) string { return AuthChoices(host)[0] }

// asksIdentity: azure.client_id is asked for an ACR host logged in to
// with the machine's Azure identity.
func asksIdentity(host, auth string) bool {
	return config.IsACRHost(host) && auth == config.AuthAzure
}

// readsEvents and readsPods say which usage sources a choice reads.
func readsEvents(launches string) bool {
	return launches == LaunchesEvents || launches == LaunchesBoth
}

func readsPods(launches string) bool {
	return launches == LaunchesKubernetes || launches == LaunchesBoth
}

// normalize trims the answers, fills in the defaults of those left empty,
// and checks them as config does.
func (a Answers) normalize() (Answers, error) {
	for _, p := range []*string{&a.RegistryHost, &a.RegistryRoot, &a.RegistryAuth, &a.RegistryUser, &a.RegistryPassword, &a.ClientID, &a.Cap,
		&a.Launches, &a.Events, &a.Namespace, &a.Selector, &a.Repository, &a.ChartFile, &a.TokenRef} {
		*p = strings.TrimSpace(*p)
	}
	if a.RegistryHost == "" && a.Repository == "" {
		return Examples.normalize()
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	host, err := normalizeRegistry(a.RegistryHost)
	add(err)
	if err == nil {
		a.RegistryHost = host
	}
	if a.RegistryHost != "" {
		a.RegistryAuth = cmpOr(a.RegistryAuth, DefaultAuth(a.RegistryHost))
		if a.RegistryAuth == config.AuthBasic {
			a.RegistryUser = cmpOr(a.RegistryUser, Examples.RegistryUser)
			a.RegistryPassword = cmpOr(a.RegistryPassword, Examples.RegistryPassword)
			add(validateUsername(a.RegistryUser))
			add(validatePassword(a.RegistryPassword))
		}
		if listsGoogle(a.RegistryHost, a.RegistryAuth) {
			add(validateRoot(a.RegistryRoot))
		}
		add(validateCap(a.Cap))
		a.Launches = cmpOr(a.Launches, LaunchesKubernetes)
		switch a.Launches {
		case LaunchesKubernetes, LaunchesEvents, LaunchesBoth, LaunchesNone:
		default:
			add(fmt.Errorf("launches %q: want %s, %s, %s or %s", a.Launches, LaunchesKubernetes, LaunchesEvents, LaunchesBoth, LaunchesNone))
		}
		if readsEvents(a.Launches) {
			add(validateEvents(a.Events))
		}
		if readsPods(a.Launches) {
			a.Selector = cmpOr(a.Selector, usage.DefaultSelector)
			add(validateKubernetes(a.Namespace, a.Selector))
		}
	}
	add(validateClientID(a.ClientID))
	if a.Repository != "" {
		a.ChartFile = cmpOr(a.ChartFile, defaultChartFile)
		a.TokenRef = cmpOr(a.TokenRef, Examples.TokenRef)
		add(validateRepository(a.Repository))
		add(validateChartFile(a.ChartFile))
		add(validateToken(a.TokenRef))
	}
	return a, errors.Join(errs...)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Render fills the template with a (normalized: trimmed, defaults filled,
// checked) for a file at path, and checks that the result loads.
func Render(a Answers, path string) ([]byte, error) {
	a, err := a.normalize()
	if err != nil {
		return nil, err
	}
	data, err := render(a, path)
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(data); err != nil {
		return nil, fmt.Errorf("the starter configuration does not load (a bug): %w", err)
	}
	return data, nil
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

// listsGoogle: a Google host logged in to with Google credentials is
// listed through Google's own listing (flavor gar), which needs a root.
func listsGoogle(host, auth string) bool {
	return config.IsGoogleHost(host) && auth == config.AuthGoogle
}
