// Package docs holds the tests that keep the documentation in this
// directory true to the code: every configuration key and report field is
// documented and no documented one is gone (reference_test.go), and every
// relative link names a file and heading that exist (links_test.go).
package docs
