package starter

import (
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// screen is what the running form shows, as the test last saw it.
type screen struct {
	mu    sync.Mutex
	key   string // the focused field's configuration key
	view  string // its words, without colours, borders or line breaks
	state huh.FormState
	sized bool // the terminal's size has come
}

func (s *screen) get() (string, string, huh.FormState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sized {
		return "", "", huh.StateNormal
	}
	return s.key, s.view, s.state
}

// formModel runs one of Forms' forms in a bubbletea program (teatest),
// as Ask does, and shows the test each screen.
type formModel struct {
	f *huh.Form
	s *screen
}

func (m formModel) Init() tea.Cmd {
	cmd := m.f.Init()
	m.publish()
	return cmd
}

func (m formModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	f, cmd := m.f.Update(msg)
	m.f = f.(*huh.Form)
	if _, ok := msg.(tea.WindowSizeMsg); ok {
		m.s.mu.Lock()
		m.s.sized = true
		m.s.mu.Unlock()
	}
	m.publish()
	return m, cmd
}

func (m formModel) View() tea.View { return tea.NewView(m.f.View()) }

func (m formModel) publish() {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	m.s.key, m.s.view, m.s.state = m.f.GetFocusedField().GetKey(), words(m.f.View()), m.f.State
}

// answer is what the operator does at a field: types text (or moves down
// a select's options), then presses enter. A refused answer is checked to
// show its error under the field, and cleared (ctrl+u) for the next one.
type answer struct {
	text    string
	down    int
	refused string
}

var (
	enter  = tea.KeyPressMsg{Code: tea.KeyEnter}
	down   = tea.KeyPressMsg{Code: tea.KeyDown}
	ctrlU  = tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	within = 10 * time.Second
)

// drive answers a form's fields as script says, and returns the first
// screen of each field.
func drive(t *testing.T, f *huh.Form, script map[string][]answer) map[string]string {
	t.Helper()
	f.SubmitCmd, f.CancelCmd = tea.Quit, tea.Interrupt
	s := &screen{}
	tm := teatest.NewTestModel(t, formModel{f, s}, teatest.WithInitialTermSize(80, 24))
	wait := func(what string, ok func(key, view string, state huh.FormState) bool) (string, string, huh.FormState) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			key, view, state := s.get()
			if ok(key, view, state) {
				return key, view, state
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited for %s; the form shows %s:\n%s", what, key, view)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	first := map[string]string{}
	for {
		key, view, state := wait("the next field", func(key, _ string, state huh.FormState) bool {
			_, done := first[key]
			return state != huh.StateNormal || (key != "" && !done)
		})
		if state != huh.StateNormal {
			break
		}
		first[key] = view
		answers, ok := script[key]
		if !ok {
			t.Fatalf("asked %s, which the script does not answer:\n%s", key, view)
		}
		for _, a := range answers {
			tm.Type(a.text)
			for range a.down {
				tm.Send(down)
			}
			tm.Send(enter)
			if a.refused == "" {
				continue
			}
			_, view, _ := wait("the error "+a.refused, func(k, view string, _ huh.FormState) bool {
				return k == key && strings.Contains(view, a.refused)
			})
			// under the field: after its input ("> answer")
			if in := strings.Index(view, "> "+a.text); in < 0 || strings.Index(view, a.refused) < in {
				t.Errorf("%s: the error is not under the field:\n%s", key, view)
			}
			tm.Send(ctrlU)
		}
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(within))
	return first
}

// words is a screen's text, its lines joined: a message wrapped at the
// terminal's width reads whole.
func words(view string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(ansi.Strip(view), "┃", "")), " ")
}

// TestAskInteractive runs Ask's forms as a person at a terminal fills
// them: each field is empty, with its default (or an example, when it has
// none) as a placeholder hint and said in its description; what one types
// is the answer, never appended to a value shown; enter on an empty field
// takes the default; a bad answer is refused with config's own error,
// shown under the field.
func TestAskInteractive(t *testing.T) {
	script := map[string][]answer{
		"registry.url":          {{text: "https://hub23.azurecr.io", refused: "registry.url: give host[:port] without a scheme"}, {text: "hub23.azurecr.io"}},
		"registry.auth.type":    {{}},
		"azure.client_id":       {{}},
		"registry.policy.cap":   {{text: "2 potatoes", refused: `registry.policy.cap: size "2 potatoes"`}, {text: "2TiB"}},
		"registry.policy.usage": {{down: 2}},
		"registry.policy.usage.events": {{refused: "give BinderHub's event log"},
			{text: "https://archive.analytics.mybinder.org/events.jsonl", refused: "put {date}"},
			{text: "https://archive.analytics.mybinder.org/events-{date}.jsonl"}},
		"registry.policy.usage.kubernetes.namespace": {{text: "binderhub"}},
		"registry.policy.usage.kubernetes.selector":  {{}},
		"charts.repository":                          {{text: "hub23-deploy", refused: `charts[0].repository: "hub23-deploy" is not owner/name`}, {text: "alan-turing-institute/hub23-deploy"}},
		"charts.file":                                {{}},
		"github.token":                               {{text: "keyvault://hubvault/github-token"}},
	}
	// the placeholder in the input ("> hint"), and the description's word
	hints := map[string][]string{
		"registry.url":                               {"> none", "Empty: none, no registry cleanup."},
		"azure.client_id":                            {"> system-assigned", "Empty: the machine's system-assigned identity."},
		"registry.policy.cap":                        {"> no cap", "Empty: no cap."},
		"registry.policy.usage.events":               {"> required, e.g. /var/log/binderhub/events-*.jsonl", "Required."},
		"registry.policy.usage.kubernetes.namespace": {"> current namespace", "Empty: the pod's own namespace"},
		"registry.policy.usage.kubernetes.selector":  {"> component=singleuser-server", "Empty: component="},
		"charts.repository":                          {"> none", "Empty: none, no chart upgrades."},
		"charts.file":                                {"> Chart.yaml", "Empty: Chart.yaml."},
		"github.token":                               {"> env:HELMUPGRADEBOT_GITHUB_TOKEN", "Empty: env:HELMUPGRADEBOT_GITHUB_TOKEN."},
	}
	var a Answers
	o := AskOptions{NoColor: true}
	asked := map[string]string{}
	for _, build := range Forms(&a, o) {
		if f := build(); f != nil {
			for k, v := range drive(t, o.decorate(f), script) {
				asked[k] = v
			}
		}
	}
	for key := range script {
		if _, ok := asked[key]; !ok {
			t.Errorf("%s was not asked", key)
		}
	}
	for key, want := range hints {
		for _, w := range want {
			if !strings.Contains(asked[key], w) {
				t.Errorf("%s shows no %q:\n%s", key, w, asked[key])
			}
		}
	}
	want := Answers{RegistryHost: "hub23.azurecr.io", RegistryAuth: config.AuthAzure, Cap: "2TiB", Launches: LaunchesBoth,
		Events: "https://archive.analytics.mybinder.org/events-{date}.jsonl", Namespace: "binderhub",
		Repository: "alan-turing-institute/hub23-deploy", TokenRef: "keyvault://hubvault/github-token"}
	if a != want {
		t.Fatalf("answers %+v, want %+v", a, want)
	}
	data, err := Render(a, "helmupgradebot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Registry.Policy
	if cfg.GitHub.Token != "keyvault://hubvault/github-token" || cfg.Charts[0].File != defaultChartFile || p.Cap.Bytes != 2<<40 ||
		p.KeepLaunchedWithin.Duration != 30*24*time.Hour || len(p.Usage) != 2 || p.Usage[1].Kubernetes.Selector != "component=singleuser-server" {
		t.Errorf("loaded %+v from\n%s", cfg, data)
	}
}
