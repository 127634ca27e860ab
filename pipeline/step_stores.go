package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// storesDocuments are the documents the reference's Stores step migrates,
// source to destination (before prefixes), in the order it copies them. The
// list is fixed: the map file (stores_map_file) only says how their fields
// are mapped.
var storesDocuments = [][2]string{
	{"core_store", "store"},
	{"core_store_group", "store_group"},
	{"core_website", "store_website"},
}

// storesMapOption is the config.xml option naming the Stores step's map.
const storesMapOption = "stores_map_file"

// storesStep is the reference tool's Stores step (settings mode): Magento 1's
// stores, store groups and websites replace Magento 2's through
// map-stores.xml. As in the reference, the destination's rows (Magento 2's
// admin and default store, group and website) are cleared and the source's
// copied, without cascading to the rows that reference them; here both
// happen in one destination transaction, so a failed run leaves the
// destination's stores as they were, and a run again does the same.
//
// The reference's Stores step has no delta stage: stores changed in the
// source after settings mode are not streamed (the Map step's stock map
// ignores these tables); running settings mode again copies them anew.
type storesStep struct {
	r *Runtime
	// plans are the compiled plans of the documents, in storesDocuments
	// order (found by Integrity, for Data and Volume).
	plans []*transform.TablePlan
}

// Integrity compiles the stores map over the three source and destination
// documents: missing documents and fields, unmapped fields and handlers that
// cannot bind are its problems, as in the map's integrity check.
func (s *storesStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	file, ok, err := s.r.cfg.MagentoFile(storesMapOption)
	if err != nil {
		return nil, err
	}
	if !ok {
		return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: "source",
			Msg: "Stores step: config.xml sets no options/" + storesMapOption + " (the stock one is etc/opensource-to-opensource/map-stores.xml.dist)"}}, nil
	}
	var src, dst []string
	for _, d := range storesDocuments {
		src, dst = append(src, d[0]), append(dst, d[1])
	}
	plan, problems, err := s.r.compileMapFile(ctx, file, src, dst)
	if err != nil {
		return nil, err
	}
	var more []transform.Problem
	s.plans, more = storesPlans(plan, file, s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix)
	return append(problems, more...), nil
}

// storesPlans picks the plans of the Stores step's documents from plan, in
// storesDocuments order, and reports a document the plan does not copy where
// the step copies it; plans is nil unless every document has its plan.
func storesPlans(plan *transform.Plan, file, srcPrefix, dstPrefix string) (plans []*transform.TablePlan, problems []transform.Problem) {
	for _, d := range storesDocuments {
		sn, dn := srcPrefix+d[0], dstPrefix+d[1]
		tp := plan.Table(sn)
		switch {
		case tp == nil:
			// Compile said why (a missing document, no key, not mapped);
			// this names what the step then cannot copy.
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "source", Table: sn,
				Msg: fmt.Sprintf("Stores step: source document %s has no plan, so %s cannot be migrated (see the problems above and %s)", sn, dn, file)})
			continue
		case !strings.EqualFold(tp.Dest.Name, dn):
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "source", Table: sn,
				Msg: fmt.Sprintf("Stores step: %s maps source document %s to %s; the Stores step migrates it to %s", file, sn, tp.Dest.Name, dn)})
			continue
		case len(tp.SideTables()) > 0:
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "source", Table: sn,
				Msg: fmt.Sprintf("Stores step: %s gives %s a handler that writes other tables; the Stores step copies only %s", file, sn, dn)})
			continue
		}
		plans = append(plans, tp)
	}
	if len(plans) != len(storesDocuments) {
		return nil, problems
	}
	return plans, problems
}

// Data clears the destination's stores, store groups and websites and copies
// the source's through the plans, in one destination transaction. A row a
// handler cannot transform stops the step with nothing written: a store
// migrated without its group or website is worse than none.
func (s *storesStep) Data(ctx context.Context, env *step.Env) error {
	if s.plans == nil {
		return errors.New("Stores step: no plan (its integrity stage did not run or failed)")
	}
	type doc struct {
		tp   *transform.TablePlan
		rows [][]any
	}
	docs := make([]doc, 0, len(s.plans))
	for _, tp := range s.plans {
		d := doc{tp: tp}
		if err := rowio.ReadTable(ctx, s.r.src, tp.Source, func(row []any) error {
			out, err := tp.Row(row)
			if err != nil {
				return fmt.Errorf("Stores step: source %s row %s: %w; nothing was written: fix the row or the map and run settings mode again",
					tp.Source.Name, keyText(tp.Source, row), err)
			}
			d.rows = append(d.rows, out)
			return nil
		}); err != nil {
			return err
		}
		docs = append(docs, d)
	}
	// The destination pool's sessions have foreign key checks off (as the
	// reference's): the DELETE cascades to nothing, and rows that reference
	// a store keep their store_id, which the copy fills again.
	err := s.r.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range docs {
			q := "DELETE FROM " + rowio.QuoteIdent(d.tp.Dest.Schema) + "." + rowio.QuoteIdent(d.tp.Dest.Name)
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("Stores step: clearing %s: %w", d.tp.Dest.Name, err)
			}
			for _, row := range d.rows {
				q, err := settingsInsert(d.tp.Dest, row)
				if err != nil {
					return fmt.Errorf("Stores step: %s: %w", d.tp.Dest.Name, err)
				}
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("Stores step: copying into %s: %w", d.tp.Dest.Name, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range docs {
		env.Log.Info("stores migrated", "stage", "data", "table", d.tp.Dest.Name, "rows", len(d.rows))
	}
	return nil
}

// Volume counts each document's rows on both sides; a difference is an
// error, as in the reference.
func (s *storesStep) Volume(ctx context.Context, _ *step.Env) error {
	var errs []error
	for _, tp := range s.plans {
		sc, err := countRows(ctx, s.r.src, tp.Source)
		if err != nil {
			return err
		}
		dc, err := countRows(ctx, s.r.dst, tp.Dest)
		if err != nil {
			return err
		}
		if sc != dc {
			errs = append(errs, fmt.Errorf("Stores step: mismatch of entities in the document %s: source %s has %d, destination %d (run settings mode again)",
				tp.Dest.Name, tp.Source.Name, sc, dc))
		}
	}
	return errors.Join(errs...)
}

// Delta: the reference's Stores step has none (see storesStep). Listed in
// delta mode all the same, it says so rather than appear to stream.
func (s *storesStep) Delta(_ context.Context, env *step.Env) error {
	if env.Log != nil {
		env.Log.Warn("the Stores step has no delta: changes to stores, store groups and websites are not streamed; run settings mode again to copy them anew",
			"stage", "delta")
	}
	return nil
}

// keyText names a row of t by its key: "store_id=1".
func keyText(t *cdc.Table, row []any) string {
	parts := make([]string, 0, len(t.Key))
	for _, k := range t.Key {
		parts = append(parts, fmt.Sprintf("%s=%v", t.Columns[k].Name, str(row[k])))
	}
	return strings.Join(parts, ",")
}

func countRows(ctx context.Context, db *sql.DB, t *cdc.Table) (int64, error) {
	var n int64
	q := "SELECT COUNT(*) FROM " + rowio.QuoteIdent(t.Schema) + "." + rowio.QuoteIdent(t.Name)
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting %s.%s: %w", t.Schema, t.Name, err)
	}
	return n, nil
}

// compileMapFile compiles the map file (map.xml or YAML) over the source
// documents src and destination documents dst (names before the
// configuration's prefixes) with the configuration's rules and handler
// environment: what a step with its own map (stores_map_file, ...) checks
// and copies. A document either side lacks is left out of the compile and
// reported as an error. Each adjust changes the rules before the compile.
func (r *Runtime) compileMapFile(ctx context.Context, file string, src, dst []string, adjust ...func(*transform.Rules, []*cdc.Table)) (*transform.Plan, []transform.Problem, error) {
	m, err := transform.ReadMap(file)
	if err != nil {
		return nil, nil, err
	}
	var problems []transform.Problem
	pick := func(db *sql.DB, schema, prefix, side string, names []string) ([]*cdc.Table, error) {
		all, err := rowio.LoadTables(ctx, db, schema, transform.StateTablePrefix)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side, err)
		}
		var out []*cdc.Table
		for _, n := range names {
			found := false
			for _, t := range all {
				if strings.EqualFold(t.Name, prefix+n) {
					out, found = append(out, t), true
					break
				}
			}
			if !found {
				problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: side, Table: prefix + n,
					Msg: fmt.Sprintf("%s document %s does not exist in %s (needed by %s)", side, prefix+n, schema, file)})
			}
		}
		return out, nil
	}
	st, err := pick(r.src, r.cfg.Source.Database, r.cfg.Options.SourcePrefix, "source", src)
	if err != nil {
		return nil, nil, err
	}
	dt, err := pick(r.dst, r.cfg.Destination.Database, r.cfg.Options.DestPrefix, "destination", dst)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range st {
		m.SourceNames = append(m.SourceNames, t.Name)
	}
	m.SourcePrefix = r.cfg.Options.SourcePrefix
	m.DestPrefix = r.cfg.Options.DestPrefix
	m.Env = r.handlerEnv()
	for _, f := range adjust {
		f(m, st)
	}
	plan, more := transform.Compile(m, st, dt)
	return plan, append(problems, more...), nil
}
