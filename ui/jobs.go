package ui

import (
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
)

// Messages from work running in commands.
type (
	scanProgressMsg struct{ p registry.Progress }
	scanDoneMsg     struct {
		index     *imageIndex
		err       error
		recovered []registry.Recovered
		recErr    error
	}
	applyProgressMsg struct{ done, total int }
	applyDoneMsg     struct {
		plan model.Plan
		res  registry.ApplyResult
		err  error
	}
	planDoneMsg struct {
		gen  int
		plan model.Plan
	}
	recheckDoneMsg struct {
		box   *confirm.Model
		skips []registry.Skip
	}
)
