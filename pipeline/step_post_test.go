package pipeline

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/step"
)

// TestPostDocuments: the leftover group of eav_document_groups_file. As the
// reference's Model\EavLeftoverData, documents_leftover_values_ee counts
// unless edition_migrate is opensource-to-opensource; without the option
// the reference's opensource defaults hold; an unreadable file is an error
// naming the option.
func TestPostDocuments(t *testing.T) {
	dir := t.TempDir()
	groups := filepath.Join(dir, "groups.xml")
	if err := os.WriteFile(groups, []byte(`<groups>
  <group name="documents"><document>eav_attribute</document></group>
  <group name="documents_leftover_values"><document>Catalog_Product_Entity_Int</document><document>weee_tax</document></group>
  <group name="documents_leftover_values_ee"><document>magento_rma_item_eav_attribute</document></group>
  <group name="documents_attribute_set_leftover_values"><document>catalog_product_entity_int</document></group>
</groups>`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		options  map[string]string
		leftover []string
		err      string
	}{
		{name: "no file", options: map[string]string{}, leftover: postDefaultLeftover},
		{name: "no config"},
		{name: "opensource", options: map[string]string{"eav_document_groups_file": groups, "edition_migrate": "opensource-to-opensource"},
			leftover: []string{"catalog_product_entity_int", "weee_tax"}},
		{name: "commerce", options: map[string]string{"eav_document_groups_file": groups, "edition_migrate": "opensource-to-commerce"},
			leftover: []string{"catalog_product_entity_int", "weee_tax", "magento_rma_item_eav_attribute"}},
		{name: "edition unset", options: map[string]string{"eav_document_groups_file": groups},
			leftover: []string{"catalog_product_entity_int", "weee_tax", "magento_rma_item_eav_attribute"}},
		{name: "missing file", options: map[string]string{"eav_document_groups_file": filepath.Join(dir, "none.xml")}, err: "options/eav_document_groups_file"},
	} {
		env := &step.Env{}
		if c.options != nil {
			env.Config = &config.Config{Path: filepath.Join(dir, "config.xml")}
			env.Config.Options.Magento = c.options
		}
		leftover, err := postDocuments(env)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one naming %s", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.options == nil {
			c.leftover = postDefaultLeftover
		}
		if !slices.Equal(leftover, c.leftover) {
			t.Errorf("%s: leftover %v, want %v", c.name, leftover, c.leftover)
		}
	}
}

// TestPostProcessingStepIsSupported: config.xml's "PostProcessing Step"
// (the reference's title and class) is this step; it is not a default
// step.
func TestPostProcessingStepIsSupported(t *testing.T) {
	r := &Runtime{cfg: &config.Config{}}
	r.cfg.Steps = []config.Step{
		{Mode: "data", Title: "Map Step", Classes: []string{`Migration\Step\Map\Integrity`}},
		{Mode: "data", Title: "PostProcessing Step", Classes: []string{`Migration\Step\PostProcessing\Data`}},
	}
	var logs bytes.Buffer
	steps, err := r.modeSteps(step.ModeData, slog.New(slog.NewTextHandler(&logs, nil)), &modeRun{})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[1].Def.Name != "PostProcessing" {
		t.Fatalf("steps %+v", steps)
	}
	if _, ok := steps[1].Step.(*postStep); !ok {
		t.Errorf("step is a %T", steps[1].Step)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warned:\n%s", logs.String())
	}
	r.cfg.Steps = nil
	steps, err = r.modeSteps(step.ModeData, slog.New(slog.DiscardHandler), &modeRun{})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].Def.Name != "Map" {
		t.Errorf("default data steps: %+v", steps)
	}
}

// TestPostProcessingNeedsTheRows: with sink: kafka the destination holds
// shiplog's state alone, so the step has nothing to clean and says so as a
// blocking problem; with sink: mysql it has none.
func TestPostProcessingNeedsTheRows(t *testing.T) {
	withEAV := &config.Config{Steps: []config.Step{{Mode: "data", Title: "EAV Step"}, {Mode: "data", Title: "PostProcessing Step"}}}
	for _, c := range []struct {
		dest    destination
		cfg     *config.Config
		problem string
	}{
		{dest: stateOnly{}, cfg: withEAV, problem: "the PostProcessing step cleans Magento 2's tables itself and cannot run here: with sink: kafka"},
		{dest: mappedRows{}, cfg: withEAV},
		// Without the EAV step the Map step copies Magento 1 attribute_ids
		// the stream would write again after the cleanup.
		{dest: mappedRows{}, cfg: &config.Config{Steps: []config.Step{{Mode: "data", Title: "PostProcessing Step"}}},
			problem: "without the EAV Step in data mode"},
	} {
		s := &postStep{r: &Runtime{dest: c.dest, cfg: c.cfg}}
		problems, err := s.Integrity(t.Context(), &step.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if c.problem == "" {
			if len(problems) != 0 || len(s.leftover) != len(postDefaultLeftover) {
				t.Errorf("%T: problems %v, %d leftover tables", c.dest, problems, len(s.leftover))
			}
			continue
		}
		if len(problems) != 1 || !problems[0].Blocking || !strings.Contains(problems[0].Msg, c.problem) {
			t.Errorf("%T: problems %+v, want one blocking: %s", c.dest, problems, c.problem)
		}
	}
}
