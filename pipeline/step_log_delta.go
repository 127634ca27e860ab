package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The Log step's delta: log_visitor is streamed with the Map step's tables,
// in one stream (binlog or change logs) with one checkpoint, through the
// plan data mode copies it with; so are the visitors' logins (log_customer),
// into a copy kept in the destination, _shiplog_log_customer (visitor_id,
// log_id, customer_id). A visitor's customer_id is derived from that copy —
// the customer of its latest login (highest log_id), NULL without one — by
// a stream follower (follow.go) in the transaction of every batch that
// writes a visitor or a login: a login deleted (Magento 1's log cleaning
// keeps only each customer's latest), an older login arriving after a newer
// one, a visitor inserted after its logins (change logs are read table by
// table) all leave what a fresh data-mode copy of the final source leaves.
// The reference's delta copies log_visitor's changes alone and loses the
// customer.
//
// Positions: as the Customer Attributes step's (step_customer_delta.go):
// data mode reads both documents in one snapshot and records its binlog
// position per document; with delta.source: triggers the change logs go in
// before it (log_customer too, which the stock deltalog.xml.dist does not
// list: logged by its key, carrying visitor_id).

// logLoginsTable is the destination copy of the visitors' logins.
const logLoginsTable = transform.StateTablePrefix + "log_customer"

// logLoginCols are the columns of logLoginsTable, from log_customer.
var logLoginCols = []string{"visitor_id", "log_id", "customer_id"}

// Handlers the Log step adds to its map's plan of log_visitor, so that the
// copy, the stream and verify transform a visitor alike.
const (
	// logIfNullHandler: a NULL value takes the value of field (another
	// field of the same source row).
	logIfNullHandler = `Shiplog\IfNull`
	// logNullIfTooLongHandler: a text value longer than the destination
	// column of the same name holds becomes NULL.
	logNullIfTooLongHandler = `Shiplog\NullIfTooLong`
)

func init() {
	transform.Register(logIfNullHandler, newLogIfNull)
	transform.Register(logNullIfTooLongHandler, newLogNullIfTooLong)
}

func newLogIfNull(p transform.Params, b transform.Binding) (transform.Func, error) {
	other := p["field"]
	if other == "" || len(p) != 1 {
		return nil, fmt.Errorf("handler %s takes one parameter, field", logIfNullHandler)
	}
	j, err := b.IndexOf(other)
	if err != nil {
		return nil, fmt.Errorf("handler %s: %w", logIfNullHandler, err)
	}
	i := b.Index
	return func(rec, _ []any) error {
		if rec[i] == nil {
			rec[i] = rec[j]
		}
		return nil
	}, nil
}

func newLogNullIfTooLong(p transform.Params, b transform.Binding) (transform.Func, error) {
	if len(p) != 0 || b.Area != "source" || b.Other == nil {
		return nil, fmt.Errorf("handler %s takes no parameters and runs in the source area", logNullIfTooLongHandler)
	}
	k := b.Other.ColumnIndex(b.Field)
	if k < 0 {
		return nil, fmt.Errorf("handler %s: destination %s has no column %s", logNullIfTooLongHandler, b.Other.Name, b.Field)
	}
	col, i := b.Other.Columns[k], b.Index
	return func(rec, _ []any) error {
		if logTooLong(rec[i], &col) {
			rec[i] = nil
		}
		return nil
	}, nil
}

// logTooLong reports whether text value v is longer than column c holds.
func logTooLong(v any, c *cdc.Column) bool {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	return customerFits(v, c) != nil
}

// logVisitorRules adds to rules the handlers that give log_visitor's rows
// what the reference's copy gives them: a visitor without first_visit_at
// gets its last_visit_at (created_at, which first_visit_at fills, is NOT
// NULL in Magento 2), and a session id too long for the destination's
// session_id is left NULL. Only where the fields exist.
func logVisitorRules(rules *transform.Rules, src []*cdc.Table) {
	for _, t := range src {
		base, ok := cutPrefixFold(t.Name, rules.SourcePrefix)
		if !ok || !strings.EqualFold(base, logVisitorDoc) {
			continue
		}
		if t.ColumnIndex("first_visit_at") >= 0 && t.ColumnIndex("last_visit_at") >= 0 {
			rules.Source.Transforms = append(rules.Source.Transforms, transform.Transform{Field: base + ".first_visit_at",
				Handler: transform.HandlerSpec{Name: logIfNullHandler, Params: []transform.Param{{Name: "field", Value: "last_visit_at"}}}})
		}
		if t.ColumnIndex("session_id") >= 0 {
			rules.Source.Transforms = append(rules.Source.Transforms, transform.Transform{Field: base + ".session_id",
				Handler: transform.HandlerSpec{Name: logNullIfTooLongHandler}})
		}
	}
}

// logStreams reports whether the Log step's documents are streamed:
// config.xml runs it in delta mode.
func (r *Runtime) logStreams() bool { return r.stepInMode("Log", step.ModeDelta) }

// withLogStream is plan with the Log step's stream plans (see the top of
// this file) when config.xml runs the step in delta mode.
func (r *Runtime) withLogStream(ctx context.Context, plan *transform.Plan, problems []transform.Problem) (*transform.Plan, []transform.Problem, error) {
	if plan == nil || !r.logStreams() {
		return plan, problems, nil
	}
	s := &logStep{r: r}
	found, err := s.Integrity(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, found...)
	if s.absent || s.docs == nil || s.logins == nil {
		return plan, problems, nil
	}
	lp, err := s.streamPlan()
	if err != nil {
		return nil, nil, err
	}
	mapName := r.cfg.Options.MapFile
	if mapName == "" {
		mapName = "the map"
	}
	logName, _, _ := r.cfg.MagentoFile(logMapOption)
	merged, err := transform.Merge(plan, lp, mapName, logName)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the Log step streams its documents itself, so the Map step's map must ignore them (the stock map.xml.dist ignores log_*): %w", ErrIntegrity, err)
	}
	return merged, problems, nil
}

// streamPlan is the plans of the step's documents and of the logins.
func (s *logStep) streamPlan() (*transform.Plan, error) {
	tps := []*transform.TablePlan{s.logins}
	for _, d := range s.docs {
		tps = append(tps, d.tp)
	}
	return transform.NewPlan(tps...)
}

// logLoginsDest is the destination copy of the logins as a table: the
// columns of logLoginCols as src (log_customer) has them, visitor_id NOT
// NULL, keyed by (visitor_id, log_id) so that a login gone names its
// visitor.
func logLoginsDest(src *cdc.Table, schema, name string) (*cdc.Table, error) {
	t := &cdc.Table{Schema: schema, Name: name, Key: []int{0, 1}, KeyName: "PRIMARY"}
	for _, n := range logLoginCols {
		i := src.ColumnIndex(n)
		if i < 0 {
			return nil, fmt.Errorf("source document %s has no %s column", src.Name, n)
		}
		c := src.Columns[i]
		c.Nullable, c.Generated, c.KeepExisting = false, false, false
		t.Columns = append(t.Columns, c)
	}
	return t, nil
}

// loginsPlan compiles the plan of log_customer (src) into logLoginsTable:
// logins without a visitor (visitor_id NULL) are left out (Skip), as the
// visitors' join never finds them. Every column but those of logLoginCols
// is ignored.
func (s *logStep) loginsPlan(src *cdc.Table) (*transform.TablePlan, []transform.Problem, error) {
	r := s.r
	sp := r.cfg.Options.SourcePrefix
	compiled, err := logLoginsDest(src, r.cfg.Destination.Database, sp+logCustomerDoc)
	if err != nil {
		return nil, []transform.Problem{logProblem(src.Name, err.Error())}, nil
	}
	rules := &transform.Rules{SourcePrefix: sp, DestPrefix: sp, Env: r.handlerEnv()}
	for _, c := range src.Columns {
		if !slices.ContainsFunc(logLoginCols, func(n string) bool { return strings.EqualFold(n, c.Name) }) {
			rules.Source.IgnoreFields = append(rules.Source.IgnoreFields, transform.Rule{Name: logCustomerDoc + "." + c.Name})
		}
	}
	plan, problems := transform.Compile(rules, []*cdc.Table{src}, []*cdc.Table{compiled})
	var out []transform.Problem
	for _, p := range problems {
		if p.Severity == transform.Error {
			p.Msg = "Log step: the logins' copy: " + p.Msg
			out = append(out, p)
		}
	}
	tp := plan.Table(src.Name)
	if tp == nil || len(out) > 0 {
		if len(out) == 0 {
			out = append(out, logProblem(src.Name, "the logins' copy could not be planned"))
		}
		return nil, out, nil
	}
	// The same table under its own name, its columns in the plan's order.
	dest := &cdc.Table{Schema: r.cfg.Destination.Database, Name: logLoginsTable, KeyName: "PRIMARY"}
	for _, c := range tp.Dest.Columns {
		dest.Columns = append(dest.Columns, compiled.Columns[compiled.ColumnIndex(c.Name)])
	}
	for _, k := range compiled.Key {
		dest.Key = append(dest.Key, dest.ColumnIndex(compiled.Columns[k].Name))
	}
	if tp, err = tp.AsRowsOf(dest); err != nil {
		return nil, nil, fmt.Errorf("Log step: %w", err)
	}
	visitor := src.ColumnIndex("visitor_id")
	return tp.WithRoute(func(row []any, _ bool) (transform.Route, error) {
		if visitor < len(row) && row[visitor] == nil {
			return transform.Route{Kind: transform.Skip}, nil
		}
		return transform.Route{Kind: transform.Carry}, nil
	}, visitor), nil, nil
}

// logLoginsDDL creates logLoginsTable in the destination (its columns as
// logLoginsDest has them).
func logLoginsDDL(t *cdc.Table) string {
	q := "CREATE TABLE IF NOT EXISTS " + rowio.QuoteIdent(t.Schema) + "." + rowio.QuoteIdent(t.Name) + " ("
	for _, c := range t.Columns {
		q += rowio.QuoteIdent(c.Name) + " " + c.ColumnType + " NOT NULL, "
	}
	q += "PRIMARY KEY ("
	for i, k := range t.Key {
		if i > 0 {
			q += ", "
		}
		q += rowio.QuoteIdent(t.Columns[k].Name)
	}
	return q + ")) ENGINE=InnoDB"
}

// logUnlisted are the plans logSpecs logs besides the deltalog file's
// documents (listed reports those): the Log step's logins, which the stock
// deltalog.xml.dist does not list (the reference's delta ignores them),
// logged by log_customer's key, carrying visitor_id.
func (r *Runtime) logUnlisted(plan *transform.Plan, listed func(table string) bool) []*transform.TablePlan {
	tp := plan.Table(r.cfg.Options.SourcePrefix + logCustomerDoc)
	if tp == nil || listed(tp.Source.Name) || !strings.EqualFold(tp.Dest.Name, logLoginsTable) {
		return nil
	}
	return []*transform.TablePlan{tp}
}

// prepareStream puts the change logs in on the step's documents before its
// snapshot (delta.source: triggers), so every change from the snapshot on
// is logged.
func (s *logStep) prepareStream(ctx context.Context) error {
	if s.r.source.copyPositions() {
		return nil
	}
	lp, err := s.streamPlan()
	if err != nil {
		return err
	}
	return s.r.installStepLogs(ctx, lp, "Log step", "delta_log")
}

// recordStream records in tx, with the copy read at pos, each streamed
// document's snapshot position (the stream skips the changes before it)
// and, before any other copy set one, the checkpoint (binlog only).
func (s *logStep) recordStream(ctx context.Context, tx *sql.Tx, pos cdc.Position, counts map[string]int) error {
	r := s.r
	if !r.source.copyPositions() {
		return nil
	}
	for name, n := range counts {
		if err := r.state.SaveProgress(ctx, tx, state.TableProgress{Table: name, State: state.TableDone, Rows: int64(n), SnapshotPos: pos, Segments: 1}); err != nil {
			return err
		}
	}
	if _, _, ok, err := r.state.Checkpoint(ctx); err != nil || ok {
		return err
	}
	return r.state.SaveCheckpoint(ctx, tx, pos, time.Time{})
}

// copyLogins fills logLoginsTable (emptied) with the source's logins, read
// on src (the copy's snapshot), in tx. It returns the rows written.
func (s *logStep) copyLogins(ctx context.Context, src *sql.Conn, tx *sql.Tx) (int, error) {
	tp := s.logins
	dest := rowio.QuoteIdent(tp.Dest.Schema) + "." + rowio.QuoteIdent(tp.Dest.Name)
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+dest); err != nil {
		return 0, fmt.Errorf("Log step: clearing %s: %w", tp.Dest.Name, err)
	}
	w := &batchInsert{tx: tx, t: tp.Dest}
	n := 0
	err := logRead(ctx, src, tp.Source, string(rowio.SelectColumns(nil, tp.Source)), tp.Source, func(row []any) error {
		rt, err := tp.RouteOf(row, false)
		if err != nil || rt.Kind == transform.Skip {
			return err
		}
		out, err := tp.Row(row)
		if err != nil {
			return fmt.Errorf("Log step: source %s row %s: %w; nothing was written: fix the row and run data mode again", tp.Source.Name, keyText(tp.Source, row), err)
		}
		if err := w.add(ctx, out); err != nil {
			return fmt.Errorf("Log step: copying into %s: %w", tp.Dest.Name, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := w.flush(ctx); err != nil {
		return n, fmt.Errorf("Log step: copying into %s: %w", tp.Dest.Name, err)
	}
	return n, nil
}

// logFollower keeps customer_visitor.customer_id the customer of the
// visitor's latest login in logLoginsTable, for the visitors of the
// batch's visitor and login changes.
type logFollower struct {
	// visitors is customer_visitor as the stream writes it (Schema, Name,
	// its timestamp columns); logins is logLoginsTable.
	visitors, logins *cdc.Table
	// prefix is the destination's table prefix (follows gets names
	// without it; shiplog's own tables have none).
	prefix string
}

func (f *logFollower) name() string { return "Log step" }

func (f *logFollower) follows(table string) bool {
	v, _ := cutPrefixFold(f.visitors.Name, f.prefix)
	return strings.EqualFold(table, v) || strings.EqualFold(table, f.logins.Name)
}

// logFollowChunk bounds the visitors of one UPDATE.
const logFollowChunk = 500

func (f *logFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	ids := logVisitorIDs(changes, f.visitors.Name, f.logins.Name)
	for len(ids) > 0 {
		n := min(len(ids), logFollowChunk)
		q := logCustomerUpdate(f.visitors, f.logins, "v.`visitor_id` IN (?"+strings.Repeat(", ?", n-1)+")")
		if _, err := tx.ExecContext(ctx, q, ids[:n]...); err != nil {
			return fmt.Errorf("setting %s.customer_id from %s: %w", f.visitors.Name, f.logins.Name, err)
		}
		ids = ids[n:]
	}
	return nil
}

// logVisitorIDs are the visitors whose customer the changes may change:
// the visitor_id of every image of the visitors' and the logins' changes
// (both tables' keys hold it), distinct.
func logVisitorIDs(changes []cdc.Change, visitors, logins string) []any {
	var mine []cdc.Change
	for _, c := range changes {
		if c.Table != nil && (strings.EqualFold(c.Table.Name, visitors) || strings.EqualFold(c.Table.Name, logins)) {
			mine = append(mine, c)
		}
	}
	return changedValues(mine, "visitor_id")
}

// logLatest is the customer of the latest login of visitor v (NULL
// without one), as SQL over logins.
func logLatest(logins *cdc.Table) string {
	return "(SELECT l.`customer_id` FROM " + rowio.QuoteIdent(logins.Schema) + "." + rowio.QuoteIdent(logins.Name) +
		" l WHERE l.`visitor_id` = v.`visitor_id` ORDER BY l.`log_id` DESC LIMIT 1)"
}

// logCustomerUpdate sets customer_id of the visitors where selects (alias
// v) to the customer of their latest login; their timestamp columns keep
// their values (last_visit_at is ON UPDATE CURRENT_TIMESTAMP in Magento 2).
func logCustomerUpdate(visitors, logins *cdc.Table, where string) string {
	q := "UPDATE " + rowio.QuoteIdent(visitors.Schema) + "." + rowio.QuoteIdent(visitors.Name) + " v SET v.`customer_id` = " + logLatest(logins)
	for _, c := range visitors.Columns {
		if (c.DataType == "timestamp" || c.DataType == "datetime") && !c.Generated {
			q += ", v." + rowio.QuoteIdent(c.Name) + " = v." + rowio.QuoteIdent(c.Name)
		}
	}
	return q + " WHERE " + where
}

// DeltaStart registers, when config.xml runs the step in delta mode, the
// follower that keeps the visitors' customers (see the top of this file),
// after checking that data mode left the logins' copy and repairing any
// visitor whose customer is not its latest login's (none, unless the
// destination was written outside shiplog). With sink: kafka the step does
// not run (Integrity refuses it); with sink: both it warns that the Kafka
// side gets no visitors.
func (s *logStep) DeltaStart(ctx context.Context, env *step.Env) error {
	r := s.r
	if !r.logStreams() {
		return nil
	}
	problems, err := s.Integrity(ctx, env)
	if err != nil {
		return err
	}
	if s.absent {
		return nil
	}
	if s.docs == nil || s.logins == nil {
		msgs := make([]string, 0, len(problems))
		for _, p := range problems {
			if p.Severity == transform.Error {
				msgs = append(msgs, p.Msg)
			}
		}
		return fmt.Errorf("Log step (delta): %s", strings.Join(msgs, "; "))
	}
	var visitors *cdc.Table
	for _, d := range s.docs {
		if d.customer >= 0 {
			visitors = d.dest
		}
	}
	if visitors == nil {
		return nil // no visitor document: nothing derived
	}
	has, err := tableExists(ctx, r.dst, r.cfg.Destination.Database, logLoginsTable)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("Log step (delta): the destination has no %s, the copy of the visitors' logins that data mode leaves when config.xml runs the Log step in delta mode; run `shiplog migrate data --reset` to copy the log again", logLoginsTable)
	}
	res, err := r.dst.ExecContext(ctx, logCustomerUpdate(visitors, s.logins.Dest, "NOT (v.`customer_id` <=> "+logLatest(s.logins.Dest)+")"))
	if err != nil {
		return fmt.Errorf("Log step (delta): checking %s.customer_id: %w", visitors.Name, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		env.Log.Warn("Log step: visitors whose customer_id was not their latest login's were repaired (written outside shiplog since data mode?)", "stage", "delta",
			"table", visitors.Name, "visitors", n)
	}
	r.follow(&logFollower{visitors: visitors, logins: s.logins.Dest, prefix: r.cfg.Options.DestPrefix})
	if strings.EqualFold(r.cfg.Sink, "both") {
		env.Log.Warn("Log step: with sink: both the visitors' and logins' changes are also published to Kafka, where `apply --from-kafka` neither applies them (its map ignores log_*) nor derives customer_visitor.customer_id (it runs no follower); this destination database gets them",
			"stage", "delta")
	}
	env.Log.Info("Log step: visitors and logins are streamed; customer_visitor.customer_id follows each batch", "stage", "delta")
	return nil
}

// volumeLogins compares the logins with a visitor in the source with their
// destination copy (data mode's Volume, streaming).
func (s *logStep) volumeLogins(ctx context.Context) error {
	tp := s.logins
	var sc int64
	q := "SELECT COUNT(*) FROM " + rowio.QuoteIdent(tp.Source.Schema) + "." + rowio.QuoteIdent(tp.Source.Name) + " WHERE `visitor_id` IS NOT NULL"
	if err := s.r.src.QueryRowContext(ctx, q).Scan(&sc); err != nil {
		return fmt.Errorf("Log step: counting %s: %w", tp.Source.Name, err)
	}
	dc, err := countRows(ctx, s.r.dst, tp.Dest)
	if err != nil {
		return err
	}
	if sc != dc {
		return fmt.Errorf("Log step: mismatch of entities in %s: source %s has %d logins with a visitor, destination %d (run data mode again with --reset)",
			tp.Dest.Name, tp.Source.Name, sc, dc)
	}
	return nil
}
