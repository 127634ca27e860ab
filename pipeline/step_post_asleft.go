package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The PostProcessing step's attribute-set leftovers (the reference's
// AttributeSetLeftoverDataCleaner): a product value row (the groups file's
// documents_attribute_set_leftover_values: the six catalog_product_entity_*
// value tables) whose value is not NULL, whose product exists, and whose
// attribute is not linked to the product's attribute set in Magento 2's
// eav_entity_attribute is deleted. Everything is read on the destination
// (the EAV step's sets and ids, the Map step's rows); the store scope does
// not matter; value rows of a product the destination lacks stay (the
// reference's inner join).
//
// Data mode deletes them after the Map step's copy (postSetLeftoverDelete).

const postSetLeftover = "attribute set leftover data"

// postDefaultSetLeftover is the reference's documents_attribute_set_leftover_values
// group, used when no eav_document_groups_file is set.
var postDefaultSetLeftover = []string{
	"catalog_product_entity_datetime", "catalog_product_entity_decimal", "catalog_product_entity_gallery",
	"catalog_product_entity_int", "catalog_product_entity_text", "catalog_product_entity_varchar",
}

// postSetLeftoverDocuments reads the documents_attribute_set_leftover_values
// group of eav_document_groups_file (the reference's defaults without one).
func postSetLeftoverDocuments(env *step.Env) ([]string, error) {
	if env.Config == nil {
		return postDefaultSetLeftover, nil
	}
	p, ok, err := env.Config.MagentoFile("eav_document_groups_file")
	if err != nil || !ok {
		return postDefaultSetLeftover, err
	}
	groups, err := deltalog.ReadGroups(p)
	if err != nil {
		return nil, fmt.Errorf("options/eav_document_groups_file: %w", err)
	}
	tables := []string{}
	for _, g := range groups {
		if g.Group == "documents_attribute_set_leftover_values" {
			tables = append(tables, strings.ToLower(g.Table))
		}
	}
	return tables, nil
}

// postSetLeftoverKey is the column that ties a value row of table (lower
// case, unprefixed) to its product: row_id when both the value table and
// catalog_product_entity have one (Magento Commerce with staging), else
// entity_id; "" when the tables lack the columns the cleanup reads.
func postSetLeftoverKey(cols map[string]map[string]bool, prefix, table string) string {
	v, p := cols[strings.ToLower(prefix+table)], cols[strings.ToLower(prefix+"catalog_product_entity")]
	if !v["attribute_id"] || !v["value"] || !p["attribute_set_id"] {
		return ""
	}
	for _, k := range []string{"row_id", "entity_id"} {
		if v[k] && p[k] {
			return k
		}
	}
	return ""
}

// postSetLeftoverDelete is the statement that deletes the attribute-set
// leftovers of value table (unprefixed) keyed to the product by key; with
// products > 0, only those of the products whose key is one of the first
// products arguments.
func postSetLeftoverDelete(prefix, table, key string, products int) string {
	q := func(t string) string { return "`" + strings.ReplaceAll(prefix+t, "`", "``") + "`" }
	s := "DELETE v FROM " + q(table) + " v JOIN " + q("catalog_product_entity") + " p ON p.`" + key + "` = v.`" + key + "`" +
		" WHERE v.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " + q("eav_entity_attribute") +
		" e WHERE e.attribute_set_id = p.attribute_set_id AND e.attribute_id = v.attribute_id)"
	if products > 0 {
		s += " AND v.`" + key + "` IN (" + strings.Repeat("?, ", products-1) + "?)"
	}
	return s
}

// The Map step's copy and stream and verify agree on these rows through a
// Skip route on the plans of the value tables (postSetLeftoverRoutes): a
// source row is left out when it is a leftover by the destination's product
// sets and set members, looked up in a postSetState. Which state:
//
//   - in data mode, until the step's Data, no product (postDataModeSets):
//     the copy carries every row, and Data deletes the leftovers;
//   - a plan compiled for verify (or anything else) reads the destination's
//     catalog_product_entity (key, attribute_set_id) and eav_entity_attribute
//     once, when it first routes a value row. A verify run while the
//     stream changes a product's set judges that product's values by the
//     set it read: it may report them (missing or extra rows), or miss a
//     difference of them until it runs again.
//   - while delta mode streams, the state read when the stream started
//     (r.postSets), which the step's follower (postSetFollower) keeps in step
//     with the destination, in each batch's transaction.
//
// Rows of an attribute the EAV step's map lacks or otherwise failing to map
// are routed Carry: the plan makes them failed rows as before.

// postSetState is the destination's product sets and their members.
type postSetState struct {
	mu sync.RWMutex
	// sets: the attribute_set_id of each product, by its key's string form.
	sets map[string]string
	// members: the attribute_ids linked to each attribute set.
	members map[string]map[string]bool
}

// leftover reports whether a non-NULL value of attribute attr for product
// is a leftover: the product exists and its set does not link attr.
func (st *postSetState) leftover(product, attr string) bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	set, ok := st.sets[product]
	return ok && !st.members[set][attr]
}

// postLoadSetState reads the destination's product sets (by key) and set
// members.
func postLoadSetState(ctx context.Context, q rowsQuerier, prefix, key string) (*postSetState, error) {
	st := &postSetState{sets: map[string]string{}, members: map[string]map[string]bool{}}
	if err := postScanPairs(ctx, q, "SELECT `"+key+"`, attribute_set_id FROM "+rowio.QuoteIdent(prefix+"catalog_product_entity"), func(k, set string) {
		st.sets[k] = set
	}); err != nil {
		return nil, fmt.Errorf("PostProcessing step (%s): destination's product sets: %w", postSetLeftover, err)
	}
	if err := postScanPairs(ctx, q, "SELECT attribute_set_id, attribute_id FROM "+rowio.QuoteIdent(prefix+"eav_entity_attribute"), func(set, attr string) {
		if st.members[set] == nil {
			st.members[set] = map[string]bool{}
		}
		st.members[set][attr] = true
	}); err != nil {
		return nil, fmt.Errorf("PostProcessing step (%s): destination's attribute set members: %w", postSetLeftover, err)
	}
	return st, nil
}

// rowsQuerier is what reads rows: a *sql.DB or a *sql.Tx.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// postScanPairs calls fn with each row's two columns of query.
func postScanPairs(ctx context.Context, q rowsQuerier, query string, fn func(a, b string), args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b sql.NullString
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a.String, b.String)
	}
	return rows.Err()
}

// postSetLeftoverTables are the destination's value tables the cleanup reads
// (unprefixed, lower case) with the column that keys them to their product;
// none when the destination lacks the product or set tables.
func (r *Runtime) postSetLeftoverTables(ctx context.Context) (map[string]string, error) {
	docs, err := postSetLeftoverDocuments(&step.Env{Config: r.cfg})
	if err != nil || len(docs) == 0 {
		return nil, err
	}
	cols, err := postColumns(ctx, r.dst)
	if err != nil {
		return nil, err
	}
	prefix := r.cfg.Options.DestPrefix
	ea := cols[strings.ToLower(prefix+"eav_entity_attribute")]
	if !ea["attribute_set_id"] || !ea["attribute_id"] {
		return nil, nil
	}
	out := map[string]string{}
	for _, t := range docs {
		if key := postSetLeftoverKey(cols, prefix, t); key != "" {
			out[t] = key
		}
	}
	return out, nil
}

// postSetLeftoverRoutes puts the Skip route of attribute-set leftovers on
// the plans of tps that copy a value table of the cleanup (in place, before
// the routes they have: the reference cleans the leftovers first). It
// reports whether it routed any.
func (r *Runtime) postSetLeftoverRoutes(ctx context.Context, tps []*transform.TablePlan) (bool, error) {
	tables, err := r.postSetLeftoverTables(ctx)
	if err != nil || len(tables) == 0 {
		return false, err
	}
	// The snapshot is read when a row is first routed, not at compile: a
	// plan compiled to stream (which routes by r.postSets) or to report
	// status never reads it. ctx is the compile's, that of the command
	// that uses the plan.
	var (
		once    sync.Once
		snap    *postSetState
		snapErr error
		snapKey string
	)
	state := func() (*postSetState, error) {
		if live := r.postSets.Load(); live != nil {
			return live, nil
		}
		once.Do(func() { snap, snapErr = postLoadSetState(ctx, r.dst, r.cfg.Options.DestPrefix, snapKey) })
		return snap, snapErr
	}
	routed := false
	for i, tp := range tps {
		name, ok := cutPrefixFold(tp.Source.Name, r.cfg.Options.SourcePrefix)
		key := tables[strings.ToLower(name)]
		if !ok || key == "" || !strings.EqualFold(strings.TrimPrefix(strings.ToLower(tp.Dest.Name), strings.ToLower(r.cfg.Options.DestPrefix)), strings.ToLower(name)) {
			continue
		}
		if snapKey == "" {
			snapKey = key
		} else if snapKey != key {
			return false, fmt.Errorf("%w: PostProcessing step: destination %s is keyed to its product by %s, another value table by %s: its %s cannot be judged; leave the PostProcessing Step out of config.xml", ErrIntegrity, tp.Dest.Name, key, snapKey, postSetLeftover)
		}
		routedTP, err := postSetLeftoverRoute(tp, key, state)
		if err != nil {
			return false, err
		}
		var also []*transform.TablePlan
		for _, av := range tp.AlsoVerify() {
			ra, err := postSetLeftoverRoute(av, key, state)
			if err != nil {
				return false, err
			}
			also = append(also, ra)
		}
		if len(also) > 0 {
			routedTP = routedTP.WithAlsoVerify(also...)
		}
		tps[i] = routedTP
		routed = true
	}
	return routed, nil
}

// postDataModeSets, in data mode with the routes in force, makes every
// plan's route carry every value row until the step's Data has deleted the
// leftovers (the step's Integrity runs before any step's Data): the EAV
// step's Data changes the set members and the Map step copies the products,
// so no set read before the copy is right. A fresh copy thus carries all
// the leftovers, and Data deletes and counts them; the copy's volume check
// asks the same routes. r may be nil.
func (r *Runtime) postDataModeSets(ctx context.Context, env *step.Env) error {
	if r == nil || env.Mode != step.ModeData || !r.postRoutesInForce() {
		return nil
	}
	tables, err := r.postSetLeftoverTables(ctx)
	if err != nil || len(tables) == 0 {
		return err
	}
	r.postSets.Store(&postSetState{sets: map[string]string{}, members: map[string]map[string]bool{}})
	return nil
}

// postSetLeftoverRoute is tp routing a row that is an attribute-set leftover
// (by the state state gives) to Skip, and the others as tp does.
func postSetLeftoverRoute(tp *transform.TablePlan, key string, state func() (*postSetState, error)) (*transform.TablePlan, error) {
	// The value is judged as the plan writes it (a handler may empty it:
	// the reference reads Magento 2's rows).
	value, attr, prod := tp.Dest.ColumnIndex("value"), tp.Dest.ColumnIndex("attribute_id"), tp.Dest.ColumnIndex(key)
	if value < 0 || attr < 0 || prod < 0 {
		return nil, fmt.Errorf("%w: PostProcessing step: %s -> %s lacks value, attribute_id or %s: its %s cannot be left out; leave the PostProcessing Step out of config.xml", ErrIntegrity, tp.Source.Name, tp.Dest.Name, key, postSetLeftover)
	}
	return tp.WithRoute(func(row []any, gone bool) (transform.Route, error) {
		// A row gone is judged alike: verify asks with gone set; and a
		// leftover by the state is not on the destination (deleted in
		// the batch that made it one, or by data mode), so its delete
		// has nothing to do.
		if d, err := tp.Row(row); err == nil && d[value] != nil && d[attr] != nil && d[prod] != nil {
			st, err := state()
			if err != nil {
				return transform.Route{}, err
			}
			if st.leftover(str(d[prod]), str(d[attr])) {
				return transform.Route{Kind: transform.Skip}, nil
			}
		}
		return tp.RouteOf(row, gone)
	}, tp.RouteReads()...), nil
}

// In delta mode the stream can make a value row a leftover, or no longer
// one, without writing it: a product's set changes, or a product arrives in
// the batch that brings its values (whose routes could not see it). A
// follower (postSetFollower) of catalog_product_entity and the value tables
// keeps the destination right in each batch's transaction:
//
//   - for every product written (insert, update, a change log's upsert) and
//     every product whose value rows the batch wrote, it deletes the
//     product's leftovers (the data mode statement, for those products);
//   - for every product written, it reads the product's value rows from
//     the source as they are now, maps them through the Map step's plans
//     and their routes (the state already holds the product's set as the
//     batch leaves it) and upserts those carried (or moved: the multiselect
//     mover): the values of attributes its new set links come back. Every
//     product written, not only those whose set changed: a change log's
//     upsert has no before image, the binlog's is mapped to the key alone,
//     and the state the follower updates cannot tell a retried transaction
//     from a committed one.
//     Reading the source ahead of the stream is safe as the source lookups
//     are: the events after it apply again, idempotently. A row that fails
//     to map is left out: the plan made it a failed row when it was copied
//     or streamed (the route maps a row before deciding, and a row it
//     cannot map is carried).
//
// It updates the state (r.postSets) from the batch's transaction before the
// transaction commits; a batch whose transaction fails is retried or stops
// the stream, and its retry runs the follower again.
//
// The Kafka sink runs no follower, but then the step cannot run in data mode
// either (Integrity), so no route is in force there.

// postSetFollower is the follower of the attribute-set leftovers.
type postSetFollower struct {
	r      *Runtime
	st     *postSetState
	key    string
	tables map[string]string // value tables (unprefixed, lower case) -> key column
	// plans are the stream plan's plans of the value tables.
	plans []*transform.TablePlan
}

// postSetLeftoverFollow, when the routes are in force, reads the
// destination's product sets for the stream that plan streams, makes the
// routes use them and registers the follower that keeps them (see above).
// A destination whose value tables are keyed by row_id (Magento Commerce's
// staging) cannot be followed: it is an error naming the remedy.
func (r *Runtime) postSetLeftoverFollow(ctx context.Context, plan *transform.Plan) error {
	if plan == nil || !r.postRoutesInForce() {
		return nil
	}
	tables, err := r.postSetLeftoverTables(ctx)
	if err != nil || len(tables) == 0 {
		return err
	}
	f := &postSetFollower{r: r, tables: tables}
	for _, tp := range plan.Tables() {
		name, ok := cutPrefixFold(tp.Source.Name, r.cfg.Options.SourcePrefix)
		if key := tables[strings.ToLower(name)]; ok && key != "" && tp.Routed() {
			if key != "entity_id" {
				return fmt.Errorf("%w: PostProcessing step: destination %s is keyed to its product by %s (Magento Commerce's staging): the stream cannot keep its %s (it reads a product's values from the source by entity_id); leave the PostProcessing Step out of config.xml and delete them after cutover", ErrIntegrity, tp.Dest.Name, key, postSetLeftover)
			}
			f.key = key
			f.plans = append(f.plans, tp)
		}
	}
	if len(f.plans) == 0 {
		return nil
	}
	if f.st, err = postLoadSetState(ctx, r.dst, r.cfg.Options.DestPrefix, f.key); err != nil {
		return err
	}
	r.postSets.Store(f.st)
	r.follow(f)
	return nil
}

func (f *postSetFollower) name() string { return "PostProcessing step (" + postSetLeftover + ")" }

func (f *postSetFollower) follows(table string) bool {
	return table == "catalog_product_entity" || f.tables[table] != ""
}

func (f *postSetFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	r, prefix := f.r, f.r.cfg.Options.DestPrefix
	clean := map[string][]any{} // value table -> products to clean
	var written []any
	for _, c := range r.changesOf(changes, "catalog_product_entity") {
		k := c.Table.ColumnIndex(f.key)
		if k < 0 {
			return fmt.Errorf("destination %s has no %s", c.Table.Name, f.key)
		}
		switch {
		case c.Op == cdc.OpDelete:
			f.st.mu.Lock()
			delete(f.st.sets, str(c.Before[k]))
			f.st.mu.Unlock()
		case c.After != nil && c.After[k] != nil:
			written = append(written, c.After[k])
		}
	}
	if len(written) > 0 {
		if err := f.readSets(ctx, tx, written); err != nil {
			return err
		}
		for t := range f.tables {
			clean[t] = append(clean[t], written...)
		}
	}
	for t := range f.tables {
		if ch := r.changesOf(changes, t); len(ch) > 0 {
			clean[t] = append(clean[t], changedValues(ch, f.key)...)
		}
	}
	if len(written) > 0 {
		if err := f.reread(ctx, tx, written); err != nil {
			return err
		}
	}
	for t, keys := range clean {
		for start := 0; start < len(keys); start += 500 {
			part := keys[start:min(start+500, len(keys))]
			if _, err := tx.ExecContext(ctx, postSetLeftoverDelete(prefix, t, f.key, len(part)), part...); err != nil {
				return fmt.Errorf("%s%s: delete leftovers: %w", prefix, t, err)
			}
		}
	}
	return nil
}

// readSets reads the sets of products from tx into the state (a product
// tx does not hold is forgotten).
func (f *postSetFollower) readSets(ctx context.Context, tx *sql.Tx, products []any) error {
	got := map[string]string{}
	for start := 0; start < len(products); start += 500 {
		part := products[start:min(start+500, len(products))]
		if err := postScanPairs(ctx, tx, "SELECT `"+f.key+"`, attribute_set_id FROM "+rowio.QuoteIdent(f.r.cfg.Options.DestPrefix+"catalog_product_entity")+
			" WHERE `"+f.key+"` IN ("+strings.Repeat("?, ", len(part)-1)+"?)", func(k, set string) { got[k] = set }, part...); err != nil {
			return fmt.Errorf("read the product sets: %w", err)
		}
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	for _, p := range products {
		if set, ok := got[str(p)]; ok {
			f.st.sets[str(p)] = set
		} else {
			delete(f.st.sets, str(p))
		}
	}
	return nil
}

// reread upserts, in tx, the source value rows of products that the plans
// carry (or move) now.
func (f *postSetFollower) reread(ctx context.Context, tx *sql.Tx, products []any) error {
	conn, release, err := rowio.RawConn(ctx, f.r.src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer release()
	for _, tp := range f.plans {
		k := tp.Source.ColumnIndex("entity_id")
		if k < 0 {
			return fmt.Errorf("source %s has no entity_id", tp.Source.Name)
		}
		keys := make([][]any, len(products))
		for i, p := range products {
			keys[i] = []any{p}
		}
		rows, err := rowio.ReadRowsByKey(ctx, conn, tp.Source, []int{k}, keys)
		if err != nil {
			return err
		}
		for _, row := range rows {
			route, err := tp.RouteOf(row, false)
			if err != nil {
				return err
			}
			var out []any
			table := tp.Dest
			switch route.Kind {
			case transform.Skip:
				continue
			case transform.Carry:
				out, err = tp.Row(row)
			case transform.Upsert:
				out, err = tp.Moved(row, route)
				table = route.Table
			default:
				return fmt.Errorf("source %s: row %v is routed %s, which the follower cannot write", tp.Source.Name, tp.Source.KeyOf(row), route.Kind)
			}
			if err != nil {
				continue // a failed row already (see above)
			}
			if err := postUpsert(ctx, tx, table, out); err != nil {
				return fmt.Errorf("source %s: row %v into %s: %w", tp.Source.Name, tp.Source.KeyOf(row), table.Name, err)
			}
		}
	}
	return nil
}

// postUpsert inserts row into t, updating on a duplicate key the columns
// that are not t's key and not kept (cdc.Column.KeepExisting).
func postUpsert(ctx context.Context, tx *sql.Tx, t *cdc.Table, row []any) error {
	var set []string
	for i, c := range t.Columns {
		if !c.KeepExisting && !slices.Contains(t.Key, i) && i < len(row) && row[i] != cdc.Default {
			n := rowio.QuoteIdent(c.Name)
			set = append(set, n+" = VALUES("+n+")")
		}
	}
	tail := ""
	if len(set) > 0 {
		tail = "ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
	} else if len(t.Key) > 0 {
		n := rowio.QuoteIdent(t.Columns[t.Key[0]].Name)
		tail = "ON DUPLICATE KEY UPDATE " + n + " = " + n
	}
	_, err := eavInsert(ctx, tx, t, row, tail)
	return err
}
