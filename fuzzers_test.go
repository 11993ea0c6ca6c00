package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFuzzersHaveSeeds: every fuzz target in the repository runs its
// committed seeds under a plain go test (which is all CI runs of them):
// it calls f.Fuzz, and has seeds, from f.Add or in testdata/fuzz/<name>.
// Run one for longer with: go test -run '^$' -fuzz '^NAME$' -fuzztime 60s ./PKG
func TestFuzzersHaveSeeds(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "Fuzz") || fn.Recv != nil || fn.Body == nil {
				continue
			}
			n++
			var adds, fuzz bool
			ast.Inspect(fn.Body, func(x ast.Node) bool {
				if sel, ok := x.(*ast.SelectorExpr); ok {
					adds = adds || sel.Sel.Name == "Add"
					fuzz = fuzz || sel.Sel.Name == "Fuzz"
				}
				return true
			})
			corpus, _ := os.ReadDir(filepath.Join(filepath.Dir(path), "testdata", "fuzz", fn.Name.Name))
			if !fuzz {
				t.Errorf("%s: %s never calls f.Fuzz", path, fn.Name.Name)
			}
			if !adds && len(corpus) == 0 {
				t.Errorf("%s: %s has no seeds (f.Add or testdata/fuzz/%s)", path, fn.Name.Name, fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("found %d fuzz targets; the walk missed some", n)
	}
	t.Logf("%d fuzz targets, each with seeds", n)
}
