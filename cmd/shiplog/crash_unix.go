//go:build unix

package main

import "syscall"

// noCoreFile sets the soft core file size limit to 0.
func noCoreFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_CORE, &l) == nil {
		l.Cur = 0
		_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &l)
	}
}
