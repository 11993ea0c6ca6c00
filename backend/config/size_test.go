package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSizeNeedsUnit: for every size key, a bare number other than 0 is
// an error naming the key and its line and showing how to write it; with
// a unit (bytes included) it is read as written.
func TestSizeNeedsUnit(t *testing.T) {
	sizeType := reflect.TypeFor[Size]()
	var sizes []keySite
	for _, s := range keySites() {
		if s.typ == sizeType {
			sizes = append(sizes, s)
		}
	}
	if len(sizes) == 0 {
		t.Fatal("no size key found")
	}
	for _, s := range sizes {
		at := join(s.path, s.key)
		for _, tc := range []struct {
			value string
			want  string // error; "" accepted as bytes
			bytes int64
		}{
			{value: "10", want: "10: a size needs a unit, e.g. 10GiB or 10GB"},
			{value: "1.5", want: "1.5: a size needs a unit, e.g. 1.5GiB or 1.5GB"},
			{value: "2048", want: "2048: a size needs a unit, e.g. 2048GiB or 2048GB"},
			{value: " 7 ", want: "7: a size needs a unit, e.g. 7GiB or 7GB"},
			{value: "99999999999999999999999", want: "99999999999999999999999: a size needs a unit"},
			{value: "10 parsecs", want: `size "10 parsecs": want a number and a unit such as 500MB, 1.5GB or 2TiB`},
			{value: "10GiB", bytes: 10 << 30},
			{value: "10GB", bytes: 10e9},
			{value: "2048B", bytes: 2048},
			{value: "1.5 TiB", bytes: 3 << 39},
		} {
			t.Run(at+"="+tc.value, func(t *testing.T) {
				// the key's siblings may not be valid alone: decode only
				data, err := yaml.Marshal(s.doc(map[string]any{s.key: tc.value}))
				if err != nil {
					t.Fatal(err)
				}
				line := strings.Count(string(data[:strings.Index(string(data), s.key+":")]), "\n") + 1
				_, err = Parse(data)
				if tc.want == "" {
					if err != nil && strings.Contains(err.Error(), at+":") {
						t.Errorf("%s: %s refused: %v", at, tc.value, err)
					}
					var c Config
					if err := yaml.Unmarshal(data, &c); err != nil {
						t.Fatal(err)
					}
					if got := reflect.ValueOf(c).FieldByIndex(fieldIndex(t, s)).Interface().(Size).Bytes; got != tc.bytes {
						t.Errorf("%s: %s read as %d bytes, want %d", at, tc.value, got, tc.bytes)
					}
					return
				}
				want := fmt.Sprintf("line %d: %s: %s", line, at, tc.want)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v\nwant %s", err, want)
				}
			})
		}
	}
}

// fieldIndex finds the struct field of a size key reached through
// structs only (the sizes there are today).
func fieldIndex(t *testing.T, s keySite) []int {
	t.Helper()
	typ := reflect.TypeFor[Config]()
	var idx []int
	for _, seg := range strings.Split(join(s.path, s.key), ".") {
		found := false
		for i := range typ.NumField() {
			f := typ.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == seg {
				idx, typ, found = append(idx, i), f.Type, true
				break
			}
		}
		if !found {
			t.Skipf("%s is not reached through structs only; extend fieldIndex", join(s.path, s.key))
		}
	}
	return idx
}

// TestCapZeroRefused: cap: 0 is a budget of nothing (the gauge and the
// forecast would measure against it), refused with the advice to remove
// cap; no cap at all is fine.
func TestCapZeroRefused(t *testing.T) {
	const pre = "registry:\n  url: r.io\n  policy:\n"
	for _, tc := range []struct {
		name, policy string
		want         []string // "" accepted
	}{
		{"zero", "    cap: 0\n", []string{"line 4: registry.policy.cap: a cap of 0 is a budget of nothing", "remove cap to set no size budget"}},
		{"zero with a unit", "    cap: 0GiB\n", []string{"line 4: registry.policy.cap: a cap of 0", "remove cap"}},
		{"zero point zero", "    cap: 0.0\n", []string{"line 4: registry.policy.cap: a cap of 0", "remove cap"}},
		{"rounds to zero", "    cap: 0.4B\n", []string{"line 4: registry.policy.cap: a cap of 0", "remove cap"}},
		{"zero, aggressive", "    cap: 0\n    aggressive: true\n", []string{"line 4: registry.policy.cap: a cap of 0", "line 5: registry.policy.aggressive: aggressive mode needs a cap"}},
		{"no cap, aggressive", "    aggressive: true\n", []string{"line 4: registry.policy.aggressive: aggressive mode needs a cap"}},
		{"no cap", "    keep_latest: 1\n", nil},
		{"empty cap", "    cap:\n", nil},
		{"a byte", "    cap: 1B\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(pre + tc.policy))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted a cap of %d bytes", c.Registry.Policy.Cap.Bytes)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
