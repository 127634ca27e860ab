package rowio

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/shiplog/shiplog/cdc"
)

// LoadTables reads the base tables of schema with their columns (in server order)
// and the key that identifies their rows: the primary key, else the first unique
// index whose columns are all NOT NULL. Tables whose names start with skipPrefix
// ("_shiplog_") are left out.
func LoadTables(ctx context.Context, db *sql.DB, schema, skipPrefix string) ([]*cdc.Table, error) {
	rows, err := db.QueryContext(ctx, `SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE,
		c.IS_NULLABLE, c.EXTRA, c.COLUMN_DEFAULT IS NOT NULL, IFNULL(c.CHARACTER_SET_NAME, '')
		FROM information_schema.COLUMNS c
		WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME IN (SELECT t.TABLE_NAME FROM information_schema.TABLES t
			WHERE t.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE')
		ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`, schema, schema)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", schema, err)
	}
	defer rows.Close()
	byName := map[string]*cdc.Table{}
	var tables []*cdc.Table
	for rows.Next() {
		var tname, cname, dataType, colType, nullable, extra, charset string
		var hasDefault bool
		if err := rows.Scan(&tname, &cname, &dataType, &colType, &nullable, &extra, &hasDefault, &charset); err != nil {
			return nil, err
		}
		if skipPrefix != "" && strings.HasPrefix(tname, skipPrefix) {
			continue
		}
		t := byName[tname]
		if t == nil {
			t = &cdc.Table{Schema: schema, Name: tname}
			byName[tname] = t
			tables = append(tables, t)
		}
		extra = strings.ToUpper(extra)
		t.Columns = append(t.Columns, cdc.Column{
			Name:       cname,
			DataType:   strings.ToLower(dataType),
			ColumnType: colType,
			Unsigned:   strings.Contains(strings.ToLower(colType), "unsigned"),
			Nullable:   nullable == "YES",
			Generated:  strings.Contains(extra, "GENERATED") || strings.Contains(extra, "VIRTUAL") || strings.Contains(extra, "PERSISTENT") || strings.Contains(extra, "STORED"),
			HasDefault: hasDefault || nullable == "YES" || strings.Contains(extra, "AUTO_INCREMENT"),
			Charset:    charset,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()

	// Keys: PRIMARY first, then unique indexes with all columns NOT NULL.
	krows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, NON_UNIQUE, SEQ_IN_INDEX
		FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?
		ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`, schema)
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s: %w", schema, err)
	}
	defer krows.Close()
	type idx struct {
		name string
		cols []string
	}
	indexes := map[string][]*idx{}
	for krows.Next() {
		var tname, iname, cname string
		var nonUnique, seq int
		if err := krows.Scan(&tname, &iname, &cname, &nonUnique, &seq); err != nil {
			return nil, err
		}
		if nonUnique != 0 || byName[tname] == nil {
			continue
		}
		list := indexes[tname]
		if len(list) == 0 || list[len(list)-1].name != iname {
			list = append(list, &idx{name: iname})
			indexes[tname] = list
		}
		list[len(list)-1].cols = append(list[len(list)-1].cols, cname)
	}
	if err := krows.Err(); err != nil {
		return nil, err
	}
	for tname, list := range indexes {
		t := byName[tname]
	candidates:
		for _, ix := range list {
			var key []int
			for _, c := range ix.cols {
				i := t.ColumnIndex(c)
				if i < 0 || t.Columns[i].Nullable {
					continue candidates
				}
				key = append(key, i)
			}
			t.Key, t.KeyName = key, ix.name
			break
		}
		for _, ix := range list {
			if ix.name == t.KeyName {
				continue
			}
			var cols []int
			for _, c := range ix.cols {
				if i := t.ColumnIndex(c); i >= 0 {
					cols = append(cols, i)
				}
			}
			t.Unique = append(t.Unique, cols)
		}
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	return tables, nil
}
