package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

const (
	envValue  = "env-secret-5e7a9c1d"
	fileValue = "file-secret-3c5e7a9b"
)

// collector gathers every text a resolution produced.
type collector struct {
	mu    sync.Mutex
	texts map[string]string // label -> text
}

func (c *collector) add(label, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts[fmt.Sprintf("%s #%d", label, len(c.texts))] = text
}

// addResult records the error (every rendering, every error in its chain)
// and every rendering of the secret.
func (c *collector) addResult(t *testing.T, label string, s secrets.Secret, err error) {
	t.Helper()
	for how, text := range renderings(t, s) {
		c.add(label+" "+how, text)
	}
	if err == nil {
		return
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		c.add(label+" error "+verb, fmt.Sprintf(verb, err))
	}
	walkErrors(err, func(e error) { c.add(fmt.Sprintf("%s cause %T", label, e), e.Error()) })
}

func walkErrors(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, fn)
		}
	}
}

// TestNoSecretLeaks resolves references along every success and failure
// path, with debug logging of the resolver and of the Azure SDK switched on,
// and checks that no secret value and no access token appears in any error
// (or anything it wraps), log line, fmt rendering or JSON/YAML encoding.
func TestNoSecretLeaks(t *testing.T) {
	azuretest.HermeticEnv(t)
	c := &collector{texts: map[string]string{}}

	var azMu sync.Mutex
	azLines := 0
	azlog.SetListener(func(ev azlog.Event, msg string) {
		azMu.Lock()
		azLines++
		azMu.Unlock()
		c.add("azcore log "+string(ev), msg)
	})
	t.Cleanup(func() { azlog.SetListener(nil) })

	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// env and file references
	dir := t.TempDir()
	okFile := writeFile(t, dir, "ok", fileValue+"\n", 0o600)
	openFile := writeFile(t, dir, "open", fileValue+"\n", 0o644)
	groupFile := writeFile(t, dir, "group", fileValue+"\n", 0o640)
	env := fakeEnv(map[string]string{"TOKEN": envValue, "EMPTY": ""})
	local := secrets.NewResolver(secrets.WithLookupEnv(env), secrets.WithLogger(logger))
	successes := 0
	for _, ref := range []string{
		"env:TOKEN", "env:MISSING", "env:EMPTY", "env:" + envValue,
		"file:" + okFile, "file:" + openFile, "file:" + groupFile, "file:" + filepath.Join(dir, "missing"),
		envValue, fileValue, "keyvault://" + envValue, "keyvault://vault/" + envValue + "_x",
	} {
		s, err := local.Resolve(context.Background(), ref)
		if err == nil {
			successes++
			if v := s.Reveal(); v != envValue && v != fileValue {
				t.Errorf("%s resolved to an unexpected value", ref)
			}
		}
		c.addResult(t, ref, s, err)
	}

	// Key Vault references, success and failure
	var tokens []string
	for _, tc := range kvCases() {
		t.Run(tc.name, func(t *testing.T) {
			f, opts, ref := tc.build(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := secrets.NewResolver(append(opts, secrets.WithLogger(logger))...).Resolve(ctx, ref)
			if (err == nil) != (tc.wantKind == 0) {
				t.Fatalf("Resolve(%s): err = %v, want kind %v", ref, err, tc.wantKind)
			}
			if err == nil {
				successes++
				if s.Reveal() != tc.want {
					t.Fatalf("Resolve(%s) returned the wrong value", ref)
				}
			}
			c.addResult(t, tc.name, s, err)
			tokens = append(tokens, f.id.IssuedTokens()...)
		})
	}
	logger.Info("end of test") // flush marker
	c.add("resolver log", logBuf.String())

	if successes < 7 || len(tokens) == 0 || azLines == 0 || !strings.Contains(logBuf.String(), "secret resolved") {
		t.Fatalf("the test exercised too little: %d successes, %d tokens, %d SDK log lines", successes, len(tokens), azLines)
	}
	forbidden := append([]string{envValue, fileValue}, allKVSecrets...)
	forbidden = append(forbidden, tokens...)
	checked := 0
	for label, text := range c.texts {
		checked++
		for i, f := range forbidden {
			if strings.Contains(text, f) {
				kind := "secret value"
				if i >= len(allKVSecrets)+2 {
					kind = "access token"
				}
				t.Errorf("%s contains a %s:\n%s", label, kind, strings.ReplaceAll(text, f, "<LEAKED>"))
			}
		}
	}
	t.Logf("checked %d texts (%d SDK log lines) against %d secrets and tokens", checked, azLines, len(forbidden))
}

// TestLeakCheckDetectsLeaks guards the leak test itself: a rendering that
// bypasses Secret's methods must be caught.
func TestLeakCheckDetectsLeaks(t *testing.T) {
	c := &collector{texts: map[string]string{}}
	c.addResult(t, "leaky", secrets.New(envValue), errors.New("token was "+envValue))
	found := false
	for _, text := range c.texts {
		if strings.Contains(text, envValue) {
			found = true
		}
	}
	if !found {
		t.Fatal("the collector does not record error texts")
	}
}
