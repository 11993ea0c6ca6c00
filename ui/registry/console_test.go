package registry

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
	"github.com/helmupgradebot/helmupgradebot/ui/components/statusline"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// console is the tab laid out as the console lays it out, for the tab's
// own tests: a title line, the tab, and the status line (what the tab is
// doing, the last message, its counts), without colour, run by a
// uitest.Driver. Keys go to the tab; a delete box a key opens is kept in
// box, not shown.
type console struct {
	*uitest.Driver
	m   *Model
	c   *common.Common
	box *confirm.Model
}

// newConsole runs the tab over svc in w×h cells, by svc's clock when it
// has one.
func newConsole(t *testing.T, svc Service, w, h int) *console {
	t.Helper()
	keys := common.DefaultKeyMap()
	now := time.Now
	if cl, ok := svc.(common.Clock); ok {
		now = cl.Now
	}
	c := &common.Common{Ctx: t.Context(), Width: w, Height: h, Keys: &keys, Now: now, NoColor: true, Styles: common.NewStyles(true, true)}
	d := &console{m: New(c, svc), c: c}
	d.m.Restyle()
	d.layout()
	d.Driver = uitest.NewDriver(t, d, nil)
	return d
}

// tabEnv is the tab over 120 deterministic images at w×h, settled after
// its first scan.
func tabEnv(t *testing.T, w, h int) (*console, *uitest.Registry) {
	t.Helper()
	reg := uitest.NewRegistry(uitest.GenInventory(120, 7, uitest.FixedNow), uitest.DemoPolicy(15<<30))
	d := newConsole(t, reg, w, h)
	d.Settle()
	return d, reg
}

// demoTab is the tab over the running demo's registry at w×h, settled
// after its first scan.
func demoTab(t *testing.T, env *demo.Env, w, h int) *console {
	t.Helper()
	d := newConsole(t, env.Registry, w, h)
	d.Settle()
	return d
}

func (d *console) Init() tea.Cmd { return d.m.Init() }

func (d *console) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		d.c.Width, d.c.Height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		d.c.Sticky = false
		d.c.DropKeyErrors()
		_, cmd = d.m.Update(msg)
		d.box = d.m.Ask()
	case common.ProgressMsg:
		d.m.Update(msg.Msg)
		cmd = msg.Next
	default:
		_, cmd = d.m.Update(msg)
	}
	d.layout()
	return d, cmd
}

func (d *console) View() tea.View { return tea.NewView(d.Render()) }

func (d *console) status() string {
	return statusline.Render(d.c.Styles, d.c.Width, d.m.StatusText(), d.c.Status, d.c.ErrorsHint(), d.m.Counts())
}

func (d *console) bodyHeight() int {
	return max(d.c.Height-1-lipgloss.Height(d.status()), 1)
}

func (d *console) layout() { d.m.SetSize(d.c.Width, d.bodyHeight()) }

// Render is the screen: the title line, the tab, the status line.
func (d *console) Render() string {
	w, h := d.c.Width, d.bodyHeight()
	return common.Fit("Registry", w) + "\n" + common.Block(d.m.Render(w, h), w, h) + "\n" + d.status()
}
