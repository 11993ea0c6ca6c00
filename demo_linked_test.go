package main

import "github.com/helmupgradebot/helmupgradebot/backend/demo"

// The tests run --demo in-process, as a build with -tags demo does
// (demo_linked.go), whatever the tags.
func init() { startDemo = demo.ForCommand }
