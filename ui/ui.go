// Package ui is helmupgradebot's interactive console: a bubbletea program
// with a Charts tab (chart dependencies and the pull requests that bump
// them) and a Registry tab (the registry's images, sizes against the cap,
// and deletes). It calls the same engine methods as --headless and decides
// nothing on its own.
package ui

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	chartstab "github.com/helmupgradebot/helmupgradebot/ui/charts"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
	historytab "github.com/helmupgradebot/helmupgradebot/ui/history"
	"github.com/helmupgradebot/helmupgradebot/ui/pager"
	registrytab "github.com/helmupgradebot/helmupgradebot/ui/registry"
)

// tab is one of the console's screens.
type tab int

const (
	tabCharts tab = iota
	tabRegistry
	tabHistory
	numTabs
)

func (t tab) String() string { return [...]string{"Charts", "Registry", "History"}[t] }

// Smallest usable screen.
const minWidth, minHeight = 40, 10

// Model is the console's bubbletea model.
type Model struct {
	c       *common.Common
	noColor bool
	dark    bool
	in      io.Reader
	out     io.Writer
	sized   bool

	// reg is the registry the Registry tab shows, nil when none is
	// configured.
	reg      RegistryService
	tab      tab
	charts   *chartstab.Model
	registry *registrytab.Model
	history  *historytab.Model
	confirm  *confirm.Model
	// errView shows the errors of the last actions in full (e), when open;
	// errGen is the log it shows.
	errView *pager.Model
	errGen  int

	help     help.Model
	spinner  spinner.Model
	spinning bool

	quitAsked, quitting bool // q pressed while deleting
}

// New builds the console. reg or charts may be nil when that part is not
// configured: its tab then says so.
func New(reg RegistryService, charts ChartService, opts ...Option) *Model {
	o := options{width: 80, height: 24, dark: true}
	for _, opt := range opts {
		opt(&o)
	}
	if isNil(reg) {
		reg = nil
	}
	if isNil(charts) {
		charts = nil
	}
	if o.ctx == nil {
		o.ctx = context.Background()
	}
	if o.now == nil {
		o.now = time.Now
		if cl, ok := reg.(common.Clock); ok {
			o.now = cl.Now
		} else if cl, ok := charts.(common.Clock); ok {
			o.now = cl.Now
		}
	}
	keys := common.DefaultKeyMap()
	c := &common.Common{Ctx: o.ctx, Width: o.width, Height: o.height, Keys: &keys, Now: o.now, NoColor: o.noColor}
	m := &Model{c: c, noColor: o.noColor, dark: o.dark, in: o.in, out: o.out, sized: o.sized, reg: reg, help: help.New(), spinner: spinner.New(spinner.WithSpinner(spinner.MiniDot))}
	m.charts = chartstab.New(c, charts)
	m.registry = registrytab.New(c, reg)
	url := ""
	if reg != nil {
		url = reg.URL()
	}
	if isNil(o.history) {
		o.history = nil
	}
	var capBytes int64
	if reg != nil {
		capBytes = reg.Policy().Cap
	}
	m.history = historytab.New(c, o.history, url, capBytes)
	if charts == nil && reg != nil {
		m.tab = tabRegistry
	}
	m.restyle()
	m.layout()
	return m
}

// Run runs the console full-screen until the operator quits or ctx ends.
// NO_COLOR in the environment turns colour off.
func Run(ctx context.Context, reg RegistryService, charts ChartService, opts ...Option) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if os.Getenv("NO_COLOR") != "" {
		opts = append(opts, WithNoColor())
	}
	opts = append(opts, WithContext(ctx))
	m := New(reg, charts, opts...)
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if m.in != nil {
		popts = append(popts, tea.WithInput(m.in))
	}
	if m.out != nil {
		popts = append(popts, tea.WithOutput(m.out))
	}
	if m.sized {
		popts = append(popts, tea.WithWindowSize(m.c.Width, m.c.Height))
	}
	if m.noColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	// A delete still running starts no further deletions now; the ones
	// under way finish and are written to the audit log before we return.
	cancel()
	for m.c.Deletes.Load() > 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // ctx ended: a normal way to stop
	}
	return err
}

func (m *Model) restyle() {
	st := common.NewStyles(m.noColor, m.dark)
	m.c.Styles = st
	m.help.Styles = st.Help
	m.spinner.Style = st.Spinner
	m.registry.Restyle()
	if m.errView != nil {
		m.errView.SetStyles(st.Pager())
	}
	m.history.Restyle()
}

// Init starts the first chart check and registry scan.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.charts.Init(), m.registry.Init(), m.history.Init(), m.spin()}
	if !m.noColor {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

func (m *Model) busy() bool { return m.charts.Busy() || m.registry.Busy() || !m.registry.PlanReady() }

// spin starts the spinner when work is running and it is not spinning yet.
func (m *Model) spin() tea.Cmd {
	if m.spinning || !m.busy() {
		return nil
	}
	m.spinning = true
	return m.spinner.Tick
}

// layout sizes the parts for the screen.
func (m *Model) layout() {
	m.help.SetWidth(m.c.Width)
	body := m.bodyHeight()
	m.charts.SetSize(m.c.Width, body)
	m.registry.SetSize(m.c.Width, body)
	m.history.SetSize(m.c.Width, body)
	if m.errView != nil {
		if m.errGen != m.c.Errs.Gen { // an error arrived while it is open
			m.errGen = m.c.Errs.Gen
			m.errView.SetContent(m.c.ErrorsTitle(), m.c.ErrorParas())
		}
		m.errView.SetSize(m.c.Width, body)
	}
}

// openErrors shows every error of the last actions in full.
func (m *Model) openErrors() {
	if len(m.c.Errs.Entries) == 0 {
		m.c.Notef("no errors: every last action went through")
		return
	}
	m.errView = pager.New(m.c.Keys.PagerKeys(m.c.Keys.Close), m.c.Styles.Pager())
	m.errView.SetHint("esc or q: close")
	m.errGen = m.c.Errs.Gen
	m.errView.SetContent(m.c.ErrorsTitle(), m.c.ErrorParas())
}

func (m *Model) bodyHeight() int {
	return max(m.c.Height-1-lipgloss.Height(m.statusLine(m.c.Width))-lipgloss.Height(m.helpView()), 1)
}

// maxHelpLines keeps the full help from crowding out the body: at least
// six lines of it stay.
func (m *Model) maxHelpLines() int { return max((m.c.Height-2)/2, m.c.Height-8, 1) }

// Update handles a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = msg.Width, msg.Height
	case tea.BackgroundColorMsg:
		if !m.noColor {
			m.dark = msg.IsDark()
			m.restyle()
		}
	case tea.KeyPressMsg:
		m.c.Sticky = false
		if m.errView == nil && !key.Matches(msg, m.c.Keys.Errors) {
			m.c.DropKeyErrors()
		}
		cmd = m.key(msg)
	case spinner.TickMsg:
		if !m.busy() {
			m.spinning = false
			return m, nil
		}
		m.spinner, cmd = m.spinner.Update(msg)
		return m, cmd
	case common.ProgressMsg: // only the registry's work reports progress
		m.registry.Update(msg.Msg)
		cmd = msg.Next
	case registrytab.ScanDoneMsg:
		_, replan := m.registry.Update(msg)
		cmd = tea.Batch(m.history.Record(m.registrySummary(nil)), replan)
	case registrytab.SnapshotMsg, registrytab.PlanDoneMsg:
		m.registry.Update(msg)
	case historytab.LoadedMsg:
		m.history.Update(msg)
		m.registry.SetForecast(m.history.ForecastNote())
	case registrytab.ApplyDoneMsg:
		_, rescan := m.registry.Update(msg)
		record := m.history.Record(m.registrySummary(&msg))
		cmd = tea.Batch(rescan, record)
		m.quitAsked = false
		if m.quitting {
			// The stopped delete goes into the history before the console
			// quits; the rescan is not needed.
			return m, recordThenQuit(record)
		}
	case registrytab.RecheckDoneMsg:
		if m.confirm == msg.Box {
			m.registry.Update(msg)
		}
	case chartstab.CheckDoneMsg:
		m.charts.Update(msg)
	case chartstab.OpenDoneMsg:
		m.charts.Update(msg)
		cmd = m.history.Record(chartsSummary(msg.Rows))
	}
	m.layout() // the status line may have grown or shrunk
	return m, tea.Batch(cmd, m.spin())
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if m.errView != nil && msg.String() != "ctrl+c" {
		if m.errView.Update(msg) {
			m.errView = nil
		}
		m.layout()
		return nil
	}
	if msg.String() == "ctrl+c" || (key.Matches(msg, k.Quit) && !m.typing() && !m.paging()) {
		return m.quit()
	}
	if m.confirm != nil {
		return m.confirmKey(msg)
	}
	if m.tab == tabRegistry && m.registry.Filtering() {
		_, cmd := m.registry.Update(msg)
		m.layout()
		return cmd
	}
	switch {
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.layout()
		return nil
	case key.Matches(msg, k.Errors):
		m.openErrors()
	case key.Matches(msg, k.NextTab):
		m.tab = (m.tab + 1) % numTabs
	case key.Matches(msg, k.PrevTab):
		m.tab = (m.tab + numTabs - 1) % numTabs
	case key.Matches(msg, k.ChartsTab):
		m.tab = tabCharts
	case key.Matches(msg, k.RegistryTab):
		m.tab = tabRegistry
	case key.Matches(msg, k.HistoryTab):
		m.tab = tabHistory
	default:
		if b, t, ok := elsewhere(k, msg, m.tab); ok {
			m.c.Notef("%s (%s) works on the %s tab: %d goes there", b.Help().Key, b.Help().Desc, t, int(t)+1)
			return nil
		}
		var cmd tea.Cmd
		var box *confirm.Model
		switch m.tab {
		case tabCharts:
			_, cmd = m.charts.Update(msg)
			box = m.charts.Ask()
		case tabHistory:
			_, cmd = m.history.Update(msg)
		default:
			_, cmd = m.registry.Update(msg)
			box = m.registry.Ask()
		}
		m.confirm = box
		m.layout()
		return cmd
	}
	m.layout()
	return nil
}

// typing reports whether keys go to a text input.
func (m *Model) typing() bool { return m.tab == tabRegistry && m.registry.Filtering() }

// paging reports whether a scrollable view has the keys (q closes it).
func (m *Model) paging() bool {
	return m.errView != nil || (m.tab == tabHistory && m.history.Paging() && m.confirm == nil)
}

// quit quits, except while a delete runs: then the first press asks, the
// second stops the delete (deletions under way finish and are recorded)
// and quits when it has stopped.
func (m *Model) quit() tea.Cmd {
	switch {
	case !m.registry.Deleting():
		return tea.Quit
	case !m.quitAsked:
		m.quitAsked = true
		m.c.Errorf("a delete is running: q again stops it (deletions under way finish and are recorded) and quits")
		return nil
	}
	m.quitting = true
	m.registry.Stop()
	m.c.Infof("stopping the delete; quitting when the deletions under way have finished")
	return nil
}

func (m *Model) confirmKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	c := m.confirm
	switch {
	case key.Matches(msg, k.Cancel):
		m.confirm = nil
		m.c.Notef("cancelled")
	case key.Matches(msg, k.Force) && c.Forceable:
		var cmd tea.Cmd
		m.confirm, cmd = m.registry.Force(c)
		return cmd
	case key.Matches(msg, k.Confirm):
		if c.Blocked != "" || c.Checking {
			return nil
		}
		m.confirm = nil
		if cmd, ok := m.charts.Confirmed(c); ok {
			return cmd
		}
		cmd, _ := m.registry.Confirmed(c)
		return cmd
	}
	return nil
}

// helpKeys are the bindings that apply where the operator is.
func (m *Model) helpKeys() common.HelpKeys {
	k := m.c.Keys
	general := []key.Binding{k.NextTab, k.PrevTab, k.ChartsTab, k.RegistryTab, k.HistoryTab, k.Errors, k.Help, k.Quit}
	switch {
	case m.errView != nil:
		pk := m.errView.Keys()
		return common.HelpKeys{Short: pk.ShortHelp(), Full: pk.FullHelp()}
	case m.tab == tabHistory && m.history.Paging():
		pk := m.history.Keys()
		return common.HelpKeys{Short: append(pk.ShortHelp(), k.NextTab, k.Help), Full: append(pk.FullHelp(), general)}
	case m.confirm != nil:
		b := []key.Binding{k.Confirm, k.Cancel}
		if m.confirm.Forceable {
			b = append(b, k.Force)
		}
		return common.HelpKeys{Short: b, Full: [][]key.Binding{b}}
	case m.tab == tabRegistry && m.registry.Filtering():
		fk := m.registry.Keys()
		return common.HelpKeys{Short: fk.ShortHelp(), Full: fk.FullHelp()}
	case m.tab == tabHistory:
		hk := m.history.Keys()
		return common.HelpKeys{
			Short: append(hk.ShortHelp(), k.NextTab, k.Help, k.Quit),
			Full:  append(hk.FullHelp(), general),
		}
	case m.tab == tabRegistry:
		rk := m.registry.Keys()
		return common.HelpKeys{
			Short: append(rk.ShortHelp(), k.NextTab, k.Help, k.Quit),
			Full:  append(rk.FullHelp(), general),
		}
	default:
		ck := m.charts.Keys()
		return common.HelpKeys{
			Short: append(ck.ShortHelp(), k.NextTab, k.Help, k.Quit),
			Full:  append(ck.FullHelp(), general),
		}
	}
}

// helpView renders the footer; each line is cut to the screen (help's own
// truncation can overshoot by an item).
func (m *Model) helpView() string {
	ls := strings.Split(m.help.View(m.helpKeys()), "\n")
	if legend := m.registry.Legend(); m.help.ShowAll && m.tab == tabRegistry && legend != "" && m.errView == nil && m.confirm == nil && !m.registry.Filtering() {
		ls = append(ls, pager.Wrap(m.c.Styles.Muted.Render("markers: ")+legend, m.c.Width)...)
	}
	if n := m.maxHelpLines(); len(ls) > n {
		ls = ls[:n]
	}
	for i := range ls {
		ls[i] = common.Fit(ls[i], m.c.Width)
	}
	return strings.Join(ls, "\n")
}

// View renders the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "helmupgradebot"
	return v
}

// Render returns the screen's content, exactly width×height cells.
func (m *Model) Render() string {
	w, h := m.c.Width, m.c.Height
	st := m.c.Styles
	if w < minWidth || h < minHeight {
		return common.Block(st.Error.Render("terminal too small")+"\nneeds at least 40×10", w, h)
	}
	helpView := m.helpView()
	status := m.statusLine(w)
	bodyH := h - 1 - lipgloss.Height(status) - lipgloss.Height(helpView)
	var body string
	switch {
	case m.errView != nil:
		body = m.errView.View()
	case m.confirm != nil:
		body = m.confirm.Place(st, w, bodyH)
	case m.tab == tabCharts:
		body = m.charts.Render(w, bodyH)
	case m.tab == tabHistory:
		body = m.history.Render(w, bodyH)
	default:
		body = m.registry.Render(w, bodyH)
	}
	return m.header(w) + "\n" + common.Block(body, w, bodyH) + "\n" + status + "\n" + helpView
}

// recordThenQuit runs record (a history write; nil when there is none to
// make) and then quits, so that quitting never drops what was recorded.
func recordThenQuit(record tea.Cmd) tea.Cmd {
	return func() tea.Msg {
		if record != nil {
			record()
		}
		return tea.QuitMsg{}
	}
}
