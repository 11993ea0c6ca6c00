package usage

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Lines as each schema version of BinderHub's launch event was written,
// and as mybinder.org's archive publishes them.
var schemaLines = []struct {
	name, line string
	want       Event
}{
	{"v1 nested (2018)", `{"timestamp": "2018-10-05T12:00:01.123456Z", "schema": "binderhub.jupyter.org/launch", "version": 1, "event": {"provider": "GitHub", "spec": "norvig/pytudes/master", "status": "success"}}`,
		Event{Version: 1, Provider: []byte("GitHub"), Spec: []byte("norvig/pytudes/master"), Status: []byte("success"), Timestamp: time.Date(2018, 10, 5, 12, 0, 1, 123456000, time.UTC)}},
	{"v2", `{"timestamp": "2019-03-22T08:16:20.5Z", "schema": "binderhub.jupyter.org/launch", "version": 2, "provider": "Gist", "spec": "minrk/ab12cd/master", "status": "success"}`,
		Event{Version: 2, Provider: []byte("Gist"), Spec: []byte("minrk/ab12cd/master"), Status: []byte("success"), Timestamp: time.Date(2019, 3, 22, 8, 16, 20, 500000000, time.UTC)}},
	{"v3 archive", `{"timestamp": "2019-06-12T00:01:00+00:00", "schema": "binderhub.jupyter.org/launch", "version": 3, "provider": "GitHub", "spec": "ipython/ipython-in-depth/master", "status": "success", "origin": "mybinder.org"}`,
		Event{Version: 3, Provider: []byte("GitHub"), Spec: []byte("ipython/ipython-in-depth/master"), Status: []byte("success"), Origin: []byte("mybinder.org"), Timestamp: time.Date(2019, 6, 12, 0, 1, 0, 0, time.UTC)}},
	{"v4", `{"timestamp": "2020-06-17T10:00:00Z", "schema": "binderhub.jupyter.org/launch", "version": 4, "provider": "GitLab", "spec": "gitlab-org%2Fgitlab-foss/master", "ref": "0123456789abcdef0123456789abcdef01234567", "status": "success", "origin": "gke.mybinder.org"}`,
		Event{Version: 4, Provider: []byte("GitLab"), Spec: []byte("gitlab-org%2Fgitlab-foss/master"), Ref: []byte("0123456789abcdef0123456789abcdef01234567"), HasRef: true, Status: []byte("success"), Origin: []byte("gke.mybinder.org"), Timestamp: time.Date(2020, 6, 17, 10, 0, 0, 0, time.UTC)}},
	{"v5", `{"timestamp":"2024-03-07T23:59:59.999999Z","schema":"binderhub.jupyter.org/launch","version":5,"provider":"CKAN","spec":"https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fx","ref":"2024-03-01T00:00:00","status":"failure","build_token":true,"origin":"2i2c.mybinder.org"}`,
		Event{Version: 5, Provider: []byte("CKAN"), Spec: []byte("https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fx"), Ref: []byte("2024-03-01T00:00:00"), HasRef: true, Status: []byte("failure"), BuildToken: true, Origin: []byte("2i2c.mybinder.org"), Timestamp: time.Date(2024, 3, 7, 23, 59, 59, 999999000, time.UTC)}},
	{"v6 escapes", `{"timestamp": "2026-01-14T09:00:00.000001-05:00", "schema": "binderhub.jupyter.org/launch", "version": 6, "provider": "Git", "spec": "https%3A%2F%2Fexample.org%2Fr\u00e9po/main", "ref": "a\"b", "status": "success", "build_token": false, "origin": "hub.example.org", "request_origin": "same-origin"}`,
		Event{Version: 6, Provider: []byte("Git"), Spec: []byte("https%3A%2F%2Fexample.org%2Fr\u00e9po/main"), Ref: []byte(`a"b`), HasRef: true, Status: []byte("success"), Origin: []byte("hub.example.org"), Timestamp: time.Date(2026, 1, 14, 14, 0, 0, 1000, time.UTC)}},
	{"stackdriver", `{"insertId": "x", "jsonPayload": {"timestamp": "2019-01-01T00:00:00Z", "schema": "binderhub.jupyter.org/launch", "version": 3, "provider": "GitHub", "spec": "a/b/c", "status": "success", "origin": "mybinder.org"}, "severity": "INFO", "labels": {"k": [1, 2.5e3, null, true]}}`,
		Event{Version: 3, Provider: []byte("GitHub"), Spec: []byte("a/b/c"), Status: []byte("success"), Origin: []byte("mybinder.org"), Timestamp: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)}},
}

func TestParseSchemaVersions(t *testing.T) {
	var p Parser
	for _, c := range schemaLines {
		var ev Event
		if err := p.Parse([]byte(c.line), &ev); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !ev.Launch() {
			t.Errorf("%s: not a launch", c.name)
		}
		w := c.want
		if ev.Version != w.Version || string(ev.Provider) != string(w.Provider) || string(ev.Spec) != string(w.Spec) ||
			string(ev.Ref) != string(w.Ref) || ev.HasRef != w.HasRef || string(ev.Status) != string(w.Status) ||
			string(ev.Origin) != string(w.Origin) || ev.BuildToken != w.BuildToken || !ev.Timestamp.Equal(w.Timestamp) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, ev, w)
		}
	}
}

func TestBadLinesAreCounted(t *testing.T) {
	good := schemaLines[3].line
	lines := []string{
		good,
		good[:len(good)/2], // truncated mid-write
		"garbage \x00\xff",
		`["not", "an", "object"]`,
		`{"timestamp": "yesterday", "schema": "binderhub.jupyter.org/launch", "provider": "GitHub", "spec": "a/b/c"}`,
		`{"schema": "binderhub.jupyter.org/launch", "provider": "GitHub", "spec": "a/b/c"}`, // no timestamp
		`{"timestamp": "2020-01-01T00:00:00Z", "schema": "binderhub.jupyter.org/launch", "spec": 5}`,
		`{"timestamp": "2020-01-01T00:00:00Z", "schema": "binderhub.jupyter.org/build", "provider": "GitHub"}`, // another schema
		"",
		"   ",
		good + " trailing",
		strings.Repeat("x", MaxLine+10),
		good,
		good[:len(good)-1], // the last line, cut
	}
	var got []string
	st, err := ReadEvents(strings.NewReader(strings.Join(lines, "\n")), "events.jsonl", func(ev *Event) { got = append(got, string(ev.Ref)) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 2 || len(got) != 2 || st.Other != 1 || st.Bad != 9 || st.Lines != 12 {
		t.Errorf("stats %+v, events %d", st, len(got))
	}
	if !strings.HasPrefix(st.FirstBad, "events.jsonl:2: ") || !strings.Contains(st.FirstBad, "truncated") {
		t.Errorf("first bad %q", st.FirstBad)
	}
}

func TestReadGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for range 3 {
		zw.Write([]byte(schemaLines[4].line + "\n"))
	}
	zw.Close()
	st, err := ReadEvents(&buf, "x.jsonl.gz", func(*Event) {})
	if err != nil || st.Events != 3 {
		t.Errorf("%+v %v", st, err)
	}
}

// FuzzParse: no line crashes the parser; what it accepts is JSON, and
// where encoding/json reads the same fields it reads them alike.
func FuzzParse(f *testing.F) {
	for _, c := range schemaLines {
		f.Add([]byte(c.line))
	}
	f.Add([]byte(`{"ref": "\ud83d\ude00 \ud800 x\u00"}`))
	f.Add([]byte(`{"event": {"event": {"event": {}}}}`))
	f.Add([]byte(`{"version": -0.5e+10, "build_token": nul`))
	var p Parser
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev Event
		err := p.Parse(line, &ev)
		if err != nil {
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		if !utf8.Valid(line) || bytes.Contains(line, []byte(`"event"`)) || bytes.Contains(line, []byte(`"jsonPayload"`)) || bytes.Contains(line, []byte(`\ud`)) || bytes.Contains(line, []byte(`\uD`)) {
			return
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			return
		}
		for k, v := range map[string][]byte{"provider": ev.Provider, "spec": ev.Spec, "ref": ev.Ref, "status": ev.Status} {
			if s, ok := m[k].(string); ok && s != string(v) {
				t.Fatalf("%s: %q, encoding/json reads %q (line %q)", k, v, s, line)
			}
		}
	})
}

// FuzzReadEvents: any stream is read to its end, every line counted once.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte(schemaLines[0].line + "\n" + schemaLines[3].line[:40] + "\n\n" + schemaLines[5].line))
	f.Add([]byte("\x1f\x8b garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		st, err := ReadEvents(bytes.NewReader(data), "fuzz", func(*Event) { n++ })
		if err != nil && !(len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
			t.Fatalf("error reading plain data: %v", err)
		}
		if n != st.Events || st.Lines != st.Events+st.Other+st.Bad {
			t.Fatalf("stats %+v, %d events seen", st, n)
		}
	})
}
