package deltalog

import (
	"strings"

	"github.com/shiplog/shiplog/cdc"
)

// ChangeLogs picks the change-log tables out of the tables of a source
// database and maps each one's name to the table it logs. A change log is
// named after a table of the same database as its tool names it, and has that
// tool's shape around columns of the logged table:
//
//   - shiplog's: <prefix>m2_cl_<table> (cut to 64 characters as LogTableName
//     cuts it), primary key seq BIGINT UNSIGNED, then the logged key columns,
//     then operation ENUM('INSERT','UPDATE','DELETE') and changed_at TIMESTAMP;
//   - Magento's Data Migration Tool's: <prefix> + the first 64 characters of
//     m2_cl_<table>, the logged key columns as primary key, then operation and
//     processed.
//
// A user's table that merely has an m2_cl_ name is not a change log: it is a
// table like any other, to be mapped or ignored.
func ChangeLogs(tables []*cdc.Table, prefix string) map[string]string {
	byName := make(map[string]*cdc.Table, len(tables))
	for _, t := range tables {
		byName[strings.ToLower(t.Name)] = t
	}
	out := map[string]string{}
	for _, t := range tables {
		if !hasPrefixFold(t.Name, prefix) {
			continue
		}
		base := t.Name[len(prefix):]
		if hasPrefixFold(base, "m2_cl_") {
			continue // a change log is not logged itself
		}
		for _, name := range []string{LogTableName(prefix, base), prefix + cutAt("m2_cl_"+base, 64)} {
			lt := byName[strings.ToLower(name)]
			if lt == nil || lt == t {
				continue
			}
			if isShiplogLog(lt, t) || isMagentoLog(lt, t) {
				out[lt.Name] = t.Name
			}
		}
	}
	return out
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func cutAt(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// isShiplogLog reports whether lt has the shape Installer gives the change
// log of t.
func isShiplogLog(lt, t *cdc.Table) bool {
	cols := lt.Columns
	if len(cols) < 4 || len(lt.Key) != 1 || lt.Key[0] != 0 || lt.KeyName != "PRIMARY" {
		return false
	}
	seq, op, at := cols[0], cols[len(cols)-2], cols[len(cols)-1]
	if !strings.EqualFold(seq.Name, "seq") || seq.DataType != "bigint" || !seq.Unsigned ||
		!strings.EqualFold(op.Name, "operation") || !strings.EqualFold(strings.ReplaceAll(op.ColumnType, " ", ""), "enum('INSERT','UPDATE','DELETE')") ||
		!strings.EqualFold(at.Name, "changed_at") || at.DataType != "timestamp" {
		return false
	}
	return columnsOf(cols[1:len(cols)-2], t)
}

// isMagentoLog reports whether lt has the shape Magento's Data Migration Tool
// gives the change log of t (Mysql::createDelta).
func isMagentoLog(lt, t *cdc.Table) bool {
	var keys []cdc.Column
	var op, processed bool
	for _, c := range lt.Columns {
		switch {
		case strings.EqualFold(c.Name, "operation"):
			op = true
		case strings.EqualFold(c.Name, "processed"):
			processed = c.Kind() == cdc.KindInt || c.Kind() == cdc.KindUint
		default:
			keys = append(keys, c)
		}
	}
	if !op || !processed || len(lt.Key) != len(keys) || lt.KeyName != "PRIMARY" {
		return false
	}
	return columnsOf(keys, t)
}

// columnsOf reports whether cols is a non-empty list of columns of t.
func columnsOf(cols []cdc.Column, t *cdc.Table) bool {
	if len(cols) == 0 {
		return false
	}
	for _, c := range cols {
		if t.ColumnIndex(c.Name) < 0 {
			return false
		}
	}
	return true
}
