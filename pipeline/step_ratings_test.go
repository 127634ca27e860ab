package pipeline

import (
	"strings"
	"testing"
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
