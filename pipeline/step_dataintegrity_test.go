package pipeline

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/step"
)

// TestOrphanMessage: the reference's wording (Migration\Step\DataIntegrity\
// Integrity::buildLogMessage; its integration test
// tests/integration/testsuite/Migration/Step/DataIntegrity/IntegrityTest.php
// expects "Foreign key (FK_EAV_ATTR_SET_ENTT_TYPE_ID_EAV_ENTT_TYPE_ENTT_TYPE_ID)
// constraint fails on source database. Orphan records id: 2,3 from
// `eav_attribute_set`.`entity_type_id` has no referenced records in
// `eav_entity_type`"), with shiplog's row count and remedy after it; keys of
// several columns, many orphans and a parent in another database.
func TestOrphanMessage(t *testing.T) {
	const ref = "Foreign key (FK_EAV_ATTR_SET_ENTT_TYPE_ID_EAV_ENTT_TYPE_ENTT_TYPE_ID) constraint fails on source database. " +
		"Orphan records id: 2,3 from `eav_attribute_set`.`entity_type_id` has no referenced records in `eav_entity_type`"
	set := &cascade.ForeignKey{Name: "FK_EAV_ATTR_SET_ENTT_TYPE_ID_EAV_ENTT_TYPE_ENTT_TYPE_ID", Child: "eav_attribute_set", Parent: "eav_entity_type",
		ChildCols: []string{"entity_type_id"}, ParentCols: []string{"entity_type_id"}}
	pair := &cascade.ForeignKey{Name: "fk_pair", Child: "kid", Parent: "mum", ChildCols: []string{"a", "b"}, ParentCols: []string{"x", "y"}}
	other := &cascade.ForeignKey{Name: "fk_far", Child: "kid", Parent: "mum", ParentSchema: "elsewhere", ChildCols: []string{"m"}, ParentCols: []string{"id"}}
	for _, tc := range []struct {
		name string
		fk   *cascade.ForeignKey
		o    orphans
		want string
	}{
		{"reference", set, orphans{rows: 2, keys: 2, samples: []string{"2", "3"}},
			ref + " (2 row(s); delete them or restore their parent rows in the source)"},
		{"rows share a key", set, orphans{rows: 7, keys: 1, samples: []string{"9"}},
			"Orphan records id: 9 from `eav_attribute_set`.`entity_type_id` has no referenced records in `eav_entity_type` (7 row(s);"},
		{"more keys than samples", set, orphans{rows: 40, keys: 12, samples: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
			"Orphan records id: 1,2,3,4,5,6,7,8,9,10 and 2 more from `eav_attribute_set`.`entity_type_id`"},
		{"two columns", pair, orphans{rows: 3, keys: 2, samples: []string{"1,2", "5,"}},
			"Foreign key (fk_pair) constraint fails on source database. Orphan records id: (1,2),(5,) from `kid`.(`a`,`b`) has no referenced records in `mum` (3 row(s);"},
		{"parent in another database", other, orphans{rows: 1, keys: 1, samples: []string{"4"}},
			"from `kid`.`m` has no referenced records in `elsewhere`.`mum` (1 row(s);"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := orphanMessage(tc.fk, tc.o); !strings.Contains(got, tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestOrphanQuery: one query per key, joining on every column pair, leaving
// out keys with a NULL column, quoting names (backticks doubled).
func TestOrphanQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		fk   cascade.ForeignKey
		want string
	}{
		{"one column", cascade.ForeignKey{Child: "sales_flat_order_item", Parent: "sales_flat_order", ChildCols: []string{"order_id"}, ParentCols: []string{"entity_id"}},
			"SELECT c.`order_id`, COUNT(*) FROM `m1`.`sales_flat_order_item` AS c LEFT JOIN `sales_flat_order` AS p ON p.`entity_id` = c.`order_id` " +
				"WHERE c.`order_id` IS NOT NULL AND p.`entity_id` IS NULL GROUP BY c.`order_id`"},
		{"two columns", cascade.ForeignKey{Child: "kid", Parent: "mum", ChildCols: []string{"a", "b"}, ParentCols: []string{"x", "y"}},
			"SELECT c.`a`, c.`b`, COUNT(*) FROM `m1`.`kid` AS c LEFT JOIN `mum` AS p ON p.`x` = c.`a` AND p.`y` = c.`b` " +
				"WHERE c.`a` IS NOT NULL AND c.`b` IS NOT NULL AND p.`x` IS NULL GROUP BY c.`a`, c.`b`"},
		{"odd names, parent elsewhere", cascade.ForeignKey{Child: "k`id", Parent: "mum", ParentSchema: "other", ChildCols: []string{"a`b"}, ParentCols: []string{"id"}},
			"SELECT c.`a``b`, COUNT(*) FROM `m1`.`k``id` AS c LEFT JOIN `other`.`mum` AS p ON p.`id` = c.`a``b` " +
				"WHERE c.`a``b` IS NOT NULL AND p.`id` IS NULL GROUP BY c.`a``b`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := orphanQuery("m1", &tc.fk); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestDataIntegrityStepIsSupported: config.xml's Data Integrity step (by
// title, or renamed but with the reference's class) is shiplog's, runs in
// data mode only where listed, and is no longer warned about as skipped.
func TestDataIntegrityStepIsSupported(t *testing.T) {
	r := &Runtime{cfg: &config.Config{}}
	for _, s := range []config.Step{
		{Mode: "data", Title: "Data Integrity Step", Classes: []string{`Migration\Step\DataIntegrity\Integrity`}},
		{Mode: "data", Title: "Orphans", Classes: []string{`Migration\Step\DataIntegrity\Integrity`}},
	} {
		r.cfg.Steps = []config.Step{s, {Mode: "data", Title: "Map Step", Classes: []string{`Migration\Step\Map\Integrity`}}}
		var logs bytes.Buffer
		steps, err := r.modeSteps(step.ModeData, slog.New(slog.NewTextHandler(&logs, nil)), &modeRun{})
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) != 2 || steps[0].Def.Name != "DataIntegrity" || steps[1].Def.Name != "Map" {
			t.Fatalf("%q: steps %+v", s.Title, steps)
		}
		if _, ok := steps[0].Step.(*dataIntegrityStep); !ok {
			t.Errorf("%q: step is a %T", s.Title, steps[0].Step)
		}
		if strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("%q: warned:\n%s", s.Title, logs.String())
		}
	}
	// Not a default step: without config.xml, data mode runs the Map step
	// alone, as before.
	r.cfg.Steps = nil
	steps, err := r.modeSteps(step.ModeData, slog.New(slog.DiscardHandler), &modeRun{})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].Def.Name != "Map" {
		t.Errorf("default data steps: %+v", steps)
	}
}
