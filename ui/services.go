package ui

import (
	"reflect"

	chartstab "github.com/helmupgradebot/helmupgradebot/ui/charts"
	historytab "github.com/helmupgradebot/helmupgradebot/ui/history"
	registrytab "github.com/helmupgradebot/helmupgradebot/ui/registry"
)

// RegistryService is what the console asks of a registry: the Registry
// tab's Service. *engine.Registry implements it; --headless calls the same
// methods, so the console decides nothing on its own.
type RegistryService = registrytab.Service

// ChartService is what the console asks of the chart upgrader.
// *engine.Charts implements it.
type ChartService = chartstab.Service

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
