package pipeline

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/step"
)

// TestModeStepsOfAMagentoConfig: shiplog's registry has the Settings, EAV and Map
// steps of a config.xml modelled on the reference's config.xml.dist (one of
// them renamed) and skips the others, each mode warning about its own.
func TestModeStepsOfAMagentoConfig(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "config", "testdata", "magento-full.xml"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Runtime{cfg: cfg}
	for _, tc := range []struct {
		mode  step.Mode
		want  []string
		warns []string
	}{
		{step.ModeSettings, []string{"Settings", "Stores"}, nil},
		{step.ModeData, []string{"EAV", "Map"}, nil},
		{step.ModeDelta, []string{"Map"}, nil},
	} {
		var logs bytes.Buffer
		steps, err := r.modeSteps(tc.mode, slog.New(slog.NewTextHandler(&logs, nil)), &modeRun{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range steps {
			got = append(got, p.Def.Name)
			switch p.Step.(type) {
			case *settingsStep, *mapStep, *storesStep, *eavStep:
			default:
				t.Errorf("mode %s: step %s is a %T", tc.mode, p.Def.Name, p.Step)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("mode %s runs %q, want %q", tc.mode, got, tc.want)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != len(tc.warns) {
			t.Errorf("mode %s: %d warnings, want %d:\n%s", tc.mode, n, len(tc.warns), logs.String())
		}
		for _, w := range tc.warns {
			if !strings.Contains(logs.String(), w) {
				t.Errorf("mode %s: log lacks %s:\n%s", tc.mode, w, logs.String())
			}
		}
	}
}
