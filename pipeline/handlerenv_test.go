package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/transform"
)

// TestLookupLoaderErrors: every error of the tables handlers read names the
// side, the table (with its prefix) and the database, and says what to do.
func TestLookupLoaderErrors(t *testing.T) {
	// A closed pool fails every query at once, without a server.
	closed, err := sql.Open("mysql", "u:p@tcp(127.0.0.1:1)/x")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	eav := &cdc.Table{Schema: "magento1", Name: "m1_eav_attribute", Columns: []cdc.Column{
		{Name: "attribute_id", DataType: "smallint"}, {Name: "entity_type_id", DataType: "smallint"}, {Name: "attribute_code", DataType: "varchar", Charset: "utf8"}}}
	tables := func(ctx context.Context, db *sql.DB, schema, skip string) ([]*cdc.Table, error) {
		if schema == "gone" {
			return nil, errors.New("Unknown database 'gone'")
		}
		return []*cdc.Table{eav}, nil
	}
	reader := func(srcSchema string) *lookupReader {
		return &lookupReader{sides: map[string]lookupSide{
			transform.SideSource:      {db: closed, schema: srcSchema, prefix: "m1_", prefixKey: "source_prefix"},
			transform.SideDestination: {db: closed, schema: "magento2", prefixKey: "dest_prefix"},
		}, timeout: time.Second, describe: tables}
	}
	tests := []struct {
		name, schema, side, table string
		want                      []string
	}{
		{"missing source table", "magento1", transform.SideSource, "core_store",
			[]string{"source table core_store does not exist in database magento1", `source_prefix "m1_": m1_core_store`, "check that the source database and source_prefix"}},
		{"missing destination table", "magento1", transform.SideDestination, "eav_attribute",
			[]string{"destination table eav_attribute does not exist in database magento2: a handler of the map reads it", "dest_prefix"}},
		{"schema unreadable", "gone", transform.SideSource, "eav_attribute",
			[]string{"read the tables of source database gone", "Unknown database 'gone'"}},
		{"rows unreadable", "magento1", transform.SideSource, "EAV_attribute",
			[]string{"read source table magento1.m1_eav_attribute", "database is closed", "timeouts.read, 1s"}},
		{"unknown side", "magento1", "both", "eav_attribute", []string{`unknown side "both"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reader(tc.schema).load(tc.side, tc.table)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// Through Lookups, as handlers see it: the side and table lead.
	_, err = transform.NewLookups(reader("magento1").load).Table(transform.SideSource, "core_store").Rows()
	if err == nil || !strings.HasPrefix(err.Error(), "look up source table core_store: source table core_store does not exist") {
		t.Errorf("Rows error %v: want it to name the side and the table", err)
	}
}

// TestHandlerEnvOptions: handlers see the configuration's options as
// written, with m2_env_php's key as m2_crypt_key; a bad env.php stops the
// runtime from opening, naming the file, never its content; the recorded
// errors lose every key.
func TestHandlerEnvOptions(t *testing.T) {
	dir := t.TempDir()
	envPHP := filepath.Join(dir, "env.php")
	if err := os.WriteFile(envPHP, []byte("<?php\nreturn [\n  'crypt' => [\n    'key' => 'oldm2key0001\nnewm2key0002'\n  ],\n];\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Options: config.Options{M2EnvPHP: envPHP,
		Magento: map[string]string{"crypt_key": "m1cryptkey", "edition_number": "1.9.4.5", "m2_env_php": envPHP}}}
	env, err := newHandlerEnv(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"crypt_key": "m1cryptkey", "edition_number": "1.9.4.5", "m2_crypt_key": "oldm2key0001\nnewm2key0002", "nope": ""} {
		if got := env.Option(name); got != want {
			t.Errorf("Option(%s) = %q, want %q", name, got, want)
		}
	}
	if _, ok := cfg.Options.Magento["m2_crypt_key"]; ok {
		t.Error("the configuration's options were changed")
	}
	if _, err := env.NeedLookups("h"); err != nil {
		t.Errorf("NeedLookups: %v", err)
	}
	r := &Runtime{cfg: cfg, env: env}
	got := r.redactSecrets("failed: m1cryptkey; newm2key0002 and oldm2key0001\nnewm2key0002")
	if want := "failed: ***; *** and ***"; got != want {
		t.Errorf("redactSecrets = %q, want %q", got, want)
	}

	if err := os.WriteFile(envPHP, []byte("<?php return ['crypt' => ['key' => 'leak"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = newHandlerEnv(cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), envPHP) || strings.Contains(err.Error(), "leak") {
		t.Errorf("broken env.php: error %v, want one naming the file without its content", err)
	}
}

// TestLookupRefresh: the stream's changes drop the rows kept of the tables
// handlers read, named without the side's prefix (in any case), and only
// those; a destination table only once its batch is written.
func TestLookupRefresh(t *testing.T) {
	reads := map[transform.LookupRef]int{}
	l := transform.NewLookups(func(side, table string) (*transform.LookupRows, error) {
		reads[transform.LookupRef{Side: side, Table: table}]++
		return transform.NewLookupRows([]string{"id"}, nil), nil
	})
	srcStore := l.Table(transform.SideSource, "core_store")
	dstStore := l.Table(transform.SideDestination, "store")
	f := lookupRefresh{l: l, srcPrefix: "m1_", dstPrefix: "m2_"}
	tbl := func(name string) *cdc.Table { return &cdc.Table{Name: name} }
	readAll := func() {
		t.Helper()
		for _, lt := range []*transform.LookupTable{srcStore, dstStore} {
			if _, err := lt.Rows(); err != nil {
				t.Fatal(err)
			}
		}
	}
	readAll()
	steps := []struct {
		name     string
		do       func()
		src, dst int // reads after the step
	}{
		{"another table", func() { f.SourceChanged([]cdc.Change{{Table: tbl("m1_sales_flat_order")}}) }, 1, 1},
		{"unprefixed name", func() { f.SourceChanged([]cdc.Change{{Table: tbl("core_store")}}) }, 1, 1},
		{"source change", func() {
			f.SourceChanged([]cdc.Change{{Table: tbl("m1_sales_flat_order")}, {Table: tbl("M1_Core_Store")}, {Table: tbl("M1_Core_Store")}})
		}, 2, 1},
		{"a source name on the destination side", func() { f.Written([]cdc.Change{{Table: tbl("m2_core_store")}}) }, 2, 1},
		{"destination written", func() { f.Written([]cdc.Change{{Table: tbl("m2_store")}}) }, 2, 2},
		{"all destination tables", f.WrittenAll, 2, 3},
	}
	for _, s := range steps {
		s.do()
		readAll()
		if got := reads[transform.LookupRef{Side: transform.SideSource, Table: "core_store"}]; got != s.src {
			t.Errorf("%s: source core_store read %d times, want %d", s.name, got, s.src)
		}
		if got := reads[transform.LookupRef{Side: transform.SideDestination, Table: "store"}]; got != s.dst {
			t.Errorf("%s: destination store read %d times, want %d", s.name, got, s.dst)
		}
	}
	if !f.Watches("m1_CORE_store") || f.Watches("core_store") || f.Watches("m1_store") {
		t.Error("Watches: want the prefixed source names of looked-up tables only")
	}
	// Without lookups (a runtime not opened) nothing happens.
	(lookupRefresh{}).SourceChanged([]cdc.Change{{Table: tbl("x")}})
	(lookupRefresh{}).WrittenAll()
}
