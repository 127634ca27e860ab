//go:build !unit

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/internal/failpoint"
	"github.com/shiplog/shiplog/internal/testenv"
)

// The cascade schema: parent -> child (CASCADE on delete and update of the
// key; SET NULL on delete and CASCADE on update of a unique code) ->
// grandchild (CASCADE both ways; renamed gkid on the destination) and
// nullchild (SET NULL on delete); tag (not copied) -> child_tag (CASCADE).
var cascadeSource = []string{
	`CREATE TABLE parent (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, name VARCHAR(40), UNIQUE KEY (code))`,
	`CREATE TABLE child (id INT PRIMARY KEY AUTO_INCREMENT, parent_id INT NOT NULL, parent_code VARCHAR(20) NULL, v INT NOT NULL DEFAULT 0,
		CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE,
		CONSTRAINT child_code FOREIGN KEY (parent_code) REFERENCES parent (code) ON DELETE SET NULL ON UPDATE CASCADE)`,
	`CREATE TABLE grandchild (id INT PRIMARY KEY AUTO_INCREMENT, child_id INT NOT NULL, note VARCHAR(20),
		CONSTRAINT gc_child FOREIGN KEY (child_id) REFERENCES child (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE nullchild (id INT PRIMARY KEY AUTO_INCREMENT, child_id INT NULL,
		CONSTRAINT nc_child FOREIGN KEY (child_id) REFERENCES child (id) ON DELETE SET NULL ON UPDATE CASCADE)`,
}

var cascadeTag = []string{
	`CREATE TABLE tag (id INT PRIMARY KEY, label VARCHAR(20))`,
	`CREATE TABLE child_tag (child_id INT NOT NULL, tag_id INT NOT NULL, PRIMARY KEY (child_id, tag_id),
		CONSTRAINT ct_tag FOREIGN KEY (tag_id) REFERENCES tag (id) ON DELETE CASCADE)`,
}

// cascadeDest is the destination: the same tables (grandchild as gkid),
// with foreign keys too (shiplog writes with foreign_key_checks off, so they
// do nothing there).
var cascadeDest = []string{
	`CREATE TABLE parent (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, name VARCHAR(40), UNIQUE KEY (code))`,
	`CREATE TABLE child (id INT PRIMARY KEY AUTO_INCREMENT, parent_id INT NOT NULL, parent_code VARCHAR(20) NULL, v INT NOT NULL DEFAULT 0,
		FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE gkid (id INT PRIMARY KEY AUTO_INCREMENT, child_id INT NOT NULL, note VARCHAR(20))`,
	`CREATE TABLE nullchild (id INT PRIMARY KEY AUTO_INCREMENT, child_id INT NULL)`,
}

const cascadeMap = `source:
  documents:
    ignore: [tag]
    rename: [{from: grandchild, to: gkid}]
`

// cascadeEnv sets up the schema with rows on the source (and the empty
// tables on the destination), and returns the map file.
func cascadeEnv(t *testing.T, e *env, withTag bool) string {
	t.Helper()
	ctx := context.Background()
	src := append([]string(nil), cascadeSource...)
	dst := append([]string(nil), cascadeDest...)
	if withTag {
		src = append(src, cascadeTag...)
		dst = append(dst, `CREATE TABLE child_tag (child_id INT NOT NULL, tag_id INT NOT NULL, PRIMARY KEY (child_id, tag_id))`)
	}
	src = append(src,
		`INSERT INTO parent SELECT seq, CONCAT('c', seq), CONCAT('p', seq) FROM seq_1_to_60`,
		`INSERT INTO child (parent_id, parent_code, v) SELECT 1 + seq % 60, IF(seq % 3 = 0, NULL, CONCAT('c', 1 + (seq * 7) % 60)), seq FROM seq_1_to_600`,
		`INSERT INTO grandchild (child_id, note) SELECT 1 + seq % 600, 'g' FROM seq_1_to_1200`,
		`INSERT INTO nullchild (child_id) SELECT 1 + (seq * 13) % 600 FROM seq_1_to_300`)
	if withTag {
		src = append(src, `INSERT INTO tag SELECT seq, 't' FROM seq_1_to_20`,
			`INSERT INTO child_tag SELECT c.id, t.seq FROM child c JOIN seq_1_to_20 t WHERE (c.id + t.seq) % 7 = 0`)
	}
	if err := e.src.Exec(ctx, "shop", src...); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "shop_new", dst...); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "map.yaml")
	if err := os.WriteFile(p, []byte(cascadeMap), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// cascadeConfig writes a config for e's servers with the cascade map and
// the extra YAML lines.
func cascadeConfig(e *env, mapFile, extra string) string {
	return e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n%s\n",
		e.src.Port, e.dst.Port, mapFile, extra))
}

// cascadeWriter changes parents and children at random: deletes and key
// updates that cascade, inserts that reference them, and transactions that
// insert a child and delete its parent.
func cascadeWriter(t *testing.T, e *env, seed uint64, withTag bool) func() error {
	rng := rand.New(rand.NewPCG(seed, 11))
	db := e.srcDB
	return writeLoop(t, func(i int) error {
		p := 1 + rng.IntN(90)
		c := 1 + rng.IntN(700)
		var err error
		switch rng.IntN(12) {
		case 0:
			_, err = db.Exec("INSERT IGNORE INTO parent VALUES (?, ?, 'new')", p, fmt.Sprint("c", p))
		case 1:
			_, err = db.Exec("DELETE FROM parent WHERE id = ?", p)
		case 2:
			// a key update: children follow (ON UPDATE CASCADE)
			_, err = db.Exec("UPDATE IGNORE parent SET id = id + 1000 WHERE id = ?", p)
		case 3:
			_, err = db.Exec("UPDATE IGNORE parent SET code = CONCAT(code, 'x') WHERE id = ?", p)
		case 4:
			_, err = db.Exec("INSERT INTO child (parent_id, parent_code, v) SELECT id, code, ? FROM parent ORDER BY RAND() LIMIT 1", i)
		case 5:
			_, err = db.Exec("DELETE FROM child WHERE id = ?", c)
		case 6:
			_, err = db.Exec("UPDATE IGNORE child SET id = id + 5000 WHERE id = ?", c)
		case 7:
			_, err = db.Exec("INSERT INTO grandchild (child_id, note) SELECT id, ? FROM child ORDER BY RAND() LIMIT 1", fmt.Sprint("n", i))
		case 8:
			_, err = db.Exec("INSERT INTO nullchild (child_id) SELECT id FROM child ORDER BY RAND() LIMIT 1")
		case 9:
			// insert children of a parent, then delete the parent, in one transaction
			err = execTx(db, func(tx *sql.Tx) error {
				if _, err := tx.Exec("INSERT IGNORE INTO parent VALUES (?, ?, 'tx')", 2000+i, fmt.Sprint("t", i)); err != nil {
					return err
				}
				if _, err := tx.Exec("INSERT INTO child (parent_id, parent_code, v) VALUES (?, ?, 1), (?, ?, 2)", 2000+i, fmt.Sprint("t", i), 2000+i, fmt.Sprint("t", i)); err != nil {
					return err
				}
				if _, err := tx.Exec("INSERT INTO grandchild (child_id, note) SELECT MAX(id), 'tx' FROM child"); err != nil {
					return err
				}
				_, err := tx.Exec("DELETE FROM parent WHERE id = ?", 2000+i)
				return err
			})
		case 10:
			_, err = db.Exec("UPDATE child SET v = v + 1 WHERE id = ?", c)
		case 11:
			if withTag {
				if rng.IntN(2) == 0 {
					_, err = db.Exec("DELETE FROM tag WHERE id = ?", 1+rng.IntN(20))
				} else {
					_, err = db.Exec("INSERT IGNORE INTO tag VALUES (?, 'back')", 1+rng.IntN(20))
				}
			}
		}
		var me *gomysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1451 || me.Number == 1452 || me.Number == 1062 || me.Number == 1213) {
			err = nil // a reference the random choice broke: refused by the source, as it should be
		}
		return err
	})
}

// assertCascadeEqual compares every copied table through the map.
func assertCascadeEqual(t *testing.T, e *env, withTag bool) bool {
	t.Helper()
	pairs := [][2]string{{"parent", "parent"}, {"child", "child"}, {"grandchild", "gkid"}, {"nullchild", "nullchild"}}
	if withTag {
		pairs = append(pairs, [2]string{"child_tag", "child_tag"})
	}
	ok := true
	for _, p := range pairs {
		want := rowsOf(t, e.srcDB, "SELECT * FROM "+p[0]+" ORDER BY 1, 2")
		got := rowsOf(t, e.dstDB, "SELECT * FROM "+p[1]+" ORDER BY 1, 2")
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			ok = false
			t.Logf("%s: source has %d rows, destination %d", p[0], len(want), len(got))
			sameRowsLog(t, p[0], want, got)
		}
	}
	return ok
}

// cascadeStream copies the source while the writer runs, streams under the
// writer, stops, catches up, and compares every table through the map.
func cascadeStream(t *testing.T, e *env, withTag bool, seed uint64) {
	t.Helper()
	stop := cascadeWriter(t, e, seed, withTag)
	e.mustRun("migrate", "data")
	cmd, stderr := e.startStream()
	time.Sleep(3 * time.Second) // the stream runs under the writer's cascades
	if err := stop(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("migrate delta: %v\n%s", err, tail(stderr.String()))
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	if !assertCascadeEqual(t, e, withTag) {
		t.Fatalf("the destination differs from the source after cascades\n%s", tail(stderr.String()))
	}
	if r := runShiplog(t, e.config, nil, "verify"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestForeignKeyCascadesOnTheBinlogStream: deletes and key updates of
// parents cascade (CASCADE and SET NULL, two levels deep, into a renamed
// child, from a parent the map ignores) while the copy runs and while the
// stream applies in parallel partitions; the destination ends equal.
func TestForeignKeyCascadesOnTheBinlogStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	mapFile := cascadeEnv(t, e, true)
	e.config = cascadeConfig(e, mapFile, "options: {apply_workers: 4, bulk_size: 100}")
	cascadeStream(t, e, true, 1)
}

// TestForeignKeyCascadesOnTheTriggerDelta is the same through the change
// logs (triggers do not fire for cascaded rows either).
func TestForeignKeyCascadesOnTheTriggerDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	mapFile := cascadeEnv(t, e, false)
	// A key referencing a column outside the parent's log key is refused
	// with change logs (see TestForeignKeyCascadeFromAnUnloggedParentIsRefused).
	if err := e.src.Exec(context.Background(), "shop", "ALTER TABLE child DROP FOREIGN KEY child_code"); err != nil {
		t.Fatal(err)
	}
	e.config = cascadeConfig(e, mapFile, "delta: {source: triggers}\noptions: {bulk_size: 100}")
	cascadeStream(t, e, false, 2)
}

// TestForeignKeyCascadeFromAnUncopiedParentIsWatched: with change logs, a
// parent the map does not copy (tag) whose actions reach a logged child
// (child_tag) gets a change log of its own: deleting a tag deletes its
// child_tag rows on the destination too. A key referencing a column outside
// the parent's log key is refused before the copy, naming it.
func TestForeignKeyCascadeFromAnUncopiedParentIsWatched(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	mapFile := cascadeEnv(t, e, true)
	e.config = cascadeConfig(e, mapFile, "delta: {source: triggers}")
	r := runShiplog(t, e.config, nil, "migrate", "data")
	expectFailure(t, r, 1, "foreign key child_code", "parent.code is not in the change log's key")
	if n := countRows(t, e, "child"); n != 0 {
		t.Fatalf("refused before the copy, yet the destination's child holds %d rows", n)
	}
	var triggers int
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = 'shop'").Scan(&triggers); err != nil || triggers != 0 {
		t.Fatalf("refused, yet %d triggers were installed (%v)", triggers, err)
	}
	// The user fixes the schema and runs again: a fresh start (the refused
	// run recorded nothing the ALTER would contradict).
	if err := e.src.Exec(context.Background(), "shop", "ALTER TABLE child DROP FOREIGN KEY child_code"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	var logs int
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop' AND table_name = 'm2_cl_tag'").Scan(&logs); err != nil || logs != 1 {
		t.Fatalf("change log of the uncopied parent tag: %d (%v), want it created", logs, err)
	}
	before := countRows(t, e, "child_tag")
	if _, err := e.srcDB.Exec("DELETE FROM tag WHERE id IN (3, 4)"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	want := rowsOf(t, e.srcDB, "SELECT * FROM child_tag ORDER BY 1, 2")
	got := rowsOf(t, e.dstDB, "SELECT * FROM child_tag ORDER BY 1, 2")
	if len(got) >= before || strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("child_tag after deleting tags 3 and 4: destination %d rows (were %d), source %d", len(got), before, len(want))
	}
}

// TestTriggerDeltaCopiesParentsBeforeChildren: with change logs, the copy
// of a child starts after its parent's, in every worker layout (a
// grandchild copied before a cascade and its child after it would keep
// rows the stream can no longer find).
func TestTriggerDeltaCopiesParentsBeforeChildren(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	mapFile := cascadeEnv(t, e, false)
	if err := e.src.Exec(context.Background(), "shop", "ALTER TABLE child DROP FOREIGN KEY child_code"); err != nil {
		t.Fatal(err)
	}
	e.config = cascadeConfig(e, mapFile, "delta: {source: triggers}\noptions: {workers: 4}")
	r := runShiplog(t, e.config, nil, "migrate", "data")
	if r.code != 0 {
		t.Fatalf("migrate data: exit %d\n%s", r.code, r.stderr)
	}
	started := map[string]int{}
	for i, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, `msg="copying table"`) {
			for _, tbl := range []string{"parent", "child", "grandchild", "nullchild"} {
				if strings.Contains(line, " table="+tbl+" ") {
					started[tbl] = i
				}
			}
		}
	}
	for _, edge := range [][2]string{{"parent", "child"}, {"child", "grandchild"}, {"child", "nullchild"}} {
		p, okp := started[edge[0]]
		c, okc := started[edge[1]]
		if !okp || !okc || p > c {
			t.Fatalf("the copy of %s must start after its parent %s's (log lines %d, %d; %v %v)\n%s", edge[1], edge[0], c, p, okc, okp, r.stderr)
		}
	}
}

// sameRowsLog logs up to 10 rows only one side has.
func sameRowsLog(t *testing.T, what string, want, got []string) {
	t.Helper()
	have := map[string]int{}
	for _, r := range got {
		have[r]++
	}
	n := 0
	for _, r := range want {
		if have[r] > 0 {
			have[r]--
		} else if n++; n <= 10 {
			t.Logf("%s: only on the source: %s", what, r)
		}
	}
	for r, c := range have {
		if c > 0 {
			if n++; n <= 20 {
				t.Logf("%s: only on the destination: %s", what, r)
			}
		}
	}
}

// TestCutoverWindowVerifiesCascadedRows: the binlog names a deleted parent
// but not the children its key action deleted; the cutover's window verify
// checks the children holding the parent's values too, and finds one the
// destination still has.
func TestCutoverWindowVerifiesCascadedRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	mapFile := cascadeEnv(t, e, false)
	e.config = cascadeConfig(e, mapFile, "")
	e.mustRun("migrate", "data")
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	// A destination trigger plants a child of parent 5 when the stream
	// deletes its grandchildren (the stream deletes children by key, so the
	// planted row stays): the destination diverges in a row the binlog
	// does not name.
	if _, err := e.dstDB.Exec("CREATE TRIGGER plant AFTER DELETE ON gkid FOR EACH ROW INSERT IGNORE INTO child (id, parent_id, v) VALUES (99999, 5, 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec("DELETE FROM parent WHERE id = 5"); err != nil {
		t.Fatal(err)
	}
	cut, cutErr := startKillable(t, e.config, "cutover", "--max-lag", "1h", "--timeout", "60s")
	time.Sleep(time.Second) // the cutover takes its window's start while the delete is not applied
	d, derr := startKillable(t, e.config, "migrate", "delta")
	t.Cleanup(func() { _ = d.Process.Signal(syscall.SIGTERM); _ = d.Wait() })
	code := exitCode(t, cut.Wait())
	if code != 1 || !strings.Contains(cutErr.String(), "1 extra") {
		t.Fatalf("cutover after a cascade the destination got wrong: exit %d, want 1 naming 1 extra row\n%s\ndelta:\n%s", code, tail(cutErr.String()), tail(derr.String()))
	}
}

// TestForeignKeyCascadesThroughKafka: cascades of one level (parent ->
// child, from a copied parent and from one the map ignores) go through
// Kafka as markers on the child's topic, one per partition; two appliers
// in one group, each repeating them on the rows of its partitions, end
// equal to the source. A cascade that reaches further is refused by the
// publisher, naming the keys.
func TestForeignKeyCascadesThroughKafka(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	e := newEnv(t, "")
	mapFile := cascadeEnv(t, e, true)
	kafka := fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: shop, partitions: 4}\n", strings.Join(k.Addrs, ", "))
	publisher, applier := e.kafkaConfigs(kafka)
	// The publisher publishes the source's rows; the appliers map them.
	f, err := os.OpenFile(applier, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "map: %s\n", mapFile); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// One level only: the grandchildren's keys act no more.
	if err := e.src.Exec(context.Background(), "shop", "ALTER TABLE grandchild DROP FOREIGN KEY gc_child", "ALTER TABLE nullchild DROP FOREIGN KEY nc_child"); err != nil {
		t.Fatal(err)
	}
	// Partitions of one table apply in parallel, so a unique index besides
	// the key would need one partition (see Known limits): the
	// destination's parent keeps none.
	if err := e.dst.Exec(context.Background(), "shop_new", "ALTER TABLE parent DROP INDEX code"); err != nil {
		t.Fatal(err)
	}
	stop := cascadeWriter(t, e, 3, true)
	if r := runShiplog(t, publisher, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publish snapshot: %d\n%s", r.code, r.stderr)
	}
	a1, a1err := startKillable(t, applier, "apply", "--from-kafka")
	a2, a2err := startKillable(t, applier, "apply", "--from-kafka")
	t.Cleanup(func() {
		_ = a1.Process.Signal(syscall.SIGTERM)
		_ = a2.Process.Signal(syscall.SIGTERM)
		_ = a1.Wait()
		_ = a2.Wait()
	})
	pub, puberr := startKillable(t, publisher, "migrate", "delta")
	time.Sleep(3 * time.Second) // the publisher and the appliers run under the writer's cascades
	if err := stop(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	_ = pub.Process.Signal(syscall.SIGTERM)
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v\n%s", err, tail(puberr.String()))
	}
	if r := runShiplog(t, publisher, nil, "migrate", "delta", "--exit-when-caught-up"); r.code != 0 {
		t.Fatalf("publisher catch-up: %d\n%s", r.code, r.stderr)
	}
	deadline := time.Now().Add(90 * time.Second)
	for !cascadeEqual(t, e, true) {
		if time.Now().After(deadline) {
			assertCascadeEqual(t, e, true)
			t.Fatalf("the appliers did not converge\napplier 1:\n%s\napplier 2:\n%s", tail(a1err.String()), tail(a2err.String()))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// replay --apply-to rebuilds the source's tables from the topics,
	// cascade markers included: the cascaded tables end as the source has them.
	if err := e.dst.Exec(context.Background(), "", "CREATE DATABASE scratch"); err != nil {
		t.Fatal(err)
	}
	if r := runShiplog(t, applier, nil, "replay", "--apply-to", e.dst.DSN("scratch")); r.code != 0 {
		t.Fatalf("replay --apply-to: exit %d\n%s", r.code, tail(r.stderr))
	}
	scratch, err := e.dst.Open("scratch")
	if err != nil {
		t.Fatal(err)
	}
	defer scratch.Close()
	for _, table := range []string{"parent", "child", "child_tag"} {
		q := "SELECT * FROM " + table + " ORDER BY 1, 2"
		if want, got := rowsOf(t, e.srcDB, q), rowsOf(t, scratch, q); strings.Join(want, "\n") != strings.Join(got, "\n") {
			sameRowsLog(t, table, want, got)
			t.Fatalf("replay --apply-to: %s has %d rows, the source %d", table, len(got), len(want))
		}
	}
}

// TestForeignKeyCascadesDeeperThanOneLevelRefusedOnKafka: a cascade that
// reaches the children of cascaded rows cannot be applied in order by
// per-partition appliers; the publisher refuses it, naming the keys.
func TestForeignKeyCascadesDeeperThanOneLevelRefusedOnKafka(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	e := newEnv(t, "")
	cascadeEnv(t, e, false)
	publisher, _ := e.kafkaConfigs(fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: shop}\n", strings.Join(k.Addrs, ", ")))
	if r := runShiplog(t, publisher, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publish snapshot: %d\n%s", r.code, r.stderr)
	}
	r := runShiplog(t, publisher, nil, "migrate", "delta", "--exit-when-caught-up")
	expectFailure(t, r, 1, "foreign key child_parent", "gc_child", "only one level of cascades goes through Kafka")
}

// cascadeEqual reports whether every copied table equals the source's
// through the map (without logging).
func cascadeEqual(t *testing.T, e *env, withTag bool) bool {
	t.Helper()
	pairs := [][2]string{{"parent", "parent"}, {"child", "child"}, {"grandchild", "gkid"}, {"nullchild", "nullchild"}}
	if withTag {
		pairs = append(pairs, [2]string{"child_tag", "child_tag"})
	}
	for _, p := range pairs {
		if strings.Join(rowsOf(t, e.srcDB, "SELECT * FROM "+p[0]+" ORDER BY 1, 2"), "\n") != strings.Join(rowsOf(t, e.dstDB, "SELECT * FROM "+p[1]+" ORDER BY 1, 2"), "\n") {
			return false
		}
	}
	return true
}

// TestForeignKeyCascadesThroughATree: a self-referencing category tree
// (ON DELETE CASCADE to its own rows, several levels deep) with children
// keyed by the category (ON UPDATE CASCADE moves their key) and labels that
// reference a code compared case and accent insensitively (SET NULL). The
// binlog names the deleted root and the updated category only; the stream,
// in parallel partitions, ends with the destination equal.
func TestForeignKeyCascadesThroughATree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	schema := []string{
		`CREATE TABLE cat (id INT PRIMARY KEY, parent_id INT NULL, code VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, UNIQUE KEY (code),
			CONSTRAINT cat_parent FOREIGN KEY (parent_id) REFERENCES cat (id) ON DELETE CASCADE)`,
		`CREATE TABLE cat_product (cat_id INT NOT NULL, product INT NOT NULL, PRIMARY KEY (cat_id, product),
			CONSTRAINT cp_cat FOREIGN KEY (cat_id) REFERENCES cat (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
		`CREATE TABLE label (id INT PRIMARY KEY, code VARCHAR(20) COLLATE utf8mb4_general_ci NULL,
			CONSTRAINT label_cat FOREIGN KEY (code) REFERENCES cat (code) ON DELETE SET NULL ON UPDATE CASCADE)`,
	}
	if err := e.dst.Exec(ctx, "shop_new", schema...); err != nil {
		t.Fatal(err)
	}
	if err := e.src.Exec(ctx, "shop", append(schema,
		// 1 <- 2..4 <- 5..13 <- 14..40 <- 41..121; 200 <- 201..203
		`INSERT INTO cat VALUES (1, NULL, 'é1'), (200, NULL, 'é200')`,
		`INSERT INTO cat SELECT seq, 1, CONCAT('é', seq) FROM seq_2_to_4`,
		`INSERT INTO cat SELECT seq, 2 + (seq - 5) DIV 3, CONCAT('é', seq) FROM seq_5_to_13`,
		`INSERT INTO cat SELECT seq, 5 + (seq - 14) DIV 3, CONCAT('é', seq) FROM seq_14_to_40`,
		`INSERT INTO cat SELECT seq, 14 + (seq - 41) DIV 3, CONCAT('é', seq) FROM seq_41_to_121`,
		`INSERT INTO cat SELECT seq, 200, CONCAT('é', seq) FROM seq_201_to_203`,
		`INSERT INTO cat_product SELECT c.id, p.seq FROM cat c JOIN seq_1_to_5 p`,
		// labels spell the codes with other cases and accents, and a trailing space
		`INSERT INTO label SELECT id, IF(id % 2 = 0, CONCAT('E', id), CONCAT('e', id, ' ')) FROM cat`,
	)...); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\noptions: {apply_workers: 4}\n",
		e.src.Port, e.dst.Port))
	e.mustRun("migrate", "data")
	if err := e.src.Exec(ctx, "shop",
		"DELETE FROM cat WHERE id = 2",                           // a subtree four levels deep
		"UPDATE cat SET id = 1201, code = 'x201' WHERE id = 201", // moves cat_product's keys, labels follow the code
		"INSERT INTO cat VALUES (300, 3, 'é300')",
		"INSERT INTO cat_product VALUES (300, 1)",
		"INSERT INTO label VALUES (300, 'E300 ')",
		"DELETE FROM cat WHERE id = 3", // with the node inserted under it
	); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	for _, table := range []string{"cat", "cat_product", "label"} {
		want := rowsOf(t, e.srcDB, "SELECT * FROM "+table+" ORDER BY 1, 2")
		got := rowsOf(t, e.dstDB, "SELECT * FROM "+table+" ORDER BY 1, 2")
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			sameRowsLog(t, table, want, got)
			t.Fatalf("%s: source has %d rows, destination %d", table, len(want), len(got))
		}
	}
	if n := len(rowsOf(t, e.srcDB, "SELECT * FROM cat")); n != 126-40-41 {
		t.Fatalf("the source kept %d categories: the deletes did not cascade as the test expects", n)
	}
	if r := runShiplog(t, e.config, nil, "verify"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestResumedCopyRecopiesTheTablesFollowingIt: a copy killed in the middle
// of a child table resumes in a new snapshot; a parent deleted between the
// two snapshots cascaded (on the source) to children the first snapshot had
// not reached yet and to their grandchildren, which the grandchild's copy
// (taken between them) holds. The stream cannot reach those grandchildren:
// the children that lead to them never reach the destination. The resumed
// copy therefore copies the tables that follow the child's keys again, after
// its new snapshot; both delta sources end equal to the source.
func TestResumedCopyRecopiesTheTablesFollowingIt(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"binlog", "triggers"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			ctx := context.Background()
			ddl := []string{
				"CREATE TABLE parent (id INT PRIMARY KEY, v INT)",
				"CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)",
				"CREATE TABLE grandchild (id INT PRIMARY KEY, child_id INT, FOREIGN KEY (child_id) REFERENCES child (id) ON DELETE CASCADE)",
			}
			e.both(ddl...)
			// Parent 10 has the last children only; grandchildren hang on them.
			if err := e.src.Exec(ctx, "shop",
				"INSERT INTO parent SELECT seq, seq FROM seq_1_to_10",
				"INSERT INTO child SELECT seq, IF(seq > 2900, 10, 1 + seq % 9) FROM seq_1_to_3000",
				"INSERT INTO grandchild SELECT seq, 2900 + seq FROM seq_1_to_30"); err != nil {
				t.Fatal(err)
			}
			e.config = e.writeConfig(fmt.Sprintf("source: {host: 127.0.0.1, port: %d, user: root, database: shop}\ndestination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}\ndelta: {source: %s}\noptions: {bulk_size: 10, workers: 2}\n",
				e.src.Port, e.dst.Port, source))
			// Killed once the child has copied ~900 of its rows: the
			// grandchild (30 rows, started after the child's snapshot) is done.
			r := runShiplog(t, e.config, []string{failpoint.Env + "=" + failpoint.CopyChunkCommitted + ":100"}, "migrate", "data")
			if r.code == 0 {
				t.Fatalf("migrate data was not killed:\n%s", r.stderr)
			}
			state := rowsOf(t, e.dstDB, "SELECT table_name, state, rows_copied < 3000 FROM _shiplog_tables ORDER BY table_name")
			if strings.Join(state, " ") != "'child','copying','1' 'grandchild','done','1' 'parent','done','1'" {
				t.Fatalf("at the kill: %v; the test needs the child part-copied and the grandchild copied", state)
			}
			if err := e.src.Exec(ctx, "shop", "DELETE FROM parent WHERE id = 10"); err != nil {
				t.Fatal(err)
			}
			r = runShiplog(t, e.config, nil, "migrate", "data")
			if r.code != 0 {
				t.Fatalf("migrate data (resumed): exit %d\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "copying again: it follows the foreign keys of a table whose copy resumes in a new snapshot") || !strings.Contains(r.stderr, "table=grandchild after=child") {
				t.Errorf("the resumed copy did not say it copies the grandchild again:\n%s", r.stderr)
			}
			e.mustRun("migrate", "delta", "--exit-when-caught-up")
			for _, q := range []string{"SELECT * FROM parent ORDER BY id", "SELECT * FROM child ORDER BY id", "SELECT * FROM grandchild ORDER BY id"} {
				want, got := rowsOf(t, e.srcDB, q), rowsOf(t, e.dstDB, q)
				if strings.Join(want, " ") != strings.Join(got, " ") {
					sameRowsLog(t, q, want, got)
					t.Errorf("%s: %d rows on the source, %d on the destination", q, len(want), len(got))
				}
			}
		})
	}
}
