package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
	"github.com/shiplog/shiplog/verify"
)

// destGapMinRows: a copied table that lost fewer rows than this on the
// destination (and is not empty) is not reported; smaller differences are
// verify's business.
const destGapMinRows = 1000

// destGapCountTimeout bounds each exact (bounded) count the check makes.
const destGapCountTimeout = 5 * time.Minute

// destShrunk is a copied table the destination has far fewer rows of than
// the copy wrote and the source holds.
type destShrunk struct {
	source, dest string
	copied, have int64 // have: the destination's rows (exact)
	srcAtLeast   int64 // the source has at least this many rows
}

// checkDestinationTables stops delta (ErrGap) when a copied table was
// emptied or cut down on the destination outside shiplog (TRUNCATE, DROP and
// CREATE, a restore of an old dump) since the copy: the stream applies only
// changes, so the missing rows would never come back while the lag shows 0.
// Under auto it warns instead.
//
// A table is suspect when the destination has fewer than half the rows the
// copy wrote to it (read, less those recorded as failed): exactly empty (SELECT ... LIMIT 1), or information_schema's
// row estimate under half, confirmed by an exact count bounded at half. InnoDB's
// estimate can be off (it is a sample) in either direction, so it only picks
// what to count. A suspect is reported only when the source has at least twice
// the destination's rows (and destGapMinRows more, or any row when the
// destination is empty): rows deleted on the source since the copy, and
// streamed, make no report. Cost: one query per copied table, plus bounded
// counts for suspects only.
func (r *Runtime) checkDestinationTables(ctx context.Context, plan *transform.Plan, auto bool, log *slog.Logger) error {
	if r.dest.rows() != nil {
		return nil // no mapped rows there
	}
	progress, err := r.state.Progress(ctx)
	if err != nil {
		return err
	}
	estimates, err := tableRowEstimates(ctx, r.dst, r.cfg.Destination.Database)
	if err != nil {
		return fmt.Errorf("destination: read row estimates: %w", err)
	}
	// Rows a handler could not transform are counted as copied but are
	// not on the destination.
	failures, err := r.state.FailureCounts(ctx)
	if err != nil {
		return err
	}
	var shrunk []destShrunk
	for _, tp := range plan.Tables() {
		p, ok := progress[tp.Source.Name]
		failed := failures[tp.Source.Name]
		copied := p.Rows - failed
		if !ok || p.State != state.TableDone || copied <= 0 || tp.Dest == nil {
			continue
		}
		half := (copied + 1) / 2
		dq := rowio.QuoteIdent(r.cfg.Destination.Database) + "." + rowio.QuoteIdent(tp.Dest.Name)
		have, err := boundedCount(ctx, r.dst, dq, 1)
		if err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		if have > 0 {
			if est, ok := estimates[tp.Dest.Name]; ok && est >= half {
				continue
			}
			if have, err = boundedCount(ctx, r.dst, dq, half); err != nil {
				return fmt.Errorf("destination: %w", err)
			}
			if have >= half || copied-have < destGapMinRows {
				continue
			}
		}
		// A routed plan does not write every source row (the PostProcessing
		// step leaves some out, or deletes them after the copy): the rows
		// it carries now decide.
		if tp.Routed() {
			if gap, err := r.routedGap(ctx, tp, have); err != nil || !gap {
				if err != nil {
					return err
				}
				continue
			}
		}
		// The source decides: deleted there too is no gap.
		want := max(2*have, have+min(destGapMinRows, max(1, half))) + failed
		sq := rowio.QuoteIdent(r.cfg.Source.Database) + "." + rowio.QuoteIdent(tp.Source.Name)
		src, err := boundedCount(ctx, r.src, sq, want)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if src < want {
			continue
		}
		shrunk = append(shrunk, destShrunk{source: tp.Source.Name, dest: tp.Dest.Name, copied: copied, have: have, srcAtLeast: src})
	}
	if len(shrunk) == 0 {
		return nil
	}
	var lines, names []string
	for _, s := range shrunk {
		names = append(names, s.dest)
		lines = append(lines, fmt.Sprintf("%s.%s: %d row(s) now, %d copied, the source has %d or more (from %s)",
			r.cfg.Destination.Database, s.dest, s.have, s.copied, s.srcAtLeast, s.source))
		if auto {
			log.Warn("destination table emptied or cut down outside shiplog since the copy: its missing rows will not come back by streaming",
				"stage", "delta", "table", s.dest, "rows", s.have, "copied", s.copied, "source_rows_at_least", s.srcAtLeast)
		}
	}
	if auto {
		return nil
	}
	return fmt.Errorf("%w: copy again with `%s`: destination table(s) %s were emptied or cut down outside shiplog since the copy "+
		"(TRUNCATE, DROP and CREATE, an old dump restored?); streaming only applies changes, so the missing rows would never come back:\n  %s\n"+
		"Only if the source itself emptied and refilled them since shiplog stopped (the stream brings those rows), start once with `%s`",
		ErrGap, r.command("migrate data --reset"), strings.Join(names, ", "), strings.Join(lines, "\n  "), r.command("migrate delta --ignore-emptied-tables"))
}

// boundedCount counts the rows of table (quoted), up to limit: exact below it.
func boundedCount(ctx context.Context, db *sql.DB, table string, limit int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, destGapCountTimeout)
	defer cancel()
	var n int64
	err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s LIMIT %d) AS t", table, limit)).Scan(&n)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (after %s)", err, destGapCountTimeout)
		}
		return 0, fmt.Errorf("count the rows of %s: %w", table, err)
	}
	return n, nil
}

// rebaseCopied records, for source tables a --skip-ddl passes, the rows their
// destination table holds now as the rows copied: the user made the
// destination match the statement (after a TRUNCATE it is empty), so the
// emptied-table check (checkDestinationTables) compares with that from now
// on, not with the copy's count. Counting is bounded by the copy's count.
func (r *Runtime) rebaseCopied(ctx context.Context, plan *transform.Plan, sourceTables []string) error {
	if r.dest.rows() != nil {
		return nil
	}
	progress, err := r.state.Progress(ctx)
	if err != nil {
		return err
	}
	failures, err := r.state.FailureCounts(ctx)
	if err != nil {
		return err
	}
	for _, name := range sourceTables {
		p, ok := progress[name]
		tp := plan.Table(name)
		if !ok || tp == nil || tp.Dest == nil || p.State != state.TableDone {
			continue
		}
		copied := p.Rows - failures[name]
		if copied <= 0 {
			continue
		}
		dq := rowio.QuoteIdent(r.cfg.Destination.Database) + "." + rowio.QuoteIdent(tp.Dest.Name)
		have, err := boundedCount(ctx, r.dst, dq, copied)
		if err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		if have >= copied {
			continue
		}
		p.Rows = have + failures[name]
		if err := r.state.SaveProgress(ctx, nil, p); err != nil {
			return err
		}
	}
	return nil
}

// routedGap reports whether the destination's have rows of routed plan tp
// are fewer than half the source rows its routes carry now (and, unless
// none is left, destGapMinRows fewer). It reads the whole source table,
// for a suspect only.
func (r *Runtime) routedGap(ctx context.Context, tp *transform.TablePlan, have int64) (bool, error) {
	conn, release, err := rowio.RawConn(ctx, r.src)
	if err != nil {
		return false, fmt.Errorf("source: %w", err)
	}
	defer release()
	vol, err := verify.Volume(ctx, conn, r.dst, tp, nil)
	if err != nil {
		return false, fmt.Errorf("source rows %s carries: %w", tp.Source.Name, err)
	}
	return 2*have < vol.SourceRows && (have == 0 || vol.SourceRows-have >= destGapMinRows), nil
}
