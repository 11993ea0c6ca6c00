package registry

import (
	"context"
	"testing"
)

// TestOnceMapHasDropIf: has sees a value loaded or preloaded, and dropIf
// drops exactly the loaded values it is told to.
func TestOnceMapHasDropIf(t *testing.T) {
	var o onceMap[*int]
	one, two := 1, 2
	if v, ok := o.do(context.Background(), "a", func() *int { return &one }); !ok || v != &one {
		t.Fatal("do did not load")
	}
	o.preload("b", &two)
	if !o.has("a") || !o.has("b") || o.has("never") {
		t.Fatalf("has: a %v, b %v (want both), never %v", o.has("a"), o.has("b"), o.has("never"))
	}
	o.dropIf(func(v *int) bool { return *v == 1 })
	if o.has("a") || o.peek("b") != &two {
		t.Errorf("after dropping the ones: a held %v, b %v", o.has("a"), o.peek("b"))
	}
}
