//go:build unix

package main

import "syscall"

// execGo replaces this process with argv (the go command), so that the
// demo gets the terminal and the signals as if it had been typed; it
// returns only when that fails.
func execGo(path string, argv, env []string) error {
	return syscall.Exec(path, argv, env)
}
