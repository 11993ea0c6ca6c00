package secrets_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

func BenchmarkParseReference(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := secrets.ParseReference("keyvault://myvault.vault.azure.net/github-token/0123456789abcdef0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatHolder(b *testing.B) {
	h := newHolder(secrets.New("value"))
	b.ReportAllocs()
	for b.Loop() {
		_ = fmt.Sprintf("%+v", h)
	}
}

func BenchmarkResolveEnv(b *testing.B) {
	r := secrets.NewResolver(secrets.WithLookupEnv(fakeEnv(map[string]string{"TOKEN": "v"})))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(ctx, "env:TOKEN"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveFile(b *testing.B) {
	ref := "file:" + writeFile(b, b.TempDir(), "token", "file-value\n", 0o600)
	r := secrets.NewResolver()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveKeyVault measures a Key Vault read through the real
// azsecrets client and the TLS stand-in, with the client and token cached
// by the resolver (the steady state of a long-running bot).
func BenchmarkResolveKeyVault(b *testing.B) {
	azuretest.HermeticEnv(b)
	f := newFixture(b, "benchvault")
	r := secrets.NewResolver(f.opts()...)
	ctx := context.Background()
	if _, err := r.Resolve(ctx, "keyvault://benchvault/github-token"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(ctx, "keyvault://benchvault/github-token"); err != nil {
			b.Fatal(err)
		}
	}
}
