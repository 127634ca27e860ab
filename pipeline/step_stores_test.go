package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// stockStoresMap is the reference's map-stores.xml.dist from the shared
// fixtures (beside the checkout, as CI lays them out).
func stockStoresMap(t *testing.T) string {
	t.Helper()
	for _, d := range []string{filepath.Join("..", "..", "shared"), "/work/shared"} {
		p := filepath.Join(d, "fixtures", "magento", "dmt", "etc", "opensource-to-opensource", "map-stores.xml.dist")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("the Magento fixtures (../shared/fixtures/magento) are missing")
	return ""
}

func storesCol(name, typ string) cdc.Column {
	return cdc.Column{Name: name, DataType: typ, ColumnType: typ, Nullable: true}
}

func storesTable(name string, cols ...string) *cdc.Table {
	t := &cdc.Table{Schema: "s", Name: name, Key: []int{0}}
	for _, c := range cols {
		n, typ, _ := strings.Cut(c, " ")
		t.Columns = append(t.Columns, storesCol(n, typ))
	}
	return t
}

// The Magento 1 and Magento 2 store tables (the columns of the reference's
// resource/stores databases; Magento 2's store_group with its code).
func storesSchemas() (src, dst []*cdc.Table) {
	src = []*cdc.Table{
		storesTable("core_store", "store_id smallint", "code varchar", "website_id smallint", "group_id smallint", "name varchar", "sort_order smallint", "is_active smallint"),
		storesTable("core_store_group", "group_id smallint", "website_id smallint", "name varchar", "root_category_id int", "default_store_id smallint"),
		storesTable("core_website", "website_id smallint", "code varchar", "name varchar", "sort_order smallint", "default_group_id smallint", "is_default smallint",
			"is_staging tinyint", "master_login varchar", "master_password varchar", "visibility varchar"),
	}
	dst = []*cdc.Table{
		storesTable("store", "store_id smallint", "code varchar", "website_id smallint", "group_id smallint", "name varchar", "sort_order smallint", "is_active smallint"),
		storesTable("store_group", "group_id smallint", "website_id smallint", "name varchar", "root_category_id int", "default_store_id smallint", "code varchar"),
		storesTable("store_website", "website_id smallint", "code varchar", "name varchar", "sort_order smallint", "default_group_id smallint", "is_default smallint"),
	}
	return src, dst
}

// TestStoresPlans: the stock map-stores.xml.dist compiles over the store
// tables into the three plans the step copies (core_website's staging fields
// left out, store_group.code made by StoreGroupCode from the source group's
// name), and maps that do not copy a document where the Stores step does
// are errors that leave no plan.
func TestStoresPlans(t *testing.T) {
	groups := transform.NewLookupRows([]string{"group_id", "website_id", "name", "root_category_id", "default_store_id"},
		[][]any{{int64(0), int64(0), "Default", int64(0), int64(0)}, {int64(1), int64(1), "First Main Store", int64(2), int64(1)}, {int64(2), int64(1), "", int64(2), int64(1)}})
	env := &transform.HandlerEnv{Lookups: transform.NewLookups(func(side, table string) (*transform.LookupRows, error) {
		if side == transform.SideSource && table == "core_store_group" {
			return groups, nil
		}
		return nil, fmt.Errorf("no table %s %s", side, table)
	})}
	stock := stockStoresMap(t)
	custom := func(body string) string {
		p := filepath.Join(t.TempDir(), "map-stores.xml")
		text := `<?xml version="1.0"?><map><source><document_rules>` + body + `</document_rules></source><destination></destination></map>`
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rename := func(from, to string) string {
		return "<rename><document>" + from + "</document><to>" + to + "</to></rename>"
	}
	for _, tc := range []struct {
		name  string
		file  string
		plans bool
		// errs are substrings of the error problems, in any order.
		errs []string
	}{
		{name: "stock map", file: stock, plans: true},
		{name: "no renames", file: custom(""), errs: []string{
			"Source documents are not mapped: core_store,core_store_group,core_website",
			"source document core_store has no plan, so store cannot be migrated",
			"source document core_website has no plan, so store_website cannot be migrated",
		}},
		{name: "documents swapped", file: custom(rename("core_store", "store_website") + rename("core_store_group", "store_group") + rename("core_website", "store")), errs: []string{
			// core_store's key is not copied to store_website: no plan.
			"source document core_store has no plan, so store cannot be migrated",
			"maps source document core_website to store; the Stores step migrates it to store_website",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := transform.ReadMap(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			rules.Env = env
			src, dst := storesSchemas()
			plan, problems := transform.Compile(rules, src, dst)
			plans, more := storesPlans(plan, tc.file, "", "")
			var errs []string
			for _, p := range append(problems, more...) {
				if p.Severity == transform.Error {
					errs = append(errs, p.Msg)
				}
			}
			all := strings.Join(errs, "\n")
			for _, w := range tc.errs {
				if !strings.Contains(all, w) {
					t.Errorf("no error %q in:\n%s", w, all)
				}
			}
			if len(tc.errs) == 0 && len(errs) > 0 {
				t.Errorf("errors: %s", all)
			}
			if (plans != nil) != tc.plans {
				t.Fatalf("plans: %v, want %v", plans != nil, tc.plans)
			}
			if !tc.plans {
				return
			}
			for i, d := range storesDocuments {
				if plans[i].Source.Name != d[0] || plans[i].Dest.Name != d[1] {
					t.Errorf("plan %d: %s -> %s, want %s -> %s", i, plans[i].Source.Name, plans[i].Dest.Name, d[0], d[1])
				}
			}
			// Rows from the reference's resource/stores/source.sql, and a
			// group whose name leaves no code.
			for _, rc := range []struct {
				plan int
				src  []any
				want map[string]any
			}{
				{0, []any{int64(1), "default", int64(1), int64(1), "English", int64(0), int64(1)},
					map[string]any{"store_id": int64(1), "code": "default", "name": "English", "is_active": int64(1)}},
				{1, []any{int64(1), int64(1), "First Main Store", int64(2), int64(1)},
					map[string]any{"group_id": int64(1), "name": "First Main Store", "code": "first_main_store", "root_category_id": int64(2)}},
				{1, []any{int64(0), int64(0), "Default", int64(0), int64(0)}, map[string]any{"code": "default"}},
				{1, []any{int64(2), int64(1), "", int64(2), int64(1)}, map[string]any{"code": "store_group"}},
				{2, []any{int64(1), "base", "Main Website", int64(0), int64(1), int64(1), int64(0), "", "", ""},
					map[string]any{"website_id": int64(1), "code": "base", "is_default": int64(1)}},
			} {
				tp := plans[rc.plan]
				out, err := tp.Row(rc.src)
				if err != nil {
					t.Fatalf("%s row %v: %v", tp.Source.Name, rc.src, err)
				}
				if len(out) != len(tp.Dest.Columns) {
					t.Errorf("%s: %d values for %d columns", tp.Dest.Name, len(out), len(tp.Dest.Columns))
				}
				for c, v := range rc.want {
					i := tp.Dest.ColumnIndex(c)
					if i < 0 {
						t.Errorf("%s has no column %s in the plan", tp.Dest.Name, c)
						continue
					}
					if fmt.Sprint(out[i]) != fmt.Sprint(v) {
						t.Errorf("%s.%s = %v, want %v", tp.Dest.Name, c, out[i], v)
					}
				}
				for _, c := range []string{"is_staging", "master_login", "master_password", "visibility"} {
					if tp.Dest.ColumnIndex(c) >= 0 {
						t.Errorf("%s gets %s, which the map ignores", tp.Dest.Name, c)
					}
				}
			}
		})
	}
}

// TestStoresDeltaSaysItDoesNotStream: listed in delta mode, the Stores step
// returns at once (the mode goes on with the next step) and warns that
// stores are not streamed.
func TestStoresDeltaSaysItDoesNotStream(t *testing.T) {
	var logs bytes.Buffer
	env := &step.Env{Mode: step.ModeDelta, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	s := &storesStep{}
	if err := s.Delta(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if err := s.Volume(context.Background(), env); err != nil {
		t.Fatalf("volume in delta mode, with no plan: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "not streamed") {
		t.Errorf("no warning that stores are not streamed:\n%s", logs.String())
	}
}
