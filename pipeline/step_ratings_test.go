package pipeline

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
)

// TestRatingsProblems: the reference's Ratings Integrity — both documents
// in the destination, and rating with is_active (Magento 2.0 had none) —
// in its words, with the destination prefix.
func TestRatingsProblems(t *testing.T) {
	m2 := map[string][]string{"rating": {"rating_id", "entity_id", "rating_code", "position", "is_active"}, "rating_store": {"rating_id", "store_id"}}
	for _, tc := range []struct {
		name   string
		cols   map[string][]string
		prefix string
		want   string
	}{
		{name: "Magento 2.4", cols: m2},
		{name: "prefixed", cols: map[string][]string{"m2_rating": m2["rating"], "m2_rating_store": m2["rating_store"]}, prefix: "m2_"},
		{name: "prefix not applied", cols: m2, prefix: "m2_", want: `"m2_rating" or "m2_rating_store" documents do not exist in the destination resource`},
		{name: "no rating_store", cols: map[string][]string{"rating": m2["rating"]}, want: `"rating" or "rating_store" documents do not exist in the destination resource`},
		{name: "no rating", cols: map[string][]string{"rating_store": m2["rating_store"]}, want: `"rating" or "rating_store" documents do not exist`},
		{name: "nothing", cols: map[string][]string{}, want: `documents do not exist`},
		{name: "no is_active", cols: map[string][]string{"rating": {"rating_id", "rating_code"}, "rating_store": m2["rating_store"]},
			want: `"is_active" field does not exist in "rating" document of the destination resource`},
	} {
		got := ratingsProblems(tc.cols, tc.prefix)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: problems %v", tc.name, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].Msg, tc.want) || !got[0].Blocking):
			t.Errorf("%s: problems %v, want one blocking error with %q", tc.name, got, tc.want)
		}
	}
}

// TestRatingsActivate: ratings of a store view (store_id > 0: the admin
// store's 0 does not count, as in the reference) are marked active; none
// is marked inactive.
func TestRatingsActivate(t *testing.T) {
	got := ratingsActivate("`m2`.`rating`", "`m2`.`rating_store`")
	want := "UPDATE `m2`.`rating` SET `is_active` = 1 WHERE `is_active` <> 1 AND `rating_id` IN (SELECT `rating_id` FROM `m2`.`rating_store` WHERE `store_id` > 0)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestFollowRatings: the Ratings follower is registered when config.xml runs
// the step in data mode (the stock config.xml: the Map step's stream would
// undo its work) or in delta mode, with sink: mysql; not when config.xml
// leaves the step out (the stream's is_active is what data mode left).
// With sink: kafka none is (apply --from-kafka runs no follower): a
// warning with the statement to run after the last apply.
func TestFollowRatings(t *testing.T) {
	ratings := func(mode string) config.Step {
		return config.Step{Mode: mode, Title: "Ratings Step", Classes: []string{`Migration\Step\Ratings\Data`}}
	}
	mapStep := config.Step{Mode: "data", Title: "Map Step", Classes: []string{`Migration\Step\Map\Data`}}
	for _, tc := range []struct {
		name   string
		sink   string
		steps  []config.Step
		follow bool
		warn   string
	}{
		{"data mode", "mysql", []config.Step{mapStep, ratings("data")}, true, ""},
		{"delta mode", "mysql", []config.Step{mapStep, ratings("delta")}, true, ""},
		{"sink both", "both", []config.Step{mapStep, ratings("data")}, true, ""},
		{"not listed", "mysql", []config.Step{mapStep}, false, ""},
		{"kafka", "kafka", []config.Step{mapStep, ratings("data")}, false, "run on Magento 2: UPDATE `m2`.`pre_rating` SET `is_active` = 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Runtime{cfg: &config.Config{Sink: tc.sink, Steps: tc.steps,
				Destination: config.Database{Database: "m2"}, Options: config.Options{DestPrefix: "pre_"}}}
			r.dest = newDestination(r)
			var logs strings.Builder
			r.followRatings(slog.New(slog.NewTextHandler(&logs, nil)))
			if got := len(r.followers) == 1; got != tc.follow || len(r.followers) > 1 {
				t.Fatalf("followers %d, want one: %v", len(r.followers), tc.follow)
			}
			if tc.follow {
				f := r.followers[0]
				for table, want := range map[string]bool{"rating": true, "rating_store": true, "rating_option_vote": false, "pre_rating": false} {
					if f.follows(table) != want {
						t.Errorf("follows(%q) = %v, want %v", table, !want, want)
					}
				}
			}
			if got := logs.String(); (tc.warn == "") != (got == "") || !strings.Contains(got, tc.warn) {
				t.Errorf("log %q, want a warning with %q", got, tc.warn)
			}
		})
	}
}
