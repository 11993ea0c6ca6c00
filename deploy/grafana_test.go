package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics/metricstest"
)

// The parts of Grafana's dashboard model (schemaVersion 38, Grafana 10)
// that the dashboard uses, field for field: a field that is not here is
// an error when decoding. Panel options and field defaults are each panel
// plugin's own, kept as they are.
type grafanaDashboard struct {
	Requires []struct {
		Type, ID, Name, Version string
	} `json:"__requires"`
	Annotations struct {
		List []struct {
			BuiltIn    int               `json:"builtIn"`
			Datasource grafanaDatasource `json:"datasource"`
			Enable     bool              `json:"enable"`
			Hide       bool              `json:"hide"`
			IconColor  string            `json:"iconColor"`
			Name       string            `json:"name"`
			Type       string            `json:"type"`
		} `json:"list"`
	} `json:"annotations"`
	Description          string         `json:"description"`
	Editable             bool           `json:"editable"`
	FiscalYearStartMonth int            `json:"fiscalYearStartMonth"`
	GraphTooltip         int            `json:"graphTooltip"`
	ID                   *int           `json:"id"`
	Links                []any          `json:"links"`
	LiveNow              bool           `json:"liveNow"`
	Panels               []grafanaPanel `json:"panels"`
	Refresh              string         `json:"refresh"`
	SchemaVersion        int            `json:"schemaVersion"`
	Tags                 []string       `json:"tags"`
	Templating           struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
	Time struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Timepicker map[string]any `json:"timepicker"`
	Timezone   string         `json:"timezone"`
	Title      string         `json:"title"`
	UID        string         `json:"uid"`
	Version    int            `json:"version"`
	WeekStart  string         `json:"weekStart"`
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaVariable struct {
	Name        string             `json:"name"`
	Label       string             `json:"label"`
	Type        string             `json:"type"`
	Datasource  *grafanaDatasource `json:"datasource"`
	Definition  string             `json:"definition"`
	Query       any                `json:"query"` // a string (datasource) or {query, refId}
	Current     map[string]any     `json:"current"`
	Hide        int                `json:"hide"`
	IncludeAll  bool               `json:"includeAll"`
	AllValue    string             `json:"allValue"`
	Multi       bool               `json:"multi"`
	Options     []any              `json:"options"`
	Refresh     int                `json:"refresh"`
	Regex       string             `json:"regex"`
	SkipURLSync bool               `json:"skipUrlSync"`
	Sort        int                `json:"sort"`
}

type grafanaPanel struct {
	ID          int                `json:"id"`
	Type        string             `json:"type"`
	Title       string             `json:"title"`
	Description string             `json:"description"`
	Collapsed   bool               `json:"collapsed"`
	Datasource  *grafanaDatasource `json:"datasource"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID        string            `json:"refId"`
		Datasource   grafanaDatasource `json:"datasource"`
		Expr         string            `json:"expr"`
		LegendFormat string            `json:"legendFormat"`
	} `json:"targets"`
	FieldConfig *struct {
		Defaults struct {
			Unit       string         `json:"unit"`
			Min        *float64       `json:"min"`
			Custom     map[string]any `json:"custom"`
			Mappings   []any          `json:"mappings"`
			Thresholds *struct {
				Mode  string `json:"mode"`
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
		Overrides []any `json:"overrides"`
	} `json:"fieldConfig"`
	Options map[string]any `json:"options"`
	Panels  []grafanaPanel `json:"panels"` // a collapsed row's
}

// TestGrafanaDashboard: grafana/helmupgradebot.json decodes as Grafana's
// dashboard model (no field it does not have), for Grafana 10 and up, with
// a $datasource variable every query goes through; every panel's queries
// read metrics the program emits, and together they show what the
// dashboard is for. promtool (when here) parses each query.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("grafana", "helmupgradebot.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("helmupgradebot.json is not the dashboard model: %v", err)
	}
	if d.SchemaVersion < 38 || d.Title == "" || d.UID == "" || d.ID != nil {
		t.Errorf("schemaVersion %d (Grafana 10 is 38), title %q, uid %q, id %v (want null, for import)", d.SchemaVersion, d.Title, d.UID, d.ID)
	}
	vars := map[string]grafanaVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds := vars["datasource"]; ds.Type != "datasource" || ds.Query != "prometheus" {
		t.Errorf("templating: datasource %+v, want a Prometheus data source variable", ds)
	}
	for _, v := range d.Templating.List {
		if v.Datasource != nil && v.Datasource.UID != "${datasource}" {
			t.Errorf("variable %s: data source %q, want ${datasource}", v.Name, v.Datasource.UID)
		}
	}

	emitted := map[string]bool{}
	for name := range metrics.Help {
		emitted[metrics.FullName(name)] = true
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	var exprs []string
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Title == "" || p.Description == "" {
				t.Errorf("panel %d: title %q, description %q: want both", p.ID, p.Title, p.Description)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
				t.Errorf("panel %q: data source %+v, want ${datasource}", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q query %s: data source %q, want ${datasource}", p.Title, tg.RefID, tg.Datasource.UID)
				}
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q query %s reads no helmupgradebot metric: %s", p.Title, tg.RefID, tg.Expr)
				}
				for _, n := range names {
					if !emitted[n] {
						t.Errorf("panel %q query %s: %s is not a metric the program emits", p.Title, tg.RefID, n)
					}
					used[n] = true
				}
				if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
					t.Errorf("panel %q query %s does not follow the $instance variable: %s", p.Title, tg.RefID, tg.Expr)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	// What the dashboard is for: the size against the cap, the forecast,
	// bytes freed per run, the runs and their outcome, charts by status,
	// open pull requests.
	for _, n := range []string{metrics.NameStored, metrics.NameCap, metrics.NameTimeToCap, metrics.NameFreed, metrics.NameRunSuccess,
		metrics.NameRunExitCode, metrics.NameDependencies, metrics.NameOpenPRs} {
		if !used[metrics.FullName(n)] {
			t.Errorf("no panel shows %s", metrics.FullName(n))
		}
	}

	tool := metricstest.Promtool(t)
	if tool == "" {
		return
	}
	// Each query as a recording rule, Grafana's variables given values,
	// for promtool to parse.
	type recording struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []recording
	vars2 := strings.NewReplacer("$__interval", "1h", "$__rate_interval", "5m", "$instance", ".*")
	for i, e := range exprs {
		rules = append(rules, recording{Record: fmt.Sprintf("grafana:query_%d", i), Expr: vars2.Replace(e)})
	}
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "grafana", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if report, err := exec.Command(tool, "check", "rules", file).CombinedOutput(); err != nil || !slices.ContainsFunc(strings.Split(string(report), "\n"), func(l string) bool { return strings.Contains(l, "SUCCESS") }) {
		t.Errorf("promtool check rules (the dashboard's queries): %v\n%s", err, report)
	}
}
