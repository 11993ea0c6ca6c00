package registry

import (
	reg "github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
)

// Messages from the tab's work, which the console hands back to Update.
// The progress ones come wrapped in a common.ProgressMsg.
type (
	// ScanProgressMsg reports how far a scan has come.
	ScanProgressMsg struct{ p reg.Progress }
	// ScanDoneMsg delivers a scan, indexed, or why it failed, and what it
	// recovered of a killed run's deletions.
	ScanDoneMsg struct {
		index     *imageIndex
		err       error
		recovered []reg.Recovered
		recErr    error
	}
	// ApplyProgressMsg reports how far a delete has come.
	ApplyProgressMsg struct{ done, total int }
	// ApplyDoneMsg says what a delete did: the Plan applied and its
	// Result (the console records both).
	ApplyDoneMsg struct {
		Plan   model.Plan
		Result reg.ApplyResult
		err    error
	}
	// PlanDoneMsg delivers the plan of a selection.
	PlanDoneMsg struct {
		gen  int
		plan model.Plan
	}
	// RecheckDoneMsg says which planned deletions of the delete box Box
	// changed since the scan; the console hands it on only while Box is
	// open.
	RecheckDoneMsg struct {
		Box   *confirm.Model
		skips []reg.Skip
	}
)
