package snapshot

import (
	"context"
	"fmt"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/failpoint"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

func (c *Copier) writeChunk(ctx context.Context, tp *transform.TablePlan, rows [][]any, p state.TableProgress) error {
	pc, err := c.prepareChunk(tp, rows, p.SnapshotPos)
	if err != nil {
		return err
	}
	return c.commitChunk(ctx, tp, pc, p, p.Rows)
}

// preparedChunk is a chunk of source rows transformed (and encoded for the
// writer), ready to commit.
type preparedChunk struct {
	rows   [][]any // source rows (for Publish)
	chunk  *mysqlsink.Chunk
	failed []cdc.Failure
}

// prepareChunk transforms rows through the plan and prepares them for the
// writer; it touches neither database.
func (c *Copier) prepareChunk(tp *transform.TablePlan, rows [][]any, pos cdc.Position) (preparedChunk, error) {
	pc := preparedChunk{rows: rows}
	if c.StateOnly {
		return pc, nil
	}
	dst := make([][]any, 0, len(rows))
	var side []cdc.Change
	for _, r := range rows {
		// A routed plan (transform.WithRoute) leaves out what its Router
		// skips, as the stream and verify do; rows routed into another
		// table's column are written by the step that owns the plan.
		if rt, err := tp.RouteOf(r, false); err != nil {
			return pc, err
		} else if rt.Kind == transform.Skip {
			continue
		} else if rt.Kind == transform.Upsert {
			// A row of another table: written by that table's key in the
			// chunk's transaction.
			m, err := tp.Moved(r, rt)
			if err != nil {
				f, ferr := tp.Failure(r, err, pos)
				if ferr != nil {
					return pc, ferr
				}
				pc.failed = append(pc.failed, f)
				continue
			}
			side = append(side, cdc.Change{Op: cdc.OpInsert, Table: rt.Table, After: m, Pos: pos})
			continue
		} else if rt.Kind != transform.Carry {
			return pc, fmt.Errorf("table %s: a row routed to %s cannot be copied by the copier (the step that routes it copies it)", tp.Source.Name, rt.Kind)
		}
		out, sc, err := tp.RowSide(r)
		if err != nil {
			f, ferr := tp.Failure(r, err, pos)
			if ferr != nil {
				return pc, ferr
			}
			pc.failed = append(pc.failed, f)
			continue
		}
		dst = append(dst, out)
		side = append(side, sc...)
	}
	pc.chunk = c.Writer.PrepareChunk(tp.Dest, dst, tp.FullRow)
	pc.chunk.Side = side
	return pc, nil
}

// commitChunk publishes and writes a prepared chunk with its progress p;
// Progress is told the table has shown rows copied.
func (c *Copier) commitChunk(ctx context.Context, tp *transform.TablePlan, pc preparedChunk, p state.TableProgress, shown int64) error {
	if pc.chunk != nil {
		defer pc.chunk.Release()
	}
	if c.Publish != nil && len(pc.rows) > 0 {
		if err := c.Publish(ctx, tp.Source, pc.rows, p.SnapshotPos); err != nil {
			return err
		}
	}
	if c.StateOnly {
		if err := c.State.SaveProgress(ctx, nil, p); err != nil {
			return err
		}
		failpoint.Hit(failpoint.CopyChunkCommitted)
		if c.Progress != nil {
			c.Progress(tp.Source.Name, shown)
		}
		return nil
	}
	if err := c.Writer.WritePrepared(ctx, pc.chunk, p, pc.failed); err != nil {
		return err
	}
	failpoint.Hit(failpoint.CopyChunkCommitted)
	if len(pc.failed) > 0 {
		c.failed.Add(int64(len(pc.failed)))
		for _, f := range pc.failed {
			c.Logger.Warn("row could not be transformed; recorded in _shiplog_failed_rows", "stage", "data", "table", f.Table, "key", fmt.Sprint(f.Key), "handler", f.Handler, "field", f.Field, "error", f.Reason)
		}
	}
	if c.Progress != nil {
		c.Progress(tp.Source.Name, shown)
	}
	return nil
}
