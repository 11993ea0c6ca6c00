package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

func fakeEnv(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func writeFile(t testing.TB, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return p
}

func TestResolveEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	env := fakeEnv(map[string]string{"TOKEN": "env-value-1", "EMPTY": "", "SPACED": " keep spaces \n"})
	files := map[string]string{
		"ok":        writeFile(t, dir, "ok", "file-value-1\n", 0o600),
		"crlf":      writeFile(t, dir, "crlf", "file-value-2\r\n", 0o400),
		"twolines":  writeFile(t, dir, "twolines", "file-value-3\n\n", 0o600),
		"nonl":      writeFile(t, dir, "nonl", "file-value-4", 0o600),
		"open":      writeFile(t, dir, "open", "file-value-5\n", 0o644),
		"group":     writeFile(t, dir, "group", "file-value-6\n", 0o640),
		"groupexec": writeFile(t, dir, "groupexec", "file-value-7\n", 0o610),
		"empty":     writeFile(t, dir, "empty", "\n", 0o600),
	}
	tests := []struct {
		name     string
		ref      string
		want     string
		wantKind secrets.ErrorKind
		wantMsg  []string
	}{
		{name: "env set", ref: "env:TOKEN", want: "env-value-1"},
		{name: "env kept verbatim", ref: "env:SPACED", want: " keep spaces \n"},
		{name: "env unset", ref: "env:MISSING", wantKind: secrets.ErrNotSet, wantMsg: []string{"resolve env:MISSING: environment variable MISSING is not set"}},
		{name: "env empty", ref: "env:EMPTY", wantKind: secrets.ErrNotSet, wantMsg: []string{"resolve env:EMPTY: environment variable EMPTY is empty"}},
		{name: "file 0600", ref: "file:" + files["ok"], want: "file-value-1"},
		{name: "file 0400 with CRLF", ref: "file:" + files["crlf"], want: "file-value-2"},
		{name: "only one newline trimmed", ref: "file:" + files["twolines"], want: "file-value-3\n"},
		{name: "no trailing newline", ref: "file:" + files["nonl"], want: "file-value-4"},
		{name: "file 0644 refused", ref: "file:" + files["open"], wantKind: secrets.ErrInsecureFile, wantMsg: []string{"resolve file:" + files["open"] + ": secret file " + files["open"] + " has mode 0644", "group or other users can access it", "chmod 600"}},
		{name: "file 0640 refused", ref: "file:" + files["group"], wantKind: secrets.ErrInsecureFile, wantMsg: []string{"mode 0640", "chmod 600"}},
		{name: "file 0610 refused", ref: "file:" + files["groupexec"], wantKind: secrets.ErrInsecureFile, wantMsg: []string{"mode 0610"}},
		{name: "file empty", ref: "file:" + files["empty"], wantKind: secrets.ErrNotSet, wantMsg: []string{"is empty"}},
		{name: "file missing", ref: "file:" + filepath.Join(dir, "nope"), wantKind: secrets.ErrNotFound, wantMsg: []string{"secret file " + filepath.Join(dir, "nope") + " does not exist"}},
		{name: "file is a directory", ref: "file:" + dir, wantKind: secrets.ErrBadReference, wantMsg: []string{"is not a regular file"}},
		{name: "not a reference", ref: "plain-value", wantKind: secrets.ErrBadReference, wantMsg: []string{"not a secret reference"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := secrets.NewResolver(secrets.WithLookupEnv(env), secrets.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			s, err := r.Resolve(context.Background(), tc.ref)
			if tc.wantKind == 0 {
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if s.Reveal() != tc.want {
					t.Fatalf("value %q, want %q", s.Reveal(), tc.want)
				}
				if !strings.Contains(logs.String(), "secret resolved") {
					t.Errorf("no debug record: %s", logs.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; value has %d bytes", len(s.Reveal()))
			}
			if !s.IsZero() {
				t.Error("a failed resolution returned a value")
			}
			if !errors.Is(err, tc.wantKind) {
				t.Errorf("error %q is not %v", err, tc.wantKind)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not say %q", err, m)
				}
			}
			// a reference's name is no secret: the error shows it whole
			if name, ok := strings.CutPrefix(tc.ref, "env:"); ok && !strings.Contains(err.Error(), "variable "+name+" ") {
				t.Errorf("error %q does not name the variable %s whole", err, name)
			}
			if name, ok := strings.CutPrefix(tc.ref, "file:"); ok && !strings.Contains(err.Error(), "secret file "+name+" ") {
				t.Errorf("error %q does not name the file %s whole", err, name)
			}
			if strings.Contains(err.Error(), "file-value") {
				t.Errorf("error shows the file's content: %q", err)
			}
		})
	}
}

func TestResolveDefaultsToProcessEnv(t *testing.T) {
	t.Setenv("SECRETS_TEST_TOKEN", "from-process-env")
	s, err := secrets.NewResolver().Resolve(context.Background(), "env:SECRETS_TEST_TOKEN")
	if err != nil || s.Reveal() != "from-process-env" {
		t.Fatalf("Resolve = %q, %v", s.Reveal(), err)
	}
}

func TestResolveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := secrets.NewResolver(secrets.WithLookupEnv(fakeEnv(map[string]string{"A": "b"}))).Resolve(ctx, "env:A")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("err = %v, want cancellation", err)
	}
}
