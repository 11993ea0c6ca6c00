package registrytest

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"
)

// TestRegistryLogsStayQuiet checks that distribution logs through the
// registry's own logger (WithLogOutput sees them) and never through logrus'
// process-wide logger. Not parallel: it borrows that global logger.
func TestRegistryLogsStayQuiet(t *testing.T) {
	var global bytes.Buffer
	std := logrus.StandardLogger()
	oldOut, oldLevel := std.Out, std.Level
	std.SetOutput(&global)
	std.SetLevel(logrus.DebugLevel)
	t.Cleanup(func() { std.SetOutput(oldOut); std.SetLevel(oldLevel) })

	stdout := os.Stdout
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout = wr
	var printed bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&printed, rd); close(copied) }()
	restore := func() {
		if os.Stdout == wr {
			os.Stdout = stdout
			_ = wr.Close()
			<-copied
		}
	}
	t.Cleanup(restore)

	var own bytes.Buffer
	var mu sync.Mutex
	for _, withLog := range []bool{false, true} {
		var opts []Option
		if withLog {
			opts = append(opts, WithLogOutput(lockedWriter{&mu, &own}))
		}
		r := Serve(t, opts...)
		s := seed(t, r.Host(), Population{Repositories: 2, TagsPerRepository: 2, Now: testNow, Scale: 1})
		reg, _ := name.NewRegistry(r.Host())
		_, _ = remote.CatalogPage(reg, "", 5000, remote.WithContext(t.Context())) // logged error
		deleteByDigest(t, r.Host(), s.Images[0].Repository, s.Images[0].Digest)
		if err := r.GarbageCollect(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	restore()

	if global.Len() > 0 {
		t.Errorf("registry wrote to logrus' global logger:\n%s", firstLines(global.String(), 5))
	}
	if printed.Len() > 0 {
		t.Errorf("registry printed to stdout:\n%s", firstLines(printed.String(), 5))
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(own.String(), "response completed") {
		t.Errorf("WithLogOutput saw no request logs: %q", firstLines(own.String(), 5))
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
