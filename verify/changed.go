package verify

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

// Changed collects the rows a stretch of source changes touched, to verify
// only those (RunChanged): the cutover verifies the rows changed in its last
// window instead of every table.
type Changed struct {
	plan   *transform.Plan
	o      Options
	tables map[string]*changedTable
	rows   int
}

type changedTable struct {
	tr *tableRun
	// full: the table has no key; it is compared whole.
	full bool
	// cands by source key text + destination key text (a key change gives
	// the old and the new key).
	cands map[string]cand
}

// NewChanged returns an empty set of changed rows of plan's tables.
func NewChanged(plan *transform.Plan) *Changed {
	return &Changed{plan: plan, tables: map[string]*changedTable{}}
}

// Rows is the number of distinct rows collected (a keyless table counts 1).
func (c *Changed) Rows() int { return c.rows }

// Add records the rows of a source change (its Before and After images;
// Table is the source table). Changes of tables outside the plan are ignored.
func (c *Changed) Add(ch cdc.Change) {
	if ch.Table == nil {
		return
	}
	tp := c.plan.Table(ch.Table.Name)
	if tp == nil {
		return
	}
	// Rows the plan routes into another table are compared there by plans
	// of their own (transform.TablePlan.AlsoVerify), as Run does.
	for i, tp := range append([]*transform.TablePlan{tp}, tp.AlsoVerify()...) {
		name := tp.Source.Name
		if i > 0 {
			name += " -> " + tp.Dest.Name
		}
		c.add(name, tp, ch, i > 0)
	}
}

// add records the rows of ch for plan tp, under name. routedOnly: only the
// images tp carries (an AlsoVerify plan's rows of Dest are those its route
// carries; a key of another image may be another plan's row there).
func (c *Changed) add(name string, tp *transform.TablePlan, ch cdc.Change, routedOnly bool) {
	ct := c.tables[name]
	if ct == nil {
		ct = &changedTable{tr: newTableRun(tp, &c.o, nil, nil), cands: map[string]cand{}}
		ct.full = tp.FullRow || len(tp.Source.Key) == 0 || len(tp.Dest.Key) == 0
		c.tables[name] = ct
		if ct.full {
			c.rows++
		}
	}
	if ct.full {
		return
	}
	for _, img := range [][]any{ch.Before, ch.After} {
		if img == nil {
			continue
		}
		if routedOnly && tp.Routed() {
			if rt, err := tp.RouteOf(img, true); err != nil || rt.Kind != transform.Carry && !rt.AlsoCarry {
				continue
			}
		}
		// The destination key the stream wrote or deleted this image under.
		out, err := tp.Row(img)
		if err != nil {
			out = tp.KeyRow(img)
		}
		k := cand{srcKey: tp.Source.KeyOf(img), dstKey: tp.Dest.KeyOf(out)}
		id := ct.tr.srcKeyText(k.srcKey) + "\x00" + ct.tr.dstKeyText(k.dstKey)
		if _, ok := ct.cands[id]; !ok {
			ct.cands[id] = k
			c.rows++
		}
	}
}

// changedBatch is the rows read per round trip.
const changedBatch = 1000

// RunChanged verifies the rows collected in c: each is read on both sides by
// key (the source row transformed by its plan, the destination row at the
// destination key) and compared, rechecked as Run does; tables without a
// key that changed are compared whole. o.Tables is ignored.
func RunChanged(ctx context.Context, src, dst *sql.DB, c *Changed, o Options) (Report, error) {
	o.defaults()
	start := time.Now()
	rep := Report{Counts: map[Kind]int{}, OnlyPKs: o.OnlyPKs}
	names := make([]string, 0, len(c.tables))
	for n := range c.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ct := c.tables[n]
		if gone, err := destMissing(ctx, dst, ct.tr.tp); err != nil {
			return rep, err
		} else if gone {
			rep.AddMissingTable(n, ct.tr.tp.Dest.Name, missingDestReason)
			continue
		}
		tr := newTableRun(ct.tr.tp, &o, src, dst)
		trep, err := tr.runChanged(ctx, ct)
		if err != nil {
			return rep, fmt.Errorf("verify %s: %w", n, err)
		}
		rep.Tables = append(rep.Tables, trep)
		rep.Rows += trep.Rows
		rep.Chunks += trep.Chunks
		for k, n := range trep.Counts {
			rep.Counts[k] += n
		}
		o.Logger.Info("changed rows verified", "stage", "verify", "table", n, "destination", trep.Destination,
			"rows", trep.Rows, "differences", len(trep.Differences))
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func (tr *tableRun) runChanged(ctx context.Context, ct *changedTable) (TableReport, error) {
	if ct.full {
		return tr.rep, tr.fullRow(ctx)
	}
	tr.rep.KeyColumns = tr.tp.Dest.KeyNames()
	release, err := tr.open(ctx)
	if err != nil {
		return tr.rep, err
	}
	defer release()
	ids := make([]string, 0, len(ct.cands))
	for id := range ct.cands {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i := 0; i < len(ids); i += changedBatch {
		batch := make([]cand, 0, changedBatch)
		for _, id := range ids[i:min(i+changedBatch, len(ids))] {
			batch = append(batch, ct.cands[id])
		}
		cands, diffs, err := tr.evaluate(ctx, batch)
		if err != nil {
			return tr.rep, err
		}
		tr.rep.Chunks++
		tr.rep.Rows += int64(len(batch))
		if len(diffs) > 0 {
			tr.rep.ChunksDiffering++
		}
		tr.cands = append(tr.cands, cands...)
		tr.rep.Differences = append(tr.rep.Differences, diffs...)
	}
	return tr.rep, tr.recheck(ctx)
}
