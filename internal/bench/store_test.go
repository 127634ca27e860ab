package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// stepTimes splits a data mode run by shiplog's log lines: the integrity
// check until the first step, each step until the next, the last until the
// run's end; other lines (a later "integrity check", debug lines) do not
// start a span.
func TestStepTimes(t *testing.T) {
	log := `time=2026-11-28T00:51:00.000Z level=WARN msg="init statement ignored" side=source
time=2026-11-28T00:51:01.000Z level=INFO msg="integrity check" stage=integrity steps=3
time=2026-11-28T00:51:04.500Z level=INFO msg="step 1 of 3: EAV Step" mode=data stage=data step="EAV Step"
time=2026-11-28T00:51:05.000Z level=DEBUG msg="step volume check" stage=volume step="EAV Step"
time=2026-11-28T00:51:10.000Z level=INFO msg="step 2 of 3: Map Step" mode=data stage=data step="Map Step"
not a log line
time=2026-11-28T00:51:30.250Z level=INFO msg="step 3 of 3: OrderGrids Step" mode=data stage=data step="OrderGrids Step"
time=2026-11-28T00:51:31.000Z level=INFO msg="integrity check" stage=integrity steps=1
`
	p := filepath.Join(t.TempDir(), "data.log")
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := stepTimes(p, time.Date(2026, 11, 28, 0, 51, 40, 250_000_000, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []stepTime{{"(integrity check)", 3.5}, {"EAV Step", 5.5}, {"Map Step", 20.25}, {"OrderGrids Step", 10}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stepTimes = %v, want %v", got, want)
	}
}
