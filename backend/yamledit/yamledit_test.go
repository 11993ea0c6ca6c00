package yamledit

import (
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// valueNode returns the value of key at the top of doc.
func valueNode(t *testing.T, doc []byte, key string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		t.Fatal(err)
	}
	m := n.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	t.Fatalf("no key %s", key)
	return nil
}

func TestLocate(t *testing.T) {
	tests := []struct {
		name, in  string
		token     string // the located source text; "" for an error
		style     QuoteStyle
		line, col int
		wantErr   string
	}{
		{name: "plain with comment", in: "a: 1\nk: quay.io/x:1.2 # c\n", token: "quay.io/x:1.2", style: Plain, line: 2, col: 4},
		{name: "single quoted with a doubled quote", in: "k: 'it''s'\n", token: "'it''s'", style: SingleQuoted, line: 1, col: 4},
		{name: "double quoted with an escape", in: "k: \"a\\tb\" # c\n", token: `"a\tb"`, style: DoubleQuoted, line: 1, col: 4},
		{name: "CRLF", in: "a: 1\r\nk: \"v\"\r\n", token: `"v"`, style: DoubleQuoted, line: 2, col: 4},
		{name: "after a BOM and a multibyte character", in: "\ufeffé: 1\nk: v\n", token: "v", style: Plain, line: 2, col: 4},
		{name: "after NEL", in: "a: 1\u0085k: v\n", token: "v", style: Plain, line: 2, col: 4},
		{name: "block scalar", in: "k: |\n  v\n", wantErr: "block scalar"},
		{name: "folded scalar", in: "k: >-\n  v\n", wantErr: "block scalar"},
		{name: "anchor", in: "k: &a v\n", wantErr: "anchor"},
		{name: "explicit tag", in: "k: !!str v\n", wantErr: "explicit YAML tag"},
		{name: "plain over two lines", in: "k: a\n  b\n", wantErr: "more than one line"},
		{name: "double quoted over two lines", in: "k: \"a\n  b\"\n", wantErr: "more than one line"},
		{name: "single quoted over two lines", in: "k: 'a\n  b'\n", wantErr: "more than one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			n := valueNode(t, in, "k")
			pos, end, style, err := Locate(in, NewLines(in), n)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Locate = %q, %v; want an error with %q", in[pos.Offset:end], err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(in[pos.Offset:end]); got != tt.token || style != tt.style || pos.Line != tt.line || pos.Column != tt.col {
				t.Errorf("Locate = %q style %d at %d:%d; want %q style %d at %d:%d", got, style, pos.Line, pos.Column, tt.token, tt.style, tt.line, tt.col)
			}
		})
	}
}

func TestToken(t *testing.T) {
	tests := []struct {
		v       string
		style   QuoteStyle
		want    string
		wantErr string
	}{
		{"1.2.3", Plain, "1.2.3", ""},
		{"1.2.3", SingleQuoted, "'1.2.3'", ""},
		{"1.2.3", DoubleQuoted, `"1.2.3"`, ""},
		{"1.20", Plain, "", "would not read back as a string"},
		{"true", Plain, "", "would not read back as a string"},
		{"1.20", DoubleQuoted, `"1.20"`, ""},
		{"", Plain, "", "new tag is empty"},
		{"1.2 # x", Plain, "", "a tag holds only letters, digits and . - _"},
		{"a'b", SingleQuoted, "", "holds only"},
	}
	for _, tt := range tests {
		got, err := Token(tt.v, tt.style, "tag", ".-_")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Token(%q, %d) = %q, %v; want an error with %q", tt.v, tt.style, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Token(%q, %d) = %q, %v; want %q", tt.v, tt.style, got, err, tt.want)
		}
	}
}

func TestChangedLines(t *testing.T) {
	tests := []struct {
		before, after string
		changed       []int
		same          bool
	}{
		{"a\nb\nc\n", "a\nB\nc\n", []int{2}, true},
		{"a\r\nb\r\n", "a\r\nb\n", []int{2}, true},
		{"a\u2028b\n", "a\u2028c\n", []int{2}, true},
		{"\ufeffa\nb\n", "a\nb\n", []int{1}, true},
		{"a\nb\n", "a\nb\nc\n", nil, false},
		{"a\nb", "a\nb", nil, true},
	}
	for _, tt := range tests {
		changed, same := ChangedLines([]byte(tt.before), []byte(tt.after))
		if !slices.Equal(changed, tt.changed) || same != tt.same {
			t.Errorf("ChangedLines(%q, %q) = %v %v; want %v %v", tt.before, tt.after, changed, same, tt.changed, tt.same)
		}
	}
}
