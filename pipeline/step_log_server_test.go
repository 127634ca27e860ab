//go:build !unit

package pipeline

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// TestLogStepEdgeCases: the Log step on the real Magento 1 and 2 schemas
// (two databases of one server) with the stock map and groups files, and
// a groups file that lists documents to clear: missing options, a document
// to clear that does not exist, a source without log_customer are
// integrity errors; a visitor without first_visit_at gets last_visit_at
// as created_at; Data clears the listed documents (the reference's
// DataTest expects clearDocument for the destination document and each
// document to clear) and copies the visitors; Volume finds a visitor added
// after the copy and a document to clear that was filled again.
func TestLogStepEdgeCases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := magentoFixtures(t)
	m := magentoServer(t, fx, "m1", "m2")
	src, dst := loadMagentoSchema(t, m, fx, "m1", "m1-schema.sql"), loadMagentoSchema(t, m, fx, "m2", "m2-schema.sql")
	exec := func(db string, stmts ...string) {
		t.Helper()
		if err := m.Exec(ctx, db, append([]string{"SET FOREIGN_KEY_CHECKS = 0"}, stmts...)...); err != nil {
			t.Fatal(err)
		}
	}
	etc := filepath.Join(fx, "dmt", "etc", "opensource-to-opensource")
	groups := filepath.Join(t.TempDir(), "log-groups.xml")
	writeGroups := func(clear ...string) {
		t.Helper()
		x := `<groups><group name="source_documents"><document>log_visitor</document></group><group name="destination_documents_to_clear">`
		for _, c := range clear {
			x += "<document>" + c + "</document>"
		}
		if err := os.WriteFile(groups, []byte(x+"</group></groups>"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{}
	cfg.Source.Database, cfg.Destination.Database = "m1", "m2"
	cfg.Options.Magento = map[string]string{}
	r := &Runtime{cfg: cfg, src: src, dst: dst}
	var logs testenv.Buffer
	env := &step.Env{Mode: step.ModeData, Source: src, Destination: dst, SourceSchema: "m1", DestSchema: "m2", Config: cfg,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	s := &logStep{r: r}
	check := func(what string, want ...string) {
		t.Helper()
		problems, err := s.Integrity(ctx, env)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got []string
		for _, p := range problems {
			if p.Severity == transform.Error {
				got = append(got, p.Msg)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: errors\n  %s\nwant %d: %q", what, strings.Join(got, "\n  "), len(want), want)
		}
		for i, w := range want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: error %d is %q, want one with %q", what, i, got[i], w)
			}
		}
	}

	check("no options", "options/log_map_file", "options/log_document_groups_file")
	if err := s.Data(ctx, env); err == nil {
		t.Error("Data ran without a plan")
	}
	cfg.Options.Magento["log_map_file"] = filepath.Join(etc, "map-log.xml.dist")
	cfg.Options.Magento["log_document_groups_file"] = filepath.Join(etc, "log-document-groups.xml.dist")
	check("stock files")

	cfg.Options.Magento["log_document_groups_file"] = groups
	writeGroups("search_query", "no_such_log") // Magento 2 has no log_url: the stock list is commented out
	check("a document to clear that does not exist", "destination document no_such_log, listed to clear")
	exec("m1", "RENAME TABLE log_customer TO log_customer_gone")
	writeGroups("search_query")
	check("no log_customer", "source document log_customer does not exist")
	exec("m1", "RENAME TABLE log_customer_gone TO log_customer")
	check("a groups file clearing search_query")

	exec("m1",
		`INSERT INTO log_visitor (visitor_id, session_id, first_visit_at, last_visit_at, last_url_id, store_id) VALUES
			(5, 'long-session-id', '2020-01-01 10:00:00', '2020-01-01 11:00:00', 1, 1), (6, NULL, '2020-01-02 10:00:00', '2020-01-02 10:00:00', 0, 1), (8, NULL, NULL, '2020-01-04 10:00:00', 0, 1)`,
		`INSERT INTO log_customer (log_id, visitor_id, customer_id, login_at, store_id) VALUES (1, 6, 3, '2020-01-02 10:01:00', 1), (2, 6, 4, '2020-01-02 10:00:30', 1)`)
	exec("m2",
		`INSERT INTO customer_visitor (visitor_id, customer_id, created_at, last_visit_at) VALUES (1, 1, '2021-01-01 00:00:00', '2021-01-01 00:00:00')`,
		`INSERT INTO search_query (query_id, query_text, store_id) VALUES (1, 'x', 1)`)
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	// log_id 2 is the later row but the earlier login: the latest row by
	// log_id wins (customer 4), as Magento 1 appends a row per login.
	assertRowsIn(t, dst, map[string][]string{
		"SELECT visitor_id, customer_id, session_id, created_at, last_visit_at FROM customer_visitor": {
			`'5',NULL,NULL,'2020-01-01 10:00:00','2020-01-01 11:00:00'`, `'6','4',NULL,'2020-01-02 10:00:00','2020-01-02 10:00:00'`,
			`'8',NULL,NULL,'2020-01-04 10:00:00','2020-01-04 10:00:00'`}, // no first visit: the last
		"SELECT COUNT(*) FROM search_query": {`'0'`},
	})
	if !strings.Contains(logs.String(), "left NULL\" stage=data visitors=1") || !strings.Contains(logs.String(), "as created_at (NOT NULL in Magento 2)\" stage=data visitors=1") {
		t.Errorf("no warnings counting the session id left NULL and the created_at from last_visit_at:\n%s", logs.String())
	}
	if err := s.Volume(ctx, env); err != nil {
		t.Errorf("Volume after the copy: %v", err)
	}
	exec("m1", `INSERT INTO log_visitor (visitor_id, last_visit_at, store_id) VALUES (7, '2020-01-03 00:00:00', 1)`)
	exec("m2", `INSERT INTO search_query (query_id, query_text, store_id) VALUES (1, 'x', 1)`)
	err := s.Volume(ctx, env)
	if err == nil || !strings.Contains(err.Error(), "customer_visitor: source log_visitor has 4, destination 3") || !strings.Contains(err.Error(), "search_query in the destination is not cleared") {
		t.Errorf("Volume after a visitor was added and search_query filled: %v", err)
	}
	// Delta mode, with config.xml not running the step in delta mode:
	// nothing streamed or followed, and no volume check.
	denv := *env
	denv.Mode = step.ModeDelta
	if err := s.DeltaStart(ctx, &denv); err != nil {
		t.Fatal(err)
	}
	if err := s.Volume(ctx, &denv); err != nil {
		t.Errorf("Volume in delta mode: %v", err)
	}
	if len(r.followers) != 0 {
		t.Errorf("a follower is registered although config.xml lists no Log step in delta mode")
	}
}
