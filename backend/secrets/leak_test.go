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
	// names of an unset variable and a missing file
	unsetName   = "HELMUPGRADEBOT_LEAK_TEST_UNSET"
	missingName = "helmupgradebot-leak-test-missing-token"
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
// (or anything it wraps), log line, fmt rendering or JSON/YAML encoding. Nor
// does a credential pasted where a reference's name belongs (one of each
// shape: GitHub's prefixes, a JWT, long random strings) beyond its first
// four characters. A real name (a variable's, a file's) is no secret: the
// errors show it whole.
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
	refs := []string{
		"env:TOKEN", "env:MISSING", "env:EMPTY", "env:" + envValue,
		"file:" + okFile, "file:" + openFile, "file:" + groupFile, "file:" + filepath.Join(dir, "missing"),
		envValue, fileValue, "keyvault://" + envValue, "keyvault://vault/" + envValue + "_x",
		// real names: errors and logs show them whole
		"env:" + unsetName, "file:" + filepath.Join(dir, missingName),
	}
	// credentials pasted where a name belongs: refused, and never shown
	pasted := map[string]bool{}
	for _, sample := range credentialSamples() {
		v := sample.value
		for _, ref := range []string{v, "env:" + v, " env:" + v + " ", "file:" + v, "file:///run/secrets/" + v, "file:" + filepath.Join(dir, v),
			"keyvault://hubvault/" + v, "keyvault://" + v + "/github-token", "keyvault://hubvault/github-token/" + v} {
			refs = append(refs, ref)
			pasted[ref] = true
		}
	}
	for _, ref := range refs {
		s, err := local.Resolve(context.Background(), ref)
		if pasted[ref] && !errors.Is(err, secrets.ErrBadReference) {
			t.Errorf("a reference holding a credential was not refused: %v", err)
		}
		if err == nil {
			successes++
			if v := s.Reveal(); v != envValue && v != fileValue {
				t.Errorf("%s resolved to an unexpected value", ref)
			}
		}
		c.addResult(t, ref, s, err)
		if n, ok := strings.CutPrefix(ref, "env:"); ok && n == unsetName && (err == nil || !strings.Contains(err.Error(), "environment variable "+unsetName+" is not set")) {
			t.Errorf("the unset variable's error does not name it whole: %v", err)
		}
		if n, ok := strings.CutPrefix(ref, "file:"); ok && strings.HasSuffix(n, missingName) && (err == nil || !strings.Contains(err.Error(), "secret file "+n+" does not exist")) {
			t.Errorf("the missing file's error does not name it whole: %v", err)
		}
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
	type forbid struct{ text, kind string }
	var forbidden []forbid
	for _, v := range append([]string{envValue, fileValue}, allKVSecrets...) {
		forbidden = append(forbidden, forbid{v, "secret value"})
	}
	for _, v := range tokens {
		forbidden = append(forbidden, forbid{v, "access token"})
	}
	// of a pasted credential nothing beyond its first four characters: no
	// run of eight characters after them
	for _, sample := range credentialSamples() {
		forbidden = append(forbidden, forbid{sample.value, sample.shape})
		for i := 4; i+8 <= len(sample.value); i++ {
			forbidden = append(forbidden, forbid{sample.value[i : i+8], "part of a " + sample.shape})
		}
	}
	checked := 0
	for label, text := range c.texts {
		checked++
		for _, f := range forbidden {
			if strings.Contains(text, f.text) {
				t.Errorf("%s contains a %s:\n%s", label, f.kind, strings.ReplaceAll(text, f.text, "<LEAKED>"))
			}
		}
	}
	t.Logf("checked %d texts (%d SDK log lines) against %d secrets, tokens, credential samples and names", checked, azLines, len(forbidden))
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
