package azuretest

// TB is the part of testing.TB that the Serve helpers use; this package
// does not import testing (the demo runs it).
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// ServeIdentity starts an [Identity] for the test t, closed when t ends. It
// fails t if the identity cannot start, or if by then its [Identity.Transport]
// was asked to leave loopback.
func ServeIdentity(t TB, opts ...IdentityOption) *Identity {
	t.Helper()
	id, err := NewIdentity(opts...)
	if err != nil {
		t.Fatalf("start the managed identity stand-in: %v", err)
	}
	t.Cleanup(func() {
		if r := id.Refused(); len(r) > 0 {
			t.Errorf("the identity's transport refused non-loopback connections: %v", r)
		}
		_ = id.Close()
	})
	return id
}

// ServeKeyVault starts a [KeyVault] for the test t, closed when t ends.
func ServeKeyVault(t TB, opts ...KeyVaultOption) *KeyVault {
	t.Helper()
	kv, err := NewKeyVault(opts...)
	if err != nil {
		t.Fatalf("start the Key Vault stand-in: %v", err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	return kv
}
