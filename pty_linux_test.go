//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// openPTY opens a pseudo-terminal of rows×cols cells with nothing but the
// kernel's /dev/ptmx: a console started in a child process with tty as its
// controlling terminal, stdin and stdout runs exactly as in a real
// terminal (raw mode, window size, alternate screen), while the test reads
// what it draws from ptm and types into ptm. The caller closes tty once the
// child has started, so that reading ptm ends when the child does.
func openPTY(rows, cols uint16) (ptm, tty *os.File, err error) {
	ptm, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var n uint32
	unlock := int32(0)
	err = ioctl(ptm, syscall.TIOCGPTN, unsafe.Pointer(&n))
	if err == nil {
		err = ioctl(ptm, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	}
	if err == nil {
		tty, err = os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err == nil {
		size := [4]uint16{rows, cols, 0, 0} // struct winsize
		if err = ioctl(tty, syscall.TIOCSWINSZ, unsafe.Pointer(&size)); err != nil {
			tty.Close()
		}
	}
	if err != nil {
		ptm.Close()
		return nil, nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	return ptm, tty, nil
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
