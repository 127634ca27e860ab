package pipeline

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// ErrPartial is returned when a run finished but some rows could not be
// transformed: they are in _shiplog_failed_rows and the next run retries them
// (exit code 3).
var ErrPartial = step.ErrPartial

// retryFailures tries the recorded failed rows again: a keyed row is read
// from the source as it is now, transformed and applied (or deleted on the
// destination when the source no longer has it); a keyless row is retried as
// recorded. Rows that fail again stay recorded. It returns ErrPartial when some
// remain.
func (r *Runtime) retryFailures(ctx context.Context, plan *transform.Plan) error {
	if r.dest.rows() != nil {
		return nil // the source rows are published; nothing is mapped here
	}
	failures, err := r.state.Failures(ctx)
	if err != nil || len(failures) == 0 {
		return err
	}
	log := r.log.With("stage", "retry")
	writer := r.writer()
	var remaining int
	for _, f := range failures {
		tp := plan.Table(f.Table)
		if tp == nil {
			remaining++
			log.Warn("failed row of a table the map no longer copies; kept", "table", f.Table)
			continue
		}
		src := f.Row
		var change cdc.Change
		if src == nil {
			row, found, err := rowio.ReadRow(ctx, r.src, tp.Source, f.Key)
			if err != nil {
				return err
			}
			if !found {
				// Gone from the source: make sure it is gone from the destination.
				keyRow := make([]any, len(tp.Source.Columns))
				for i, k := range tp.Source.Key {
					keyRow[k] = f.Key[i]
				}
				before, err := tp.Row(keyRow)
				if err != nil {
					before = nil
				}
				del := append(deleteChange(tp, before), tp.SideDeletes(f.Key)...)
				if err := r.applyFollowed(ctx, writer, del, func(tx *sql.Tx) error { return r.state.ForgetFailure(ctx, tx, f) }); err != nil {
					return err
				}
				continue
			}
			src = row
		}
		if rt, err := tp.RouteOf(src, false); err != nil {
			return err
		} else if rt.Kind == transform.Skip {
			// The plan leaves the row out now (the PostProcessing step's routes).
			del := append(deleteChange(tp, tp.KeyRow(src)), tp.SideDeletes(tp.Source.KeyOf(src))...)
			if err := r.applyFollowed(ctx, writer, del, func(tx *sql.Tx) error { return r.state.ForgetFailure(ctx, tx, f) }); err != nil {
				return err
			}
			continue
		} else if rt.Kind == transform.Upsert {
			// A row of another table (the PostProcessing step's mover).
			out, nf, err := tp.MapRouted(cdc.Change{Op: cdc.OpInsert, Table: tp.Source, After: src, Pos: f.Pos})
			if err != nil {
				return err
			}
			if nf != nil {
				remaining++
				if err := writer.Apply(ctx, nil, func(tx *sql.Tx) error { return r.state.SaveFailures(ctx, tx, []cdc.Failure{*nf}) }); err != nil {
					return err
				}
				log.Warn("failed row still fails", "table", f.Table, "key", fmt.Sprint(f.Key), "handler", nf.Handler, "error", nf.Reason)
				continue
			}
			if err := r.applyFollowed(ctx, writer, out, func(tx *sql.Tx) error { return r.state.ForgetFailure(ctx, tx, f) }); err != nil {
				return err
			}
			log.Info("failed row applied", "table", f.Table, "key", fmt.Sprint(f.Key))
			continue
		}
		out, side, err := tp.RowSide(src)
		if err != nil {
			nf, ferr := tp.Failure(src, err, f.Pos)
			if ferr != nil {
				return ferr
			}
			remaining++
			if err := writer.Apply(ctx, nil, func(tx *sql.Tx) error { return r.state.SaveFailures(ctx, tx, []cdc.Failure{nf}) }); err != nil {
				return err
			}
			log.Warn("failed row still fails", "table", f.Table, "key", fmt.Sprint(f.Key), "handler", nf.Handler, "error", nf.Reason)
			continue
		}
		change = cdc.Change{Op: cdc.OpInsert, Table: tp.Dest, After: out}
		if err := r.applyFollowed(ctx, writer, append([]cdc.Change{change}, side...), func(tx *sql.Tx) error { return r.state.ForgetFailure(ctx, tx, f) }); err != nil {
			return err
		}
		log.Info("failed row applied", "table", f.Table, "key", fmt.Sprint(f.Key))
	}
	if remaining > 0 {
		return fmt.Errorf("%w: %d recorded row(s) still fail to transform (see _shiplog_failed_rows)", ErrPartial, remaining)
	}
	return nil
}

func deleteChange(tp *transform.TablePlan, before []any) []cdc.Change {
	if before == nil || tp.FullRow {
		return nil
	}
	return []cdc.Change{{Op: cdc.OpDelete, Table: tp.Dest, Before: before}}
}
