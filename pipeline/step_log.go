package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The config.xml options of the Log step: its map and its document groups
// (group source_documents: copied through the map; group
// destination_documents_to_clear: emptied).
const (
	logMapOption    = "log_map_file"
	logGroupsOption = "log_document_groups_file"
)

// logVisitorDoc is the source document whose copy also takes each visitor's
// customer from logCustomerDoc, as the reference's Log step does.
const (
	logVisitorDoc  = "log_visitor"
	logCustomerDoc = "log_customer"
)

// logStep is the reference tool's Log step (data mode): Magento 1's visitor
// log becomes Magento 2's customer_visitor through map-log.xml. Each
// destination document of the source documents is cleared and copied anew,
// and the documents of destination_documents_to_clear are emptied (the stock
// groups file lists none), all in one destination transaction. A visitor's
// customer_id comes from log_customer: the customer of the visitor's latest
// login (the reference joins log_customer and keeps whichever of a visitor's
// logins its server returns first; the latest is the one Magento 2 would
// show).
//
// Magento 2.4's customer_visitor.session_id is a deprecated varchar(1); a
// Magento 1 session id does not fit. The reference's non-strict session
// keeps its first character; here the column is left NULL and the count of
// such visitors is warned about. A visitor without first_visit_at (NULL in
// Magento 1) gets its last_visit_at as created_at, which is NOT NULL in
// Magento 2 (the server would otherwise stamp the time of the copy, or
// refuse the row, by its timestamp settings), also counted in a warning.
//
// Both rules are handlers the step adds to the map's plan of log_visitor
// (logVisitorRules), so the stream and verify transform a visitor as the
// copy does.
//
// Delta: see step_log_delta.go. With config.xml running the step in delta
// mode, Data also copies log_customer into the destination's
// _shiplog_log_customer and records where the stream starts.
type logStep struct {
	r *Runtime
	// docs are the source documents' plans, in the groups file's order.
	docs []logDoc
	// clear are the destination documents emptied (prefixed).
	clear []string
	// absent: the source has none of the log documents (a partial
	// database): nothing to migrate (Integrity warned).
	absent bool
	// logins is the plan of log_customer into _shiplog_log_customer (nil
	// unless config.xml runs the step in delta mode).
	logins *transform.TablePlan
}

type logDoc struct {
	tp *transform.TablePlan
	// dest is what the copy writes: the plan's destination columns, and
	// customer_id when the map ignores it (the stock map does: no source
	// field fills it, the join does).
	dest *cdc.Table
	// customer is the index in dest of customer_id, for the visitor
	// document's join with log_customer (-1: no join).
	customer int
}

// readLogGroups reads the Log step's groups file: the source documents and
// the destination documents to clear, in file order.
func readLogGroups(path string) (src, clear []string, err error) {
	docs, err := deltalog.ReadGroups(path)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range docs {
		switch d.Group {
		case "source_documents":
			src = append(src, d.Table)
		case "destination_documents_to_clear":
			clear = append(clear, d.Table)
		default:
			return nil, nil, fmt.Errorf("%s: unknown group %q (the Log step reads source_documents and destination_documents_to_clear)", path, d.Group)
		}
	}
	return src, clear, nil
}

// logDestName is the destination document rules gives source document doc
// (its rename, or the same name).
func logDestName(rules *transform.Rules, doc string) string {
	for _, rn := range rules.Source.RenameDocuments {
		if strings.EqualFold(rn.From, doc) {
			return rn.To
		}
	}
	return doc
}

func logProblem(table, msg string) transform.Problem {
	return transform.Problem{Severity: transform.Error, Blocking: true, Area: "source", Table: table, Msg: "Log step: " + msg}
}

// Integrity checks the options and files, compiles the log map over the
// source documents and their destination documents, and checks that the
// documents to clear exist in the destination and that log_customer, which
// the visitors' copy joins, exists in the source.
func (s *logStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	s.docs, s.clear, s.logins = nil, nil, nil
	if err := s.destRows(); err != nil {
		return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: "destination", Table: "customer_visitor",
			Msg: fmt.Sprintf("Log step: it writes Magento 2's customer_visitor itself (and, in delta mode, keeps its customers in step with the logins in the destination), and cannot run here: %v; run with sink: mysql, or leave the Log Step out of config.xml", err)}}, nil
	}
	mapFile, okMap, err := s.r.cfg.MagentoFile(logMapOption)
	if err != nil {
		return nil, err
	}
	groupsFile, okGroups, err := s.r.cfg.MagentoFile(logGroupsOption)
	if err != nil {
		return nil, err
	}
	var problems []transform.Problem
	if !okMap {
		problems = append(problems, logProblem("", "config.xml sets no options/"+logMapOption+" (the stock one is etc/opensource-to-opensource/map-log.xml.dist)"))
	}
	if !okGroups {
		problems = append(problems, logProblem("", "config.xml sets no options/"+logGroupsOption+" (the stock one is etc/opensource-to-opensource/log-document-groups.xml.dist)"))
	}
	if problems != nil {
		return problems, nil
	}
	src, clear, err := readLogGroups(groupsFile)
	if err != nil {
		return nil, err
	}
	s.absent = true
	for _, d := range src {
		has, err := tableExists(ctx, s.r.src, s.r.cfg.Source.Database, s.r.cfg.Options.SourcePrefix+d)
		if err != nil {
			return nil, err
		}
		s.absent = s.absent && !has
	}
	if s.absent && len(src) > 0 {
		// Not a Magento 1 store's log (a partial database): nothing to
		// copy, and Magento 2's visitors are left as they are.
		return []transform.Problem{{Severity: transform.Warning, Area: "source", Table: s.r.cfg.Options.SourcePrefix + src[0],
			Msg: fmt.Sprintf("Log step: the source has none of the documents of %s (%s, ...): no visitors to migrate; Magento 2's are left as they are (the reference stops here)", groupsFile, s.r.cfg.Options.SourcePrefix+src[0])}}, nil
	}
	s.absent = false
	rules, err := transform.ReadMap(mapFile)
	if err != nil {
		return nil, err
	}
	var dst []string
	for _, d := range src {
		dst = append(dst, logDestName(rules, d))
	}
	plan, found, err := s.r.compileMapFile(ctx, mapFile, src, dst, logVisitorRules)
	if err != nil {
		return nil, err
	}
	problems = append(problems, found...)
	sp, dp := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	var docs []logDoc
	for i, d := range src {
		tp := plan.Table(sp + d)
		switch {
		case tp == nil:
			problems = append(problems, logProblem(sp+d, fmt.Sprintf("source document %s has no plan, so %s cannot be migrated (see the problems above and %s)", sp+d, dp+dst[i], mapFile)))
			continue
		case len(tp.SideTables()) > 0:
			problems = append(problems, logProblem(sp+d, fmt.Sprintf("%s gives %s a handler that writes other tables; the Log step copies only %s", mapFile, sp+d, tp.Dest.Name)))
			continue
		}
		doc := logDoc{tp: tp, dest: tp.Dest, customer: -1}
		if strings.EqualFold(d, logVisitorDoc) {
			ok, err := tableExists(ctx, s.r.src, s.r.cfg.Source.Database, sp+logCustomerDoc)
			if err != nil {
				return nil, err
			}
			all, err := tableColumns(ctx, s.r.dst, tp.Dest.Schema, tp.Dest.Name)
			if err != nil {
				return nil, err
			}
			if doc.customer = tp.Dest.ColumnIndex("customer_id"); doc.customer < 0 && slices.Contains(all, "customer_id") {
				dest := *tp.Dest
				dest.Columns = append(slices.Clip(tp.Dest.Columns), cdc.Column{Name: "customer_id", DataType: "int", ColumnType: "int", Nullable: true})
				doc.dest, doc.customer = &dest, len(tp.Dest.Columns)
			}
			switch {
			case !ok:
				problems = append(problems, logProblem(sp+logCustomerDoc, fmt.Sprintf("source document %s does not exist; the visitors' customers come from it", sp+logCustomerDoc)))
			case doc.customer < 0:
				problems = append(problems, logProblem(tp.Dest.Name, fmt.Sprintf("destination document %s has no customer_id column for the visitors' customers from %s", tp.Dest.Name, sp+logCustomerDoc)))
			case tp.Source.ColumnIndex("visitor_id") < 0:
				problems = append(problems, logProblem(sp+d, fmt.Sprintf("source document %s has no visitor_id column to join %s by", sp+d, sp+logCustomerDoc)))
			}
		}
		docs = append(docs, doc)
	}
	for _, d := range clear {
		ok, err := tableExists(ctx, s.r.dst, s.r.cfg.Destination.Database, dp+d)
		if err != nil {
			return nil, err
		}
		if !ok {
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "destination", Table: dp + d,
				Msg: fmt.Sprintf("Log step: destination document %s, listed to clear in %s, does not exist", dp+d, groupsFile)})
		}
		s.clear = append(s.clear, dp+d)
	}
	if len(docs) == len(src) {
		s.docs = docs
	}
	if s.docs != nil && s.r.logStreams() {
		found, err := s.integrityLogins(ctx)
		if err != nil {
			return nil, err
		}
		problems = append(problems, found...)
	}
	return problems, nil
}

// destRows is nil when the destination database holds the mapped rows
// (see destination.rows).
func (s *logStep) destRows() error {
	if s.r.dest == nil {
		return nil
	}
	return s.r.dest.rows()
}

// integrityLogins plans the logins' copy for the stream (when a document
// joins log_customer).
func (s *logStep) integrityLogins(ctx context.Context) ([]transform.Problem, error) {
	if !slices.ContainsFunc(s.docs, func(d logDoc) bool { return d.customer >= 0 }) {
		return nil, nil
	}
	name := s.r.cfg.Options.SourcePrefix + logCustomerDoc
	all, err := rowio.LoadTables(ctx, s.r.src, s.r.cfg.Source.Database, transform.StateTablePrefix)
	if err != nil {
		return nil, fmt.Errorf("Log step: source: %w", err)
	}
	for _, t := range all {
		if strings.EqualFold(t.Name, name) {
			tp, problems, err := s.loginsPlan(t)
			if err != nil || problems != nil {
				return problems, err
			}
			s.logins = tp
			return nil, nil
		}
	}
	return nil, nil // Integrity reported log_customer missing
}

// Data clears each source document's destination document and copies the
// source's rows into it, then empties the documents to clear, in one
// destination transaction: a failed run leaves the log as it was. The
// documents are read in one source snapshot; when config.xml runs the step
// in delta mode, the logins are copied too (_shiplog_log_customer) and the
// stream's start recorded with them (step_log_delta.go).
func (s *logStep) Data(ctx context.Context, env *step.Env) error {
	if s.absent {
		return nil
	}
	if s.docs == nil {
		return errors.New("Log step: no plan (its integrity stage did not run or failed)")
	}
	streams := s.logins != nil && s.r.logStreams()
	if streams {
		if err := s.prepareStream(ctx); err != nil {
			return err
		}
		if _, err := s.r.dst.ExecContext(ctx, logLoginsDDL(s.logins.Dest)); err != nil {
			return fmt.Errorf("Log step: creating %s: %w", s.logins.Dest.Name, err)
		}
	}
	src, pos, done, err := s.r.stepSnapshot(ctx, "Log step", streams && s.r.source.copyPositions())
	if err != nil {
		return err
	}
	defer done()
	counts := make([]int, len(s.docs))
	logins := 0
	var noSession, noFirst int
	err = s.r.inTx(ctx, func(tx *sql.Tx) error {
		for i, d := range s.docs {
			dest := rowio.QuoteIdent(d.tp.Dest.Schema) + "." + rowio.QuoteIdent(d.tp.Dest.Name)
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+dest); err != nil {
				return fmt.Errorf("Log step: clearing %s: %w", d.tp.Dest.Name, err)
			}
			w := &batchInsert{tx: tx, t: d.dest}
			n, dropped, first, err := s.copyDoc(ctx, src, d, w)
			if err != nil {
				return err
			}
			noFirst += first
			if err := w.flush(ctx); err != nil {
				return fmt.Errorf("Log step: copying into %s: %w", d.tp.Dest.Name, err)
			}
			counts[i], noSession = n, noSession+dropped
		}
		for _, name := range s.clear {
			q := "DELETE FROM " + rowio.QuoteIdent(s.r.cfg.Destination.Database) + "." + rowio.QuoteIdent(name)
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("Log step: clearing %s: %w", name, err)
			}
		}
		if !streams {
			return nil
		}
		var err error
		if logins, err = s.copyLogins(ctx, src, tx); err != nil {
			return err
		}
		rows := map[string]int{s.logins.Source.Name: logins}
		for i, d := range s.docs {
			rows[d.tp.Source.Name] = counts[i]
		}
		return s.recordStream(ctx, tx, pos, rows)
	})
	if err != nil {
		return err
	}
	for i, d := range s.docs {
		env.Log.Info("log migrated", "stage", "data", "table", d.tp.Dest.Name, "rows", counts[i])
	}
	if streams {
		env.Log.Info("logins copied for the delta stream", "stage", "data", "table", s.logins.Dest.Name, "rows", logins)
	}
	if noSession > 0 {
		env.Log.Warn("Log step: session ids that do not fit the destination's session_id column (Magento 2.4's is a deprecated varchar(1)) were left NULL",
			"stage", "data", "visitors", noSession)
	}
	if noFirst > 0 {
		env.Log.Warn("Log step: visitors without first_visit_at got their last_visit_at as created_at (NOT NULL in Magento 2)",
			"stage", "data", "visitors", noFirst)
	}
	if len(s.clear) > 0 {
		env.Log.Info("log documents cleared", "stage", "data", "tables", strings.Join(s.clear, ","))
	}
	return nil
}

// copyDoc copies d's source rows, read on src, into w; the visitor
// document's rows get their customer from log_customer. It returns the rows
// copied, how many had their session id left NULL and how many their
// created_at taken from last_visit_at (the plan's handlers do both,
// logVisitorRules).
func (s *logStep) copyDoc(ctx context.Context, src *sql.Conn, d logDoc, w *batchInsert) (n, noSession, noFirst int, err error) {
	st := d.tp.Source
	session := st.ColumnIndex("session_id")
	var sessionCol *cdc.Column
	if i := d.tp.Dest.ColumnIndex("session_id"); i >= 0 && session >= 0 {
		sessionCol = &d.tp.Dest.Columns[i]
	}
	first, last := st.ColumnIndex("first_visit_at"), st.ColumnIndex("last_visit_at")
	add := func(row []any, customer any) error {
		if first >= 0 && last >= 0 && row[first] == nil && row[last] != nil {
			noFirst++
		}
		if sessionCol != nil && logTooLong(row[session], sessionCol) {
			noSession++
		}
		out, err := d.tp.Row(row)
		if err != nil {
			return fmt.Errorf("Log step: source %s row %s: %w; nothing was written: fix the row or the map and run data mode again",
				st.Name, keyText(st, row), err)
		}
		if d.customer >= len(out) {
			out = append(out, customer)
		} else if d.customer >= 0 {
			out[d.customer] = customer
		}
		n++
		return w.add(ctx, out)
	}
	if d.customer < 0 {
		err = logRead(ctx, src, st, "SELECT "+logColumnList(st, "")+" FROM "+rowio.QuoteIdent(st.Schema)+"."+rowio.QuoteIdent(st.Name), st,
			func(row []any) error { return add(row, nil) })
		return n, noSession, noFirst, err
	}
	// The visitor's rows, each with the customer of its latest login.
	joined := &cdc.Table{Schema: st.Schema, Name: st.Name,
		Columns: append(append([]cdc.Column(nil), st.Columns...), cdc.Column{Name: "customer_id", DataType: "int", ColumnType: "int(11)", Nullable: true})}
	lc := rowio.QuoteIdent(st.Schema) + "." + rowio.QuoteIdent(s.r.cfg.Options.SourcePrefix+logCustomerDoc)
	q := "SELECT " + logColumnList(st, "lv.") +
		", (SELECT lc.customer_id FROM " + lc + " lc WHERE lc.visitor_id = lv.visitor_id ORDER BY lc.log_id DESC LIMIT 1)" +
		" FROM " + rowio.QuoteIdent(st.Schema) + "." + rowio.QuoteIdent(st.Name) + " lv ORDER BY lv.visitor_id"
	err = logRead(ctx, src, st, q, joined, func(row []any) error {
		return add(row[:len(st.Columns)], row[len(st.Columns)])
	})
	return n, noSession, noFirst, err
}

// logColumnList is t's columns, quoted, each after alias.
func logColumnList(t *cdc.Table, alias string) string {
	var b strings.Builder
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias + rowio.QuoteIdent(c.Name))
	}
	return b.String()
}

// logRead runs query q (prepared: the binary protocol reads every type
// exactly) on src and calls fn with each row, scanned as shape; doc names
// the document in errors.
func logRead(ctx context.Context, src *sql.Conn, doc *cdc.Table, q string, shape *cdc.Table, fn func(row []any) error) error {
	stmt, err := src.PrepareContext(ctx, q)
	if err != nil {
		return fmt.Errorf("Log step: reading %s: %w", doc.Name, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return fmt.Errorf("Log step: reading %s: %w", doc.Name, err)
	}
	defer rows.Close()
	for {
		row, ok, err := rowio.ScanRow(rows, shape)
		if err != nil {
			return fmt.Errorf("Log step: reading %s: %w", doc.Name, err)
		}
		if !ok {
			return nil
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// batchInsert writes rows of t in multi-row INSERTs of up to about 1 MiB.
type batchInsert struct {
	tx   *sql.Tx
	t    *cdc.Table
	q    []byte
	rows int
}

func (b *batchInsert) add(ctx context.Context, row []any) error {
	if b.rows == 0 {
		b.q = append(b.q[:0], "INSERT INTO "+rowio.QuoteIdent(b.t.Schema)+"."+rowio.QuoteIdent(b.t.Name)+" ("...)
		first := true
		for _, c := range b.t.Columns {
			if c.Generated {
				continue
			}
			if !first {
				b.q = append(b.q, ',')
			}
			first = false
			b.q = append(b.q, rowio.QuoteIdent(c.Name)...)
		}
		b.q = append(b.q, ") VALUES "...)
	} else {
		b.q = append(b.q, ',')
	}
	b.q = append(b.q, '(')
	first := true
	for i := range b.t.Columns {
		if b.t.Columns[i].Generated {
			continue
		}
		if !first {
			b.q = append(b.q, ',')
		}
		first = false
		var err error
		if b.q, err = rowio.AppendLiteral(b.q, row[i], &b.t.Columns[i]); err != nil {
			return fmt.Errorf("%s: %w", b.t.Name, err)
		}
	}
	b.q = append(b.q, ')')
	b.rows++
	if len(b.q) >= 1<<20 {
		return b.flush(ctx)
	}
	return nil
}

func (b *batchInsert) flush(ctx context.Context) error {
	if b.rows == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(ctx, string(b.q))
	b.rows = 0
	return err
}

// Volume counts each source document's rows and its destination document's
// (they must be equal) and checks that the documents to clear are empty, as
// the reference does (data mode). In delta mode there is nothing to check
// here: the Map step's stream ends the mode (DeltaStart checks the
// visitors' customers when delta mode starts).
func (s *logStep) Volume(ctx context.Context, env *step.Env) error {
	if env.Mode == step.ModeDelta || s.absent {
		return nil
	}
	var errs []error
	for _, d := range s.docs {
		sc, err := countRows(ctx, s.r.src, d.tp.Source)
		if err != nil {
			return err
		}
		dc, err := countRows(ctx, s.r.dst, d.tp.Dest)
		if err != nil {
			return err
		}
		if sc != dc {
			errs = append(errs, fmt.Errorf("Log step: mismatch of entities in the document %s: source %s has %d, destination %d (run data mode again with --reset)",
				d.tp.Dest.Name, d.tp.Source.Name, sc, dc))
		}
	}
	for _, name := range s.clear {
		n, err := countRows(ctx, s.r.dst, &cdc.Table{Schema: s.r.cfg.Destination.Database, Name: name})
		if err != nil {
			return err
		}
		if n > 0 {
			errs = append(errs, fmt.Errorf("Log step: log document %s in the destination is not cleared (%d rows)", name, n))
		}
	}
	if s.logins != nil && s.r.logStreams() {
		if err := s.volumeLogins(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Delta does nothing more: the Map step's Delta streams the step's
// documents, and DeltaStart registered the follower (step_log_delta.go).
func (s *logStep) Delta(context.Context, *step.Env) error { return nil }
