//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

// execGo runs argv (the go command) on this process's terminal and exits
// with its status: this system cannot replace a process. It returns only
// when the command could not start.
func execGo(path string, argv, env []string) error {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		return err
	}
	os.Exit(0)
	return nil
}
