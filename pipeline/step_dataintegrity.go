package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// orphanCheckTimeout bounds the orphan query of one foreign key.
const orphanCheckTimeout = 30 * time.Minute

// orphanSamples is how many distinct orphaned keys a problem lists.
const orphanSamples = 10

// dataIntegrityStep is the reference tool's Data Integrity step (data mode,
// integrity stage only): every foreign key of the source database is checked
// for child rows whose key names no parent row (a key with a NULL column
// references nothing, as MySQL's MATCH SIMPLE has it). Like the reference it
// looks at every table of the source database, those the map ignores too.
// Unlike the reference (which reads single-column keys from SHOW CREATE
// TABLE), keys of several columns are checked as well.
type dataIntegrityStep struct {
	// timeout bounds each key's query (orphanCheckTimeout when zero).
	timeout time.Duration
}

// Integrity runs one query per foreign key of the source and returns an
// error problem for each key with orphans (warnings with --auto, as the
// reference logs them). A key whose query does not finish within the
// timeout is an error problem too: it was not checked.
func (s *dataIntegrityStep) Integrity(ctx context.Context, env *step.Env) ([]transform.Problem, error) {
	fks, err := cascade.Load(ctx, env.Source, env.SourceSchema)
	if err != nil {
		return nil, err
	}
	timeout := s.timeout
	if timeout <= 0 {
		timeout = orphanCheckTimeout
	}
	var problems []transform.Problem
	tables := map[string]bool{}
	for i := range fks {
		fk := &fks[i]
		tables[fk.Child] = true
		o, err := findOrphans(ctx, env.Source, env.SourceSchema, fk, timeout)
		switch {
		case err == nil:
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			problems = append(problems, transform.Problem{Severity: transform.Error, Area: "source", Table: fk.Child, Columns: fk.ChildCols,
				Msg: fmt.Sprintf("Foreign key (%s) of `%s` could not be checked for orphan records within %s; run the query by hand: %s",
					fk.Name, fk.Child, timeout, orphanQuery(env.SourceSchema, fk))})
			continue
		default:
			return nil, err
		}
		if o.rows > 0 {
			problems = append(problems, transform.Problem{Severity: transform.Error, Area: "source", Table: fk.Child, Columns: fk.ChildCols,
				Msg: orphanMessage(fk, o)})
		}
		if env.Log != nil {
			env.Log.Debug("foreign key checked for orphans", "stage", "integrity", "key", fk.Name, "table", fk.Child, "orphans", o.rows)
		}
	}
	if env.Log != nil {
		env.Log.Info(fmt.Sprintf("data integrity: %d foreign key(s) of %d table(s) checked, %d with orphan records", len(fks), len(tables), len(problems)), "stage", "integrity")
	}
	return problems, nil
}

// Data does nothing: the step only checks.
func (s *dataIntegrityStep) Data(context.Context, *step.Env) error { return nil }

// Volume does nothing: the step only checks.
func (s *dataIntegrityStep) Volume(context.Context, *step.Env) error { return nil }

// Delta does nothing: the step only checks.
func (s *dataIntegrityStep) Delta(context.Context, *step.Env) error { return nil }

// orphans is what the query of one foreign key found.
type orphans struct {
	// rows is the number of orphaned child rows, keys the number of
	// distinct orphaned key values, samples the first of them (each
	// rendered as the reference does: a value, or values joined by ",").
	rows, keys int64
	samples    []string
}

// orphanQuery is the query of fk: the distinct child keys that are not
// NULL and match no parent row, with their number of rows.
func orphanQuery(schema string, fk *cascade.ForeignKey) string {
	q := rowio.QuoteIdent
	parent := q(fk.Parent)
	if fk.ParentSchema != "" {
		parent = q(fk.ParentSchema) + "." + parent
	}
	cols := make([]string, len(fk.ChildCols))
	on := make([]string, len(fk.ChildCols))
	notNull := make([]string, len(fk.ChildCols))
	for i, c := range fk.ChildCols {
		cols[i] = "c." + q(c)
		on[i] = "p." + q(fk.ParentCols[i]) + " = c." + q(c)
		notNull[i] = "c." + q(c) + " IS NOT NULL"
	}
	return fmt.Sprintf("SELECT %s, COUNT(*) FROM %s.%s AS c LEFT JOIN %s AS p ON %s WHERE %s AND p.%s IS NULL GROUP BY %s",
		strings.Join(cols, ", "), q(schema), q(fk.Child), parent, strings.Join(on, " AND "),
		strings.Join(notNull, " AND "), q(fk.ParentCols[0]), strings.Join(cols, ", "))
}

// findOrphans runs fk's query, bounded by timeout, keeping the count and the
// first orphanSamples keys.
func findOrphans(ctx context.Context, db *sql.DB, schema string, fk *cascade.ForeignKey, timeout time.Duration) (orphans, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var o orphans
	rows, err := db.QueryContext(ctx, orphanQuery(schema, fk))
	if err != nil {
		return o, fmt.Errorf("source: check %s for orphan records: %w", fk, orLate(ctx, err))
	}
	defer rows.Close()
	vals := make([]sql.NullString, len(fk.ChildCols))
	dest := make([]any, len(vals)+1)
	for i := range vals {
		dest[i] = &vals[i]
	}
	var n int64
	dest[len(vals)] = &n
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return o, fmt.Errorf("source: check %s for orphan records: %w", fk, err)
		}
		o.rows += n
		o.keys++
		if len(o.samples) < orphanSamples {
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = v.String
			}
			o.samples = append(o.samples, strings.Join(parts, ","))
		}
	}
	if err := rows.Err(); err != nil {
		return o, fmt.Errorf("source: check %s for orphan records: %w", fk, orLate(ctx, err))
	}
	return o, nil
}

// orLate is err, or the context's error when the deadline passed (the driver
// may report a cancelled query as a broken connection).
func orLate(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// orphanMessage words fk's orphans as the reference does, with the number
// of rows and the remedy. A key of several columns shows its columns and
// each orphaned key in parentheses.
func orphanMessage(fk *cascade.ForeignKey, o orphans) string {
	field := "`" + fk.Child + "`.`" + fk.ChildCols[0] + "`"
	ids := strings.Join(o.samples, ",")
	if len(fk.ChildCols) > 1 {
		field = "`" + fk.Child + "`.(`" + strings.Join(fk.ChildCols, "`,`") + "`)"
		ids = "(" + strings.Join(o.samples, "),(") + ")"
	}
	if more := o.keys - int64(len(o.samples)); more > 0 {
		ids += fmt.Sprintf(" and %d more", more)
	}
	parent := "`" + fk.Parent + "`"
	if fk.ParentSchema != "" {
		parent = "`" + fk.ParentSchema + "`." + parent
	}
	return fmt.Sprintf("Foreign key (%s) constraint fails on source database. Orphan records id: %s from %s has no referenced records in %s "+
		"(%d row(s); delete them or restore their parent rows in the source)", fk.Name, ids, field, parent, o.rows)
}
