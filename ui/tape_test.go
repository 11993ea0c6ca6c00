package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tape's terminal, as the console sees it: the tape's Width/Height in
// pixels at its FontSize come to about this many cells.
const tapeCols, tapeRows = 120, 36

// tapeCmd is one command of a VHS tape, in the subset demo.tape uses.
type tapeCmd struct {
	line   int
	kind   string // Output Require Set Type Key Sleep Wait Hide Show Expect
	arg    string // Type's text, Key's name, Wait's regexp, Expect's text, Set's setting
	value  string // Set's value
	repeat int    // Key's count
	dur    time.Duration
}

func (c tapeCmd) String() string { return fmt.Sprintf("line %d: %s %q", c.line, c.kind, c.arg) }

// VHS keys the console handles, by their tape names.
var tapeKeys = map[string]string{
	"Enter": "enter", "Tab": "tab", "Space": "space", "Backspace": "backspace", "Escape": "esc",
	"Up": "up", "Down": "down", "Left": "left", "Right": "right", "PageUp": "pgup", "PageDown": "pgdown",
}

// VHS settings this parser accepts, with the form of their value.
var tapeSettings = map[string]*regexp.Regexp{
	"Shell":       regexp.MustCompile(`^"[^"]+"$`),
	"FontSize":    regexp.MustCompile(`^\d+$`),
	"Width":       regexp.MustCompile(`^\d+$`),
	"Height":      regexp.MustCompile(`^\d+$`),
	"Padding":     regexp.MustCompile(`^\d+$`),
	"TypingSpeed": regexp.MustCompile(`^\d+(\.\d+)?(ms|s)?$`),
	"WaitTimeout": regexp.MustCompile(`^\d+(\.\d+)?(ms|s|m)?$`),
	"Theme":       regexp.MustCompile(`^"[^"]+"$`),
	// How VHS renders the GIF; the console does not see them.
	"Framerate":     regexp.MustCompile(`^\d+$`),
	"PlaybackSpeed": regexp.MustCompile(`^\d+(\.\d+)?$`),
}

var (
	reSpeed  = `(?:@(\d+(?:\.\d+)?(?:ms|s|m)?))?`
	reKey    = regexp.MustCompile(`^([A-Za-z]+)` + reSpeed + `(?:\s+(\d+))?$`)
	reType   = regexp.MustCompile(`^Type` + reSpeed + `\s+"([^"]*)"$`)
	reSleep  = regexp.MustCompile(`^Sleep\s+(\d+(?:\.\d+)?(?:ms|s|m)?)$`)
	reWait   = regexp.MustCompile(`^Wait\+Screen` + reSpeed + `\s+/(.*)/$`)
	reSet    = regexp.MustCompile(`^Set\s+([A-Za-z]+)\s+(.+)$`)
	reOutput = regexp.MustCompile(`^Output\s+([\w./-]+\.(?:gif|mp4|webm))$`)
	reReq    = regexp.MustCompile(`^Require\s+([\w.-]+)$`)
	reCombo  = regexp.MustCompile(`^(Shift\+Tab|Ctrl\+[A-Za-z])$`)
)

// vhsDuration reads a VHS time: a number of seconds, or with ms/s/m.
func vhsDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "ms") || strings.HasSuffix(s, "s") || strings.HasSuffix(s, "m") {
		return time.ParseDuration(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Second)), err
}

// parseTape reads a tape, one command a line, following VHS's grammar
// (its lexer and parser) for the commands it knows and refusing any other:
// settings first, then keys, text, sleeps, waits. "# expect: TEXT"
// comments become Expect commands.
func parseTape(src string) ([]tapeCmd, error) {
	var cmds []tapeCmd
	settingsDone := false
	for i, raw := range strings.Split(src, "\n") {
		n := i + 1
		l := strings.TrimSpace(raw)
		bad := func(why string) error { return fmt.Errorf("demo.tape line %d: %s: %q", n, why, l) }
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "#") {
			if text, ok := strings.CutPrefix(l, "# expect:"); ok {
				text = strings.TrimSpace(text)
				if text == "" {
					return nil, bad("empty expectation")
				}
				cmds = append(cmds, tapeCmd{line: n, kind: "Expect", arg: text})
			}
			continue
		}
		var c tapeCmd
		c.line = n
		setting := false
		switch {
		case reOutput.MatchString(l):
			c.kind, c.arg, setting = "Output", reOutput.FindStringSubmatch(l)[1], true
		case reReq.MatchString(l):
			c.kind, c.arg, setting = "Require", reReq.FindStringSubmatch(l)[1], true
		case reSet.MatchString(l):
			m := reSet.FindStringSubmatch(l)
			form, ok := tapeSettings[m[1]]
			if !ok {
				return nil, bad("unknown setting")
			}
			if !form.MatchString(m[2]) {
				return nil, bad("bad value for " + m[1])
			}
			c.kind, c.arg, c.value, setting = "Set", m[1], m[2], true
		case reType.MatchString(l):
			c.kind, c.arg = "Type", reType.FindStringSubmatch(l)[2]
			if c.arg == "" {
				return nil, bad("Type needs text")
			}
		case reSleep.MatchString(l):
			d, err := vhsDuration(reSleep.FindStringSubmatch(l)[1])
			if err != nil {
				return nil, bad(err.Error())
			}
			c.kind, c.dur = "Sleep", d
		case reWait.MatchString(l):
			m := reWait.FindStringSubmatch(l)
			if _, err := regexp.Compile(m[2]); err != nil || m[2] == "" {
				return nil, bad("Wait needs a regular expression")
			}
			c.kind, c.arg = "Wait", m[2]
			if m[1] != "" {
				d, err := vhsDuration(m[1])
				if err != nil || d <= 0 {
					return nil, bad("Wait needs a positive timeout")
				}
				c.dur = d
			}
		case l == "Hide" || l == "Show":
			c.kind = l
		case reCombo.MatchString(l):
			c.kind, c.repeat = "Key", 1
			c.arg = strings.ToLower(l)
		case reKey.MatchString(l):
			m := reKey.FindStringSubmatch(l)
			name, ok := tapeKeys[m[1]]
			if !ok {
				return nil, bad("unknown command")
			}
			c.kind, c.arg, c.repeat = "Key", name, 1
			if m[3] != "" {
				c.repeat, _ = strconv.Atoi(m[3])
			}
		default:
			return nil, bad("not a command this tape may use")
		}
		if setting && settingsDone {
			return nil, bad("settings, Output and Require go before every other command")
		}
		if !setting {
			settingsDone = true
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

func TestParseTape(t *testing.T) {
	good := "Output x.gif\nSet FontSize 14\nType \"go run . --demo\"\nEnter\nDown 3\nDown@100ms 2\nShift+Tab\nCtrl+C\n" +
		"Sleep 500ms\nSleep 2\nWait+Screen@10s /a b/\n# expect: a b\nHide\nShow\n"
	cmds, err := parseTape(good)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cmds {
		got = append(got, fmt.Sprintf("%s:%s:%d:%s", c.kind, c.arg, c.repeat, c.dur))
	}
	want := "Output:x.gif:0:0s Set:FontSize:0:0s Type:go run . --demo:0:0s Key:enter:1:0s Key:down:3:0s Key:down:2:0s " +
		"Key:shift+tab:1:0s Key:ctrl+c:1:0s Sleep::0:500ms Sleep::0:2s Wait:a b:0:10s Expect:a b:0:0s Hide::0:0s Show::0:0s"
	if strings.Join(got, " ") != want {
		t.Errorf("parsed\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	for _, bad := range []string{
		"Type go", "Wait /x/", "Wait+Line /x/", "Sleep", "Set Nope 1", "Set FontSize big", "Typo \"x\"", "Enter x",
		"Type \"x\"\nSet FontSize 3", "Output demo", "Alt+x", "# expect: ",
	} {
		if _, err := parseTape(bad); err == nil {
			t.Errorf("parseTape(%q) accepted it", bad)
		}
	}
}

// TestDemoTape replays demo.tape against the real demo and checks the
// screen at every "# expect:" line, so the tape cannot drift from the
// console.
func TestDemoTape(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "demo.tape"))
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := parseTape(string(src))
	if err != nil {
		t.Fatal(err)
	}
	// The tape launches the demo, then drives it.
	start := -1
	for i, c := range cmds {
		if c.kind == "Type" {
			if c.arg != "go run . --demo" || i+1 >= len(cmds) || cmds[i+1].kind != "Key" || cmds[i+1].arg != "enter" {
				t.Fatalf("%v: the tape's first typed command must be `go run . --demo` and Enter", c)
			}
			start = i + 2
			break
		}
	}
	if start < 0 {
		t.Fatal("the tape never starts the demo")
	}
	env := startDemo(t)
	d := newDriver(t, New(env.Registry, env.Charts, WithNoColor(), WithSize(tapeCols, tapeRows), WithHistory(env.History)))
	expects := 0
	for _, c := range cmds[start:] {
		if d.quit {
			if c.kind != "Sleep" && c.kind != "Hide" && c.kind != "Show" {
				t.Fatalf("%v: the console has quit", c)
			}
			continue
		}
		switch c.kind {
		case "Type":
			for _, r := range c.arg {
				d.send(runeKey(r))
			}
		case "Key":
			for range c.repeat {
				d.press(c.arg)
			}
		case "Sleep":
			d.settle()
		case "Wait":
			d.waitForRegexp(regexp.MustCompile(c.arg))
		case "Expect":
			d.settle()
			expects++
			if !strings.Contains(d.screen(), c.arg) {
				t.Fatalf("%v: the screen lacks it:\n%s", c, d.screen())
			}
		case "Hide", "Show":
		default:
			t.Fatalf("%v: not expected after the demo starts", c)
		}
	}
	if expects < 10 {
		t.Errorf("the tape checks only %d things", expects)
	}
	if !d.quit {
		t.Error("the tape does not quit the console")
	}
	// The tape did what it shows: a delete, and a pull request.
	if prs := env.GitHub.PullRequests("binderhub-ops", "hub-deploy"); len(prs) != 1 {
		t.Errorf("the stand-in holds %d pull requests after the tape, want 1", len(prs))
	}
	if n := len(d.m.registry.Inventory().Images); n >= len(env.Seeded.Images) {
		t.Errorf("the registry holds %d images after the tape's delete, %d before", n, len(env.Seeded.Images))
	}
}
