package registry

// withBatch makes a listing kind's scan read and assemble repositories in
// batches of at least n manifests (scanListed): small batches put a
// scan's cross-batch paths to the test.
func withBatch(n int) Option {
	return func(o *options) error { o.batch = n; return nil }
}
