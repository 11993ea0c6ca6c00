package ui

import (
	"context"
	"reflect"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
	chartstab "github.com/helmupgradebot/helmupgradebot/ui/charts"
	historytab "github.com/helmupgradebot/helmupgradebot/ui/history"
)

// RegistryService is what the console asks of a registry. *engine.Registry
// implements it; --headless calls the same methods, so the console decides
// nothing on its own.
type RegistryService interface {
	URL() string
	Policy() model.Policy
	Scan(ctx context.Context, progress func(registry.Progress)) (*model.Inventory, error)
	// Recover records what became of deletions a killed run left without
	// an outcome in the audit log.
	Recover(ctx context.Context) ([]registry.Recovered, error)
	// Plan is used both for the preview and for what is applied, so a
	// confirm box always shows what a delete will do.
	Plan(inv *model.Inventory, manual []int, force bool) model.Plan
	Apply(ctx context.Context, inv *model.Inventory, plan model.Plan, progress func(done, total int)) (registry.ApplyResult, error)
	// Recheck re-reads the registry and says which planned deletions
	// changed since the scan (Apply skips the same ones).
	Recheck(ctx context.Context, inv *model.Inventory, plan model.Plan) []registry.Skip
}

// ChartService is what the console asks of the chart upgrader.
// *engine.Charts implements it.
type ChartService = chartstab.Service

var (
	_ RegistryService = (*engine.Registry)(nil)
)

// isNil reports whether a service is absent, including a typed nil pointer
// passed as an interface (a *engine.Registry that was never configured).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// HistoryService is where the console reads the runs before it and
// records its own. *history.Store implements it.
type HistoryService = historytab.Service
