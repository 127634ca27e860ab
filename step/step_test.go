package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/transform"
)

// fake is a step that records its stages in calls and returns what its
// fields say.
type fake struct {
	name     string
	calls    *[]string
	problems []transform.Problem
	err      map[string]error // by stage
	delta    func(ctx context.Context) error
}

func (f *fake) record(stage string) error {
	*f.calls = append(*f.calls, f.name+"."+stage)
	return f.err[stage]
}

func (f *fake) Integrity(context.Context, *Env) ([]transform.Problem, error) {
	return f.problems, f.record("integrity")
}
func (f *fake) Data(_ context.Context, env *Env) error {
	env.Log.Info("fake data stage")
	return f.record("data")
}
func (f *fake) Volume(context.Context, *Env) error { return f.record("volume") }
func (f *fake) Delta(ctx context.Context, _ *Env) error {
	if err := f.record("delta"); err != nil {
		return err
	}
	if f.delta != nil {
		return f.delta(ctx)
	}
	return nil
}

// world is a registry of fake steps modelled on shiplog's: Settings (the
// default of settings mode), Map (of data and delta modes), and EAV and Log,
// which run only when config.xml lists them.
type world struct {
	reg   Registry
	calls []string
	steps map[string]*fake
	logs  bytes.Buffer
	log   *slog.Logger
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{steps: map[string]*fake{}}
	w.log = slog.New(slog.NewTextHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, d := range []struct {
		name, title, class string
		modes              []Mode
	}{
		{"Settings", "Settings Step", `Migration\Step\Settings`, []Mode{ModeSettings}},
		{"Map", "Map Step", `Migration\Step\Map`, []Mode{ModeData, ModeDelta}},
		{"EAV", "EAV Step", `Migration\Step\Eav`, nil},
		{"Log", "Log Step", `Migration\Step\Log`, nil},
	} {
		f := &fake{name: d.name, calls: &w.calls, err: map[string]error{}}
		w.steps[d.name] = f
		if err := w.reg.Register(Def{Name: d.name, Title: d.title, Class: d.class, Default: d.modes, New: func() Step { return f }}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) run(mode Mode, listed []config.Step, auto bool) error {
	steps, unknown := w.reg.Select(mode, listed, w.log)
	return Run(context.Background(), mode, steps, &Env{Mode: mode, Log: w.log, Auto: auto, Unknown: unknown})
}

func names(steps []Planned, _ ...[]transform.Problem) []string {
	var out []string
	for _, p := range steps {
		out = append(out, p.Def.Name)
	}
	return out
}

// stock is the steps of a config.xml modelled on the reference's
// config.xml.dist (shortened).
var stock = []config.Step{
	{Mode: "settings", Title: "Settings Step", Classes: []string{`Migration\Step\Settings\Integrity`, `Migration\Step\Settings\Data`}},
	{Mode: "settings", Title: "Stores Step", Classes: []string{`Migration\Step\Stores\Integrity`, `Migration\Step\Stores\Data`}},
	{Mode: "data", Title: "EAV Step", Classes: []string{`Migration\Step\Eav\Integrity`, `Migration\Step\Eav\Data`, `Migration\Step\Eav\Volume`}},
	{Mode: "data", Title: "Map Step", Classes: []string{`Migration\Step\Map\Integrity`, `Migration\Step\Map\Data`, `Migration\Step\Map\Volume`}},
	{Mode: "data", Title: "Url Rewrite Step", Classes: []string{`Migration\Step\UrlRewrite\Version191to2000Delta`}},
	{Mode: "data", Title: "Log Step", Classes: []string{`Migration\Step\Log\Integrity`, `Migration\Step\Log\Data`, `Migration\Step\Log\Volume`}},
	{Mode: "delta", Title: "Log Step", Classes: []string{`Migration\Step\Log\Delta`}},
	{Mode: "delta", Title: "Map Step", Classes: []string{`Migration\Step\Map\Delta`, `Migration\Step\Map\Volume`}},
}

// known is stock without the steps the world lacks (Stores, Url Rewrite).
var known = slices.DeleteFunc(slices.Clone(stock), func(s config.Step) bool {
	return s.Title == "Stores Step" || s.Title == "Url Rewrite Step"
})

func TestStagesRunInTheReferenceOrder(t *testing.T) {
	w := newWorld(t)
	if err := w.run(ModeData, known, false); err != nil {
		t.Fatal(err)
	}
	want := []string{"EAV.integrity", "Map.integrity", "Log.integrity",
		"EAV.data", "EAV.volume", "Map.data", "Map.volume", "Log.data", "Log.volume"}
	if !slices.Equal(w.calls, want) {
		t.Fatalf("stages ran as %q, want %q", w.calls, want)
	}
	w.calls = nil
	if err := w.run(ModeDelta, known, false); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Log.delta", "Log.volume", "Map.delta", "Map.volume"}; !slices.Equal(w.calls, want) {
		t.Fatalf("delta stages ran as %q, want %q", w.calls, want)
	}
	w.calls = nil
	if err := w.run(ModeSettings, known, false); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Settings.integrity", "Settings.data", "Settings.volume"}; !slices.Equal(w.calls, want) {
		t.Fatalf("settings stages ran as %q, want %q", w.calls, want)
	}
}

func TestIntegrityErrorsOfALaterStepStopBeforeAnyData(t *testing.T) {
	w := newWorld(t)
	w.steps["EAV"].problems = []transform.Problem{{Severity: transform.Warning, Table: "eav_attribute", Msg: "EAV warns"}}
	w.steps["Log"].problems = []transform.Problem{{Severity: transform.Error, Table: "log_visitor", Msg: "Log fails"}}
	err := w.run(ModeData, known, false)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "Log fails") || !strings.Contains(err.Error(), "pass --auto") {
		t.Fatalf("err = %v, want ErrIntegrity naming the problem and --auto", err)
	}
	if want := []string{"EAV.integrity", "Map.integrity", "Log.integrity"}; !slices.Equal(w.calls, want) {
		t.Fatalf("stages ran as %q, want only the integrity checks %q", w.calls, want)
	}
	// Every step's problems are reported, each as what it is.
	for _, want := range []string{`level=WARN msg="EAV warns" stage=integrity table=eav_attribute`, `level=ERROR msg="Log fails" stage=integrity table=log_visitor`} {
		if !strings.Contains(w.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, w.logs.String())
		}
	}
}

func TestAutoTurnsNonBlockingErrorsIntoWarnings(t *testing.T) {
	w := newWorld(t)
	w.steps["Log"].problems = []transform.Problem{{Severity: transform.Error, Table: "log_visitor", Msg: "Log fails"}}
	if err := w.run(ModeData, stock, true); err != nil {
		t.Fatalf("--auto: %v", err)
	}
	if !strings.Contains(w.logs.String(), `level=WARN msg="Log fails"`) {
		t.Fatalf("--auto did not report the error as a warning:\n%s", w.logs.String())
	}
	if !slices.Contains(w.calls, "Log.data") {
		t.Fatalf("--auto did not run the data stages: %q", w.calls)
	}

	// A blocking error stops --auto too.
	w = newWorld(t)
	w.steps["Map"].problems = []transform.Problem{{Severity: transform.Error, Table: "orders", Msg: "handler cannot run", Blocking: true}}
	w.steps["Log"].problems = []transform.Problem{{Severity: transform.Error, Table: "log_visitor", Msg: "Log fails"}}
	err := w.run(ModeData, stock, true)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "--auto does not go past these") || strings.Contains(err.Error(), "Log fails") {
		t.Fatalf("--auto with a blocking error: %v", err)
	}
	if slices.ContainsFunc(w.calls, func(c string) bool { return strings.HasSuffix(c, ".data") }) {
		t.Fatalf("a data stage ran despite a blocking error: %q", w.calls)
	}
}

func TestStageErrors(t *testing.T) {
	// A check that cannot run stops at once, as the step returned it.
	w := newWorld(t)
	lost := errors.New("connection lost")
	w.steps["EAV"].err["integrity"] = lost
	if err := w.run(ModeData, stock, true); err != lost {
		t.Fatalf("err = %v, want the step's own error", err)
	}
	if want := []string{"EAV.integrity"}; !slices.Equal(w.calls, want) {
		t.Fatalf("stages ran as %q, want %q", w.calls, want)
	}

	// Rows that failed: the mode goes on and ends with ErrPartial.
	w = newWorld(t)
	w.steps["EAV"].err["data"] = fmt.Errorf("%w: 2 rows", ErrPartial)
	w.steps["Map"].err["data"] = fmt.Errorf("%w: 3 rows", ErrPartial)
	err := w.run(ModeData, known, false)
	if !errors.Is(err, ErrPartial) || !strings.Contains(err.Error(), "2 rows") || !strings.Contains(err.Error(), "3 rows") {
		t.Fatalf("err = %v, want ErrPartial naming both steps' failures", err)
	}
	if !slices.Contains(w.calls, "Log.volume") {
		t.Fatalf("a partial step stopped the mode: %q", w.calls)
	}

	// A volume difference stops the mode before the next step.
	w = newWorld(t)
	differs := errors.New("volume differs")
	w.steps["EAV"].err["volume"] = differs
	if err := w.run(ModeData, known, false); !errors.Is(err, differs) {
		t.Fatalf("err = %v, want the volume error", err)
	}
	if slices.Contains(w.calls, "Map.data") {
		t.Fatalf("the next step ran after a failed volume check: %q", w.calls)
	}

	// A delta that fails stops delta mode.
	w = newWorld(t)
	w.steps["Log"].err["delta"] = lost
	if err := w.run(ModeDelta, known, false); err != lost {
		t.Fatalf("delta err = %v, want %v", err, lost)
	}
	if want := []string{"Log.delta"}; !slices.Equal(w.calls, want) {
		t.Fatalf("delta stages ran as %q, want %q", w.calls, want)
	}
}

func TestDeltaStopsCleanlyWhenTheContextEnds(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The first step streams until stopped.
	w.steps["Log"].delta = func(ctx context.Context) error { cancel(); <-ctx.Done(); return nil }
	steps, _ := w.reg.Select(ModeDelta, known, w.log)
	if err := Run(ctx, ModeDelta, steps, &Env{Log: w.log}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Log.delta"}; !slices.Equal(w.calls, want) {
		t.Fatalf("delta stages ran as %q, want %q", w.calls, want)
	}
}

// TestUnknownStepIsAnIntegrityError: a step config.xml lists that shiplog
// does not have stops the mode before any data stage, named with what is
// lost; --auto runs the mode without it, warned.
func TestUnknownStepIsAnIntegrityError(t *testing.T) {
	w := newWorld(t)
	steps, unknown := w.reg.Select(ModeSettings, stock, w.log)
	if got := names(steps); !slices.Equal(got, []string{"Settings"}) {
		t.Fatalf("settings steps = %q, want [Settings]", got)
	}
	if len(unknown) != 1 || unknown[0].Severity != transform.Error || unknown[0].Blocking ||
		!strings.Contains(unknown[0].Msg, `"Stores Step"`) || !strings.Contains(unknown[0].Msg, "stores, store groups and websites are not migrated") ||
		!strings.Contains(unknown[0].Msg, `<steps mode="settings">`) {
		t.Fatalf("unknown steps of settings mode = %+v, want one error naming Stores Step, what is lost and the remedy", unknown)
	}
	// Steps of the other modes are not this mode's business.
	if strings.Contains(unknown[0].Msg, "Url Rewrite") {
		t.Fatalf("a data-mode step is a problem of settings mode: %+v", unknown)
	}
	err := w.run(ModeSettings, stock, false)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "Stores Step") || !strings.Contains(err.Error(), "pass --auto") {
		t.Fatalf("settings mode with an unknown step: %v, want ErrIntegrity naming it", err)
	}
	if want := []string{"Settings.integrity"}; !slices.Equal(w.calls, want) {
		t.Fatalf("stages ran as %q, want only %q", w.calls, want)
	}
	w.calls = nil
	if err := w.run(ModeSettings, stock, true); err != nil {
		t.Fatalf("--auto: %v", err)
	}
	if !slices.Contains(w.calls, "Settings.data") || !strings.Contains(w.logs.String(), `level=WARN msg="config.xml lists the Magento step \"Stores Step\"`) {
		t.Fatalf("--auto: stages %q; the unknown step must be warned about:\n%s", w.calls, w.logs.String())
	}
	// Delta mode: reported before the first Delta.
	w = newWorld(t)
	listed := append(slices.Clone(known), config.Step{Mode: "delta", Title: "OrderGrids Step", Classes: []string{`Migration\Step\OrderGrids\Delta`}})
	if err := w.run(ModeDelta, listed, false); !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "OrderGrids Step") || len(w.calls) > 0 {
		t.Fatalf("delta mode with an unknown step: %v (stages %q), want ErrIntegrity before any delta", err, w.calls)
	}
	if err := w.run(ModeDelta, listed, true); err != nil || !slices.Contains(w.calls, "Map.delta") {
		t.Fatalf("delta mode with --auto recorded: %v (stages %q)", err, w.calls)
	}
}

func TestDefaultStepsWithoutConfigXML(t *testing.T) {
	w := newWorld(t)
	for mode, want := range map[Mode][]string{ModeSettings: {"Settings"}, ModeData: {"Map"}, ModeDelta: {"Map"}} {
		if got := names(w.reg.Select(mode, nil, w.log)); !slices.Equal(got, want) {
			t.Errorf("mode %s runs %q, want %q", mode, got, want)
		}
	}
	// A config.xml that lists no step for a mode is the same.
	dataOnly := []config.Step{{Mode: "data", Title: "Map Step"}}
	if got := names(w.reg.Select(ModeDelta, dataOnly, w.log)); !slices.Equal(got, []string{"Map"}) {
		t.Errorf("delta mode without listed steps runs %q, want [Map]", got)
	}
	if w.logs.Len() > 0 {
		t.Errorf("default steps were warned about:\n%s", w.logs.String())
	}
}

func TestConfigXMLOrderIsHonoured(t *testing.T) {
	w := newWorld(t)
	listed := []config.Step{
		{Mode: "data", Title: "Log Step"},
		{Mode: "delta", Title: "EAV Step"},
		// Renamed, but its classes say what it is.
		{Mode: "data", Title: "My map", Classes: []string{`Migration\Step\Map\Integrity`, `Migration\Step\Map\Data`}},
		{Mode: "data", Title: "eav step"},
		// Listed again: runs once, where first listed.
		{Mode: "data", Title: "Another map", Classes: []string{`Migration\Step\Map\Data`}},
	}
	steps, _ := w.reg.Select(ModeData, listed, w.log)
	if got := names(steps); !slices.Equal(got, []string{"Log", "Map", "EAV"}) {
		t.Fatalf("data steps = %q, want [Log Map EAV]", got)
	}
	if steps[1].Title != "My map" {
		t.Errorf("the Map step's title = %q, want the one config.xml gives", steps[1].Title)
	}
	if !strings.Contains(w.logs.String(), `Magento step \"Another map\" (mode data) is the Map step again; it runs once`) {
		t.Errorf("the repeated step was not logged:\n%s", w.logs.String())
	}
	// Classes of two steps in one: not a step shiplog has.
	mixed := config.Step{Mode: "data", Title: "Mixed", Classes: []string{`Migration\Step\Map\Data`, `Migration\Step\Eav\Data`}}
	if d, ok := w.reg.Lookup(mixed); ok {
		t.Errorf("a step mixing Map and EAV classes is %s", d.Name)
	}
	// A mode's default step left out of config.xml still runs, last, said.
	w.logs.Reset()
	if got := names(w.reg.Select(ModeDelta, listed, w.log)); !slices.Equal(got, []string{"EAV", "Map"}) {
		t.Fatalf("delta steps = %q, want [EAV Map]", got)
	}
	if !strings.Contains(w.logs.String(), "config.xml lists no Map Step for mode delta; shiplog runs it anyway") {
		t.Errorf("the added default step was not warned about:\n%s", w.logs.String())
	}
}

func TestRegisterRefusesDuplicates(t *testing.T) {
	var reg Registry
	newStep := func() Step { return &fake{} }
	if err := reg.Register(Def{Name: "Map", Title: "Map Step", Class: `Migration\Step\Map`, New: newStep}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []Def{
		{Name: "map", New: newStep},
		{Name: "Other", Title: "MAP STEP", New: newStep},
		{Name: "Other", Class: `Migration\Step\Map`, New: newStep},
		{Name: "NoConstructor"},
	} {
		if err := reg.Register(d); err == nil {
			t.Errorf("Register(%+v) succeeded", d)
		}
	}
}

// TestEveryStockStepSaysWhatIsLost: each step of the reference's stock
// config.xml for 1.9.4.5 that shiplog does not run is warned about saying
// what the migration lacks without it.
func TestEveryStockStepSaysWhatIsLost(t *testing.T) {
	var dist string
	for _, d := range []string{"../../shared/fixtures/magento", "/work/shared/fixtures/magento"} {
		if p := d + "/dmt/etc/opensource-to-opensource/1.9.4.5/config.xml.dist"; fileExists(p) {
			dist = p
			break
		}
	}
	if dist == "" {
		t.Fatal("the Magento fixtures (../shared/fixtures/magento) are missing")
	}
	cfg, err := config.Load(dist)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Steps) < 20 {
		t.Fatalf("the stock config lists %d steps, want the reference's 20", len(cfg.Steps))
	}
	w := newWorld(t)
	skipped := 0
	for _, mode := range []Mode{ModeSettings, ModeData, ModeDelta} {
		_, unknown := w.reg.Select(mode, cfg.Steps, w.log)
		for _, p := range unknown {
			skipped++
			if !strings.Contains(p.Msg, "without it ") || !strings.Contains(p.Msg, "not") {
				t.Errorf("an unknown step does not say what is lost: %s", p.Msg)
			}
		}
	}
	if skipped == 0 {
		t.Fatalf("no step was skipped:\n%s", w.logs.String())
	}
	for _, s := range cfg.Steps {
		if s.Title == "EAV Step" && !strings.Contains(stepLoss(s), "keep Magento 1 attribute_ids") {
			t.Errorf("the EAV step's warning does not say the copied values keep Magento 1 attribute_ids: %q", stepLoss(s))
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestStagesLogWithTheStepTitle: what a stage logs names its step, and the
// data stage of each step is announced with its place in the mode.
func TestStagesLogWithTheStepTitle(t *testing.T) {
	w := newWorld(t)
	if err := w.run(ModeData, known, false); err != nil {
		t.Fatal(err)
	}
	logs := w.logs.String()
	for _, want := range []string{
		`msg="fake data stage" step="EAV Step"`,
		`msg="fake data stage" step="Map Step"`,
		`msg="step 1 of 3: EAV Step"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// starter is a fake step that also has a DeltaStart.
type starter struct{ *fake }

func (s starter) DeltaStart(context.Context, *Env) error { return s.record("deltastart") }

// TestDeltaStartRunsBeforeAStreamingStep: a step listed after one whose
// Delta streams until stopped still gets its DeltaStart, before the first
// Delta; its error stops the mode before any Delta.
func TestDeltaStartRunsBeforeAStreamingStep(t *testing.T) {
	for _, failStart := range []bool{false, true} {
		var calls []string
		ctx, cancel := context.WithCancel(context.Background())
		m := &fake{name: "Map", calls: &calls, err: map[string]error{},
			delta: func(ctx context.Context) error { cancel(); <-ctx.Done(); return nil }}
		l := &fake{name: "Log", calls: &calls, err: map[string]error{}}
		if failStart {
			l.err["deltastart"] = errors.New("boom")
		}
		steps := []Planned{{Title: "Map Step", Step: m}, {Title: "Log Step", Step: starter{l}}}
		err := Run(ctx, ModeDelta, steps, &Env{Log: slog.New(slog.DiscardHandler)})
		want := []string{"Log.deltastart", "Map.delta"}
		if failStart {
			want = want[:1]
			if err == nil || err.Error() != "boom" {
				t.Fatalf("DeltaStart failed: Run returned %v, want boom", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(calls, want) {
			t.Fatalf("failStart=%v: delta stages ran as %q, want %q", failStart, calls, want)
		}
		cancel()
	}
}
