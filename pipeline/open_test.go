package pipeline

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
)

// TestUsableInit: init statements that set what shiplog's session settings
// decide are refused with an error naming the statement and the variable;
// the stock SET NAMES is dropped; anything else runs.
func TestUsableInit(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	refused := map[string]string{
		"SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'":              "sql_mode",
		"set sql_mode = 'ANSI_QUOTES'":                             "sql_mode",
		"SET @@sql_mode := CONCAT(@@sql_mode, ',ANSI')":            "sql_mode",
		"SET @@SESSION.sql_mode = ''":                              "sql_mode",
		"SET @@session . `sql_mode` = ''":                          "sql_mode",
		"SET LOCAL sql_mode = ''":                                  "sql_mode",
		"SET wait_timeout = 60, SQL_MODE = 'NO_BACKSLASH_ESCAPES'": "sql_mode",
		"SET STATEMENT sql_mode = '' FOR SELECT 1":                 "sql_mode",
		"SET GLOBAL sql_mode = ''":                                 "sql_mode",
		"SET time_zone = 'Europe/Berlin'":                          "time_zone",
		"SET @@time_zone = '+01:00'":                               "time_zone",
		"SET character_set_client = gbk":                           "character_set_client",
		"SET SESSION character_set_results = latin1":               "character_set_results",
		"SET collation_connection = 'latin1_swedish_ci'":           "collation_connection",
		"SET NAMES utf8, time_zone = '+02:00'":                     "time_zone",
	}
	for q, variable := range refused {
		_, err := usableInit(log, "destination", []string{"SET SESSION wait_timeout = 3600", q})
		if err == nil || !strings.Contains(err.Error(), q) || !strings.Contains(err.Error(), "sets "+variable) ||
			!strings.Contains(err.Error(), "init_statements_destination") {
			t.Errorf("%s: %v, want an error naming the statement, %s and init_statements_destination", q, err, variable)
		}
	}
	kept := []string{
		"SET SESSION wait_timeout = 3600",
		"SET @sql_mode = 'x'",
		"SET @note = 'sql_mode and time_zone are shiplog''s'",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		"SELECT @@sql_mode",
		"CALL prepare_session()",
	}
	got, err := usableInit(log, "source", append([]string{"SET NAMES utf8", "SET CHARACTER SET latin1"}, kept...))
	if err != nil || strings.Join(got, "\n") != strings.Join(kept, "\n") {
		t.Fatalf("got %q, %v; want %q", got, err, kept)
	}
}

// TestSessionReset: the statement run after the init statements restores
// every destination session parameter and the connection charset.
func TestSessionReset(t *testing.T) {
	q := sessionReset(mysqlsink.SessionConfig(gomysql.NewConfig()))
	want := []string{"SET NAMES utf8mb4"}
	for k, v := range mysqlsink.SessionParams {
		want = append(want, "SESSION "+k+" = "+v)
	}
	for _, w := range want {
		if !strings.Contains(q, w) {
			t.Errorf("%s lacks %s", q, w)
		}
	}
}
