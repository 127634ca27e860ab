package main

import (
	"os"
	"runtime/debug"
)

// A Go program that crashes (a panic nobody recovers, in any goroutine, or a
// fatal runtime error such as "out of memory" or a stack overflow) exits 2,
// the code shiplog gives a bad configuration. Unless the user sets
// GOTRACEBACK, shiplog asks the runtime to crash instead: it prints the trace
// and dies of SIGABRT (134 in a shell), which no configuration error does.
// The core file that SIGABRT would write is turned off (it would be as large
// as the heap); GOTRACEBACK=crash set by the user keeps the limit as it is.
func crashBySignal() {
	if os.Getenv("GOTRACEBACK") != "" {
		return
	}
	debug.SetTraceback("crash")
	noCoreFile()
}

// crashToFile also writes a crash's trace to the log file, where an operator
// reading the log looks for why the process ended.
func crashToFile(f *os.File) {
	_ = debug.SetCrashOutput(f, debug.CrashOptions{})
}
