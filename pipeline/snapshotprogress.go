package pipeline

import (
	"context"
	"database/sql"
	"log/slog"
	"os"

	"golang.org/x/term"

	"github.com/shiplog/shiplog/ops"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

// snapshotProgress builds the reporter for a copy of plan: estimates from the
// source's information_schema, resumed rows from the state, bars when stderr
// is a terminal, info logging is on and bars are not turned off (-q), the
// shiplog_snapshot_rows gauge when the run has a metrics registry.
func (r *Runtime) snapshotProgress(ctx context.Context, log *slog.Logger, plan *transform.Plan) *ops.Progress {
	tty := !r.NoProgressBars && term.IsTerminal(int(os.Stderr.Fd())) && log.Enabled(ctx, slog.LevelInfo)
	p := ops.NewProgress(log, r.cfg.Options.ProgressBarFormat, tty, os.Stderr, nil)
	schemas := map[string][]string{}
	for _, tp := range plan.Tables() {
		schemas[tp.Source.Schema] = append(schemas[tp.Source.Schema], tp.Source.Name)
	}
	for schema, names := range schemas {
		est, err := tableRowEstimates(ctx, r.src, schema)
		if err != nil {
			log.Debug("no row estimates", "stage", "data", "error", err)
			continue
		}
		for _, n := range names {
			p.Estimate(n, est[n])
		}
	}
	if prog, err := r.state.Progress(ctx); err == nil {
		for _, tp := range plan.Tables() {
			if tpg, ok := prog[tp.Source.Name]; ok {
				p.Resumed(tp.Source.Name, tpg.Rows, tpg.State == state.TableDone)
			}
		}
	}
	p.SetGauge(r.ops.SnapshotRows())
	return p
}

// tableRowEstimates reads InnoDB's row estimates of schema's tables.
func tableRowEstimates(ctx context.Context, db *sql.DB, schema string) (map[string]int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n sql.NullInt64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		out[name] = n.Int64
	}
	return out, rows.Err()
}
