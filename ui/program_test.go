package ui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestProgram runs the console in a real bubbletea program (teatest): it
// draws, switches tabs, and quits on q.
func TestProgram(t *testing.T) {
	reg := newFakeRegistry(genInventory(40, 3, fixedNow), demoPolicy(5<<30))
	tm := teatest.NewTestModel(t, New(reg, newFakeCharts(), WithNoColor()), teatest.WithInitialTermSize(100, 30))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("DEPENDENCY")) },
		teatest.WithDuration(10*time.Second))
	tm.Send(tea.KeyPressMsg{Code: '2', Text: "2"})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("REPOSITORY")) },
		teatest.WithDuration(10*time.Second))
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	m, ok := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	if !ok {
		t.Fatal("final model is not the console")
	}
	if inv := m.registry.Inventory(); m.tab != tabRegistry || inv == nil || len(inv.Images) != 40 {
		t.Errorf("final model: tab %v, scanned %v", m.tab, inv != nil)
	}
}

func TestRunQuitsOnQ(t *testing.T) {
	reg := newFakeRegistry(genInventory(10, 3, fixedNow), demoPolicy(0))
	var out safeBuffer
	in, w := io.Pipe()
	defer w.Close()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), reg, nil, WithIO(in, &out), WithNoColor(), WithSize(100, 30))
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned before q: %v", err)
	default:
	}
	if _, err := w.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after q")
	}
	if !strings.Contains(out.String(), "REPOSITORY") {
		t.Errorf("Run did not draw the registry tab: %q", out.String())
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunStopsWithContext(t *testing.T) {
	reg := newFakeRegistry(genInventory(10, 3, fixedNow), demoPolicy(0))
	gate := make(chan struct{}) // a scan that never ends by itself
	reg.Gate = gate
	defer close(gate)
	in, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, reg, newFakeCharts(), WithIO(in, io.Discard)) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}
