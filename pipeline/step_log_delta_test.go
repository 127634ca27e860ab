package pipeline

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/transform"
)

func logCol(name, dataType, colType string, nullable bool) cdc.Column {
	c := cdc.Column{Name: name, DataType: dataType, ColumnType: colType, Nullable: nullable, Unsigned: strings.Contains(colType, "unsigned")}
	if dataType == "varchar" {
		c.Charset = "utf8mb3"
	}
	return c
}

// The tables of the real schemas (fixtures schema/m1-schema.sql and
// m2-schema.sql), written out by hand.
func logVisitorM1() *cdc.Table {
	return &cdc.Table{Schema: "m1", Name: "log_visitor", Key: []int{0}, Columns: []cdc.Column{
		logCol("visitor_id", "bigint", "bigint(20) unsigned", false), logCol("session_id", "varchar", "varchar(64)", true),
		logCol("first_visit_at", "timestamp", "timestamp", true), logCol("last_visit_at", "timestamp", "timestamp", false),
		logCol("last_url_id", "bigint", "bigint(20) unsigned", false), logCol("store_id", "smallint", "smallint(5) unsigned", false)}}
}

func customerVisitorM2() *cdc.Table {
	return &cdc.Table{Schema: "m2", Name: "customer_visitor", Key: []int{0}, Columns: []cdc.Column{
		logCol("visitor_id", "bigint", "bigint unsigned", false), logCol("customer_id", "int", "int", true),
		logCol("session_id", "varchar", "varchar(1)", true), logCol("created_at", "timestamp", "timestamp", false),
		logCol("last_visit_at", "timestamp", "timestamp", false)}}
}

func logCustomerM1() *cdc.Table {
	return &cdc.Table{Schema: "m1", Name: "log_customer", Key: []int{0}, Columns: []cdc.Column{
		logCol("log_id", "int", "int(10) unsigned", false), logCol("visitor_id", "bigint", "bigint(20) unsigned", true),
		logCol("customer_id", "int", "int(11)", false), logCol("login_at", "timestamp", "timestamp", false),
		logCol("logout_at", "timestamp", "timestamp", true), logCol("store_id", "smallint", "smallint(5) unsigned", false)}}
}

// TestLogVisitorPlanRows: the stock map-log.xml.dist with the handlers the
// Log step adds (logVisitorRules) maps a visitor as the reference's copy
// does, for the copy, the stream and verify alike: created_at is
// first_visit_at, or last_visit_at without one (the reference's Data
// reads both; Magento 2's created_at is NOT NULL); a session id longer than
// Magento 2.4's varchar(1) is NULL (counted in characters: one multibyte
// character fits; binary images too); last_url_id and store_id are dropped.
func TestLogVisitorPlanRows(t *testing.T) {
	rules, err := transform.ReadMap(stockDMTFile(t, "map-log.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	src, dst := logVisitorM1(), customerVisitorM2()
	logVisitorRules(rules, []*cdc.Table{src})
	plan, problems := transform.Compile(rules, []*cdc.Table{src}, []*cdc.Table{dst})
	for _, p := range problems {
		if p.Severity == transform.Error {
			t.Fatalf("compile: %s", p.Msg)
		}
	}
	tp := plan.Table("log_visitor")
	if tp == nil {
		t.Fatal("no plan of log_visitor")
	}
	col := func(name string) int {
		i := tp.Dest.ColumnIndex(name)
		if i < 0 {
			t.Fatalf("the plan has no destination column %s: %s", name, tp.Dest.ColumnList())
		}
		return i
	}
	if tp.Dest.ColumnIndex("customer_id") >= 0 || tp.Dest.ColumnIndex("store_id") >= 0 {
		t.Errorf("the plan writes customer_id or store_id: %s", tp.Dest.ColumnList())
	}
	for _, c := range []struct {
		name           string
		session, first any
		wantSession    any
		wantCreated    any
	}{
		{"long session id", "abcdef0123456789", "2021-03-01 10:00:00", nil, "2021-03-01 10:00:00"},
		{"long session id as bytes", []byte("abcdef0123456789"), "2021-03-01 10:00:00", nil, "2021-03-01 10:00:00"},
		{"one character", "x", "2021-03-01 10:00:00", "x", "2021-03-01 10:00:00"},
		{"one multibyte character", "é", "2021-03-01 10:00:00", "é", "2021-03-01 10:00:00"},
		{"two multibyte characters", "éé", "2021-03-01 10:00:00", nil, "2021-03-01 10:00:00"},
		{"empty session id", "", "2021-03-01 10:00:00", "", "2021-03-01 10:00:00"},
		{"no session id, no first visit", nil, nil, nil, "2021-03-02 11:00:00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			row := []any{uint64(5), c.session, c.first, "2021-03-02 11:00:00", uint64(9), uint64(1)}
			orig := slices.Clone(row)
			out, err := tp.Row(row)
			if err != nil {
				t.Fatal(err)
			}
			if got := out[col("session_id")]; str(got) != str(c.wantSession) || (got == nil) != (c.wantSession == nil) {
				t.Errorf("session_id %#v, want %#v", got, c.wantSession)
			}
			if got := out[col("created_at")]; got != c.wantCreated {
				t.Errorf("created_at %#v, want %#v", got, c.wantCreated)
			}
			if got := out[col("last_visit_at")]; got != "2021-03-02 11:00:00" {
				t.Errorf("last_visit_at %#v", got)
			}
			if !slices.EqualFunc(row, orig, func(a, b any) bool { return str(a) == str(b) }) {
				t.Errorf("the source row was changed: %v, was %v", row, orig)
			}
		})
	}
}

// TestLogHandlersRefuseBadBindings: the step's handlers name what is wrong
// when bound where they cannot work.
func TestLogHandlersRefuseBadBindings(t *testing.T) {
	src, dst := logVisitorM1(), customerVisitorM2()
	b := transform.Binding{Area: "source", Table: "log_visitor", Field: "first_visit_at", Index: 2, Rec: src, Other: dst}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"IfNull without field", func() error { _, err := newLogIfNull(transform.Params{}, b); return err }(), "takes one parameter, field"},
		{"IfNull of an unknown field", func() error { _, err := newLogIfNull(transform.Params{"field": "nope"}, b); return err }(), "nope does not exist"},
		{"IfNull with an extra parameter", func() error {
			_, err := newLogIfNull(transform.Params{"field": "last_visit_at", "x": "1"}, b)
			return err
		}(), "takes one parameter"},
		{"NullIfTooLong in the destination area", func() error {
			bb := b
			bb.Area = "destination"
			_, err := newLogNullIfTooLong(transform.Params{}, bb)
			return err
		}(), "runs in the source area"},
		{"NullIfTooLong without a destination column", func() error {
			bb := b
			bb.Field, bb.Index = "last_url_id", 4
			_, err := newLogNullIfTooLong(transform.Params{}, bb)
			return err
		}(), "has no column last_url_id"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, c.err, c.want)
		}
	}
}

// logRuntime is a Runtime for the step's pure parts (no servers).
func logRuntime(prefix string) *Runtime {
	cfg := &config.Config{}
	cfg.Source.Database, cfg.Destination.Database = "m1", "m2"
	cfg.Options.DestPrefix = prefix
	r := &Runtime{cfg: cfg}
	r.dest = mappedRows{r}
	return r
}

// TestLogLoginsPlan: log_customer is planned into _shiplog_log_customer
// keyed by (visitor_id, log_id), so a login gone names its visitor; the
// other columns are dropped; a login without a visitor is left out (no
// visitor's join finds it); a change log's delete (the key and the carried
// visitor_id) deletes the login by both.
func TestLogLoginsPlan(t *testing.T) {
	s := &logStep{r: logRuntime("")}
	src := logCustomerM1()
	tp, problems, err := s.loginsPlan(src)
	if err != nil || problems != nil {
		t.Fatalf("loginsPlan: %v %v", err, problems)
	}
	if tp.Dest.Name != logLoginsTable || tp.Dest.Schema != "m2" || !slices.Equal(tp.Dest.KeyNames(), []string{"visitor_id", "log_id"}) {
		t.Fatalf("destination %s.%s keyed by %v", tp.Dest.Schema, tp.Dest.Name, tp.Dest.KeyNames())
	}
	if got := tp.Dest.ColumnList(); strings.Contains(got, "login_at") || strings.Contains(got, "store_id") || len(tp.Dest.Columns) != 3 {
		t.Errorf("destination columns %s, want visitor_id, log_id, customer_id", got)
	}
	if !slices.Equal(tp.RouteReads(), []int{1}) {
		t.Errorf("route reads %v, want visitor_id (1): a change log's delete must carry it", tp.RouteReads())
	}
	row := []any{uint64(7), uint64(3), int64(12), "2021-03-04 10:01:00", nil, uint64(1)}
	out, err := tp.Row(row)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, c := range tp.Dest.Columns {
		got[c.Name] = str(out[i])
	}
	if got["visitor_id"] != "3" || got["log_id"] != "7" || got["customer_id"] != "12" {
		t.Errorf("row %v", got)
	}
	for _, c := range []struct {
		visitor any
		want    transform.RouteKind
	}{{uint64(3), transform.Carry}, {nil, transform.Skip}} {
		r := slices.Clone(row)
		r[1] = c.visitor
		if rt, err := tp.RouteOf(r, false); err != nil || rt.Kind != c.want {
			t.Errorf("visitor %v: route %v %v, want %v", c.visitor, rt.Kind, err, c.want)
		}
	}
	gone := []any{uint64(7), uint64(3), nil, nil, nil, nil}
	ds, f, err := tp.MapRouted(cdc.Change{Op: cdc.OpDelete, Table: src, Before: gone})
	if err != nil || f != nil || len(ds) != 1 || ds[0].Op != cdc.OpDelete {
		t.Fatalf("delete: %v %v %v", ds, f, err)
	}
	key := tp.Dest.KeyOf(ds[0].Before)
	if len(key) != 2 || str(key[0]) != "3" || str(key[1]) != "7" {
		t.Errorf("the delete's key %v, want [3 7]", key)
	}
	ddl := logLoginsDDL(tp.Dest)
	for _, w := range []string{"CREATE TABLE IF NOT EXISTS `m2`.`_shiplog_log_customer`", "`visitor_id` bigint(20) unsigned NOT NULL", "PRIMARY KEY (`visitor_id`, `log_id`)"} {
		if !strings.Contains(ddl, w) {
			t.Errorf("DDL %q lacks %q", ddl, w)
		}
	}
	// Change logs: the stock deltalog.xml.dist lists log_visitor alone;
	// the logins are logged besides, unless listed.
	plan, err := transform.NewPlan(tp)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.r.logUnlisted(plan, func(string) bool { return false }); len(got) != 1 || got[0] != tp {
		t.Errorf("unlisted logins: %v", got)
	}
	if got := s.r.logUnlisted(plan, func(t string) bool { return t == "log_customer" }); got != nil {
		t.Errorf("listed logins are added again: %v", got)
	}
}

// TestLogFollowerVisitors: the follower refreshes the visitors of the
// batch's visitor and login changes — both images, deletes' too, each once
// — and nothing for other tables; it follows customer_visitor under the
// destination prefix and the logins' copy (no prefix) by name.
func TestLogFollowerVisitors(t *testing.T) {
	visitors := customerVisitorM2()
	visitors.Name = "m2_customer_visitor"
	logins := &cdc.Table{Schema: "m2", Name: logLoginsTable, Key: []int{0, 1}, Columns: []cdc.Column{
		logCol("visitor_id", "bigint", "bigint(20) unsigned", false), logCol("log_id", "int", "int(10) unsigned", false), logCol("customer_id", "int", "int(11)", false)}}
	other := &cdc.Table{Schema: "m2", Name: "m2_customer_entity", Key: []int{0}, Columns: []cdc.Column{logCol("visitor_id", "int", "int", false)}}
	changes := []cdc.Change{
		{Op: cdc.OpInsert, Table: visitors, After: []any{uint64(6), nil, nil, "t", "t"}},
		{Op: cdc.OpDelete, Table: logins, Before: []any{uint64(3), uint64(2), nil}},
		{Op: cdc.OpUpdate, Table: logins, Before: []any{uint64(7), uint64(22), int64(31)}, After: []any{uint64(8), uint64(22), int64(31)}},
		{Op: cdc.OpInsert, Table: logins, After: []any{uint64(6), uint64(20), int64(30)}},
		{Op: cdc.OpInsert, Table: other, After: []any{int64(99)}},
	}
	ids := logVisitorIDs(changes, visitors.Name, logins.Name)
	var got []string
	for _, v := range ids {
		got = append(got, str(v))
	}
	if strings.Join(got, ",") != "6,3,7,8" {
		t.Errorf("visitors %v, want 6,3,7,8", got)
	}
	r := logRuntime("m2_")
	f := &logFollower{visitors: visitors, logins: logins, prefix: "m2_"}
	r.follow(f)
	for name, want := range map[string]bool{"m2_customer_visitor": true, logLoginsTable: true, "customer_visitor": false, "m2_customer_entity": false} {
		if got := r.isFollowed(&cdc.Table{Name: name}); got != want {
			t.Errorf("%s followed: %v, want %v", name, got, want)
		}
	}
	q := logCustomerUpdate(visitors, logins, "v.`visitor_id` IN (?)")
	for _, w := range []string{"UPDATE `m2`.`m2_customer_visitor` v SET v.`customer_id` = (SELECT l.`customer_id` FROM `m2`.`_shiplog_log_customer` l WHERE l.`visitor_id` = v.`visitor_id` ORDER BY l.`log_id` DESC LIMIT 1)",
		"v.`created_at` = v.`created_at`", "v.`last_visit_at` = v.`last_visit_at`", " WHERE v.`visitor_id` IN (?)"} {
		if !strings.Contains(q, w) {
			t.Errorf("%q lacks %q", q, w)
		}
	}
	if strings.Contains(q, "v.`session_id` =") {
		t.Errorf("%q assigns a column that is no timestamp", q)
	}
}

// TestLogStepRefusesTheKafkaSink: with sink: kafka the destination database
// holds shiplog's state alone, where the step cannot write customer_visitor
// (nor keep its customers, as apply --from-kafka runs no follower): a
// blocking integrity problem naming the remedy, before any file is read.
func TestLogStepRefusesTheKafkaSink(t *testing.T) {
	r := logRuntime("")
	r.dest = stateOnly{r}
	problems, err := (&logStep{r: r}).Integrity(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !problems[0].Blocking || !strings.Contains(problems[0].Msg, "sink: kafka") || !strings.Contains(problems[0].Msg, "sink: mysql") {
		t.Errorf("problems %+v, want one blocking problem naming sink: kafka and sink: mysql", problems)
	}
}
