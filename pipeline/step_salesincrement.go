package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// salesSequenceTypes are the Magento 2 entity types that number their
// documents through sequence tables, in the order the reference creates
// them (rma_item, a Commerce type, included as the reference does: its
// tables are created empty where Magento 1 has no such type).
var salesSequenceTypes = []string{"order", "invoice", "creditmemo", "shipment", "rma_item"}

// The columns the reference expects of Magento 2's sequence documents; a
// difference either way is an integrity error, as in the reference.
var (
	salesSequenceMetaColumns    = []string{"meta_id", "entity_type", "store_id", "sequence_table"}
	salesSequenceProfileColumns = []string{"profile_id", "meta_id", "prefix", "suffix", "start_value", "step", "max_value", "warning_value", "is_active"}
)

// The profile values every migrated sequence gets (Magento 2's defaults).
const (
	salesSequenceMaxValue     = 4294967295
	salesSequenceWarningValue = 4294966295
)

// salesIncrementStep is the reference's SalesIncrement step (data mode, and
// delta): for every store of Magento 1 and every sales entity type, Magento
// 2's sequence table sequence_<type>_<store> is created anew holding the
// number of Magento 1's last increment id (eav_entity_store), so that the
// next order, invoice, credit memo or shipment Magento 2 numbers continues
// Magento 1's; sales_sequence_meta and sales_sequence_profile are cleared
// and get one row per table.
//
// Where it differs from the reference, and why:
//   - the entity type ids that key eav_entity_store are read from Magento
//     1's eav_entity_type (the table eav_entity_store refers to), and from
//     Magento 2's only where Magento 1 lacks the type or the table; the
//     reference reads Magento 2's alone, which agrees on stock stores;
//   - a store whose last increment id is empty or NULL (nothing numbered
//     yet) gets an empty table; the reference writes 0, which MySQL turns
//     into 1, and its volume check then fails;
//   - several eav_entity_store rows of one type and store: the highest
//     number is kept (the reference takes whichever comes first);
//   - the admin store's profile prefix is empty (as the reference's own
//     integration test expects; its code at HEAD writes '0').
//
// The sequence tables are created with DDL, which MySQL commits at once;
// the meta and profile rows are then written in one transaction. A run
// again does the same, so the step always runs (AlwaysRuns).
type salesIncrementStep struct {
	r *Runtime
	// absent: the destination has neither sequence document (not a
	// Magento 2 sales schema: a partial database); the step does nothing.
	absent bool
}

// AlwaysRuns: the step is cheap and idempotent, and a data mode run again
// after Magento 1 took more orders must move the sequences on.
func (s *salesIncrementStep) AlwaysRuns() bool { return true }

// salesSequence is one sequence table the step writes.
type salesSequence struct {
	entityType string
	storeID    int64
	table      string // with the destination prefix
	// last is the number to continue from (has: Magento 1 numbered one).
	last uint64
	has  bool
}

// salesSequenceTable is the name of the sequence table of entityType in
// store (without prefix): sequence_order_1.
func salesSequenceTable(entityType string, storeID int64) string {
	return "sequence_" + entityType + "_" + strconv.FormatInt(storeID, 10)
}

// salesSequencePrefix is the profile prefix of a store's sequences: the
// store id, so that stores number apart ("1000000042"), and none for the
// admin store.
func salesSequencePrefix(storeID int64) string {
	if storeID == 0 {
		return ""
	}
	return strconv.FormatInt(storeID, 10)
}

// incrementNumber is the number of Magento 1's last increment id last with
// its prefix cut off: as the reference reads it, as many characters as the
// prefix has are dropped (whether or not last starts with it) and the rest
// is read as PHP reads an integer (leading blanks, an optional sign, then
// digits up to the first other character; none is 0). ok is false when
// there is nothing to continue from: last NULL, or its number 0. A number a
// sequence table cannot hold (negative, above 4294967295) is an error.
func incrementNumber(prefix sql.NullString, last sql.NullString) (n uint64, ok bool, err error) {
	if !last.Valid {
		return 0, false, nil
	}
	rest := ""
	if cut := len(prefix.String); cut < len(last.String) {
		rest = last.String[cut:]
	}
	s := strings.TrimLeft(rest, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	digits := strings.TrimLeft(s[:end], "0")
	if digits == "" {
		return 0, false, nil
	}
	if neg {
		return 0, false, fmt.Errorf("increment id %q (prefix %q) is negative", last.String, prefix.String)
	}
	n, err = strconv.ParseUint(digits, 10, 64)
	if err != nil || n > math.MaxUint32 {
		return 0, false, fmt.Errorf("increment id %q (prefix %q): %s is more than a Magento 2 sequence holds (4294967295)", last.String, prefix.String, digits)
	}
	return n, true, nil
}

// salesIncrementKey keys eav_entity_store's rows: entity type id and store.
type salesIncrementKey struct{ typeID, storeID int64 }

// salesSequences are the sequence tables of types in stores, in the
// reference's order (type by type, store by store), with the numbers of
// increments (by the type ids of typeIDs; a type without an id has none).
func salesSequences(types []string, stores []int64, typeIDs map[string]int64, increments map[salesIncrementKey]uint64, prefix string) []salesSequence {
	var out []salesSequence
	for _, t := range types {
		id, known := typeIDs[t]
		for _, st := range stores {
			seq := salesSequence{entityType: t, storeID: st, table: prefix + salesSequenceTable(t, st)}
			if known {
				seq.last, seq.has = increments[salesIncrementKey{id, st}]
			}
			out = append(out, seq)
		}
	}
	return out
}

// Integrity checks that the destination keeps Magento 2's rows (not sink:
// kafka), that sales_sequence_meta and sales_sequence_profile have the
// reference's columns, and that the source has the tables Data reads.
func (s *salesIncrementStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	if err := s.r.dest.rows(); err != nil {
		return []transform.Problem{{Severity: transform.Error, Area: "destination", Table: "sales_sequence_meta", Blocking: true,
			Msg: fmt.Sprintf("the SalesIncrement step creates Magento 2's sequence tables itself and cannot run here: %v; run with sink: mysql, or leave the SalesIncrement Step out of config.xml", err)}}, nil
	}
	var problems []transform.Problem
	dp, sp := s.r.cfg.Options.DestPrefix, s.r.cfg.Options.SourcePrefix
	s.absent = false
	docs := []struct {
		name string
		want []string
	}{{"sales_sequence_profile", salesSequenceProfileColumns}, {"sales_sequence_meta", salesSequenceMetaColumns}}
	have := make([][]string, len(docs))
	for i, d := range docs {
		cols, err := salesColumns(ctx, s.r.dst, dp+d.name)
		if err != nil {
			return nil, err
		}
		have[i] = cols
	}
	if len(have[0]) == 0 && len(have[1]) == 0 {
		// As the Customer Attributes step treats a partial database.
		s.absent = true
		return []transform.Problem{{Severity: transform.Warning, Area: "destination", Table: dp + "sales_sequence_meta",
			Msg: fmt.Sprintf("SalesIncrement step: the destination has neither %s nor %s: no sales sequences to migrate (the reference stops here)", dp+"sales_sequence_meta", dp+"sales_sequence_profile")}}, nil
	}
	for i, d := range docs {
		problems = append(problems, salesColumnProblems("SalesIncrement step", "destination", dp+d.name, d.want, have[i])...)
	}
	for _, d := range []struct{ name, col string }{{"core_store", "store_id"}, {"eav_entity_store", "increment_last_id"}} {
		cols, err := salesColumns(ctx, s.r.src, sp+d.name)
		if err != nil {
			return nil, err
		}
		if !containsFold(cols, d.col) {
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "source", Table: sp + d.name,
				Msg: fmt.Sprintf("SalesIncrement step: source document %s (or its field %s) does not exist; the step reads Magento 1's stores and last increment ids there", sp+d.name, d.col)})
		}
	}
	return problems, nil
}

// salesColumnProblems compares the columns a document has with those the
// step needs: a missing document, a missing field (want has it, the
// document not) and an extra one (the reference's "not mapped") are errors.
func salesColumnProblems(stepName, area, table string, want, have []string) []transform.Problem {
	if len(have) == 0 {
		return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: area, Table: table,
			Msg: fmt.Sprintf("%s: %s document %s does not exist", stepName, area, table)}}
	}
	var out []transform.Problem
	for _, c := range want {
		if !containsFold(have, c) {
			out = append(out, transform.Problem{Severity: transform.Error, Blocking: true, Area: area, Table: table, Columns: []string{c},
				Msg: fmt.Sprintf("%s: %s document %s has no field %s", stepName, area, table, c)})
		}
	}
	for _, c := range have {
		if !containsFold(want, c) {
			out = append(out, transform.Problem{Severity: transform.Error, Blocking: true, Area: area, Table: table, Columns: []string{c},
				Msg: fmt.Sprintf("%s: %s document %s has field %s, which the step does not know (it writes %s)", stepName, area, table, c, strings.Join(want, ", "))})
		}
	}
	return out
}

// salesColumns are table's columns in db's database, in order; none when it
// does not exist.
func salesColumns(ctx context.Context, db *sql.DB, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position", table)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// sequences reads what the step writes: Magento 1's stores, the entity
// type ids and the last increment ids.
func (s *salesIncrementStep) sequences(ctx context.Context, log logWarner) ([]salesSequence, error) {
	seqs, _, err := s.sequenceTypes(ctx, log)
	return seqs, err
}

// sequenceTypes is sequences with the entity type ids (by type code) that
// key eav_entity_store.
func (s *salesIncrementStep) sequenceTypes(ctx context.Context, log logWarner) ([]salesSequence, map[string]int64, error) {
	sp, dp := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	var stores []int64
	rows, err := s.r.src.QueryContext(ctx, "SELECT store_id FROM "+rowio.QuoteIdent(sp+"core_store")+" ORDER BY store_id")
	if err != nil {
		return nil, nil, fmt.Errorf("SalesIncrement step: reading %s: %w", sp+"core_store", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, nil, err
		}
		stores = append(stores, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}

	typeIDs := map[string]int64{}
	for _, side := range []struct {
		db     *sql.DB
		prefix string
	}{{s.r.src, sp}, {s.r.dst, dp}} {
		table := side.prefix + "eav_entity_type"
		cols, err := salesColumns(ctx, side.db, table)
		if err != nil {
			return nil, nil, err
		}
		if !containsFold(cols, "entity_type_code") {
			continue
		}
		rows, err := side.db.QueryContext(ctx, "SELECT entity_type_id, entity_type_code FROM "+rowio.QuoteIdent(table)+
			" WHERE entity_type_code IN ('"+strings.Join(salesSequenceTypes, "','")+"')")
		if err != nil {
			return nil, nil, fmt.Errorf("SalesIncrement step: reading %s: %w", table, err)
		}
		for rows.Next() {
			var id int64
			var code string
			if err := rows.Scan(&id, &code); err != nil {
				rows.Close()
				return nil, nil, err
			}
			if _, ok := typeIDs[code]; !ok {
				typeIDs[code] = id
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	for _, t := range salesSequenceTypes[:4] {
		if _, ok := typeIDs[t]; !ok && log != nil {
			log.Warn("SalesIncrement step: neither Magento 1's nor Magento 2's eav_entity_type has the entity type, so its Magento 1 increment ids are not read and its Magento 2 sequences start at 1",
				"entity_type", t)
		}
	}

	increments := map[salesIncrementKey]uint64{}
	table := sp + "eav_entity_store"
	rows, err = s.r.src.QueryContext(ctx, "SELECT entity_type_id, store_id, increment_prefix, increment_last_id FROM "+rowio.QuoteIdent(table))
	if err != nil {
		return nil, nil, fmt.Errorf("SalesIncrement step: reading %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k salesIncrementKey
		var prefix, last sql.NullString
		if err := rows.Scan(&k.typeID, &k.storeID, &prefix, &last); err != nil {
			return nil, nil, err
		}
		n, ok, err := incrementNumber(prefix, last)
		if err != nil {
			return nil, nil, fmt.Errorf("SalesIncrement step: %s row of entity type %d, store %d: %w; correct increment_last_id in Magento 1 and run again", table, k.typeID, k.storeID, err)
		}
		if ok && n > increments[k] {
			increments[k] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return salesSequences(salesSequenceTypes, stores, typeIDs, increments, dp), typeIDs, nil
}

// logWarner is the part of a logger the helpers warn through.
type logWarner interface {
	Warn(msg string, args ...any)
}

// Data creates every sequence table anew with its number, then replaces
// the meta and profile rows in one transaction.
func (s *salesIncrementStep) Data(ctx context.Context, env *step.Env) error {
	if s.absent {
		env.Log.Info("no sales sequences to migrate: the destination has no sequence documents", "stage", "data")
		return nil
	}
	seqs, err := s.sequences(ctx, env.Log)
	if err != nil {
		return err
	}
	for _, q := range seqs {
		if err := s.createSequence(ctx, q); err != nil {
			return err
		}
	}
	dp := s.r.cfg.Options.DestPrefix
	meta, profile := rowio.QuoteIdent(dp+"sales_sequence_meta"), rowio.QuoteIdent(dp+"sales_sequence_profile")
	err = s.r.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{"DELETE FROM " + profile, "DELETE FROM " + meta} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("SalesIncrement step: clearing: %s: %w", q, err)
			}
		}
		// Ids from 1, as the reference's cleared tables give them.
		for i, q := range seqs {
			id := i + 1
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+meta+" (meta_id, entity_type, store_id, sequence_table) VALUES (?, ?, ?, ?)",
				id, q.entityType, q.storeID, q.table); err != nil {
				return fmt.Errorf("SalesIncrement step: writing %s of %s: %w", dp+"sales_sequence_meta", q.table, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+profile+" (profile_id, meta_id, prefix, suffix, start_value, step, max_value, warning_value, is_active) VALUES (?, ?, ?, '', 1, 1, ?, ?, 1)",
				id, id, salesSequencePrefix(q.storeID), uint64(salesSequenceMaxValue), uint64(salesSequenceWarningValue)); err != nil {
				return fmt.Errorf("SalesIncrement step: writing %s of %s: %w", dp+"sales_sequence_profile", q.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := 0
	for _, q := range seqs {
		if q.has {
			n++
		}
	}
	env.Log.Info("sales sequences migrated", "stage", "data", "tables", len(seqs), "continued", n)
	return nil
}

// createSequence drops and creates q's table, holding q's number.
func (s *salesIncrementStep) createSequence(ctx context.Context, q salesSequence) error {
	t := rowio.QuoteIdent(q.table)
	for _, stmt := range []string{
		"DROP TABLE IF EXISTS " + t,
		"CREATE TABLE " + t + " (sequence_value int unsigned NOT NULL AUTO_INCREMENT, PRIMARY KEY (sequence_value)) ENGINE=InnoDB",
	} {
		if _, err := s.r.dst.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("SalesIncrement step: %s: %w", stmt, err)
		}
	}
	if !q.has {
		return nil
	}
	if _, err := s.r.dst.ExecContext(ctx, "INSERT INTO "+t+" (sequence_value) VALUES (?)", q.last); err != nil {
		return fmt.Errorf("SalesIncrement step: writing %d into %s: %w", q.last, q.table, err)
	}
	return nil
}

// Volume compares each table's highest value with Magento 1's number: equal
// after data mode (the reference's check); in delta mode not below it.
func (s *salesIncrementStep) Volume(ctx context.Context, env *step.Env) error {
	if s.absent {
		return nil
	}
	seqs, err := s.sequences(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, q := range seqs {
		var top sql.NullInt64
		if err := s.r.dst.QueryRowContext(ctx, "SELECT MAX(sequence_value) FROM "+rowio.QuoteIdent(q.table)).Scan(&top); err != nil {
			return fmt.Errorf("SalesIncrement step: reading %s: %w", q.table, err)
		}
		got := uint64(0)
		if top.Valid {
			got = uint64(top.Int64)
		}
		bad := got != q.last
		if env.Mode == step.ModeDelta {
			bad = got < q.last
		}
		if bad {
			errs = append(errs, fmt.Errorf("SalesIncrement step: mismatch in last increment id of %s entity of store %d: source %d, destination %s %d (run data mode again)",
				q.entityType, q.storeID, q.last, q.table, got))
		}
	}
	return errors.Join(errs...)
}

// DeltaStart (step.DeltaStarter) raises every sequence table to Magento 1's
// number as it is now (a table past it stays), once, when delta mode starts
// — it repairs what a crash between runs or an earlier stream left — and
// registers the follower that keeps the sequences ahead while the Map step
// streams the sales documents (salesSequenceFollower).
func (s *salesIncrementStep) DeltaStart(ctx context.Context, env *step.Env) error {
	problems, err := s.Integrity(ctx, env)
	if err != nil {
		return err
	}
	if s.absent {
		env.Log.Warn("SalesIncrement step: the destination has no sequence documents: no sales sequences to keep up", "stage", "delta")
		return nil
	}
	var msgs []string
	for _, p := range problems {
		if p.Severity == transform.Error {
			msgs = append(msgs, p.Msg)
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("SalesIncrement step (delta): %s", strings.Join(msgs, "; "))
	}
	seqs, typeIDs, err := s.sequenceTypes(ctx, env.Log)
	if err != nil {
		return err
	}
	raised := 0
	for _, q := range seqs {
		if !q.has {
			continue
		}
		cols, err := salesColumns(ctx, s.r.dst, q.table)
		if err != nil {
			return err
		}
		if len(cols) == 0 {
			env.Log.Warn(salesNoSequenceTable, "stage", "delta", "table", q.table)
			continue
		}
		up, err := salesRaise(ctx, s.r.dst, q.table, q.last)
		if err != nil {
			return err
		}
		if up {
			raised++
		}
	}
	env.Log.Info("sales sequences caught up with Magento 1's last increment ids", "stage", "delta", "raised", raised)
	s.r.follow(&salesSequenceFollower{s: s, typeIDs: typeIDs, log: env.Log, warned: map[string]bool{}})
	return nil
}

// salesNoSequenceTable is the warning about a store without a sequence
// table.
const salesNoSequenceTable = "SalesIncrement step: a Magento 1 store has no Magento 2 sequence table (a store added after data mode?); its next increment ids may repeat Magento 1's: run data mode again with --reset"

// execer is what salesRaise writes through: the destination or a batch's
// transaction.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// salesRaise raises sequence table to n (a table past n stays); up: it was
// below.
func salesRaise(ctx context.Context, db execer, table string, n uint64) (up bool, err error) {
	t := rowio.QuoteIdent(table)
	res, err := db.ExecContext(ctx, "INSERT IGNORE INTO "+t+" (sequence_value) SELECT ? FROM DUAL WHERE ? > (SELECT IFNULL(MAX(sequence_value), 0) FROM "+t+")", n, n)
	if err != nil {
		return false, fmt.Errorf("SalesIncrement step: raising %s to %d: %w", table, n, err)
	}
	k, _ := res.RowsAffected()
	return k > 0, nil
}

// Delta does nothing more: DeltaStart caught up and registered the
// follower, which runs with the stream (the Map step's Delta).
func (s *salesIncrementStep) Delta(context.Context, *step.Env) error { return nil }

// salesFollowedDocs are the destination sales documents numbered by
// sequences, by their sequence's entity type (magento_rma: Commerce's
// returns).
var salesFollowedDocs = map[string]string{
	"sales_order": "order", "sales_invoice": "invoice", "sales_creditmemo": "creditmemo", "sales_shipment": "shipment", "magento_rma": "rma_item",
}

// salesSequenceFollower keeps the sequences ahead of the documents the
// stream writes: for the stores of the written orders, invoices, credit
// memos, shipments (and returns), in the batch's transaction, it raises
// sequence_<type>_<store> to Magento 1's number for the type and store as
// eav_entity_store has it now, never lowering it — the number data mode and
// DeltaStart write and Volume checks. Magento 1 takes the number (in
// eav_entity_store) before or with the document, so the number read is at
// least that of every document of the batch; being read after the batch,
// it may be ahead of the stream, which only raises the sequence further
// (Magento 2's next id stays clear of every Magento 1 id). The documents'
// increment_id is not parsed instead: it would need the store's prefix from
// eav_entity_store all the same, and Magento 1 writes ids no sequence
// numbers (an edited order's "100000042-1").
type salesSequenceFollower struct {
	s *salesIncrementStep
	// typeIDs are the entity type ids keying eav_entity_store, by type.
	typeIDs map[string]int64
	log     logWarner
	// warned: tables whose absence was said (once a run).
	warned map[string]bool
}

func (*salesSequenceFollower) name() string { return "SalesIncrement step" }

func (*salesSequenceFollower) follows(table string) bool {
	_, ok := salesFollowedDocs[table]
	return ok
}

func (f *salesSequenceFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	dp := f.s.r.cfg.Options.DestPrefix
	docs := make([]string, 0, len(salesFollowedDocs))
	for d := range salesFollowedDocs {
		docs = append(docs, d)
	}
	slices.Sort(docs)
	for _, doc := range docs {
		typ := salesFollowedDocs[doc]
		typeID, known := f.typeIDs[typ]
		if !known {
			continue // DeltaStart warned: no Magento 1 numbers to follow
		}
		for _, v := range changedValues(f.s.r.changesOf(changes, doc), "store_id") {
			store, err := strconv.ParseInt(str(v), 10, 64)
			if err != nil {
				return fmt.Errorf("%s row with store_id %v: %w", doc, v, err)
			}
			n, has, err := f.s.lastIncrement(ctx, typeID, store)
			if err != nil {
				return err
			}
			if !has {
				continue // Magento 1 numbered none: nothing to stay ahead of
			}
			table := dp + salesSequenceTable(typ, store)
			var exists int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&exists); err != nil {
				return fmt.Errorf("looking for %s: %w", table, err)
			}
			if exists == 0 {
				if !f.warned[table] {
					f.warned[table] = true
					f.log.Warn(salesNoSequenceTable, "stage", "delta", "table", table)
				}
				continue
			}
			if _, err := salesRaise(ctx, tx, table, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// lastIncrement is the number of Magento 1's last increment id of entity
// type typeID in store (the highest of its eav_entity_store rows; has:
// there is one).
func (s *salesIncrementStep) lastIncrement(ctx context.Context, typeID, store int64) (n uint64, has bool, err error) {
	table := s.r.cfg.Options.SourcePrefix + "eav_entity_store"
	rows, err := s.r.src.QueryContext(ctx, "SELECT increment_prefix, increment_last_id FROM "+rowio.QuoteIdent(table)+" WHERE entity_type_id = ? AND store_id = ?", typeID, store)
	if err != nil {
		return 0, false, fmt.Errorf("reading Magento 1's %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var prefix, last sql.NullString
		if err := rows.Scan(&prefix, &last); err != nil {
			return 0, false, err
		}
		k, ok, err := incrementNumber(prefix, last)
		if err != nil {
			return 0, false, fmt.Errorf("%s row of entity type %d, store %d: %w; correct increment_last_id in Magento 1", table, typeID, store, err)
		}
		if ok && k > n {
			n, has = k, true
		}
	}
	return n, has, rows.Err()
}
