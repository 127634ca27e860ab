package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts the CPU profile of --cpuprofile; stopProfiles ends it
// and writes the heap profile of --memprofile (go tool pprof -sample_index=
// alloc_space shows the allocations of the whole run).
func (a *app) startProfiles() error {
	var cpu *os.File
	if a.cpuProfile != "" {
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return usageError{fmt.Errorf("--cpuprofile: %w", err)}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		cpu = f
	}
	a.stopProfiles = func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if a.memProfile == "" {
			return
		}
		f, err := os.Create(a.memProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "shiplog: --memprofile:", err)
			return
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintln(os.Stderr, "shiplog: --memprofile:", err)
		}
	}
	return nil
}
