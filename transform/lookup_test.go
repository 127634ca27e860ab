package transform

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestLookupsReadOnceUntilInvalidated(t *testing.T) {
	var reads atomic.Int64
	version := int64(1)
	l := NewLookups(func(side, table string) (*LookupRows, error) {
		reads.Add(1)
		if table == "broken" {
			return nil, errors.New("no such table")
		}
		return NewLookupRows([]string{"attribute_id", "attribute_code", "entity_type_id"}, [][]any{
			{int64(1), "name", int64(4)}, {int64(2), "price", version}, {int64(3), nil, int64(4)}, {int64(4), "name", int64(3)},
		}), nil
	})
	tb := l.Table(SideSource, "EAV_attribute")
	if !l.Watches(SideSource, "eav_attribute") || l.Watches(SideDestination, "eav_attribute") {
		t.Fatal("Watches: the source table is looked up, the destination one is not")
	}
	for range 3 {
		rows, err := tb.Rows()
		if err != nil {
			t.Fatal(err)
		}
		if got := rows.Find([]string{"attribute_code", "entity_type_id"}, "name", "4"); len(got) != 1 || got[0] != 0 {
			t.Fatalf("Find(name, 4) = %v, want [0]", got)
		}
		if got := rows.Find([]string{"attribute_code"}, "name"); len(got) != 2 {
			t.Fatalf("Find(name) = %v, want two rows", got)
		}
		if got := rows.Find([]string{"attribute_code"}, ""); len(got) != 0 {
			t.Fatalf("NULL matched the empty string: %v", got)
		}
		if v, ok := rows.First("attribute_id", "2", "entity_type_id"); !ok || v != "1" {
			t.Fatalf("First = %q %v", v, ok)
		}
	}
	if reads.Load() != 1 {
		t.Fatalf("read %d times before any change, want 1", reads.Load())
	}
	version = 9
	l.Invalidate(SideSource, "eav_attribute")
	rows, err := tb.Rows()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := rows.First("attribute_id", "2", "entity_type_id"); v != "9" || reads.Load() != 2 {
		t.Fatalf("after Invalidate: %q read %d times, want the new value read once more", v, reads.Load())
	}
	l.Invalidate(SideDestination, "eav_attribute") // not looked up: nothing read
	if _, err := l.Table(SideSource, "broken").Rows(); err == nil || reads.Load() != 3 {
		t.Fatalf("a failed read: %v", err)
	}
	if refs := l.Tables(); len(refs) != 2 || refs[0].Table != "broken" {
		t.Fatalf("Tables = %v", refs)
	}
	var env *HandlerEnv
	if _, err := env.NeedLookups("X"); err == nil {
		t.Fatal("NeedLookups without lookups must fail")
	}
}
