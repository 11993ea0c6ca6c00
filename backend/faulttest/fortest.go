package faulttest

// TB is the part of testing.TB that [Serve] uses; this package does not
// import testing (the demo runs it).
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Serve starts a [Proxy] for the test t in front of target, as [Start]
// does, closed when t ends; it fails t if the proxy cannot start.
func Serve(t TB, target string, o Options) *Proxy {
	t.Helper()
	p, err := Start(target, o)
	if err != nil {
		t.Fatalf("start the fault proxy in front of %s: %v", target, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}
