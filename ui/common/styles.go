package common

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"

	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// Styles is the console's theme. With no colour it uses only bold, faint
// and reverse video, so NO_COLOR terminals still see the cursor, the tabs
// and errors.
type Styles struct {
	NoColor bool

	Title       lipgloss.Style
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style
	Muted       lipgloss.Style

	TableHeader lipgloss.Style
	Cursor      lipgloss.Style // the row under the cursor
	Selected    lipgloss.Style // a row marked for deletion
	Held        lipgloss.Style // a protected, locked or keep-latest row

	OK, Warn, Danger lipgloss.Style
	Error            lipgloss.Style

	GaugeFreed lipgloss.Style
	GaugeEmpty lipgloss.Style
	GaugeCap   lipgloss.Style

	Dialog      lipgloss.Style
	DialogTitle lipgloss.Style
	Label       lipgloss.Style
	DiffDel     lipgloss.Style
	DiffAdd     lipgloss.Style

	Status  lipgloss.Style
	Spinner lipgloss.Style

	Help  help.Styles
	Input textinput.Styles

	// ProgressFull and ProgressEmpty colour progress bars (nil: none).
	ProgressFull, ProgressEmpty color.Color
}

// NewStyles builds the theme for a dark or light background, or without
// any colour.
func NewStyles(noColor, dark bool) *Styles {
	if noColor {
		return plainStyles()
	}
	ld := lipgloss.LightDark(dark)
	var (
		accent = ld(lipgloss.Color("#5A3FC0"), lipgloss.Color("#9D86F7"))
		onAcc  = lipgloss.Color("#FFFFFF")
		muted  = ld(lipgloss.Color("#767676"), lipgloss.Color("#8A8A8A"))
		green  = ld(lipgloss.Color("#00875F"), lipgloss.Color("#3FD68A"))
		amber  = ld(lipgloss.Color("#AF6F00"), lipgloss.Color("#FFB94A"))
		red    = ld(lipgloss.Color("#C0262D"), lipgloss.Color("#FF6B6B"))
		rowBg  = ld(lipgloss.Color("#E4DEFA"), lipgloss.Color("#3A2F6B"))
		dim    = ld(lipgloss.Color("#C8C8C8"), lipgloss.Color("#4E4E4E"))
	)
	h := help.DefaultStyles(dark)
	in := textinput.DefaultStyles(dark)
	in.Cursor.Blink = false
	return &Styles{
		Title:       lipgloss.NewStyle().Bold(true).Foreground(accent),
		TabActive:   lipgloss.NewStyle().Bold(true).Foreground(onAcc).Background(accent).Padding(0, 1),
		TabInactive: lipgloss.NewStyle().Foreground(muted).Padding(0, 1),
		Muted:       lipgloss.NewStyle().Foreground(muted),
		TableHeader: lipgloss.NewStyle().Bold(true).Foreground(accent),
		Cursor:      lipgloss.NewStyle().Background(rowBg).Bold(true),
		Selected:    lipgloss.NewStyle().Foreground(amber),
		Held:        lipgloss.NewStyle().Foreground(muted),
		OK:          lipgloss.NewStyle().Foreground(green),
		Warn:        lipgloss.NewStyle().Foreground(amber),
		Danger:      lipgloss.NewStyle().Foreground(red),
		Error:       lipgloss.NewStyle().Foreground(red).Bold(true),
		GaugeFreed:  lipgloss.NewStyle().Foreground(accent),
		GaugeEmpty:  lipgloss.NewStyle().Foreground(dim),
		GaugeCap:    lipgloss.NewStyle().Bold(true),
		Dialog:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1),
		DialogTitle: lipgloss.NewStyle().Bold(true).Foreground(accent),
		Label:       lipgloss.NewStyle().Foreground(muted),
		DiffDel:     lipgloss.NewStyle().Foreground(red),
		DiffAdd:     lipgloss.NewStyle().Foreground(green),
		Status:      lipgloss.NewStyle(),
		Spinner:     lipgloss.NewStyle().Foreground(accent),
		Help:        h,
		Input:       in,

		ProgressFull:  accent,
		ProgressEmpty: dim,
	}
}

// Pager is the theme of the scrollable views.
func (st *Styles) Pager() pager.Styles { return pager.Styles{Title: st.Title, Muted: st.Muted} }

func plainStyles() *Styles {
	plain := lipgloss.NewStyle()
	bold := plain.Bold(true)
	return &Styles{
		NoColor:     true,
		Title:       bold,
		TabActive:   bold.Reverse(true).Padding(0, 1),
		TabInactive: plain.Padding(0, 1),
		Muted:       plain.Faint(true),
		TableHeader: bold,
		Cursor:      plain.Reverse(true),
		Selected:    bold,
		Held:        plain.Faint(true),
		OK:          plain,
		Warn:        bold,
		Danger:      bold,
		Error:       bold,
		GaugeFreed:  plain,
		GaugeEmpty:  plain,
		GaugeCap:    bold,
		Dialog:      plain.Border(lipgloss.RoundedBorder()).Padding(0, 1),
		DialogTitle: bold,
		Label:       plain,
		DiffDel:     plain,
		DiffAdd:     bold,
		Status:      plain,
		Spinner:     plain,
		Help: help.Styles{
			Ellipsis: plain, ShortKey: bold, ShortDesc: plain, ShortSeparator: plain,
			FullKey: bold, FullDesc: plain, FullSeparator: plain,
		},
		Input: textinput.Styles{
			Focused: textinput.StyleState{Text: plain, Placeholder: plain.Faint(true), Suggestion: plain.Faint(true), Prompt: bold},
			Blurred: textinput.StyleState{Text: plain, Placeholder: plain.Faint(true), Suggestion: plain.Faint(true), Prompt: plain},
			Cursor:  textinput.CursorStyle{Color: lipgloss.NoColor{}},
		},
		ProgressFull:  lipgloss.NoColor{},
		ProgressEmpty: lipgloss.NoColor{},
	}
}
