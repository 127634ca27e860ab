//go:build !unit

package cascade

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	shipstate "github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

// expandSchema is the source: parent <- child (CASCADE by id, SET NULL by
// a code compared case and accent insensitively) <- grandchild; a
// self-referencing tree; a two-column key; a child whose key holds the
// foreign key column (ON UPDATE CASCADE moves its key) with a child of its
// own by that two-column key.
var expandSchema = []string{
	`CREATE TABLE parent (id INT PRIMARY KEY, code VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, UNIQUE KEY (code))`,
	`CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, parent_code VARCHAR(20) COLLATE utf8mb4_general_ci NULL, v INT NOT NULL DEFAULT 0,
		CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE,
		CONSTRAINT child_code FOREIGN KEY (parent_code) REFERENCES parent (code) ON DELETE SET NULL ON UPDATE CASCADE)`,
	`CREATE TABLE grandchild (id INT PRIMARY KEY, child_id INT NOT NULL,
		CONSTRAINT gc_child FOREIGN KEY (child_id) REFERENCES child (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE cat (id INT PRIMARY KEY, parent_id INT NULL, name VARCHAR(20),
		CONSTRAINT cat_parent FOREIGN KEY (parent_id) REFERENCES cat (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE pair (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b))`,
	`CREATE TABLE pairchild (id INT PRIMARY KEY, a INT NOT NULL, b INT NOT NULL,
		CONSTRAINT pc_pair FOREIGN KEY (a, b) REFERENCES pair (a, b) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE link (parent_id INT NOT NULL, n INT NOT NULL, note VARCHAR(20), PRIMARY KEY (parent_id, n),
		CONSTRAINT link_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE linknote (id INT PRIMARY KEY, parent_id INT NOT NULL, n INT NOT NULL,
		CONSTRAINT ln_link FOREIGN KEY (parent_id, n) REFERENCES link (parent_id, n) ON DELETE CASCADE ON UPDATE CASCADE)`,
}

var expandRows = []string{
	`INSERT INTO parent SELECT seq, CONCAT('c', seq) FROM seq_1_to_20`,
	`INSERT INTO child SELECT seq, 1 + seq % 20, IF(seq % 4 = 0, NULL, CONCAT('C', 1 + (seq * 7) % 20)), seq FROM seq_1_to_200`,
	`INSERT INTO grandchild SELECT seq, 1 + seq % 200 FROM seq_1_to_400`,
	// a tree: 1 <- 2..4 <- 5..13 <- 14..40, and a second root 100 <- 101
	`INSERT INTO cat VALUES (1, NULL, 'root'), (100, NULL, 'other'), (101, 100, 'o1')`,
	`INSERT INTO cat SELECT seq, 1, 'l1' FROM seq_2_to_4`,
	`INSERT INTO cat SELECT seq, 2 + (seq - 5) DIV 3, 'l2' FROM seq_5_to_13`,
	`INSERT INTO cat SELECT seq, 5 + (seq - 14) DIV 3, 'l3' FROM seq_14_to_40`,
	`INSERT INTO pair SELECT 1 + seq DIV 3, seq % 3 FROM seq_0_to_8`,
	`INSERT INTO pairchild SELECT seq, 1 + (seq % 9) DIV 3, seq % 3 FROM seq_1_to_30`,
	`INSERT INTO link SELECT 1 + seq % 20, seq, 'l' FROM seq_1_to_60`,
	`INSERT INTO linknote SELECT seq, 1 + (seq % 60) % 20, seq % 60 FROM seq_1_to_120 WHERE seq % 60 > 0`,
}

// expandRig is a source database s (with the foreign keys, so the server
// does the cascades) and a destination d on the same server (the same
// tables without them, written by a Writer): statements run on s and are
// turned into the changes a binlog would show (the rows they name, never
// those their cascades changed), which are mapped, expanded and applied
// to d in batches.
type expandRig struct {
	t      *testing.T
	ctx    context.Context
	src    *sql.DB
	dst    *sql.DB
	tables map[string]*cdc.Table
	plan   *transform.Plan
	set    *Set
	gen    *Generator
	w      *mysqlsink.Writer
	batch  []cdc.Change
	n      uint64
}

func newExpandRig(t *testing.T) *expandRig {
	t.Helper()
	m := testenv.MariaDBT(t, testenv.Options{})
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE s", "CREATE DATABASE d"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "s", append(append([]string(nil), expandSchema...), expandRows...)...); err != nil {
		t.Fatal(err)
	}
	var copies []string
	for _, name := range []string{"parent", "child", "grandchild", "cat", "pair", "pairchild", "link", "linknote"} {
		// LIKE leaves the foreign keys out.
		copies = append(copies, fmt.Sprintf("CREATE TABLE d.%s LIKE s.%s", name, name), fmt.Sprintf("INSERT INTO d.%s SELECT * FROM s.%s", name, name))
	}
	if err := m.Exec(ctx, "", copies...); err != nil {
		t.Fatal(err)
	}
	src, err := m.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	cfg, err := gomysql.ParseDSN(m.DSN("d"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := gomysql.NewConnector(mysqlsink.SessionConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	dst := sql.OpenDB(conn)
	t.Cleanup(func() { dst.Close() })
	srcTables, err := rowio.LoadTables(ctx, src, "s", "")
	if err != nil {
		t.Fatal(err)
	}
	dstTables, err := rowio.LoadTables(ctx, dst, "d", "")
	if err != nil {
		t.Fatal(err)
	}
	plan, problems := transform.Compile(&transform.Rules{}, srcTables, dstTables)
	if transform.HasErrors(problems) {
		t.Fatalf("plan: %v", problems)
	}
	fks, err := Load(ctx, src, "s")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile(fks, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Names()) != 7 {
		t.Fatalf("keys followed: %v", set.Names())
	}
	r := &expandRig{t: t, ctx: ctx, src: src, dst: dst, tables: map[string]*cdc.Table{}, plan: plan, set: set, gen: set.Generator(),
		w: mysqlsink.NewWriter(dst, nil, mysqlsink.Options{})}
	for _, st := range srcTables {
		r.tables[st.Name] = st
	}
	return r
}

// row reads the source row of table with key, nil when there is none.
func (r *expandRig) row(table string, key []any) []any {
	r.t.Helper()
	t := r.tables[table]
	conn, release, err := rowio.RawConn(r.ctx, r.src)
	if err != nil {
		r.t.Fatal(err)
	}
	defer release()
	rows, err := rowio.ReadRowsByKey(r.ctx, conn, t, t.Key, [][]any{key})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

// change runs stmt on the source and adds the change of the row of table
// with key before (nil: an insert) and after (nil: a delete), followed by
// its markers, to the batch.
func (r *expandRig) change(stmt string, table string, before, after []any) {
	r.t.Helper()
	c := cdc.Change{Table: r.tables[table]}
	if before != nil {
		if c.Before = r.row(table, before); c.Before == nil {
			r.t.Fatalf("%s: no row %v", table, before)
		}
	}
	if _, err := r.src.ExecContext(r.ctx, stmt); err != nil {
		r.t.Fatalf("%s: %v", stmt, err)
	}
	if after != nil {
		if c.After = r.row(table, after); c.After == nil {
			r.t.Fatalf("%s: no row %v after %s", table, after, stmt)
		}
	}
	switch {
	case before == nil:
		c.Op = cdc.OpInsert
	case after == nil:
		c.Op = cdc.OpDelete
	default:
		c.Op = cdc.OpUpdate
	}
	r.add(c)
}

// add adds source change c and its markers to the batch.
func (r *expandRig) add(c cdc.Change) {
	r.t.Helper()
	r.n++
	c.Pos = pos(r.n)
	markers, err := r.gen.Add(nil, c)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.plan.Table(c.Table.Name).Change(c)
	if err != nil {
		r.t.Fatal(err)
	}
	r.batch = append(r.batch, d)
	r.batch = append(r.batch, markers...)
}

func key(v ...any) []any {
	for i, x := range v {
		if n, ok := x.(int); ok {
			v[i] = int64(n)
		}
	}
	return v
}

// apply expands and writes the batch, and compares every table.
func (r *expandRig) apply() {
	r.t.Helper()
	r.applyWith(Options{})
}

func (r *expandRig) applyWith(o Options) {
	r.t.Helper()
	out, err := r.set.Expand(r.ctx, r.dst, r.batch, o)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, c := range out {
		if c.Op == cdc.OpCascade {
			r.t.Fatalf("a marker left: %+v", c)
		}
	}
	if err := r.w.Apply(r.ctx, out, nil); err != nil {
		r.t.Fatal(err)
	}
	r.batch = nil
	for name := range r.tables {
		want, err := testenv.SortedRows(r.ctx, r.src, "SELECT * FROM s."+name)
		if err != nil {
			r.t.Fatal(err)
		}
		got, err := testenv.SortedRows(r.ctx, r.dst, "SELECT * FROM d."+name)
		if err != nil {
			r.t.Fatal(err)
		}
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			r.t.Errorf("%s differs: source %d rows, destination %d\n%s", name, len(want), len(got), diffRows(want, got))
		}
	}
}

func diffRows(want, got []string) string {
	have := map[string]int{}
	for _, g := range got {
		have[g]++
	}
	var b strings.Builder
	for _, w := range want {
		if have[w] > 0 {
			have[w]--
		} else {
			fmt.Fprintf(&b, "  only on the source: %s\n", w)
		}
	}
	for g, n := range have {
		if n > 0 {
			fmt.Fprintf(&b, "  only on the destination: %s\n", g)
		}
	}
	return b.String()
}

func TestExpandRepeatsTheSourcesCascades(t *testing.T) {
	t.Parallel()
	r := newExpandRig(t)

	t.Run("child inserted earlier in the batch", func(t *testing.T) {
		r.t = t
		r.change("INSERT INTO child VALUES (1000, 3, NULL, 0)", "child", nil, key(1000))
		r.change("INSERT INTO grandchild VALUES (1000, 1000)", "grandchild", nil, key(1000))
		r.change("DELETE FROM parent WHERE id = 3", "parent", key(3), nil)
		r.apply()
	})

	t.Run("child moved away earlier in the batch", func(t *testing.T) {
		r.t = t
		r.change("UPDATE child SET parent_id = 5 WHERE id = 4", "child", key(4), key(4))
		r.change("DELETE FROM parent WHERE id = 4", "parent", key(4), nil)
		r.apply()
		if r.row("child", key(4)) == nil {
			t.Fatal("child 4 deleted on the source: the case tests nothing")
		}
	})

	t.Run("self-referencing tree", func(t *testing.T) {
		r.t = t
		r.change("UPDATE cat SET name = 'moved', parent_id = 100 WHERE id = 6", "cat", key(6), key(6))
		r.change("DELETE FROM cat WHERE id = 1", "cat", key(1), nil)
		r.apply()
		// (InnoDB refuses ON UPDATE CASCADE into the same table.)
		r.change("DELETE FROM cat WHERE id = 100", "cat", key(100), nil)
		r.apply()
	})

	t.Run("two-column key", func(t *testing.T) {
		r.t = t
		r.change("UPDATE pair SET b = 7 WHERE a = 1 AND b = 1", "pair", key(1, 1), key(1, 7))
		r.change("DELETE FROM pair WHERE a = 2 AND b = 2", "pair", key(2, 2), nil)
		r.apply()
	})

	t.Run("SET NULL by a collated code", func(t *testing.T) {
		r.t = t
		r.change("DELETE FROM parent WHERE id = 8", "parent", key(8), nil)
		r.change("UPDATE parent SET code = 'K9' WHERE id = 9", "parent", key(9), key(9))
		r.apply()
		// Codes the server finds equal though their bytes differ in accents.
		r.change("INSERT INTO parent VALUES (50, 'é50')", "parent", nil, key(50))
		r.change("INSERT INTO child VALUES (1050, 1, 'E50', 0)", "child", nil, key(1050))
		r.change("INSERT INTO child VALUES (1051, 1, 'e50 ', 0)", "child", nil, key(1051))
		r.apply()
		r.change("INSERT INTO child VALUES (1052, 1, 'É50', 0)", "child", nil, key(1052))
		r.change("DELETE FROM parent WHERE id = 50", "parent", key(50), nil)
		r.apply()
	})

	t.Run("key update moves a child's primary key", func(t *testing.T) {
		r.t = t
		r.change("UPDATE parent SET id = 110 WHERE id = 10", "parent", key(10), key(110))
		r.change("INSERT INTO link VALUES (11, 1000, 'new')", "link", nil, key(11, 1000))
		r.change("INSERT INTO linknote VALUES (1000, 11, 1000)", "linknote", nil, key(1000))
		r.change("UPDATE parent SET id = 111 WHERE id = 11", "parent", key(11), key(111))
		r.change("DELETE FROM parent WHERE id = 110", "parent", key(110), nil)
		r.apply()
	})

	t.Run("key updates in a chain within one batch", func(t *testing.T) {
		r.t = t
		r.change("UPDATE parent SET id = 113 WHERE id = 13", "parent", key(13), key(113))
		r.change("UPDATE parent SET id = 13 WHERE id = 12", "parent", key(12), key(13))
		r.change("UPDATE child SET id = 1012 WHERE id = 12", "child", key(12), key(1012))
		r.change("DELETE FROM parent WHERE id = 113", "parent", key(113), nil)
		r.apply()
	})
}

// TestExpandAfterAPartialCommit: a batch whose cascades reach a child and a
// grandchild is written in three apply partitions, and one partition's
// transaction fails (a destination trigger refuses a grandchild's delete).
// The stream resumes from the partitions' checkpoints and expands the
// batch again: the destination must then hold the state before the batch
// (a batch with cascades commits whole), or the children the committed
// partition deleted are not found again and their grandchildren in the
// failed partition stay orphaned.
func TestExpandAfterAPartialCommit(t *testing.T) {
	t.Parallel()
	r := newExpandRig(t)
	st := shipstate.NewState(r.dst, "d")
	if err := st.Ensure(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.change("DELETE FROM parent WHERE id = 3", "parent", key(3), nil)
	batch := cdc.Batch{Changes: r.batch, Pos: pos(r.n), Whole: true}
	write := func(w *mysqlsink.Writer) error {
		t.Helper()
		b := batch
		var err error
		if b.Changes, err = r.set.Expand(r.ctx, r.dst, append([]cdc.Change(nil), batch.Changes...), Options{}); err != nil {
			t.Fatal(err)
		}
		return w.Write(r.ctx, b)
	}
	// Refuse the delete of the last grandchild of parent 3's children.
	var victim int
	if err := r.dst.QueryRowContext(r.ctx, "SELECT MAX(g.id) FROM d.grandchild g JOIN d.child c ON c.id = g.child_id WHERE c.parent_id = 3").Scan(&victim); err != nil {
		t.Fatal(err)
	}
	if _, err := r.dst.ExecContext(r.ctx, fmt.Sprintf("CREATE TRIGGER d.refuse BEFORE DELETE ON d.grandchild FOR EACH ROW BEGIN IF OLD.id = %d THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF; END", victim)); err != nil {
		t.Fatal(err)
	}
	if err := write(mysqlsink.NewWriter(r.dst, st, mysqlsink.Options{Parts: 3})); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("write with a refused delete: %v", err)
	}
	if _, err := r.dst.ExecContext(r.ctx, "DROP TRIGGER d.refuse"); err != nil {
		t.Fatal(err)
	}
	parts, err := st.PartCheckpoints(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := mysqlsink.NewWriter(r.dst, st, mysqlsink.Options{Parts: 3})
	w.Resume(parts)
	if err := write(w); err != nil {
		t.Fatal(err)
	}
	r.batch = nil
	r.apply() // compares every table
}

// TestExpandRefreshFollowsMovedKeys: a change-log delta sees a parent's key
// update as the old key gone and the new one there (triggers do not fire
// for the children the update cascades into). A child whose key holds the
// foreign key column moves to a new key with the parent: it is read from
// the source by the parent's new values (the destination has it only
// under the old key, which the source no longer has), and so are its own
// children.
func TestExpandRefreshFollowsMovedKeys(t *testing.T) {
	t.Parallel()
	r := newExpandRig(t)
	r.gen.Refresh = true
	refresh := func(ctx context.Context, t *cdc.Table, rows [][]any) ([][]any, error) {
		out := make([][]any, len(rows))
		for i, row := range rows {
			out[i] = r.row(t.Name, t.KeyOf(row))
		}
		return out, nil
	}
	o := Options{Refresh: refresh, Find: r.set.SourceFinder(r.src)}
	moveKey := func(table string, stmt string, from, to []any) {
		before := r.row(table, from)
		if _, err := r.src.ExecContext(r.ctx, stmt); err != nil {
			t.Fatal(err)
		}
		r.add(cdc.Change{Op: cdc.OpDelete, Table: r.tables[table], Before: before})
		r.add(cdc.Change{Op: cdc.OpInsert, Table: r.tables[table], After: r.row(table, to)})
	}
	moveKey("parent", "UPDATE parent SET id = 110 WHERE id = 10", key(10), key(110))
	r.applyWith(o)
	moveKey("parent", "UPDATE parent SET id = 111 WHERE id = 11", key(11), key(111))
	r.change("DELETE FROM parent WHERE id = 12", "parent", key(12), nil)
	moveKey("parent", "UPDATE parent SET id = 11 WHERE id = 13", key(13), key(11))
	r.applyWith(o)
}
