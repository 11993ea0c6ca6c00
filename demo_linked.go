//go:build demo

package main

import "github.com/helmupgradebot/helmupgradebot/backend/demo"

// A build with -tags demo runs --demo in-process: `go run . --demo` runs
// one (demo_exec.go), and `go install -tags demo` installs one.
func init() { startDemo = demo.ForCommand }
