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
		{Position{LogID: 5}, Position{LogID: 7}, -1},
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
		{LogID: 99},
		{Logs: "orders=12,items=7"},
	} {
		q, err := ParsePosition(p.String())
		if err != nil || q != p {
			t.Errorf("round trip %v: got %v, %v", p, q, err)
		}
	}
	if _, err := ParsePosition("nonsense"); err == nil {
		t.Error("want error for a position without offset")
	}
}
