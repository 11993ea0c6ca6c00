package secrets_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// holder is a config-like struct holding secrets in every way a program might.
type holder struct {
	Name   string
	Token  secrets.Secret
	hidden secrets.Secret
	Ptr    *secrets.Secret
	Map    map[string]secrets.Secret
	Slice  []secrets.Secret
	Any    any
}

func newHolder(s secrets.Secret) holder {
	return holder{Name: "h", Token: s, hidden: s, Ptr: &s, Map: map[string]secrets.Secret{"k": s}, Slice: []secrets.Secret{s}, Any: s}
}

// renderings returns every way the tests print or marshal a secret.
func renderings(t *testing.T, s secrets.Secret) map[string]string {
	t.Helper()
	h := newHolder(s)
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%10.3s"} {
		out["Secret "+verb] = fmt.Sprintf(verb, s)
		out["*Secret "+verb] = fmt.Sprintf(verb, &s)
		out["holder "+verb] = fmt.Sprintf(verb, h)
		out["*holder "+verb] = fmt.Sprintf(verb, &h)
	}
	out["Sprint"] = fmt.Sprint(s, h)
	out["Sprintln"] = fmt.Sprintln(s, h)
	out["String"] = s.String()
	out["GoString"] = s.GoString()
	for name, v := range map[string]any{"Secret": s, "holder": h} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%s): %v", name, err)
		}
		out["json "+name] = string(j)
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatalf("yaml.Marshal(%s): %v", name, err)
		}
		out["yaml "+name] = string(y)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("text", "secret", s, "holder", h, "ptr", &s)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("json", "secret", s, "holder", h, "group", slog.GroupValue(slog.Any("s", s)))
	out["slog"] = buf.String()
	return out
}

func TestSecretNeverPrints(t *testing.T) {
	const value = "hunter2-super-secret-value"
	s := secrets.New(value)
	if s.Reveal() != value || s.IsZero() {
		t.Fatalf("Reveal() = %q, IsZero() = %v", s.Reveal(), s.IsZero())
	}
	for how, text := range renderings(t, s) {
		if strings.Contains(text, value) || strings.Contains(text, "hunter2") {
			t.Errorf("%s shows the value: %s", how, text)
		}
	}
	tests := map[string]string{
		fmt.Sprintf("%v", s):  secrets.Redacted,
		fmt.Sprintf("%q", s):  `"[redacted]"`,
		fmt.Sprintf("%#v", s): secrets.Redacted,
	}
	for got, want := range tests {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	j, _ := json.Marshal(newHolder(s))
	if !strings.Contains(string(j), `"Token":"[redacted]"`) {
		t.Errorf("json of holder = %s", j)
	}
}

func TestSecretZero(t *testing.T) {
	tests := []struct {
		name string
		s    secrets.Secret
		zero bool
	}{
		{"zero value", secrets.Secret{}, true},
		{"New empty", secrets.New(""), true},
		{"New value", secrets.New("x"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.s.IsZero() != tc.zero {
				t.Errorf("IsZero() = %v, want %v", tc.s.IsZero(), tc.zero)
			}
			if tc.s.String() != secrets.Redacted {
				t.Errorf("String() = %q", tc.s.String())
			}
		})
	}
}

func TestSecretDeepEqualComparesValues(t *testing.T) {
	a, b, c := secrets.New("same"), secrets.New("same"), secrets.New("other")
	if !reflect.DeepEqual(newHolder(a).Token, newHolder(b).Token) {
		t.Error("secrets with equal values are not DeepEqual")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("secrets with different values are DeepEqual")
	}
}
