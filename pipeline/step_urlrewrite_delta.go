package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The Url Rewrite step's delta, when config.xml lists the step in delta
// mode (the reference's Version191to2000Delta; the stock config lists it in
// data mode only): core_url_rewrite is streamed with the Map step's tables,
// in one stream (binlog or change logs) with one checkpoint, into a copy
// kept in the destination, _shiplog_core_url_rewrite (its columns but
// id_path). A stream follower (follow.go) re-derives, in the transaction of
// every batch that writes that copy, a product or category, or a CMS page
// or its stores:
//   - the url_rewrite rows of the rewrites the batch changed, under their
//     url_rewrite_id, converted as data mode converts them; a rewrite gone
//     from Magento 1 goes from url_rewrite;
//   - their catalog_url_rewrite_product_category rows, and those of the
//     rewrites of the products and categories the batch changed: a link is
//     written once its rewrite, product and category are all in Magento 2
//     (a rewrite may arrive before its product; the foreign keys refuse the
//     link until then);
//   - the CMS pages' rewrites, as data mode makes them, from Magento 2's
//     cms_page and cms_page_store (the Map step's copies) and the rewrites'
//     copy: a changed rewrite may take or free a page's request path.
//
// A rewrite whose request path and store another url_rewrite row already
// has (Magento 1's own unique key makes that rare: a rewrite Magento 2 made
// itself, or paths the destination's collation takes as equal) is not
// written: it is a failed row of core_url_rewrite with the reason, retried
// at the next run, and the stream goes on. Data mode stops on such a pair
// instead (it cannot leave a row out of a copy that must be whole). CMS
// pages' duplicates are kept first-wins, as data mode does; without
// auto_resolve_urlrewrite_duplicates (or --auto) each page left out is also a
// failed row of cms_page, since data mode would have refused it.
//
// Positions: as the Log step's (step_log_delta.go): data mode copies
// core_url_rewrite and the copy in one snapshot and records its binlog
// position; with delta.source: triggers the change logs go in before it,
// cms_page's and cms_page_store's too (the stock deltalog.xml.dist lists
// neither). The Kafka sink runs no follower: with sink: kafka the step
// refuses to stream; with sink: both each delta start warns.

// urlRewriteShadow is the destination copy of core_url_rewrite.
const urlRewriteShadow = transform.StateTablePrefix + urlRewriteSrcDoc

// urlRewriteShadowCols are the columns of urlRewriteShadow, from
// core_url_rewrite (id_path is not read by the conversion).
var urlRewriteShadowCols = []string{"url_rewrite_id", "store_id", "category_id", "product_id", "is_system",
	"request_path", "target_path", "options", "description"}

// urlRewriteStreams reports whether core_url_rewrite is streamed: config.xml
// lists the Url Rewrite step in delta mode.
func (r *Runtime) urlRewriteStreams() bool { return r.stepInMode("UrlRewrite", step.ModeDelta) }

// withURLRewriteStream is plan with the plan of core_url_rewrite into its
// copy, when config.xml lists the step in delta mode.
func (r *Runtime) withURLRewriteStream(ctx context.Context, plan *transform.Plan, problems []transform.Problem) (*transform.Plan, []transform.Problem, error) {
	if plan == nil || !r.urlRewriteStreams() {
		return plan, problems, nil
	}
	s := &urlRewriteStep{r: r}
	found, err := s.integrityStream(ctx)
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, found...)
	if s.shadow == nil {
		return plan, problems, nil
	}
	sp, err := transform.NewPlan(s.shadow)
	if err != nil {
		return nil, nil, err
	}
	mapName := r.cfg.Options.MapFile
	if mapName == "" {
		mapName = "the map"
	}
	merged, err := transform.Merge(plan, sp, mapName, "the Url Rewrite step")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the Url Rewrite step streams %s itself, so the Map step's map must ignore it (the stock map.xml.dist does): %w", ErrIntegrity, urlRewriteSrcDoc, err)
	}
	return merged, problems, nil
}

// urlRewriteUnlisted are the plans logSpecs logs besides the deltalog
// file's documents (listed reports those) when the step streams: the
// rewrites, and the CMS pages and their stores the CMS rewrites derive from
// (the stock deltalog.xml.dist lists the rewrites only).
func (r *Runtime) urlRewriteUnlisted(plan *transform.Plan, listed func(table string) bool) []*transform.TablePlan {
	if !r.urlRewriteStreams() {
		return nil
	}
	var out []*transform.TablePlan
	for _, doc := range []string{urlRewriteSrcDoc, cmsPageDoc, cmsPageStoreDoc} {
		if tp := plan.Table(r.cfg.Options.SourcePrefix + doc); tp != nil && !listed(tp.Source.Name) {
			out = append(out, tp)
		}
	}
	return out
}

// integrityStream plans core_url_rewrite into its copy (s.shadow), and
// refuses a destination that does not hold the mapped rows (sink: kafka).
func (s *urlRewriteStep) integrityStream(ctx context.Context) ([]transform.Problem, error) {
	r := s.r
	s.shadow = nil
	if r.dest != nil {
		if err := r.dest.rows(); err != nil {
			return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: "destination", Table: urlRewriteDoc,
				Msg: fmt.Sprintf("Url Rewrite step: listed in delta mode, it keeps url_rewrite in step with the rewrites streamed into the destination database, and cannot here: %v; run with sink: mysql, or list the step in data mode only (its rewrites are then copied once)", err)}}, nil
		}
	}
	name := r.cfg.Options.SourcePrefix + urlRewriteSrcDoc
	all, err := rowio.LoadTables(ctx, r.src, r.cfg.Source.Database, transform.StateTablePrefix)
	if err != nil {
		return nil, fmt.Errorf("Url Rewrite step: source: %w", err)
	}
	i := slices.IndexFunc(all, func(t *cdc.Table) bool { return strings.EqualFold(t.Name, name) })
	if i < 0 {
		return nil, nil // Integrity reports it
	}
	tp, problems, err := s.shadowPlan(all[i])
	if err != nil || problems != nil {
		return problems, err
	}
	s.shadow = tp
	return nil, nil
}

// shadowPlan compiles the plan of core_url_rewrite (src) into
// urlRewriteShadow: the columns of urlRewriteShadowCols as src has them,
// keyed by url_rewrite_id; id_path is ignored.
func (s *urlRewriteStep) shadowPlan(src *cdc.Table) (*transform.TablePlan, []transform.Problem, error) {
	r := s.r
	sp := r.cfg.Options.SourcePrefix
	bad := func(msg string) []transform.Problem {
		return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: "source", Table: src.Name, Msg: "Url Rewrite step: the rewrites' copy: " + msg}}
	}
	compiled := &cdc.Table{Schema: r.cfg.Destination.Database, Name: src.Name, KeyName: "PRIMARY"}
	for _, n := range urlRewriteShadowCols {
		i := src.ColumnIndex(n)
		if i < 0 {
			return nil, bad(fmt.Sprintf("source document %s has no %s column", src.Name, n)), nil
		}
		c := src.Columns[i]
		c.Generated, c.KeepExisting = false, false
		c.Nullable = c.Nullable && n != "url_rewrite_id"
		compiled.Columns = append(compiled.Columns, c)
	}
	compiled.Key = []int{0}
	rules := &transform.Rules{SourcePrefix: sp, DestPrefix: sp, Env: r.handlerEnv()}
	for _, c := range src.Columns {
		if !slices.ContainsFunc(urlRewriteShadowCols, func(n string) bool { return strings.EqualFold(n, c.Name) }) {
			rules.Source.IgnoreFields = append(rules.Source.IgnoreFields, transform.Rule{Name: urlRewriteSrcDoc + "." + c.Name})
		}
	}
	plan, problems := transform.Compile(rules, []*cdc.Table{src}, []*cdc.Table{compiled})
	var msgs []string
	for _, p := range problems {
		if p.Severity == transform.Error {
			msgs = append(msgs, p.Msg)
		}
	}
	tp := plan.Table(src.Name)
	if tp == nil || len(msgs) > 0 {
		if len(msgs) == 0 {
			msgs = append(msgs, "it could not be planned")
		}
		return nil, bad(strings.Join(msgs, "; ")), nil
	}
	dest := &cdc.Table{Schema: r.cfg.Destination.Database, Name: urlRewriteShadow, KeyName: "PRIMARY"}
	for _, c := range tp.Dest.Columns {
		dest.Columns = append(dest.Columns, compiled.Columns[compiled.ColumnIndex(c.Name)])
	}
	dest.Key = []int{dest.ColumnIndex("url_rewrite_id")}
	out, err := tp.AsRowsOf(dest)
	if err != nil {
		return nil, nil, fmt.Errorf("Url Rewrite step: %w", err)
	}
	return out, nil, nil
}

// urlRewriteShadowDDL creates urlRewriteShadow (t) in the destination, with
// the indexes the follower reads it by.
func urlRewriteShadowDDL(t *cdc.Table) string {
	q := "CREATE TABLE IF NOT EXISTS " + rowio.QuoteIdent(t.Schema) + "." + rowio.QuoteIdent(t.Name) + " ("
	for _, c := range t.Columns {
		q += rowio.QuoteIdent(c.Name) + " " + c.ColumnType
		if c.Charset != "" && c.Charset != "binary" {
			q += " CHARACTER SET " + c.Charset
		}
		if c.Nullable {
			q += " NULL, "
		} else {
			q += " NOT NULL, "
		}
	}
	return q + "PRIMARY KEY (`url_rewrite_id`), KEY `request_path` (`request_path`), KEY `product_id` (`product_id`), KEY `category_id` (`category_id`)) ENGINE=InnoDB"
}

// copyShadow fills urlRewriteShadow (emptied) with core_url_rewrite read on
// src (the data copy's snapshot), in tx. It returns the rows written.
func (s *urlRewriteStep) copyShadow(ctx context.Context, src *sql.Conn, tx *sql.Tx) (int, error) {
	tp := s.shadow
	dest := rowio.QuoteIdent(tp.Dest.Schema) + "." + rowio.QuoteIdent(tp.Dest.Name)
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+dest); err != nil {
		return 0, fmt.Errorf("Url Rewrite step: clearing %s: %w", tp.Dest.Name, err)
	}
	w := &batchInsert{tx: tx, t: tp.Dest}
	n := 0
	err := logRead(ctx, src, tp.Source, string(rowio.SelectColumns(nil, tp.Source)), tp.Source, func(row []any) error {
		out, err := tp.Row(row)
		if err != nil {
			return fmt.Errorf("Url Rewrite step: source %s row %s: %w; nothing was written", tp.Source.Name, keyText(tp.Source, row), err)
		}
		if err := w.add(ctx, out); err != nil {
			return fmt.Errorf("Url Rewrite step: copying into %s: %w", tp.Dest.Name, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := w.flush(ctx); err != nil {
		return n, fmt.Errorf("Url Rewrite step: copying into %s: %w", tp.Dest.Name, err)
	}
	return n, nil
}

// prepareStream puts the change logs in on core_url_rewrite before the
// step's snapshot (delta.source: triggers; data mode's Map step has put
// them in already unless the step was listed in delta mode since).
func (s *urlRewriteStep) prepareStream(ctx context.Context) error {
	r := s.r
	if r.source.copyPositions() {
		return nil
	}
	sp, err := transform.NewPlan(s.shadow)
	if err != nil {
		return err
	}
	specs, problems, err := r.logSpecs(ctx, sp)
	if err != nil {
		return err
	}
	notCopied(problems)
	if len(specs) == 0 {
		return fmt.Errorf("%w: Url Rewrite step: no change log could be set up for %s: %v (or list the step in data mode only in config.xml)", ErrIntegrity, s.shadow.Source.Name, problems[s.shadow.Source.Name])
	}
	failed, err := r.installer().Install(ctx, specs)
	if err != nil {
		return err
	}
	for t, e := range failed {
		return fmt.Errorf("%w: Url Rewrite step: change logs could not be set up for %s: %v (or list the step in data mode only in config.xml)", ErrIntegrity, t, e)
	}
	return nil
}

// recordStream records in tx, with the copy read at pos, core_url_rewrite's
// snapshot position (the stream skips the changes before it) and, before
// any other copy set one, the checkpoint (binlog only).
func (s *urlRewriteStep) recordStream(ctx context.Context, tx *sql.Tx, pos cdc.Position, rows int) error {
	r := s.r
	if !r.source.copyPositions() {
		return nil
	}
	if err := r.state.SaveProgress(ctx, tx, state.TableProgress{Table: s.shadow.Source.Name, State: state.TableDone, Rows: int64(rows), SnapshotPos: pos, Segments: 1}); err != nil {
		return err
	}
	if _, _, ok, err := r.state.Checkpoint(ctx); err != nil || ok {
		return err
	}
	return r.state.SaveCheckpoint(ctx, tx, pos, time.Time{})
}

// urlRewriteFollower keeps url_rewrite, catalog_url_rewrite_product_category
// and the CMS pages' rewrites derived from the rewrites' copy (see the top
// of this file).
type urlRewriteFollower struct {
	// Destination tables, quoted with their schema.
	shadow, rewrites, links, products, categories, pages, pageStores string
	// srcRewrites and srcPages name the source tables failed rows are
	// recorded for.
	srcRewrites, srcPages string
	// prefix is the destination's table prefix.
	prefix      string
	autoResolve bool
	// failed records failed rows in the batch's transaction.
	failed func(context.Context, *sql.Tx, []cdc.Failure) error
	log    *slog.Logger
}

func (s *urlRewriteStep) newFollower(env *step.Env) *urlRewriteFollower {
	r := s.r
	return &urlRewriteFollower{
		shadow:      rowio.QuoteIdent(r.cfg.Destination.Database) + "." + rowio.QuoteIdent(urlRewriteShadow),
		rewrites:    s.dstTable(urlRewriteDoc),
		links:       s.dstTable(urlRewriteProdCatDoc),
		products:    s.dstTable("catalog_product_entity"),
		categories:  s.dstTable("catalog_category_entity"),
		pages:       s.dstTable(cmsPageDoc),
		pageStores:  s.dstTable(cmsPageStoreDoc),
		srcRewrites: r.cfg.Options.SourcePrefix + urlRewriteSrcDoc, srcPages: r.cfg.Options.SourcePrefix + cmsPageDoc,
		prefix: r.cfg.Options.DestPrefix, autoResolve: s.autoResolve(env), failed: r.followerFailed, log: env.Log,
	}
}

func (f *urlRewriteFollower) name() string { return "Url Rewrite step" }

func (f *urlRewriteFollower) follows(table string) bool {
	switch table {
	case urlRewriteShadow, "catalog_product_entity", "catalog_category_entity", cmsPageDoc, cmsPageStoreDoc:
		return true
	}
	return false
}

// urlRewriteChunk bounds the keys of one statement.
const urlRewriteChunk = 500

// urlRewriteSelect is the url_rewrite row of each rewrite of the copy (alias
// s), as convertURLRewrite makes it for data mode
// (TestURLRewriteFollowerConvertsAsDataMode holds both to the same cases).
const urlRewriteSelect = "SELECT s.`url_rewrite_id`," +
	" CASE WHEN s.`product_id` <> 0 THEN 'product' WHEN s.`category_id` <> 0 THEN 'category' ELSE 'custom' END," +
	" CASE WHEN s.`product_id` <> 0 THEN s.`product_id` WHEN s.`category_id` <> 0 THEN s.`category_id` ELSE 0 END," +
	" s.`request_path`, s.`target_path`, CASE s.`options` WHEN 'R' THEN 302 WHEN 'RP' THEN 301 ELSE 0 END, s.`store_id`, s.`description`," +
	" COALESCE(s.`is_system`, 0)," +
	" IF(s.`is_system` <> 0 AND s.`product_id` <> 0 AND s.`category_id` <> 0, CONCAT('{\"category_id\":\"', s.`category_id`, '\"}'), NULL)"

func inList(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }

func (f *urlRewriteFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	var mine, prods, cats []cdc.Change
	cms := false
	for _, c := range changes {
		name := strings.ToLower(c.Table.Name)
		if n, ok := cutPrefixFold(c.Table.Name, f.prefix); ok && !strings.EqualFold(name, urlRewriteShadow) {
			name = strings.ToLower(n)
		}
		switch name {
		case urlRewriteShadow:
			mine = append(mine, c)
		case "catalog_product_entity":
			prods = append(prods, c)
		case "catalog_category_entity":
			cats = append(cats, c)
		case cmsPageDoc, cmsPageStoreDoc:
			cms = true
		}
	}
	var pos cdc.Position
	if len(changes) > 0 {
		pos = changes[len(changes)-1].Pos
	}
	return f.derive(ctx, tx, changedValues(mine, "url_rewrite_id"), changedValues(prods, "entity_id"), changedValues(cats, "entity_id"),
		len(mine) > 0 || cms, cms, pos)
}

// derive re-derives the rows of rewrites ids, the links of the rewrites of
// products and categories, and (withCMS) the CMS pages' rewrites; warn:
// duplicates of CMS pages are warned about.
func (f *urlRewriteFollower) derive(ctx context.Context, tx *sql.Tx, ids, products, categories []any, withCMS, warn bool, pos cdc.Position) error {
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), urlRewriteChunk)
		for _, t := range []string{f.links, f.rewrites} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE `url_rewrite_id` IN "+inList(n), rest[:n]...); err != nil {
				return fmt.Errorf("clearing the rewrites of %s: %w", t, err)
			}
		}
		rest = rest[n:]
	}
	var cms cmsResult
	var stale []int64
	if withCMS {
		var err error
		if cms, stale, err = f.cmsDiff(ctx, tx); err != nil {
			return err
		}
		for rest := stale; len(rest) > 0; {
			n := min(len(rest), urlRewriteChunk)
			args := make([]any, n)
			for i, id := range rest[:n] {
				args[i] = id
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+f.rewrites+" WHERE `url_rewrite_id` IN "+inList(n), args...); err != nil {
				return fmt.Errorf("clearing CMS pages' rewrites: %w", err)
			}
			rest = rest[n:]
		}
	}
	var failures []cdc.Failure
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), urlRewriteChunk)
		failed, err := f.insertRewrites(ctx, tx, rest[:n], pos)
		if err != nil {
			return err
		}
		failures = append(failures, failed...)
		rest = rest[n:]
	}
	if err := f.relink(ctx, tx, "s.`url_rewrite_id`", ids); err != nil {
		return err
	}
	if err := f.relink(ctx, tx, "s.`product_id`", products); err != nil {
		return err
	}
	if err := f.relink(ctx, tx, "s.`category_id`", categories); err != nil {
		return err
	}
	if withCMS {
		failed, err := f.insertCMS(ctx, tx, cms, warn, pos)
		if err != nil {
			return err
		}
		failures = append(failures, failed...)
	}
	if len(failures) > 0 {
		return f.failed(ctx, tx, failures)
	}
	return nil
}

// insertRewrites writes the url_rewrite rows of rewrites ids (gone from the
// copy: none); a rewrite whose request path and store another row has is a
// failed row.
func (f *urlRewriteFollower) insertRewrites(ctx context.Context, tx *sql.Tx, ids []any, pos cdc.Position) ([]cdc.Failure, error) {
	q := "INSERT INTO " + f.rewrites + " " + urlRewriteCols + " " + urlRewriteSelect + " FROM " + f.shadow + " s WHERE s.`url_rewrite_id` IN "
	_, err := tx.ExecContext(ctx, q+inList(len(ids)), ids...)
	if err == nil || !isDupKey(err) {
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.rewrites, err)
		}
		return nil, nil
	}
	// One by one: only the colliding rewrites are left out.
	var out []cdc.Failure
	for _, id := range ids {
		_, err := tx.ExecContext(ctx, q+"(?)", id)
		if err == nil {
			continue
		}
		if !isDupKey(err) {
			return nil, fmt.Errorf("writing %s: %w", f.rewrites, err)
		}
		out = append(out, cdc.Failure{Table: f.srcRewrites, Key: []any{id}, Pos: pos, Reason: f.collision(ctx, tx, id)})
	}
	return out, nil
}

func isDupKey(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// collision says which url_rewrite row rewrite id collides with.
func (f *urlRewriteFollower) collision(ctx context.Context, tx *sql.Tx, id any) string {
	var other, entity int64
	var typ, path string
	var store int64
	err := tx.QueryRowContext(ctx, "SELECT u.`url_rewrite_id`, u.`entity_type`, u.`entity_id`, COALESCE(s.`request_path`, ''), s.`store_id` FROM "+f.shadow+" s JOIN "+f.rewrites+
		" u ON u.`request_path` = s.`request_path` AND u.`store_id` = s.`store_id` WHERE s.`url_rewrite_id` = ? LIMIT 1", id).Scan(&other, &typ, &entity, &path, &store)
	if err != nil {
		return fmt.Sprintf("Url Rewrite step: rewrite %v repeats the request path and store of another url_rewrite row (Magento 2's unique key); not migrated: change one of them", id)
	}
	return fmt.Sprintf("Url Rewrite step: rewrite %v's request path %q in store %d is already url_rewrite %d's (%s %d) in Magento 2 (its unique key takes one): not migrated; change the path in Magento 1, or delete the other row in Magento 2, and the next run retries it",
		id, path, store, other, typ, entity)
}

// relink rewrites the links of the rewrites of the copy whose column col
// (aliased s) is one of vals: a link is written when the rewrite is a
// system one of a product in a category with a request path, and its
// url_rewrite row, its product and its category are in Magento 2.
func (f *urlRewriteFollower) relink(ctx context.Context, tx *sql.Tx, col string, vals []any) error {
	for rest := vals; len(rest) > 0; {
		n := min(len(rest), urlRewriteChunk)
		in := inList(n)
		if _, err := tx.ExecContext(ctx, "DELETE l FROM "+f.links+" l JOIN "+f.shadow+" s ON s.`url_rewrite_id` = l.`url_rewrite_id` WHERE "+col+" IN "+in, rest[:n]...); err != nil {
			return fmt.Errorf("clearing %s: %w", f.links, err)
		}
		q := "INSERT INTO " + f.links + " (`url_rewrite_id`, `category_id`, `product_id`) SELECT s.`url_rewrite_id`, s.`category_id`, s.`product_id` FROM " + f.shadow + " s" +
			" JOIN " + f.rewrites + " u ON u.`url_rewrite_id` = s.`url_rewrite_id` AND u.`entity_type` <> 'cms-page'" +
			" JOIN " + f.products + " p ON p.`entity_id` = s.`product_id` JOIN " + f.categories + " c ON c.`entity_id` = s.`category_id`" +
			" WHERE s.`is_system` <> 0 AND s.`product_id` <> 0 AND s.`category_id` <> 0 AND s.`request_path` IS NOT NULL AND " + col + " IN " + in
		if _, err := tx.ExecContext(ctx, q, rest[:n]...); err != nil {
			return fmt.Errorf("writing %s: %w", f.links, err)
		}
		rest = rest[n:]
	}
	return nil
}

// cmsDiff makes the CMS pages' rewrites from Magento 2's pages and the
// rewrites' copy, and returns them without those url_rewrite already has
// alike, and the url_rewrite rows of CMS pages that are no longer made.
func (f *urlRewriteFollower) cmsDiff(ctx context.Context, tx *sql.Tx) (cmsResult, []int64, error) {
	var nulls bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+f.shadow+" WHERE `request_path` IS NULL)").Scan(&nulls); err != nil {
		return cmsResult{}, nil, fmt.Errorf("reading %s: %w", f.shadow, err)
	}
	q := "SELECT cp.`page_id`, cp.`identifier`, cps.`store_id`, cp.`identifier` IN (SELECT `request_path` FROM " + f.shadow +
		" WHERE `request_path` IS NOT NULL) FROM " + f.pages + " cp LEFT JOIN " + f.pageStores +
		" cps ON cps.`page_id` = cp.`page_id` WHERE cp.`is_active` = 1 ORDER BY cp.`identifier`, cps.`store_id`, cp.`page_id`"
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return cmsResult{}, nil, fmt.Errorf("reading the CMS pages: %w", err)
	}
	var cands []cmsCandidate
	for rows.Next() {
		var c cmsCandidate
		if err := rows.Scan(&c.Page, &c.Identifier, &c.Store, &c.InCore); err != nil {
			rows.Close()
			return cmsResult{}, nil, fmt.Errorf("reading the CMS pages: %w", err)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return cmsResult{}, nil, fmt.Errorf("reading the CMS pages: %w", err)
	}
	res := cmsRewrites(cands, nulls)
	type key struct {
		page, store int64
		path        string
	}
	want := map[key]bool{}
	for _, r := range res.rows {
		want[key{r.EntityID, r.Store, r.RequestPath.String}] = true
	}
	rows, err = tx.QueryContext(ctx, "SELECT `url_rewrite_id`, `entity_id`, `store_id`, COALESCE(`request_path`, ''), COALESCE(`target_path`, '') FROM "+f.rewrites+" WHERE `entity_type` = 'cms-page'")
	if err != nil {
		return cmsResult{}, nil, fmt.Errorf("reading %s: %w", f.rewrites, err)
	}
	defer rows.Close()
	var stale []int64
	for rows.Next() {
		var id, page, store int64
		var path, target string
		if err := rows.Scan(&id, &page, &store, &path, &target); err != nil {
			return cmsResult{}, nil, fmt.Errorf("reading %s: %w", f.rewrites, err)
		}
		k := key{page, store, path}
		if want[k] && target == cmsTarget(page) {
			delete(want, k) // kept as it is
			continue
		}
		stale = append(stale, id)
	}
	if err := rows.Err(); err != nil {
		return cmsResult{}, nil, fmt.Errorf("reading %s: %w", f.rewrites, err)
	}
	kept := res.rows[:0:0]
	for _, r := range res.rows {
		if want[key{r.EntityID, r.Store, r.RequestPath.String}] {
			kept = append(kept, r)
		}
	}
	res.rows = kept
	return res, stale, nil
}

func cmsTarget(page int64) string { return fmt.Sprintf("cms/page/view/page_id/%d", page) }

// insertCMS writes the CMS pages' rewrites of cms (numbered by the
// destination, after the rewrites of the batch took their ids); a page
// whose rewrite another row's request path and store has, and (without
// auto-resolving) a duplicate page left out, are failed rows of cms_page.
func (f *urlRewriteFollower) insertCMS(ctx context.Context, tx *sql.Tx, cms cmsResult, warn bool, pos cdc.Position) ([]cdc.Failure, error) {
	var out []cdc.Failure
	q := "INSERT INTO " + f.rewrites + " " + urlRewriteCols + " VALUES " + inList(10)
	for _, r := range cms.rows {
		if _, err := tx.ExecContext(ctx, q, urlRewriteArgs(r)...); err != nil {
			if !isDupKey(err) {
				return nil, fmt.Errorf("writing %s: %w", f.rewrites, err)
			}
			out = append(out, cdc.Failure{Table: f.srcPages, Key: []any{r.EntityID}, Pos: pos,
				Reason: fmt.Sprintf("Url Rewrite step: CMS page %d's request path %q in store %d is already another url_rewrite row's in Magento 2 (its unique key takes one): no rewrite; change the page's identifier, and the next run retries it", r.EntityID, r.RequestPath.String, r.Store)})
		}
	}
	if len(cms.dups) == 0 {
		return out, nil
	}
	if f.autoResolve {
		if warn {
			f.log.Warn("Url Rewrite step: duplicate CMS page rewrites resolved by keeping the first ("+urlRewriteDupOption+"): "+cms.dupText(50), "stage", "delta", "dropped", len(cms.dups))
		}
		return out, nil
	}
	for _, d := range cms.dups {
		out = append(out, cdc.Failure{Table: f.srcPages, Key: []any{d.Page}, Pos: pos,
			Reason: fmt.Sprintf("Url Rewrite step: CMS page %d's rewrite %q in store %d repeats page %d's: no rewrite; set option %s to 1 (or run with --auto) to keep the first, as data mode does, or change the page's identifier",
				d.Page, d.Path, d.Store, d.Kept, urlRewriteDupOption)})
	}
	return out, nil
}

// refresh derives every rewrite of the copy and the CMS pages' rewrites
// anew, in tx (the follower's work over every key). url_rewrite rows of
// other ids (none unless Magento 2 made them since data mode) are kept, as
// the reference's delta keeps them. It returns the rewrites left out
// (failed rows) and the rows kept.
func (f *urlRewriteFollower) refresh(ctx context.Context, tx *sql.Tx) (left, others int, err error) {
	rows, err := tx.QueryContext(ctx, "SELECT `url_rewrite_id` FROM "+f.shadow+" ORDER BY `url_rewrite_id`")
	if err != nil {
		return 0, 0, fmt.Errorf("reading %s: %w", f.shadow, err)
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading %s: %w", f.shadow, err)
	}
	if err := f.derive(ctx, tx, ids, nil, nil, true, true, cdc.Position{}); err != nil {
		return 0, 0, err
	}
	err = tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM "+f.shadow+" s WHERE NOT EXISTS (SELECT 1 FROM "+f.rewrites+" u WHERE u.`url_rewrite_id` = s.`url_rewrite_id`)),"+
		" (SELECT COUNT(*) FROM "+f.rewrites+" u WHERE u.`entity_type` <> 'cms-page' AND NOT EXISTS (SELECT 1 FROM "+f.shadow+" s WHERE s.`url_rewrite_id` = u.`url_rewrite_id`))").Scan(&left, &others)
	return left, others, err
}

// DeltaStart (step.DeltaStarter) checks the step's documents and the
// rewrites' copy data mode left, derives url_rewrite and
// catalog_url_rewrite_product_category anew from that copy (repairing
// what was written to them outside the stream since), and registers the follower that keeps them in step with each
// batch (see the top of this file).
func (s *urlRewriteStep) DeltaStart(ctx context.Context, env *step.Env) error {
	r := s.r
	if !r.urlRewriteStreams() {
		return nil
	}
	problems, err := s.Integrity(ctx, env)
	if err != nil {
		return err
	}
	var msgs []string
	for _, p := range problems {
		// The CMS pages' duplicates (not blocking) are the refresh's
		// failed rows, as the stream's.
		if p.Severity == transform.Error && p.Blocking {
			msgs = append(msgs, p.Msg)
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("Url Rewrite step (delta): %s", strings.Join(msgs, "; "))
	}
	if s.absent {
		env.Log.Warn("Url Rewrite step: neither side has the rewrite documents: no rewrites to follow", "stage", "delta")
		return nil
	}
	if s.shadow == nil {
		return errors.New("Url Rewrite step (delta): core_url_rewrite could not be planned for the stream")
	}
	has, err := tableExists(ctx, r.dst, r.cfg.Destination.Database, urlRewriteShadow)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("Url Rewrite step (delta): the destination has no %s, the copy of the rewrites that data mode leaves when config.xml lists the Url Rewrite step in delta mode (was it listed after data mode ran?); run `shiplog migrate data --reset` to copy the rewrites again", urlRewriteShadow)
	}
	f := s.newFollower(env)
	var left, others int
	if err := r.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		left, others, err = f.refresh(ctx, tx)
		return err
	}); err != nil {
		return fmt.Errorf("Url Rewrite step (delta): deriving the rewrites from %s: %w", urlRewriteShadow, err)
	}
	if left > 0 {
		env.Log.Warn("Url Rewrite step: rewrites whose request path and store another url_rewrite row has were left out (failed rows of "+f.srcRewrites+", see _shiplog_failed_rows)", "stage", "delta", "rewrites", left)
	}
	if others > 0 {
		env.Log.Warn("Url Rewrite step: url_rewrite rows that are neither Magento 1's rewrites nor CMS pages' (made in Magento 2 since data mode?) are kept, as the reference's delta keeps them", "stage", "delta", "rows", others)
	}
	r.follow(f)
	if strings.EqualFold(r.cfg.Sink, "both") {
		env.Log.Warn("Url Rewrite step: with sink: both the rewrites' changes are also published to Kafka, where `apply --from-kafka` neither applies them nor derives url_rewrite, catalog_url_rewrite_product_category or the CMS pages' rewrites (it runs no follower); this destination database gets them",
			"stage", "delta")
	}
	env.Log.Info("Url Rewrite step: core_url_rewrite is streamed; url_rewrite, catalog_url_rewrite_product_category and the CMS pages' rewrites follow each batch", "stage", "delta")
	return nil
}
