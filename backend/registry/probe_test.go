package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

func fakeJWT(t *testing.T, claims any, enc *base64.Encoding) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return "eyJhbGciOiJSUzI1NiJ9." + enc.EncodeToString(b) + ".c2ln"
}

func TestAccessActions(t *testing.T) {
	grant := func(typ, name string, actions ...string) map[string]any {
		return map[string]any{"type": typ, "name": name, "actions": actions}
	}
	for _, tc := range []struct {
		name    string
		claims  any
		want    []string
		wantOK  bool
		encoder *base64.Encoding
	}{
		{"granted", map[string]any{"access": []any{grant("repository", "hub/img", "delete")}}, []string{"delete"}, true, base64.RawURLEncoding},
		{"padded std base64", map[string]any{"access": []any{grant("repository", "hub/img", "pull", "delete")}}, []string{"pull", "delete"}, true, base64.StdEncoding},
		{"other repository only", map[string]any{"access": []any{grant("repository", "other", "delete")}}, nil, true, base64.RawURLEncoding},
		{"wildcard", map[string]any{"access": []any{grant("repository", "*", "*")}}, []string{"*"}, true, base64.RawURLEncoding},
		{"empty access (denied)", map[string]any{"access": []any{}}, nil, true, base64.RawURLEncoding},
		{"no access claim", map[string]any{"sub": "x"}, nil, false, base64.RawURLEncoding},
	} {
		got, ok := accessActions(fakeJWT(t, tc.claims, tc.encoder), "repository", "hub/img")
		if ok != tc.wantOK || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
	if _, ok := accessActions("not-a-jwt", "repository", "x"); ok {
		t.Error("a non-JWT read as one")
	}
}

func TestProbeDistribution(t *testing.T) {
	pop := population()
	pop.Repositories = 12
	reg, _ := registrytest.ServeSeeded(t, pop)
	p, err := newClient(t, reg.Host()).Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Repositories) != ProbePage || p.Delete != DeleteUnknown || p.DeleteDetail == "" {
		t.Errorf("probe: %+v", p)
	}
	if _, err := newClient(t, "127.0.0.1:1").Probe(context.Background()); err == nil {
		t.Error("a probe of nothing listening succeeded")
	}
}
