package cdc

import "testing"

func TestPositionCompareAndText(t *testing.T) {
	cases := []struct {
		a, b Position
		want int
	}{
		{Position{File: "bin.000002", Pos: 4}, Position{File: "bin.000010", Pos: 4}, -1},
		{Position{File: "bin.000010", Pos: 400}, Position{File: "bin.000010", Pos: 4}, 1},
		{Position{File: "bin.000010", Pos: 400}, Position{File: "bin.000010", Pos: 400}, 0},
		{Position{File: "bin.999999", Pos: 4}, Position{File: "bin.1000000", Pos: 4}, -1},
		{Position{Logs: "a=5,b=7"}, Position{Logs: "a=5,b=7"}, 0},
		{Position{Logs: "a=5,b=7"}, Position{Logs: "a=5,b=8"}, -1},
		{Position{Logs: "a=5,b=7"}, Position{Logs: "a=6,b=8"}, -1},
		{Position{Logs: "a=5"}, Position{Logs: "a=5,b=1"}, -1},     // b not yet applied in the first
		{Position{Logs: "a=5,b=0"}, Position{Logs: "a=5"}, 0},      // a missing table is sequence 0
		{Position{}, Position{Logs: "a=1"}, -1},                    // the start of a stream
		{Position{Logs: "a=10,b=1"}, Position{Logs: "a=1,b=2"}, 1}, // incomparable: the larger sum
		{Position{Logs: "a=1,b=2"}, Position{Logs: "a=2,b=1"}, -1}, // incomparable, equal sums: the text
	}
	for _, c := range cases {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%v vs %v: got %d want %d", c.a, c.b, got, c.want)
		}
		if got := c.b.Compare(c.a); got != -c.want {
			t.Errorf("%v vs %v: got %d want %d", c.b, c.a, got, -c.want)
		}
	}
	for _, p := range []Position{
		{File: "mysql-bin.000003", Pos: 1234},
		{File: "mysql-bin.000003", Pos: 1234, GTID: "0-1-42,1-2-7"},
		{GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"},
		{Logs: "orders=12,items=7"},
	} {
		q, err := ParsePosition(p.String())
		if err != nil || q != p {
			t.Errorf("round trip %v: got %v, %v", p, q, err)
		}
	}
	// "log=N" (a field no version wrote) is read and ignored.
	if p, err := ParsePosition("log=99"); err != nil || !p.IsZero() {
		t.Errorf(`ParsePosition("log=99") = %v, %v; want the zero position`, p, err)
	}
	if _, err := ParsePosition("nonsense"); err == nil {
		t.Error("want error for a position without offset")
	}
}

// TestPositionCovers: Covers is Compare >= 0 where positions are ordered,
// and false both ways for incomparable change-log positions, which Compare
// never reports equal.
func TestPositionCovers(t *testing.T) {
	cases := []struct {
		p, q Position
		want bool
	}{
		{Position{File: "bin.000010", Pos: 400}, Position{File: "bin.000010", Pos: 4}, true},
		{Position{File: "bin.000010", Pos: 4}, Position{File: "bin.000010", Pos: 400}, false},
		{Position{File: "bin.000010", Pos: 4}, Position{File: "bin.000010", Pos: 4}, true},
		{Position{Logs: "a=5,b=8"}, Position{Logs: "a=5,b=7"}, true},
		{Position{Logs: "a=5,b=7"}, Position{Logs: "a=5,b=7"}, true},
		{Position{Logs: "a=5"}, Position{Logs: "a=5,b=0"}, true},
		{Position{Logs: "a=5,b=7"}, Position{Logs: "a=5,b=8"}, false},
		{Position{Logs: "a=5"}, Position{Logs: "a=5,b=1"}, false},
		{Position{Logs: "a=10,b=1"}, Position{Logs: "a=1,b=2"}, false},
		{Position{Logs: "a=1,b=2"}, Position{Logs: "a=10,b=1"}, false},
	}
	for _, c := range cases {
		if got := c.p.Covers(c.q); got != c.want {
			t.Errorf("%v covers %v: got %v want %v", c.p, c.q, got, c.want)
		}
	}
	// Incomparable positions are never equal, and Compare stays
	// antisymmetric and transitive over them (a total order).
	ps := []Position{{Logs: "a=1,b=2"}, {Logs: "a=2,b=1"}, {Logs: "a=3"}, {Logs: "b=3"}, {Logs: "a=1,b=1"}, {Logs: "a=9,b=9"}, {}}
	for _, p := range ps {
		for _, q := range ps {
			if p != q && p.Compare(q) == 0 {
				t.Errorf("%v and %v compare equal", p, q)
			}
			if p.Compare(q) != -q.Compare(p) {
				t.Errorf("%v vs %v: not antisymmetric", p, q)
			}
			for _, r := range ps {
				if p.Compare(q) < 0 && q.Compare(r) < 0 && p.Compare(r) >= 0 {
					t.Errorf("%v < %v < %v but not %v < %v", p, q, r, p, r)
				}
			}
		}
	}
}
