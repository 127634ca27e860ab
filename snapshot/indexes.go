package snapshot

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shiplog/shiplog/internal/failpoint"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

// Secondary indexes of a destination table the copy emptied are built after
// its bulk load: InnoDB sorts the keys and builds each index once, instead
// of inserting every row into it (1M sysbench rows with k_1: 9.5-10.3 s;
// without, then ADD INDEX: 4.7 + 1.1 s). The copier drops the table's plain
// KEYs before its first chunk and adds them back, in one ALTER, after its
// last; PRIMARY and UNIQUE keys stay (LOAD DATA ... REPLACE needs them), so
// do FULLTEXT and SPATIAL keys and any index a foreign key needs.
//
// Crash safety: each definition is recorded in the state
// (state.RecordDeferredIndexes) before it is dropped, and the record is
// deleted in the transaction that marks the table done
// (state.FinishTable), once the index is back. Run adds back whatever a
// killed copy left recorded before it copies anything
// (restoreRecordedIndexes), and the stream, verify and cutover refuse to
// start while any is recorded (state.CheckNoDeferredIndexes).

// DefaultDeferIndexRows is the fewest rows (estimated) of a table whose
// secondary indexes are built after its copy.
const DefaultDeferIndexRows = 100_000

// indexDef is one index line of SHOW CREATE TABLE.
type indexDef struct {
	name string
	def  string // the line as printed, without its comma
}

// deferrableIndexes returns the plain KEYs of a SHOW CREATE TABLE
// statement whose dropping and adding back leaves the statement as it was:
// the server lists non-unique keys other than FULLTEXT ones in the order
// they were added, so only those after the last key that stays (a SPATIAL
// key, a key of a kind it does not know) qualify. FULLTEXT keys are listed
// last whatever their age.
func deferrableIndexes(create string) []indexDef {
	var out []indexDef
	for _, line := range strings.Split(create, "\n") {
		l := strings.TrimSuffix(strings.TrimSpace(line), ",")
		if rest, ok := strings.CutPrefix(l, "KEY `"); ok {
			name, ok := cutIdent(rest)
			if !ok {
				out = nil
				continue
			}
			out = append(out, indexDef{name: name, def: l})
			continue
		}
		if strings.HasPrefix(l, "FULLTEXT ") || strings.HasPrefix(l, "PRIMARY KEY ") || strings.HasPrefix(l, "UNIQUE KEY ") ||
			strings.HasPrefix(l, "CONSTRAINT ") || strings.HasPrefix(l, "`") || strings.HasPrefix(l, "PERIOD FOR ") ||
			strings.HasPrefix(l, "CREATE ") || strings.HasPrefix(l, ")") {
			continue // not a non-unique key, or sorted apart from them
		}
		out = nil // SPATIAL, VECTOR, anything else: listed among the plain keys
	}
	return out
}

// cutIdent returns the identifier at the start of s, which follows its
// opening backquote (a doubled backquote is one in the name).
func cutIdent(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), true
	}
	return "", false
}

// showCreate returns SHOW CREATE TABLE of a destination table.
func (c *Copier) showCreate(ctx context.Context, schema, table string) (string, error) {
	var name, create string
	if err := c.Dest.QueryRowContext(ctx, "SHOW CREATE TABLE "+rowio.QuoteIdent(schema)+"."+rowio.QuoteIdent(table)).Scan(&name, &create); err != nil {
		return "", fmt.Errorf("destination table %s.%s: SHOW CREATE TABLE: %w", schema, table, err)
	}
	return create, nil
}

// defersIndexes reports whether the copy of tp, starting afresh into an
// emptied destination table, builds its secondary indexes after the load:
// a keyed table that alone writes its destination table, estimated at
// DeferIndexRows rows or more.
func (c *Copier) defersIndexes(ctx context.Context, tp *transform.TablePlan) (bool, error) {
	if c.DeferIndexRows < 0 || c.StateOnly || tp.FullRow || len(tp.Source.Key) == 0 {
		return false, nil
	}
	if own, _ := tp.OwnRows(); own != "" {
		return false, nil // not emptied whole: other plans' rows stay
	}
	least := c.DeferIndexRows
	if least == 0 {
		least = DefaultDeferIndexRows
	}
	ests, err := c.rowEstimates(ctx, tp.Source.Schema)
	if err != nil {
		return false, err
	}
	return ests[tp.Source.Name] >= least, nil
}

// dropIndexes drops the deferrable secondary indexes of tp's destination
// table (emptied: nothing else writes it until the copy is done), each
// recorded first, and returns those dropped. They are dropped last first;
// the first the server keeps (one a foreign key needs:
// ER_DROP_INDEX_FK) keeps those before it too, so the ones added back
// come after it, in their order, as before.
func (c *Copier) dropIndexes(ctx context.Context, tp *transform.TablePlan) ([]state.DeferredIndex, error) {
	if ok, err := c.defersIndexes(ctx, tp); err != nil || !ok {
		return nil, err
	}
	dt := tp.Dest
	create, err := c.showCreate(ctx, dt.Schema, dt.Name)
	if err != nil {
		return nil, err
	}
	defs := deferrableIndexes(create)
	if len(defs) == 0 {
		return nil, nil
	}
	rec := make([]state.DeferredIndex, len(defs))
	for i, d := range defs {
		rec[i] = state.DeferredIndex{Table: tp.Source.Name, Schema: dt.Schema, DestTable: dt.Name, Name: d.name, Definition: d.def, Seq: i}
	}
	if err := c.State.RecordDeferredIndexes(ctx, tp.Source.Name, rec); err != nil {
		return nil, err
	}
	table := rowio.QuoteIdent(dt.Schema) + "." + rowio.QuoteIdent(dt.Name)
	// The copy's sessions write without foreign key checks, under which
	// the server would drop a key a foreign key needs: dropped with them.
	conn, err := c.Dest.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("destination: connect: %w", err)
	}
	defer conn.Close()
	var fkChecks int
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.foreign_key_checks").Scan(&fkChecks); err != nil {
		return nil, fmt.Errorf("destination: read foreign_key_checks: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 1"); err != nil {
		return nil, fmt.Errorf("destination: set foreign_key_checks: %w", err)
	}
	kept := 0 // rec[:kept] stay
	for i := len(rec) - 1; i >= 0; i-- {
		_, err := conn.ExecContext(ctx, "ALTER TABLE "+table+" DROP INDEX "+rowio.QuoteIdent(rec[i].Name))
		if err == nil {
			continue
		}
		if mysqlerr.Is(err, gomysql.ER_DROP_INDEX_FK) {
			c.Logger.Info("keeping an index a foreign key needs (and those before it) during the copy", "stage", "data", "table", tp.Source.Name, "index", rec[i].Name)
		} else {
			c.Logger.Warn("cannot drop a secondary index to build it after the copy: copying with it", "stage", "data", "table", tp.Source.Name, "index", rec[i].Name, "error", err.Error())
		}
		kept = i + 1
		break
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION foreign_key_checks = %d", fkChecks)); err != nil {
		return nil, fmt.Errorf("destination: set foreign_key_checks: %w", err)
	}
	if kept > 0 {
		names := make([]string, kept)
		for i := range kept {
			names[i] = rec[i].Name
		}
		if err := c.State.ForgetDeferredIndexes(ctx, nil, tp.Source.Name, names...); err != nil {
			return nil, err
		}
	}
	dropped := rec[kept:]
	if len(dropped) > 0 {
		c.Logger.Info("secondary indexes dropped; built after the copy", "stage", "data", "table", tp.Source.Name, "indexes", len(dropped))
		failpoint.Hit(failpoint.CopyIndexesDropped)
	}
	return dropped, nil
}

// addIndexes adds back the recorded indexes of one destination table that
// it lacks, in one ALTER (in place, not locking: a sorted build of each);
// present ones are left as they are, so it may run again.
func (c *Copier) addIndexes(ctx context.Context, idx []state.DeferredIndex) error {
	if len(idx) == 0 {
		return nil
	}
	schema, name := idx[0].Schema, idx[0].DestTable
	create, err := c.showCreate(ctx, schema, name)
	if err != nil {
		return fmt.Errorf("%w (the copy dropped indexes of it to add back: %s; recreate the table, or delete its rows from _shiplog_deferred_indexes)", err, indexNames(idx))
	}
	have := map[string]bool{}
	for _, line := range strings.Split(create, "\n") {
		l := strings.TrimSpace(line)
		if _, rest, ok := strings.Cut(l, "KEY `"); ok && !strings.HasPrefix(l, "`") && !strings.HasPrefix(l, "CONSTRAINT ") {
			if n, ok := cutIdent(rest); ok {
				have[strings.ToLower(n)] = true
			}
		}
	}
	var adds []string
	for _, d := range idx {
		if !have[strings.ToLower(d.Name)] {
			adds = append(adds, "ADD "+d.Definition)
		}
	}
	if len(adds) == 0 {
		return nil
	}
	q := "ALTER TABLE " + rowio.QuoteIdent(schema) + "." + rowio.QuoteIdent(name) + " " + strings.Join(adds, ", ")
	_, err = c.Dest.ExecContext(ctx, q+", ALGORITHM=INPLACE, LOCK=NONE")
	if mysqlerr.Is(err, gomysql.ER_ALTER_OPERATION_NOT_SUPPORTED, gomysql.ER_ALTER_OPERATION_NOT_SUPPORTED_REASON) {
		_, err = c.Dest.ExecContext(ctx, q) // an engine that builds no index in place
	}
	if err != nil {
		return fmt.Errorf("destination table %s.%s: add back the secondary indexes dropped for the copy (%s): %w", schema, name, indexNames(idx), err)
	}
	return nil
}

func indexNames(idx []state.DeferredIndex) string {
	names := make([]string, len(idx))
	for i, d := range idx {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

// RestoreIndexes adds back, on dest, every index a copy recorded in st as
// dropped and did not record as back (it was stopped between the two), and
// forgets the records. Copier.Run does it first; data mode calls it when
// it has nothing left to copy. It blocks for the index builds.
func RestoreIndexes(ctx context.Context, dest *sql.DB, st *state.State, log *slog.Logger) error {
	c := &Copier{Dest: dest, State: st, Logger: log}
	return c.restoreRecordedIndexes(ctx)
}

// restoreRecordedIndexes adds back every index a copy dropped and did not
// record as back (it was stopped between the two), and forgets the
// records: a resumed copy goes on with its indexes in place.
func (c *Copier) restoreRecordedIndexes(ctx context.Context) error {
	if c.StateOnly {
		return nil
	}
	idx, err := c.State.DeferredIndexes(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && idx[j].Table == idx[i].Table {
			j++
		}
		c.Logger.Info("adding back secondary indexes an interrupted copy dropped", "stage", "data", "table", idx[i].Table, "indexes", indexNames(idx[i:j]))
		if err := c.addIndexes(ctx, idx[i:j]); err != nil {
			return err
		}
		if err := c.State.ForgetDeferredIndexes(ctx, nil, idx[i].Table); err != nil {
			return err
		}
		i = j
	}
	return nil
}
