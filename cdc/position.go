package cdc

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is where a reader is in its source. It is only ever taken at a source
// transaction boundary. For the binlog it is File+Pos (the end of the last whole
// transaction) and, when known, the server's GTID state after it (MariaDB GTID list
// "0-1-42,1-2-7" or MySQL GTID set "uuid:1-42"). For change-log tables it is LogID.
type Position struct {
	File  string `json:"file,omitempty"`
	Pos   uint64 `json:"pos,omitempty"`
	GTID  string `json:"gtid,omitempty"`
	LogID int64  `json:"log_id,omitempty"`
	// Logs, for change-log tables, is the last applied sequence of each log
	// table: "table=seq,table=seq" (sorted by table).
	Logs string `json:"logs,omitempty"`
}

// IsZero reports whether p names no position at all.
func (p Position) IsZero() bool {
	return p.File == "" && p.Pos == 0 && p.GTID == "" && p.LogID == 0 && p.Logs == ""
}

// Compare orders positions of the same source: -1, 0 or +1. Binlog positions compare
// by the numeric suffix of the file name, then the offset; change-log positions by id.
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
	return cmpInt(p.LogID, q.LogID)
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

// String renders p as "file:pos", with " gtid=..." and " log=..." when set.
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
	if p.LogID != 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "log=%d", p.LogID)
	}
	if p.Logs != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("logs=" + p.Logs)
	}
	return b.String()
}

// ParsePosition parses the text form written by Position.String.
func ParsePosition(s string) (Position, error) {
	var p Position
	for _, f := range strings.Fields(s) {
		switch {
		case strings.HasPrefix(f, "gtid="):
			p.GTID = strings.TrimPrefix(f, "gtid=")
		case strings.HasPrefix(f, "logs="):
			p.Logs = strings.TrimPrefix(f, "logs=")
		case strings.HasPrefix(f, "log="):
			n, err := strconv.ParseInt(strings.TrimPrefix(f, "log="), 10, 64)
			if err != nil {
				return Position{}, fmt.Errorf("position %q: bad log id: %w", s, err)
			}
			p.LogID = n
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
