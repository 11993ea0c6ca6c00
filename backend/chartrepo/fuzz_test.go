package chartrepo

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// FuzzParseIndex: an index.yaml, whatever its bytes, parses or is refused
// without a panic; what parses lists its charts sorted, gives each chart's
// versions (copies), names a missing chart, and selects without a panic.
func FuzzParseIndex(f *testing.F) {
	real := fixtureIndex(f)
	// The real index's head, cut at an entry boundary: a small seed keeps
	// the fuzzer's minimizing quick.
	for _, n := range []int{1200} {
		cut := bytes.LastIndex(real[:n], []byte("\n  - "))
		f.Add(real[:cut+1])
	}
	for _, seed := range []string{
		"apiVersion: v1\nentries:\n  hub:\n  - version: 1.0.0\n    created: 2024-05-06T07:08:09Z\n    sources: [https://x]\n",
		`{"apiVersion":"v1","entries":{"j":[{"version":"2.0.0","created":"2024-01-01T00:00:00Z"}]}}`,
		"entries:\n  a:\n  - version: [1, 2]\n    created: yesterday\n  - version: 1.0.0\n    sources: just-a-string\n",
		"entries: {}\n",
		"entries:\n  a: &v\n  - version: 1.0.0\n  b: *v\n",
		"entries:\n  a:\n  - <<: {version: 2.0.0}\n",
		"entries: 3\n",
		"generated: 2024\n",
		"",
		"\x1f\x8b",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ParseIndex(data)
		if err != nil {
			if ix != nil {
				t.Error("an index beside an error")
			}
			return
		}
		charts := ix.Charts()
		if len(charts) != len(ix.Entries) || !slices.IsSorted(charts) {
			t.Errorf("charts %q of %d entries", charts, len(ix.Entries))
		}
		for _, c := range charts {
			vs, err := ix.Versions(c)
			if err != nil {
				t.Fatalf("Versions(%q) of a listed chart: %v", c, err)
			}
			if len(vs) > 0 {
				vs[0].Version = "changed"
				if again, _ := ix.Versions(c); again[0].Version == "changed" {
					t.Errorf("Versions(%q) shares its slice", c)
				}
			}
			_, _, _ = model.SelectNewest("0.0.1", vs, model.SelectOptions{Prereleases: true})
		}
		var nf *ChartNotFoundError
		if _, err := ix.Versions("\x00missing"); !errors.As(err, &nf) {
			t.Errorf("a missing chart: %v", err)
		}
	})
}

// FuzzReadBody: an index body, plain or gzipped, with any Content-Encoding
// header, is read whole or refused, never past the size limit.
func FuzzReadBody(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("entries: {}\n"))
	_ = zw.Close()
	f.Add([]byte("entries: {}\n"), "")
	f.Add(gz.Bytes(), "")
	f.Add(gz.Bytes(), "gzip")
	f.Add([]byte("entries: {}\n"), "gzip")
	f.Add([]byte("entries: {}\n"), "br")
	f.Add(gz.Bytes()[:10], "identity")
	f.Fuzz(func(t *testing.T, body []byte, encoding string) {
		r := &http.Response{Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		if encoding != "" {
			r.Header.Set("Content-Encoding", encoding)
		}
		data, err := readBody(r)
		if err == nil && len(data) > maxIndexSize {
			t.Errorf("read %d bytes, over the limit", len(data))
		}
		if err == nil && !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) && !bytes.Equal(data, body) {
			t.Errorf("a plain body came back changed")
		}
	})
}
