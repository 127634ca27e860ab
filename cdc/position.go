package cdc

import (
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
)

// Position is where a reader is in its source. It is only ever taken at a source
// transaction boundary. For the binlog it is File+Pos (the end of the last whole
// transaction) and, when known, the server's GTID state after it (MariaDB GTID list
// "0-1-42,1-2-7" or MySQL GTID set "uuid:1-42"). For change-log tables it is Logs.
type Position struct {
	File string `json:"file,omitempty"`
	Pos  uint64 `json:"pos,omitempty"`
	GTID string `json:"gtid,omitempty"`
	// Logs, for change-log tables, is the last applied sequence of each log
	// table: "table=seq,table=seq" (sorted by table).
	Logs string `json:"logs,omitempty"`
}

// IsZero reports whether p names no position at all.
func (p Position) IsZero() bool {
	return p.File == "" && p.Pos == 0 && p.GTID == "" && p.Logs == ""
}

// Compare orders positions of the same source: -1, 0 or +1. Binlog positions
// compare by the numeric suffix of the file name, then the offset (the GTID
// state is not compared). Change-log positions (Logs) compare table by table,
// a table a position does not list counting as sequence 0: p is before q
// when no table's sequence is higher in p and one is lower; 0 means every
// table's sequence is equal.
//
// Change-log positions one of whose tables is ahead and another behind (not
// seen along one stream, whose sequences only grow; possible between
// different runs or installs) are incomparable. Compare never returns 0 for
// them: it orders them by the sum of their sequences, then by their text.
// That keeps Compare a total order (q.Compare(p) == -p.Compare(q), for
// sorting and minimums) that agrees with the table-by-table order where
// there is one; use Covers to ask whether one position includes another.
func (p Position) Compare(q Position) int {
	if p.File != q.File {
		pi, qi := fileIndex(p.File), fileIndex(q.File)
		if pi != qi {
			return cmpInt(pi, qi)
		}
		return strings.Compare(p.File, q.File)
	}
	if p.Pos != q.Pos {
		if p.Pos < q.Pos {
			return -1
		}
		return 1
	}
	if p.Logs == q.Logs {
		return 0
	}
	c, ok, sp, sq := compareLogs(p.Logs, q.Logs)
	switch {
	case ok:
		return c
	case sp != sq: // incomparable: see above
		if sp < sq {
			return -1
		}
		return 1
	}
	return strings.Compare(p.Logs, q.Logs)
}

// Covers reports whether everything up to q is also up to p: p.Compare(q)
// >= 0 for binlog positions; for change-log positions, no table's sequence
// is lower in p than in q (false for incomparable positions, see Compare).
func (p Position) Covers(q Position) bool {
	if p.File != q.File || p.Pos != q.Pos || p.Logs == q.Logs {
		return p.Compare(q) >= 0
	}
	c, ok, _, _ := compareLogs(p.Logs, q.Logs)
	return ok && c >= 0
}

// compareLogs compares change-log positions a and b table by table: -1 when
// a is before b, +1 when after, 0 when equal; ok is false when they are
// incomparable. sa and sb are the sums of their sequences (saturated).
func compareLogs(a, b string) (c int, ok bool, sa, sb uint64) {
	var less, more bool
	seqs := map[string]uint64{}
	for name, n := range logSeqs(a) {
		seqs[name] = n
		sa = addSat(sa, n)
	}
	for name, n := range logSeqs(b) {
		sb = addSat(sb, n)
		an := seqs[name]
		delete(seqs, name)
		switch {
		case an < n:
			less = true
		case an > n:
			more = true
		}
	}
	for _, n := range seqs { // tables only a lists
		if n > 0 {
			more = true
		}
	}
	switch {
	case less && more:
		return 0, false, sa, sb
	case less:
		return -1, true, sa, sb
	case more:
		return 1, true, sa, sb
	}
	return 0, true, sa, sb
}

// logSeqs yields the table=seq pairs of a change-log position's Logs; a
// pair it cannot read counts as sequence 0.
func logSeqs(s string) iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for part := range strings.SplitSeq(s, ",") {
			name, seq, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			n, _ := strconv.ParseUint(seq, 10, 64)
			if !yield(name, n) {
				return
			}
		}
	}
}

func addSat(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fileIndex is the numeric suffix of a binlog file name ("mysql-bin.000042" -> 42),
// or -1 when there is none.
func fileIndex(name string) int64 {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return -1
	}
	n, err := strconv.ParseInt(name[dot+1:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// String renders p as "file:pos", with " gtid=..." and " logs=..." when set.
// ParsePosition reads it back.
func (p Position) String() string {
	var b strings.Builder
	if p.File != "" || p.Pos != 0 {
		fmt.Fprintf(&b, "%s:%d", p.File, p.Pos)
	}
	if p.GTID != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("gtid=" + p.GTID)
	}
	if p.Logs != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("logs=" + p.Logs)
	}
	return b.String()
}

// ParsePosition parses the text form written by Position.String. A "log=N"
// field (a change-log id no version of shiplog has written) is read and
// ignored.
func ParsePosition(s string) (Position, error) {
	var p Position
	for _, f := range strings.Fields(s) {
		switch {
		case strings.HasPrefix(f, "gtid="):
			p.GTID = strings.TrimPrefix(f, "gtid=")
		case strings.HasPrefix(f, "logs="):
			p.Logs = strings.TrimPrefix(f, "logs=")
		case strings.HasPrefix(f, "log="):
			if _, err := strconv.ParseInt(strings.TrimPrefix(f, "log="), 10, 64); err != nil {
				return Position{}, fmt.Errorf("position %q: bad log id: %w", s, err)
			}
		default:
			colon := strings.LastIndexByte(f, ':')
			if colon <= 0 {
				return Position{}, fmt.Errorf("position %q: want file:offset", s)
			}
			n, err := strconv.ParseUint(f[colon+1:], 10, 64)
			if err != nil {
				return Position{}, fmt.Errorf("position %q: bad offset: %w", s, err)
			}
			p.File, p.Pos = f[:colon], n
		}
	}
	return p, nil
}
