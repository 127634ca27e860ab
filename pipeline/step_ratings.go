package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The documents the Ratings step reads and writes (before the destination
// prefix).
const (
	ratingDoc      = "rating"
	ratingStoreDoc = "rating_store"
)

// ratingsStep is the reference tool's Ratings step (data mode). Magento 2's
// rating has is_active, which Magento 1's lacks (the stock map.xml sets it
// to 0 with SetValue as the Map step copies ratings): the step marks active
// every rating shown in at least one store view, that is with a
// rating_store row of a store other than the admin store (0), in one
// destination statement. As in the reference, no rating is made inactive:
// a rating in no store view keeps the is_active it has (0 after the stock
// map), and the count of those is logged.
//
// It works on the destination only, after the Map step copied rating and
// rating_store. The reference has no delta (its change logs do not cover
// rating); here a rating the Map step's stream writes after data mode would
// get the map's is_active again, undoing data mode's work. So whenever
// config.xml runs the step in data mode (or delta mode), the Map step's
// stream is followed (ratingsFollower, registered by followRatings when
// delta mode starts, whether or not the step is listed in delta mode).
type ratingsStep struct {
	r *Runtime
	// absent: neither side has the rating documents (a partial
	// database): nothing to do (Integrity warned).
	absent bool
}

// AlwaysRuns: marking the ratings again is idempotent and one statement.
func (*ratingsStep) AlwaysRuns() bool { return true }

// ratingsTables are the destination's rating and rating_store, quoted with
// schema and prefix.
func (s *ratingsStep) ratingsTables() (rating, ratingStore string) {
	q := func(doc string) string {
		return rowio.QuoteIdent(s.r.cfg.Destination.Database) + "." + rowio.QuoteIdent(s.r.cfg.Options.DestPrefix+doc)
	}
	return q(ratingDoc), q(ratingStoreDoc)
}

// Integrity checks that the destination has rating and rating_store, and
// rating its is_active field; each missing one is an error in the
// reference's words.
func (s *ratingsStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	s.absent = false
	prefix := s.r.cfg.Options.DestPrefix
	cols := map[string][]string{}
	rows, err := s.r.dst.QueryContext(ctx,
		"SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?)",
		s.r.cfg.Destination.Database, prefix+ratingDoc, prefix+ratingStoreDoc)
	if err != nil {
		return nil, fmt.Errorf("Ratings step: reading the destination's %s and %s: %w", prefix+ratingDoc, prefix+ratingStoreDoc, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		cols[strings.ToLower(t)] = append(cols[strings.ToLower(t)], strings.ToLower(c))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if cols[strings.ToLower(prefix+ratingDoc)] == nil && cols[strings.ToLower(prefix+ratingStoreDoc)] == nil {
		// Not a Magento 2 catalogue (a partial database): when the source
		// has no ratings either, nothing is lost.
		has, err := tableExists(ctx, s.r.src, s.r.cfg.Source.Database, s.r.cfg.Options.SourcePrefix+ratingDoc)
		if err != nil {
			return nil, err
		}
		if !has {
			s.absent = true
			return []transform.Problem{{Severity: transform.Warning, Area: "source", Table: s.r.cfg.Options.SourcePrefix + ratingDoc,
				Msg: fmt.Sprintf("Ratings step: neither the source nor the destination has %s: no ratings to migrate (the reference stops here)", ratingDoc)}}, nil
		}
	}
	return ratingsProblems(cols, prefix), nil
}

// ratingsProblems are the Ratings step's integrity problems given the
// destination's columns of its documents (lower-case table -> columns).
func ratingsProblems(cols map[string][]string, prefix string) []transform.Problem {
	rating, store := strings.ToLower(prefix+ratingDoc), strings.ToLower(prefix+ratingStoreDoc)
	if cols[rating] == nil || cols[store] == nil {
		return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: "destination",
			Msg: fmt.Sprintf(`Ratings step: "%s" or "%s" documents do not exist in the destination resource (Magento 2's schema has both: is the destination a Magento 2 database?)`, prefix+ratingDoc, prefix+ratingStoreDoc)}}
	}
	for _, c := range cols[rating] {
		if c == "is_active" {
			return nil
		}
	}
	return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: "destination", Table: prefix + ratingDoc,
		Msg: fmt.Sprintf(`Ratings step: "is_active" field does not exist in "%s" document of the destination resource (Magento 2.1 and later have it)`, prefix+ratingDoc)}}
}

// ratingsActivate is the statement marking active every rating of a store
// view (rating_store.store_id > 0).
func ratingsActivate(rating, ratingStore string) string {
	return "UPDATE " + rating + " SET `is_active` = 1 WHERE `is_active` <> 1 AND `rating_id` IN (SELECT `rating_id` FROM " + ratingStore + " WHERE `store_id` > 0)"
}

// Data marks the ratings of store views active, in one destination
// transaction with the count of ratings in no store view it logs.
func (s *ratingsStep) Data(ctx context.Context, env *step.Env) error {
	if s.absent {
		return nil
	}
	rating, ratingStore := s.ratingsTables()
	var changed, nowhere int64
	err := s.r.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, ratingsActivate(rating, ratingStore))
		if err != nil {
			return fmt.Errorf("Ratings step: marking ratings active in %s: %w", rating, err)
		}
		if changed, err = res.RowsAffected(); err != nil {
			return err
		}
		q := "SELECT COUNT(*) FROM " + rating + " WHERE `rating_id` NOT IN (SELECT `rating_id` FROM " + ratingStore + " WHERE `store_id` > 0)"
		if err := tx.QueryRowContext(ctx, q).Scan(&nowhere); err != nil {
			return fmt.Errorf("Ratings step: counting ratings in no store view: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	env.Log.Info("ratings of store views marked active", "stage", "data", "table", rating, "changed", changed, "in_no_store_view", nowhere)
	return nil
}

// Volume checks that every rating of a store view is active, as the
// reference's does; the ones that are not are named.
func (s *ratingsStep) Volume(ctx context.Context, env *step.Env) error {
	if env.Mode == step.ModeDelta || s.absent {
		return nil // nothing done (see Delta)
	}
	rating, ratingStore := s.ratingsTables()
	q := "SELECT DISTINCT s.`rating_id` FROM " + ratingStore + " s LEFT JOIN " + rating + " r ON r.`rating_id` = s.`rating_id` WHERE s.`store_id` > 0 AND (r.`is_active` IS NULL OR r.`is_active` <> 1) ORDER BY s.`rating_id` LIMIT 20"
	rows, err := s.r.dst.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("Ratings step: checking %s: %w", rating, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) > 0 {
		return fmt.Errorf("Ratings step: mismatch of entities in the documents: %s, %s: rating_id %s (first 20) are in a store view but not active, or not in %s (run data mode again)",
			rating, ratingStore, strings.Join(ids, ","), rating)
	}
	return nil
}

// Delta does nothing: the follower registered when delta mode starts
// (followRatings) keeps the ratings the stream writes marked.
func (s *ratingsStep) Delta(context.Context, *step.Env) error { return nil }

// followRatings registers, when delta mode starts, the follower that marks
// active the ratings of store views the Map step's stream writes, when
// config.xml runs the Ratings step in data mode (or in delta mode): what
// data mode marked must stay marked while the stream writes rating and
// rating_store again, with the map's is_active (the stock map's
// SetValue 0). The step is usually not listed in delta mode (the stock
// config.xml does not list it: the reference has no delta), so its own
// DeltaStart would not run; the decision is config.xml's data steps', as
// for the PostProcessing step's routes. With sink: kafka nothing follows
// the stream (apply --from-kafka runs no follower): said at each start.
func (r *Runtime) followRatings(log logWarner) {
	if !r.stepInMode("Ratings", step.ModeData) && !r.stepInMode("Ratings", step.ModeDelta) {
		return
	}
	s := &ratingsStep{r: r}
	rating, ratingStore := s.ratingsTables()
	if err := r.dest.rows(); err != nil {
		log.Warn("the Ratings step's delta does not run here: "+err.Error()+"; apply --from-kafka writes ratings with the map's is_active and does not mark the ratings of store views active again: after the last apply, run on Magento 2: "+ratingsActivate(rating, ratingStore),
			"stage", "delta")
		return
	}
	r.follow(&ratingsFollower{r: r, rating: rating, ratingStore: ratingStore})
}

// ratingsFollower marks active, in the batch's transaction, the ratings the
// batch wrote (in rating or rating_store) that have a store view, as the
// step's Data does; none is made inactive.
type ratingsFollower struct {
	r                   *Runtime
	rating, ratingStore string // quoted, with schema and prefix
}

func (*ratingsFollower) name() string { return "Ratings step" }

func (*ratingsFollower) follows(table string) bool {
	return table == ratingDoc || table == ratingStoreDoc
}

func (f *ratingsFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	ids := append(changedValues(f.r.changesOf(changes, ratingDoc), "rating_id"), changedValues(f.r.changesOf(changes, ratingStoreDoc), "rating_id")...)
	if len(ids) == 0 {
		return nil
	}
	q := ratingsActivate(f.rating, f.ratingStore) + " AND `rating_id` IN (?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if _, err := tx.ExecContext(ctx, q, ids...); err != nil {
		return fmt.Errorf("marking the ratings of store views active in %s: %w", f.rating, err)
	}
	return nil
}
