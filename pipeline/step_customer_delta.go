package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The Customer Attributes step's delta: its documents are streamed with the
// Map step's tables, in one stream (binlog or change logs) with one
// checkpoint, through plans that give the same rows a fresh data-mode copy
// gives:
//
//   - the entity documents (customer_entity, customer_address_entity) also
//     write their static attributes' columns, as columns their own changes
//     leave alone (transform.TablePlan.WithKept): a change of the entity row
//     (an email) keeps the firstname the value tables gave it;
//   - a value row of a static attribute is routed into its entity row's
//     column (transform.Route SetColumn): written, the column gets its value
//     (the password hash upgraded, the value checked against the column, as
//     Data does); deleted, the column gets its default, as an entity copied
//     without such a row has. The reference's delta, which refreshes static
//     columns only when the entity row itself changes, loses a firstname
//     changed in the value table alone; this does not.
//
// Positions: data mode's snapshot of the step records, per document, the
// binlog position it was read at (the stream skips the changes it holds)
// and, when it is the first copy, the checkpoint; with delta.source:
// triggers the change logs go in before the snapshot.

// stepInMode reports whether config.xml runs the step named name (a Def's
// Name) in mode.
func (r *Runtime) stepInMode(name string, mode step.Mode) bool {
	reg, err := r.stepRegistry(&modeRun{})
	if err != nil {
		return false
	}
	for _, s := range r.cfg.Steps {
		if step.Mode(s.Mode) != mode {
			continue
		}
		if d, ok := reg.Lookup(s); ok && d.Name == name {
			return true
		}
	}
	return false
}

// customerStreams reports whether the Customer Attributes step's documents
// are streamed: config.xml runs it in delta mode.
func (r *Runtime) customerStreams() bool { return r.stepInMode("Customer", step.ModeDelta) }

// withStepStreams is plan (the Map step's) with the plans of the other
// steps whose documents the stream carries: the Customer Attributes step's
// when config.xml runs it in delta mode. Its problems are the steps'
// integrity problems added to problems. A document both plan is an
// integrity error naming both files. The Log and Url Rewrite steps' too.
func (r *Runtime) withStepStreams(ctx context.Context, plan *transform.Plan, problems []transform.Problem) (*transform.Plan, []transform.Problem, error) {
	plan, problems, err := r.withCustomerStream(ctx, plan, problems)
	if err != nil {
		return nil, nil, err
	}
	if plan, problems, err = r.withLogStream(ctx, plan, problems); err != nil {
		return nil, nil, err
	}
	return r.withURLRewriteStream(ctx, plan, problems)
}

// withCustomerStream is plan with the Customer Attributes step's stream
// plans, when config.xml runs it in delta mode.
func (r *Runtime) withCustomerStream(ctx context.Context, plan *transform.Plan, problems []transform.Problem) (*transform.Plan, []transform.Problem, error) {
	if plan == nil || !r.customerStreams() {
		return plan, problems, nil
	}
	s := &customerStep{r: r}
	found, err := s.Integrity(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, found...)
	if s.absent || s.docs == nil {
		return plan, problems, nil
	}
	cp, err := s.streamPlan()
	if err != nil {
		return nil, nil, err
	}
	mapName := r.cfg.Options.MapFile
	if mapName == "" {
		mapName = "the map"
	}
	custName, _, _ := r.cfg.MagentoFile(customerMapOption)
	merged, err := transform.Merge(plan, cp, mapName, custName)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the Customer Attributes step streams its documents itself, so the Map step's map must ignore them: %w", ErrIntegrity, err)
	}
	return merged, problems, nil
}

// streamPlan is the step's documents' plans for the stream (see the top of
// this file). It needs Integrity's documents.
func (s *customerStep) streamPlan() (*transform.Plan, error) {
	entities := map[string]*transform.TablePlan{}
	// columns are the entity documents' static attributes' columns, by
	// type code and source attribute_id.
	columns := map[string]map[string]int{}
	var tps []*transform.TablePlan
	for i := range s.docs {
		d := &s.docs[i]
		if !d.entity {
			continue
		}
		n := len(d.tp.Dest.Columns)
		for _, a := range d.static {
			if a.column >= 0 && a.column < n {
				return nil, fmt.Errorf("%w: Customer Attributes step: the map fills %s.%s, where attribute %s's values go: the stream cannot keep both; ignore the field in %s",
					ErrIntegrity, d.tp.Dest.Name, d.cols[a.column].Name, a.code, customerMapOption)
			}
		}
		tp, err := d.tp.WithKept(d.cols[n:])
		if err != nil {
			return nil, fmt.Errorf("Customer Attributes step: %w", err)
		}
		if len(tp.Dest.Key) != 1 || !strings.EqualFold(tp.Dest.Columns[tp.Dest.Key[0]].Name, "entity_id") {
			return nil, fmt.Errorf("%w: Customer Attributes step: destination %s is not keyed by entity_id alone: value rows cannot be routed into its rows", ErrIntegrity, tp.Dest.Name)
		}
		entities[d.typeCode] = tp
		columns[d.typeCode] = map[string]int{}
		for id, a := range d.static {
			columns[d.typeCode][id] = a.column
		}
		tps = append(tps, tp)
	}
	// Change logs are read in rounds, table by table, bounded per table: a
	// value row may come a round before its entity's insert, so a set
	// creates the entity row it misses (the insert fills the rest). The
	// binlog keeps source order: a set's entity row is there.
	create := !s.r.source.copyPositions()
	upgrade := strings.TrimSpace(s.r.cfg.Options.Magento[customerUpgradeHash])
	doUpgrade := upgrade != "" && upgrade != "0" && !strings.EqualFold(upgrade, "false")
	for i := range s.docs {
		d := &s.docs[i]
		if d.entity {
			continue
		}
		if len(d.static) == 0 {
			tps = append(tps, d.tp)
			continue
		}
		ent := entities[d.typeCode]
		src := d.tp.Source
		attrCol, valueCol, entCol := src.ColumnIndex("attribute_id"), src.ColumnIndex("value"), src.ColumnIndex("entity_id")
		if ent == nil || attrCol < 0 || valueCol < 0 || entCol < 0 {
			return nil, fmt.Errorf("%w: Customer Attributes step: %s holds values of %s's static attributes but is not a value table of its entity document (entity_id, attribute_id, value)",
				ErrIntegrity, src.Name, d.typeCode)
		}
		static, cols := d.static, columns[d.typeCode]
		for id, a := range static {
			if _, ok := cols[id]; !ok {
				return nil, fmt.Errorf("%w: Customer Attributes step: attribute %s of %s has no column in %s", ErrIntegrity, a.code, d.typeCode, ent.Dest.Name)
			}
		}
		tps = append(tps, d.tp.WithRoute(func(row []any, gone bool) (transform.Route, error) {
			a, ok := static[str(row[attrCol])]
			if !ok {
				return transform.Route{Kind: transform.Carry}, nil
			}
			r := transform.Route{Kind: transform.SetColumn, Table: ent.Dest, Col: cols[a.id], Key: []any{row[entCol]}, Value: cdc.Default}
			v := row[valueCol]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			sv, isText := v.(string)
			// A SHA-512 hash stays whole in its value table too, as data
			// mode keeps it (customerDoc.skips). A password row gone whose
			// value the source did not give (a change log's delete: the key
			// and carried columns only) is deleted from the value table as
			// well, where it may be (a delete of a row it lacks is none).
			if a.code == "password_hash" {
				r.AlsoCarry = isText && isSha512Hash(sv) || gone && v == nil
			}
			if gone {
				return r, nil
			}
			if isText {
				v = customerStaticValue(a.code, sv, doUpgrade)
			}
			if err := customerFits(v, &ent.Dest.Columns[r.Col]); err != nil {
				return r, fmt.Errorf("%w; nothing of the change is written: widen the column or fix the value", err)
			}
			r.Value, r.Create = v, create
			return r, nil
		}, attrCol, entCol))
	}
	return transform.NewPlan(tps...)
}

// stepSnapshot takes a source connection (raw column bytes, UTC) in a
// read-only consistent snapshot, for a step that reads all its documents in
// one snapshot; with pinned, also the binlog position the snapshot matches
// exactly (rowio.PinSnapshots), from which the stream of those documents
// starts. who names the step in errors. done ends the snapshot and returns
// the connection.
func (r *Runtime) stepSnapshot(ctx context.Context, who string, pinned bool) (conn *sql.Conn, pos cdc.Position, done func(), err error) {
	conn, release, err := rowio.RawConn(ctx, r.src)
	if err != nil {
		return nil, pos, nil, fmt.Errorf("%s: source: %w", who, err)
	}
	done = func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		release()
	}
	if _, err := conn.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		done()
		return nil, pos, nil, fmt.Errorf("%s: source snapshot: %w", who, err)
	}
	if !pinned {
		if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			done()
			return nil, pos, nil, fmt.Errorf("%s: source snapshot: %w", who, err)
		}
		return conn, pos, done, nil
	}
	ms, ok, err := rowio.PinSnapshots(ctx, r.src, conn)
	if err == nil && (!ok || ms.File == "") {
		err = errors.New("the source reports no binlog position for its snapshot (is log_bin on?): the stream could not tell which of its changes the copy holds; " +
			"use delta.source: triggers, or leave the step out of delta mode in config.xml")
	}
	if err != nil {
		done()
		return nil, pos, nil, fmt.Errorf("%s: %w", who, err)
	}
	return conn, cdc.Position{File: ms.File, Pos: ms.Pos}, done, nil
}

// prepareStream runs before the step's snapshot when its documents are
// streamed: with delta.source: triggers the change logs go in on them (so
// every change from the snapshot on is logged). Every document must have
// one: a document the deltalog file leaves out would not be streamed.
func (s *customerStep) prepareStream(ctx context.Context) error {
	if s.r.source.copyPositions() {
		return nil
	}
	cp, err := s.streamPlan()
	if err != nil {
		return err
	}
	return s.r.installStepLogs(ctx, cp, "Customer Attributes step", "delta_customer")
}

// installStepLogs puts the change logs in on the documents of plan, which
// a step streams (its title names it in errors; group is the reference's
// deltalog group that lists them). Every document must have one: a
// document the deltalog file leaves out would not be streamed.
func (r *Runtime) installStepLogs(ctx context.Context, plan *transform.Plan, title, group string) error {
	specs, problems, err := r.logSpecs(ctx, plan)
	if err != nil {
		return err
	}
	notCopied(problems) // other steps' documents of the deltalog file
	var errs []string
	for _, tp := range plan.Tables() {
		if !slices.ContainsFunc(specs, func(sp deltalog.Spec) bool { return sp.Table.Name == tp.Source.Name }) {
			if e := problems[tp.Source.Name]; e != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", tp.Source.Name, e))
			} else {
				errs = append(errs, tp.Source.Name+": the deltalog file does not list it (the reference's "+group+" group does)")
			}
		}
	}
	if len(errs) == 0 {
		failed, err := r.installer().Install(ctx, specs)
		if err != nil {
			return err
		}
		for t, e := range failed {
			errs = append(errs, fmt.Sprintf("%s: %v", t, e))
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("%w: %s: change logs could not be set up for the documents it streams: %s (or leave the step out of delta mode in config.xml)",
			ErrIntegrity, title, strings.Join(errs, "; "))
	}
	return nil
}

// recordStream records, in tx with the copy, what the stream needs to
// apply exactly the changes after the step's snapshot (read at pos): each
// document's snapshot position (the stream skips the changes before it)
// and, before any other copy set one, the checkpoint the stream starts at.
func (s *customerStep) recordStream(ctx context.Context, tx *sql.Tx, pos cdc.Position, counts []int) error {
	r := s.r
	if !r.source.copyPositions() {
		return nil
	}
	for i, d := range s.docs {
		if err := r.state.SaveProgress(ctx, tx, state.TableProgress{Table: d.tp.Source.Name, State: state.TableDone, Rows: int64(counts[i]), SnapshotPos: pos, Segments: 1}); err != nil {
			return err
		}
	}
	if _, _, ok, err := r.state.Checkpoint(ctx); err != nil || ok {
		return err
	}
	return r.state.SaveCheckpoint(ctx, tx, pos, time.Time{})
}

// routed adds to out the changes c of a routed plan (tp.Routed) stands
// for, then markers; mapped is false for a change that failed (recorded). A routed row set into another table's row goes in the
// batch's one transaction, in source order with that row's own changes.
func (m *mapper) routed(out *cdc.Batch, tp *transform.TablePlan, c cdc.Change, markers []cdc.Change) (mapped bool, err error) {
	ds, f, err := tp.MapRouted(c)
	if err != nil {
		return false, fmt.Errorf("%w (at %s)", err, c.Pos)
	}
	if f != nil {
		out.Failed = append(out.Failed, *f)
		m.failed.Add(1)
		out.Changes = append(out.Changes, markers...)
		return false, nil
	}
	if m.dropMapped {
		return true, nil
	}
	for _, d := range ds {
		out.Size += cdc.ValueSize(d.Before) + cdc.ValueSize(d.After)
		if d.Op == cdc.OpSet || d.Table != tp.Dest {
			out.Whole = true
		}
	}
	out.Changes = append(out.Changes, ds...)
	out.Changes = append(out.Changes, markers...)
	return true, nil
}

// overlap finds the step's documents that the Map step's map copies too
// (the stock map.xml ignores them): the Map step would write the same rows
// after this step, and the stream could not carry both plans.
func (s *customerStep) overlap(ctx context.Context, custFile string) ([]transform.Problem, error) {
	r := s.r
	plan, _, err := r.Check(ctx)
	if err != nil || plan == nil {
		return nil, err // the Map step's own integrity check reports it
	}
	mapName := r.cfg.Options.MapFile
	if mapName == "" {
		mapName = "the map"
	}
	var out []transform.Problem
	for _, d := range s.docs {
		for _, tp := range plan.Tables() {
			if strings.EqualFold(tp.Source.Name, d.tp.Source.Name) || strings.EqualFold(tp.Dest.Name, d.tp.Dest.Name) {
				out = append(out, customerProblem("source", d.tp.Source.Name,
					fmt.Sprintf("%s copies %s into %s, and %s migrates %s into %s: ignore the document in %s (the reference's map.xml.dist does)",
						mapName, tp.Source.Name, tp.Dest.Name, custFile, d.tp.Source.Name, d.tp.Dest.Name, mapName)))
			}
		}
	}
	return out, nil
}
