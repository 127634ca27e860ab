//go:build !unit

package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/state"
)

// TestDeferredIndexes: recorded indexes are listed in order and pending
// (CheckNoDeferredIndexes names table and indexes) until forgotten, by
// name or with the done mark (FinishTable), which also saves the progress.
func TestDeferredIndexes(t *testing.T) {
	t.Parallel()
	_, st := testDestination(t)
	ctx := context.Background()
	if err := st.CheckNoDeferredIndexes(ctx); err != nil {
		t.Fatalf("nothing recorded: %v", err)
	}
	rec := []state.DeferredIndex{
		{Table: "src", Schema: "d", DestTable: "dst", Name: "b", Definition: "KEY `b` (`b`)", Seq: 0},
		{Table: "src", Schema: "d", DestTable: "dst", Name: "a", Definition: "KEY `a` (`a`(3) DESC) COMMENT 'x'", Seq: 1},
		{Table: "src", Schema: "d", DestTable: "dst", Name: "c", Definition: "KEY `c` (`c`)", Seq: 2},
	}
	if err := st.RecordDeferredIndexes(ctx, "src", rec); err != nil {
		t.Fatal(err)
	}
	if err := st.ForgetDeferredIndexes(ctx, nil, "src", "c"); err != nil {
		t.Fatal(err)
	}
	got, err := st.DeferredIndexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != rec[0] || got[1] != rec[1] {
		t.Fatalf("recorded: %+v", got)
	}
	err = st.CheckNoDeferredIndexes(ctx)
	if !errors.Is(err, state.ErrIndexesPending) || !strings.Contains(err.Error(), "d.dst (b, a)") {
		t.Fatalf("pending: %v", err)
	}
	if err := st.FinishTable(ctx, state.TableProgress{Table: "src", State: state.TableDone, Rows: 9}); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckNoDeferredIndexes(ctx); err != nil {
		t.Fatalf("after FinishTable: %v", err)
	}
	p, err := st.Progress(ctx)
	if err != nil || p["src"].State != state.TableDone || p["src"].Rows != 9 {
		t.Fatalf("progress after FinishTable: %+v %v", p["src"], err)
	}
}
