package registry

import (
	"context"
	"testing"
)

// TestOnceMapHoldRelease: a value goes after the last use held of it is
// released, not before; keys never asked for are not counted.
func TestOnceMapHoldRelease(t *testing.T) {
	var o onceMap[*int]
	one := 1
	if v, ok := o.do(context.Background(), "a", func() *int { return &one }); !ok || v != &one {
		t.Fatal("do did not load")
	}
	o.preload("b", &one)
	o.hold("a")
	o.hold("a")
	o.hold("b")
	o.hold("never")
	o.release("never")
	o.release("a")
	if o.peek("a") == nil {
		t.Fatal("a dropped with a use still held")
	}
	o.release("a")
	o.release("b")
	if o.peek("a") != nil || o.peek("b") != nil {
		t.Error("values kept after their last use")
	}
	if o.peek("never") != nil {
		t.Error("a key never asked for has a value")
	}
}
