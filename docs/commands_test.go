package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goTest is a `go test` command line in the documentation, up to the end
// of its code span or line.
var goTest = regexp.MustCompile("go test [^`\\n]*")

// testFunc is a test or benchmark's declaration.
var testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz)\w*)\(`)

// TestCommands: each `go test` command in README.md and docs/*.md names
// packages that exist, and its -bench or -run pattern (other than ^$)
// matches a benchmark or test in them, so a figure's command still runs
// what measured it after code moves.
func TestCommands(t *testing.T) {
	pages, _ := filepath.Glob("*.md")
	pages = append(pages, filepath.Join("..", "README.md"))
	n := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range goTest.FindAllString(string(data), -1) {
			cmd, _, _ = strings.Cut(cmd, "#")
			var pkgs []string
			var patterns []string
			fields := strings.Fields(cmd)
			for i := 2; i < len(fields); i++ {
				f := strings.Trim(fields[i], "'")
				switch {
				case (f == "-bench" || f == "-run" || f == "-fuzz") && i+1 < len(fields):
					if p := strings.Trim(fields[i+1], "'"); p != "^$" {
						// go test matches a pattern's first /-separated
						// element against top-level names, the rest against
						// sub-tests and sub-benchmarks
						top, _, _ := strings.Cut(p, "/")
						patterns = append(patterns, top)
					}
					i++
				case f == "." || strings.HasPrefix(f, "./"):
					pkgs = append(pkgs, f)
				}
			}
			if len(pkgs) == 0 || len(patterns) == 0 || strings.Contains(cmd, "...") {
				continue
			}
			n++
			var funcs []string
			for _, p := range pkgs {
				dir := filepath.Join("..", filepath.FromSlash(p))
				files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
				if len(files) == 0 {
					t.Errorf("%s: %q: no tests in %s", page, cmd, p)
				}
				for _, f := range files {
					src, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range testFunc.FindAllStringSubmatch(string(src), -1) {
						funcs = append(funcs, m[1])
					}
				}
			}
			for _, p := range patterns {
				re, err := regexp.Compile(p)
				if err != nil {
					t.Errorf("%s: %q: %v", page, cmd, err)
					continue
				}
				found := false
				for _, f := range funcs {
					if re.MatchString(f) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("%s: %q: nothing in %s matches %q", page, cmd, strings.Join(pkgs, " "), p)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no go test command found")
	}
}
