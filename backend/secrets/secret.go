// Package secrets resolves the secret references of the configuration
// (env:NAME, file:PATH, keyvault://VAULT/SECRET) into [Secret] values that
// never print, log or marshal their contents.
package secrets

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Redacted is what a Secret shows instead of its value.
const Redacted = "[redacted]"

// Secret holds a secret value. Every way of printing, logging or marshalling
// it yields [Redacted]; [Secret.Reveal] is the only way to read the value.
// The value sits behind a *string, which fmt prints as an address whenever
// it bypasses these methods (an unexported Secret field, a bad verb), so
// even reflection-based printing does not show it. reflect.DeepEqual
// compares the values.
type Secret struct {
	v *string
}

// New wraps a value obtained elsewhere (tests, interactive input).
func New(value string) Secret {
	if value == "" {
		return Secret{}
	}
	return Secret{v: &value}
}

// Reveal returns the secret value. Pass it straight to the API that needs it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// String returns [Redacted].
func (Secret) String() string { return Redacted }

// GoString returns [Redacted], so %#v hides the value too.
func (Secret) GoString() string { return Redacted }

// Format writes [Redacted] for every verb (quoted for %q).
func (Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(Redacted))
		return
	}
	_, _ = io.WriteString(f, Redacted)
}

// MarshalJSON returns the JSON string "[redacted]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(Redacted)), nil }

// MarshalText returns [Redacted] (used by YAML, XML and JSON map keys).
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue makes log/slog record [Redacted].
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
