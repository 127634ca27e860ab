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
func (g *globals) startProfiles() error {
	var cpu *os.File
	if g.cpuProfile != "" {
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return usageError{fmt.Errorf("--cpuprofile: %w", err)}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		cpu = f
	}
	g.stopProfiles = func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if g.memProfile == "" {
			return
		}
		f, err := os.Create(g.memProfile)
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
