package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// memProgress is a Progress in memory: the finished stages by mode, step
// and stage, and the notes of the current run.
type memProgress struct {
	done    map[string]time.Time
	ran     []string
	skipped []string
	failOn  string // the method that fails ("Done", "MarkDone", "Note")
}

var errProgress = errors.New("progress store unreachable")

func key(mode Mode, step, stage string) string { return string(mode) + "/" + step + "/" + stage }

func (m *memProgress) Done(_ context.Context, mode Mode, step, stage string) (time.Time, bool, error) {
	if m.failOn == "Done" {
		return time.Time{}, false, errProgress
	}
	at, ok := m.done[key(mode, step, stage)]
	return at, ok, nil
}

func (m *memProgress) MarkDone(_ context.Context, mode Mode, step, stage string) error {
	if m.failOn == "MarkDone" {
		return errProgress
	}
	m.done[key(mode, step, stage)] = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return nil
}

func (m *memProgress) Note(_ context.Context, _ Mode, step string, skipped bool) error {
	if m.failOn == "Note" {
		return errProgress
	}
	if skipped {
		m.skipped = append(m.skipped, step)
	} else {
		m.ran = append(m.ran, step)
	}
	return nil
}

// rerun is a fake step that says whether it always runs.
type rerun struct {
	*fake
	always bool
}

func (r rerun) AlwaysRuns() bool { return r.always }

// TestRunSkipsStepsRecordedDone: a step whose data stage an earlier run of
// the mode finished is skipped (Data and Volume; Integrity runs, later
// stages need it) unless it always runs; a step is recorded done only when
// its Data and Volume returned nil; records are per mode.
func TestRunSkipsStepsRecordedDone(t *testing.T) {
	partial := fmt.Errorf("2 rows failed: %w", ErrPartial)
	broken := errors.New("lost connection")
	earlier := time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		mode        Mode
		recorded    []string // mode/step/stage keys recorded before the run
		mapAlways   bool     // Map is Rerunnable and always runs
		logRerun    *bool    // Log is Rerunnable with this answer
		errs        map[string]error
		failOn      string
		wantErr     error
		wantCalls   []string
		wantDone    []string // keys recorded after the run
		wantRan     []string
		wantSkipped []string
		wantLog     string
	}{
		{name: "nothing recorded: every step runs and is recorded", mode: ModeData,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "EAV.data", "EAV.volume", "Map.data", "Map.volume", "Log.data", "Log.volume"},
			wantDone:  []string{"data/EAV/data", "data/Log/data", "data/Map/data"},
			wantRan:   []string{"EAV", "Map", "Log"}, wantSkipped: nil},
		{name: "a recorded step is skipped, its integrity still runs", mode: ModeData, recorded: []string{"data/EAV/data"},
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "Map.data", "Map.volume", "Log.data", "Log.volume"},
			wantDone:  []string{"data/EAV/data", "data/Log/data", "data/Map/data"},
			wantRan:   []string{"Map", "Log"}, wantSkipped: []string{"EAV"},
			wantLog: "step EAV Step: already done at 2025-12-31T23:00:00Z; skipped"},
		{name: "a step that always runs runs although recorded", mode: ModeData, recorded: []string{"data/EAV/data", "data/Map/data", "data/Log/data"}, mapAlways: true,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "Map.data", "Map.volume"},
			wantDone:  []string{"data/EAV/data", "data/Log/data", "data/Map/data"},
			wantRan:   []string{"Map"}, wantSkipped: []string{"EAV", "Log"}},
		{name: "Rerunnable saying false is skipped once recorded", mode: ModeData, recorded: []string{"data/Log/data"}, logRerun: new(bool),
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "EAV.data", "EAV.volume", "Map.data", "Map.volume"},
			wantDone:  []string{"data/EAV/data", "data/Log/data", "data/Map/data"},
			wantRan:   []string{"EAV", "Map"}, wantSkipped: []string{"Log"}},
		{name: "records of another mode do not count", mode: ModeData, recorded: []string{"settings/EAV/data", "data/EAV/integrity"},
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "EAV.data", "EAV.volume", "Map.data", "Map.volume", "Log.data", "Log.volume"},
			wantDone:  []string{"data/EAV/data", "data/EAV/integrity", "data/Log/data", "data/Map/data", "settings/EAV/data"},
			wantRan:   []string{"EAV", "Map", "Log"}},
		{name: "a partial data stage is not recorded", mode: ModeData, errs: map[string]error{"Map.data": partial}, wantErr: ErrPartial,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "EAV.data", "EAV.volume", "Map.data", "Map.volume", "Log.data", "Log.volume"},
			wantDone:  []string{"data/EAV/data", "data/Log/data"},
			wantRan:   []string{"EAV", "Map", "Log"}},
		{name: "a failed data stage is not recorded and stops", mode: ModeData, errs: map[string]error{"Map.data": broken}, wantErr: broken,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "EAV.data", "EAV.volume", "Map.data"},
			wantDone:  []string{"data/EAV/data"},
			wantRan:   []string{"EAV", "Map"}},
		{name: "a failed volume check is not recorded", mode: ModeData, errs: map[string]error{"EAV.volume": broken}, wantErr: broken,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "EAV.data", "EAV.volume"},
			wantRan:   []string{"EAV"}},
		{name: "integrity errors stop before anything is read or noted", mode: ModeData, recorded: []string{"data/EAV/data"}, errs: map[string]error{"Log.integrity": broken}, wantErr: broken,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity"},
			wantDone:  []string{"data/EAV/data"}},
		{name: "an unreadable record stops the mode", mode: ModeData, failOn: "Done", wantErr: errProgress,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity"}},
		{name: "an unrecordable end stops the mode", mode: ModeData, failOn: "MarkDone", wantErr: errProgress,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity", "EAV.data", "EAV.volume"},
			wantRan:   []string{"EAV"}},
		{name: "an unrecordable note stops the mode before the step", mode: ModeData, failOn: "Note", wantErr: errProgress,
			wantCalls: []string{"EAV.integrity", "Map.integrity", "Log.integrity"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			mk := func(name, title string) Planned {
				f := &fake{name: name, calls: &calls, err: map[string]error{}}
				for k, err := range tc.errs {
					if n, stage, _ := strings.Cut(k, "."); n == name {
						f.err[stage] = err
					}
				}
				var s Step = f
				switch {
				case name == "Map" && tc.mapAlways:
					s = rerun{f, true}
				case name == "Log" && tc.logRerun != nil:
					s = rerun{f, *tc.logRerun}
				}
				return Planned{Def: Def{Name: name, Title: title}, Title: title, Step: s}
			}
			steps := []Planned{mk("EAV", "EAV Step"), mk("Map", "Map Step"), mk("Log", "Log Step")}
			p := &memProgress{done: map[string]time.Time{}, failOn: tc.failOn}
			for _, k := range tc.recorded {
				p.done[k] = earlier
			}
			err := Run(context.Background(), tc.mode, steps, &Env{Mode: tc.mode, Log: log, Progress: p})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run: %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(calls, tc.wantCalls) {
				t.Errorf("stages ran as %q, want %q", calls, tc.wantCalls)
			}
			var done []string
			for k := range p.done {
				done = append(done, k)
			}
			slices.Sort(done)
			if !slices.Equal(done, tc.wantDone) {
				t.Errorf("recorded %q, want %q", done, tc.wantDone)
			}
			if !slices.Equal(p.ran, tc.wantRan) || !slices.Equal(p.skipped, tc.wantSkipped) {
				t.Errorf("noted ran %q skipped %q, want %q and %q", p.ran, p.skipped, tc.wantRan, tc.wantSkipped)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, logs.String())
			}
		})
	}
}

// TestRunWithoutProgressSkipsNothing: without a Progress (shiplog check's
// Env, tests) every step runs.
func TestRunWithoutProgressSkipsNothing(t *testing.T) {
	w := newWorld(t)
	if err := w.run(ModeData, known, false); err != nil {
		t.Fatal(err)
	}
	if err := w.run(ModeData, known, false); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(w.calls, " "), "EAV.data"); n != 2 {
		t.Fatalf("EAV's data ran %d times in two runs, want 2: %q", n, w.calls)
	}
}
