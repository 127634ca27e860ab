package binlog

import (
	"reflect"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shiplog/shiplog/cdc"
)

func TestConvertValue(t *testing.T) {
	enum := []string{"small", "medium", "large"}
	set := []string{"a", "b", "c", "d"}
	cases := []struct {
		name string
		col  colInfo
		in   any
		want any
	}{
		{"null", colInfo{kind: cdc.KindInt}, nil, nil},
		{"tinyint", colInfo{kind: cdc.KindInt}, int8(-128), int64(-128)},
		{"smallint", colInfo{kind: cdc.KindInt}, int16(-32768), int64(-32768)},
		{"mediumint", colInfo{kind: cdc.KindInt}, int32(-8388608), int64(-8388608)},
		{"bigint min", colInfo{kind: cdc.KindInt}, int64(-9223372036854775808), int64(-9223372036854775808)},
		{"tinyint unsigned", colInfo{kind: cdc.KindUint}, uint8(255), uint64(255)},
		{"int unsigned", colInfo{kind: cdc.KindUint}, uint32(4294967295), uint64(4294967295)},
		{"bigint unsigned max", colInfo{kind: cdc.KindUint}, uint64(18446744073709551615), uint64(18446744073709551615)},
		{"float", colInfo{kind: cdc.KindFloat}, float32(1.5), float32(1.5)},
		{"double", colInfo{kind: cdc.KindDouble}, float64(-2.25), float64(-2.25)},
		{"decimal", colInfo{kind: cdc.KindDecimal}, "-12.340", "-12.340"},
		{"bit all ones", colInfo{kind: cdc.KindBit}, int64(-1), uint64(18446744073709551615)},
		{"bit", colInfo{kind: cdc.KindBit}, int64(5), uint64(5)},
		{"year", colInfo{kind: cdc.KindYear}, 2024, int64(2024)},
		{"year zero", colInfo{kind: cdc.KindYear}, 0, int64(0)},
		{"date zero", colInfo{kind: cdc.KindTemporal}, "0000-00-00", "0000-00-00"},
		{"datetime frac", colInfo{kind: cdc.KindTemporal, fsp: 6}, "2024-02-29 23:59:59.000001", "2024-02-29 23:59:59.000001"},
		{"time negative", colInfo{kind: cdc.KindTemporal, isTime: true, fsp: 6}, "-838:59:59.000000", "-838:59:59.000000"},
		{"time pads fraction", colInfo{kind: cdc.KindTemporal, isTime: true, fsp: 3}, "-12:00:00", "-12:00:00.000"},
		{"time no fraction", colInfo{kind: cdc.KindTemporal, isTime: true}, "12:00:00", "12:00:00"},
		{"enum", colInfo{kind: cdc.KindEnumSet, values: enum}, int64(2), "medium"},
		{"enum empty", colInfo{kind: cdc.KindEnumSet, values: enum}, int64(0), ""},
		{"set", colInfo{kind: cdc.KindEnumSet, values: set, isSet: true}, int64(0b1011), "a,b,d"},
		{"set empty", colInfo{kind: cdc.KindEnumSet, values: set, isSet: true}, int64(0), ""},
		{"json mysql", colInfo{kind: cdc.KindJSON}, `{"a":1}`, `{"a":1}`},
		{"json empty", colInfo{kind: cdc.KindJSON}, []byte{}, ""},
		{"varchar", colInfo{kind: cdc.KindBytes}, "héllo 🙂", []byte("héllo 🙂")},
		{"blob", colInfo{kind: cdc.KindBytes}, []byte{0, 1, 255}, []byte{0, 1, 255}},
		{"binary padded", colInfo{kind: cdc.KindBytes, padTo: 4}, "\x01\x02", []byte{1, 2, 0, 0}},
		{"empty varbinary", colInfo{kind: cdc.KindBytes}, "", []byte{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := convertValue(c.col, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v (%T), want %#v (%T)", got, got, c.want, c.want)
			}
		})
	}
	// Byte values are copies, not views of go-mysql's event buffer.
	buf := []byte{1, 2, 3}
	got, _ := convertValue(colInfo{kind: cdc.KindBytes}, buf)
	buf[0] = 9
	if got.([]byte)[0] != 1 {
		t.Error("blob value aliases the event buffer")
	}
	for _, bad := range []struct {
		col colInfo
		in  any
	}{
		{colInfo{kind: cdc.KindEnumSet, values: enum}, int64(4)},
		{colInfo{kind: cdc.KindEnumSet, values: set, isSet: true}, int64(1 << 5)},
		{colInfo{kind: cdc.KindInt}, "x"},
	} {
		if _, err := convertValue(bad.col, bad.in); err == nil {
			t.Errorf("%#v: want error", bad.in)
		}
	}
}

func TestColumnType(t *testing.T) {
	cases := []struct {
		typ      byte
		meta     uint16
		coll     uint64
		hasColl  bool
		dataType string
		colType  string
	}{
		{mysql.MYSQL_TYPE_LONG, 0, 0, false, "int", "int"},
		{mysql.MYSQL_TYPE_NEWDECIMAL, 65<<8 | 30, 0, false, "decimal", "decimal(65,30)"},
		{mysql.MYSQL_TYPE_BIT, 8<<8 | 0, 0, false, "bit", "bit(64)"},
		{mysql.MYSQL_TYPE_VARCHAR, 400, 45, true, "varchar", "varchar(100)"},
		{mysql.MYSQL_TYPE_VARCHAR, 16, 63, true, "varbinary", "varbinary(16)"},
		{mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_STRING)<<8 | 4, 63, true, "binary", "binary(4)"},
		{mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_STRING)<<8 | 40, 45, true, "char", "char(10)"},
		{mysql.MYSQL_TYPE_BLOB, 2, 63, true, "blob", "blob"},
		{mysql.MYSQL_TYPE_BLOB, 4, 45, true, "longtext", "longtext"},
		{mysql.MYSQL_TYPE_BLOB, 2, 0, false, "blob", "blob"},
		{mysql.MYSQL_TYPE_TIME2, 6, 0, false, "time", "time(6)"},
		{mysql.MYSQL_TYPE_TIMESTAMP2, 3, 0, false, "timestamp", "timestamp(3)"},
		{mysql.MYSQL_TYPE_DATETIME2, 0, 0, false, "datetime", "datetime"},
		{mysql.MYSQL_TYPE_YEAR, 0, 0, false, "year", "year"},
		{mysql.MYSQL_TYPE_GEOMETRY, 4, 0, false, "point", "point"},
		{mysql.MYSQL_TYPE_JSON, 4, 0, false, "json", "json"},
	}
	for _, c := range cases {
		geom := uint64(0)
		if c.dataType == "point" {
			geom = 1
		}
		dt, ct, _ := columnType(c.typ, c.meta, c.coll, c.hasColl, nil, nil, geom)
		if dt != c.dataType || ct != c.colType {
			t.Errorf("type %d meta %d: got %s / %s, want %s / %s", c.typ, c.meta, dt, ct, c.dataType, c.colType)
		}
	}
	dt, ct, ci := columnType(mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_ENUM)<<8|1, 0, false, []string{"a", "it's"}, nil, 0)
	if dt != "enum" || ct != "enum('a','it''s')" || len(ci.values) != 2 {
		t.Errorf("enum: %s %s %v", dt, ct, ci)
	}
}

func TestDDLTables(t *testing.T) {
	cases := []struct {
		stmt string
		want []tableRef
	}{
		{"ALTER TABLE orders ADD COLUMN x int", []tableRef{{"shop", "orders"}}},
		{"alter online ignore table `other`.`orders` drop x", []tableRef{{"other", "orders"}}},
		{"ALTER TABLE IF EXISTS `ord``ers` ENGINE=InnoDB", []tableRef{{"shop", "ord`ers"}}},
		{"/* gh-ost */ ALTER TABLE orders RENAME TO orders_old", []tableRef{{"shop", "orders"}, {"shop", "orders_old"}}},
		{"ALTER TABLE orders RENAME COLUMN a TO b", []tableRef{{"shop", "orders"}}},
		{"ALTER TABLE t1 EXCHANGE PARTITION p0 WITH TABLE shop.t2", []tableRef{{"shop", "t1"}, {"shop", "t2"}}},
		{"DROP TABLE IF EXISTS `a`,`b` /* generated by server */", []tableRef{{"shop", "a"}, {"shop", "b"}}},
		{"DROP TABLE x.a, b", []tableRef{{"x", "a"}, {"shop", "b"}}},
		{"DROP TEMPORARY TABLE IF EXISTS tmp", nil},
		{"DROP INDEX idx ON orders", []tableRef{{"shop", "orders"}}},
		{"DROP INDEX IF EXISTS `idx` ON `shop2`.`orders`", []tableRef{{"shop2", "orders"}}},
		{"DROP DATABASE IF EXISTS `shop`", []tableRef{{"shop", ""}}},
		{"DROP VIEW v", nil},
		{"RENAME TABLE a TO b, c.d TO e", []tableRef{{"shop", "a"}, {"shop", "b"}, {"c", "d"}, {"shop", "e"}}},
		{"TRUNCATE TABLE `orders`", []tableRef{{"shop", "orders"}}},
		{"truncate orders", []tableRef{{"shop", "orders"}}},
		{"CREATE TABLE IF NOT EXISTS new_t (id int)", []tableRef{{"shop", "new_t"}}},
		{"CREATE OR REPLACE TABLE `s`.`t` LIKE `shop`.`orders`", []tableRef{{"s", "t"}}},
		{"CREATE TEMPORARY TABLE tmp (id int)", nil},
		{"CREATE UNIQUE INDEX u ON orders (a)", []tableRef{{"shop", "orders"}}},
		{"CREATE INDEX IF NOT EXISTS i USING BTREE ON `orders` (a)", []tableRef{{"shop", "orders"}}},
		{"/*!40000 ALTER TABLE `orders` DISABLE KEYS */", []tableRef{{"shop", "orders"}}},
		{"-- note\nALTER TABLE orders FORCE", []tableRef{{"shop", "orders"}}},
		{"# note\nDROP TABLE `orders`", []tableRef{{"shop", "orders"}}},
		{"CREATE DATABASE x", nil},
		{"CREATE VIEW v AS SELECT * FROM orders", nil},
		{"GRANT SELECT ON shop.orders TO u", nil},
		{"ALTER DATABASE shop CHARACTER SET utf8mb4", nil},
		{"ALTER TABLE orders COMMENT 'DROP TABLE x'", []tableRef{{"shop", "orders"}}},
		// Names are returned as written; the reader compares them as the
		// server does (lower_case_table_names).
		{"ALTER TABLE SHOP.Orders ADD x INT", []tableRef{{"SHOP", "Orders"}}},
		{"TRUNCATE `ORDERS`", []tableRef{{"shop", "ORDERS"}}},
		{"SET STATEMENT max_statement_time=60, lock_wait_timeout=5 FOR ALTER TABLE orders ADD x INT", []tableRef{{"shop", "orders"}}},
		{"set statement sql_mode='' for truncate table orders", []tableRef{{"shop", "orders"}}},
		{`ALTER TABLE "orders" ADD x INT`, []tableRef{{"shop", "orders"}}}, // sql_mode=ANSI_QUOTES
		{`RENAME TABLE "shop"."orders" TO "o2"`, []tableRef{{"shop", "orders"}, {"shop", "o2"}}},
		{"ALTER /* a */ TABLE /*!50100 `shop` . */ `orders` -- x\n DROP y", []tableRef{{"shop", "orders"}}},
		{"ALTER TABLE orders TRUNCATE PARTITION p0", []tableRef{{"shop", "orders"}}},
		{"ALTER TABLE orders DROP PARTITION p0", []tableRef{{"shop", "orders"}}},
		{"ALTER TABLE orders WAIT 5 ADD x INT", []tableRef{{"shop", "orders"}}},
		{"RENAME TABLE IF EXISTS orders WAIT 3 TO o_old", []tableRef{{"shop", "orders"}, {"shop", "o_old"}}},
		{"CREATE TABLE orders LIKE other.orders", []tableRef{{"shop", "orders"}}},
		{"CREATE TABLE orders_copy AS SELECT * FROM orders", []tableRef{{"shop", "orders_copy"}}},
		{"DROP SCHEMA shop", []tableRef{{"shop", ""}}},
		{"CREATE OR REPLACE INDEX i ON orders (a)", []tableRef{{"shop", "orders"}}},
		{"DROP ONLINE INDEX i ON orders", []tableRef{{"shop", "orders"}}},
	}
	for _, c := range cases {
		got := ddlTables(c.stmt, "shop")
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.stmt, got, c.want)
		}
	}
}

func TestGTIDStateMariaDB(t *testing.T) {
	g, err := newGTIDState("mariadb", "1-2-7,0-1-42")
	if err != nil {
		t.Fatal(err)
	}
	if got := g.String(); got != "0-1-42,1-2-7" {
		t.Fatalf("sorted by domain: got %q", got)
	}
	g.addMariaDB(mysql.MariadbGTID{DomainID: 0, ServerID: 3, SequenceNumber: 43})
	g.addMariaDB(mysql.MariadbGTID{DomainID: 5, ServerID: 1, SequenceNumber: 1})
	if got := g.String(); got != "0-3-43,1-2-7,5-1-1" {
		t.Fatalf("after adds: got %q", got)
	}
	set, err := g.syncSet()
	if err != nil || set.String() == "" {
		t.Fatalf("sync set: %v %v", set, err)
	}

	// Unknown state stays empty until a GTID list at a file start says it.
	u, _ := newGTIDState("mariadb", "")
	u.addMariaDB(mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 9})
	if u.String() != "" {
		t.Fatalf("unknown state reported %q", u.String())
	}
	u.setFromList([]mysql.MariadbGTID{{DomainID: 0, ServerID: 1, SequenceNumber: 9}, {DomainID: 0, ServerID: 2, SequenceNumber: 11}, {DomainID: 2, ServerID: 1, SequenceNumber: 3}})
	u.addMariaDB(mysql.MariadbGTID{DomainID: 2, ServerID: 1, SequenceNumber: 4})
	if got := u.String(); got != "0-2-11,2-1-4" {
		t.Fatalf("from list: got %q", got)
	}
	if _, err := newGTIDState("mariadb", "0-1"); err == nil {
		t.Error("want error for a bad MariaDB GTID")
	}
}

func TestGTIDStateMySQL(t *testing.T) {
	const u1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	g, err := newGTIDState("mysql", u1+":1-5")
	if err != nil {
		t.Fatal(err)
	}
	sid := []byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}
	if err := g.addMySQL(sid, "", 6); err != nil {
		t.Fatal(err)
	}
	if got := g.String(); got != u1+":1-6" {
		t.Fatalf("got %q", got)
	}
	if err := g.addMySQL(sid, "", 8); err != nil {
		t.Fatal(err)
	}
	if got := g.String(); got != u1+":1-6:8" {
		t.Fatalf("gap: got %q", got)
	}
	if err := g.addMySQL(sid, "", 7); err != nil {
		t.Fatal(err)
	}
	if got := g.String(); got != u1+":1-8" {
		t.Fatalf("gap filled: got %q", got)
	}
	// Anonymous GTIDs do not change the set.
	if err := g.addMySQL(make([]byte, 16), "", 0); err != nil || g.String() != u1+":1-8" {
		t.Fatalf("anonymous: %q %v", g.String(), err)
	}
	// A second source sorts by uuid; tagged GTIDs (8.4) keep their tag.
	sid2 := append([]byte{0x00}, sid[1:]...)
	if err := g.addMySQL(sid2, "", 1); err != nil {
		t.Fatal(err)
	}
	if err := g.addMySQL(sid, "blue", 3); err != nil {
		t.Fatal(err)
	}
	want := "0011fa47-71ca-11e1-9e33-c80aa9429562:1," + u1 + ":1-8:blue:3"
	if got := g.String(); got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	set, err := g.syncSet()
	if err != nil || set.String() != want {
		t.Fatalf("sync set: %v %v", set, err)
	}
	// Multi-line sets as SHOW MASTER STATUS prints them parse.
	if _, err := newGTIDState("mysql", u1+":1-5,\n0011fa47-71ca-11e1-9e33-c80aa9429562:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := newGTIDState("mysql", "nonsense"); err == nil {
		t.Error("want error for a bad MySQL GTID set")
	}
}

func TestMismatches(t *testing.T) {
	col := func(name, dataType, colType, charset string, unsigned, nullable bool) cdc.Column {
		return cdc.Column{Name: name, DataType: dataType, ColumnType: colType, Charset: charset, Unsigned: unsigned, Nullable: nullable}
	}
	same := []struct{ planned, logged cdc.Column }{
		{col("i", "int", "int(11)", "", false, false), col("i", "int", "int", "", false, false)},
		{col("u", "tinyint", "tinyint(3) unsigned", "", true, true), col("u", "tinyint", "tinyint unsigned", "", true, true)},
		{col("z", "int", "int(10) unsigned zerofill", "", true, true), col("z", "int", "int unsigned", "", true, true)},
		{col("y", "year", "year(4)", "", false, true), col("y", "year", "year unsigned", "", true, true)},
		{col("d", "decimal", "decimal(12,2) unsigned", "", true, true), col("d", "decimal", "decimal(12,2) unsigned", "", true, true)},
		{col("f", "float", "float(7,3)", "", false, true), col("f", "float", "float", "", false, true)},
		{col("v", "varchar", "varchar(64)", "utf8mb4", false, true), col("v", "varchar", "varchar(64)", "utf8mb4", false, true)},
		{col("v", "varchar", "varchar(64)", "utf8", false, true), col("v", "varchar", "varchar(64)", "utf8mb3", false, true)},
		{col("v", "varchar", "varchar(64)", "koi8r", false, true), col("v", "varchar", "varchar", "", false, true)},
		{col("b", "binary", "binary(4)", "", false, true), col("b", "binary", "binary(4)", "binary", false, true)},
		{col("id", "uuid", "uuid", "", false, false), col("id", "binary", "binary(16)", "binary", false, false)},
		{col("ip", "inet6", "inet6", "", false, true), col("ip", "binary", "binary(16)", "binary", false, true)},
		{col("ip", "inet4", "inet4", "", false, true), col("ip", "binary", "binary(4)", "binary", false, true)},
		{col("e", "enum", `enum('it''s','a\\b','(x)')`, "latin1", false, true), col("e", "enum", `enum('it''s','a\b','(x)')`, "", false, true)},
		{col("e", "enum", `enum('a\b')`, "utf8mb4", false, true), col("e", "enum", `enum('a\b')`, "", false, true)}, // MySQL: no escapes
		{col("s", "set", "set('x','y')", "utf8mb4", false, true), col("s", "set", "set('x','y')", "", false, true)},
		{col("p", "point", "point", "", false, false), col("p", "geometry", "geometry", "binary", false, false)},
		{col("t", "datetime", "datetime(6)", "", false, true), col("t", "datetime", "datetime(6)", "", false, true)},
		{col("t", "datetime", "datetime", "", false, true), col("t", "datetime", "datetime", "", false, true)},
		{col("j", "longtext", "longtext", "utf8mb4", false, true), col("j", "longtext", "longtext", "utf8mb4", false, true)},
		{col("x", "bit", "bit(64)", "", false, true), col("x", "bit", "bit(64)", "", false, true)},
	}
	for _, c := range same {
		p, l := &cdc.Table{Columns: []cdc.Column{c.planned}}, &cdc.Table{Columns: []cdc.Column{c.logged}}
		if d := Mismatches(p, l); len(d) > 0 {
			t.Errorf("%s planned %s, logged %s: got %v, want none", c.planned.Name, c.planned.ColumnType, c.logged.ColumnType, d)
		}
	}
	differ := []struct {
		planned, logged cdc.Column
		want            string
	}{
		{col("v", "varchar", "varchar(20)", "utf8mb4", false, true), col("v", "varchar", "varchar(5)", "utf8mb4", false, true), "column v: length varchar(5) character set utf8mb4, planned varchar(20) character set utf8mb4"},
		{col("d", "decimal", "decimal(12,2)", "", false, false), col("d", "decimal", "decimal(10,2)", "", false, false), "column d: length decimal(10,2) not null, planned decimal(12,2) not null"},
		{col("i", "int", "int(10) unsigned", "", true, true), col("i", "int", "int", "", false, true), "column i: signedness"},
		{col("v", "varchar", "varchar(20)", "utf8mb4", false, true), col("v", "varchar", "varchar(20)", "latin1", false, true), "column v: character set varchar(20) character set latin1, planned varchar(20) character set utf8mb4"},
		{col("v", "varchar", "varchar(20)", "utf8mb4", false, true), col("v", "text", "text", "utf8mb4", false, true), "column v: type text"},
		{col("n", "int", "int(11)", "", false, true), col("n", "bigint", "bigint", "", false, true), "column n: type bigint"},
		{col("t", "datetime", "datetime(6)", "", false, true), col("t", "datetime", "datetime", "", false, true), "column t: fractional seconds"},
		{col("e", "enum", "enum('a','b')", "utf8mb4", false, true), col("e", "enum", "enum('a','b','c')", "", false, true), "column e: members"},
		{col("e", "enum", "enum('a','b')", "utf8mb4", false, true), col("e", "enum", "enum('a','B')", "", false, true), "column e: members"},
		{col("c", "varchar", "varchar(8)", "utf8mb4", false, false), col("c", "varchar", "varchar(8)", "utf8mb4", false, true), "column c: nullability"},
		{col("id", "uuid", "uuid", "", false, false), col("id", "binary", "binary(4)", "binary", false, false), "column id: length binary(4) not null, planned uuid not null"},
		{col("x", "bit", "bit(1)", "", false, true), col("x", "bit", "bit(8)", "", false, true), "column x: length"},
		{col("a", "int", "int(11)", "", false, true), col("b", "int", "int", "", false, true), "column 1 is b, planned a"},
	}
	for _, c := range differ {
		p, l := &cdc.Table{Columns: []cdc.Column{c.planned}}, &cdc.Table{Columns: []cdc.Column{c.logged}}
		d := Mismatches(p, l)
		if len(d) != 1 || !strings.HasPrefix(d[0], c.want) {
			t.Errorf("%s planned %s, logged %s: got %q, want %q", c.planned.Name, c.planned.ColumnType, c.logged.ColumnType, d, c.want)
		}
	}
	two := &cdc.Table{Columns: []cdc.Column{col("a", "int", "int", "", false, true), col("b", "int", "int", "", false, true)}}
	if d := Mismatches(two, &cdc.Table{Columns: two.Columns[:1]}); len(d) != 1 || d[0] != "1 columns (a), planned 2 (a,b)" {
		t.Errorf("column count: got %q", d)
	}
}

// FuzzDDLTables: any statement parses without a panic, and a table named in
// ALTER TABLE / TRUNCATE with any backquoted name, behind any comment, is
// found.
func FuzzDDLTables(f *testing.F) {
	for _, s := range []string{"orders", "Ord`ers", "a.b", "-- x", "*/", "é😀", ""} {
		f.Add(s, "/* c */")
	}
	f.Fuzz(func(t *testing.T, name, comment string) {
		_ = ddlTables(name, "shop")
		_ = ddlTables(comment+name, "shop")
		if name == "" || strings.Contains(comment, "*/") || strings.HasPrefix(comment, "!") || strings.HasPrefix(comment, "M!") {
			return // no comment, or an executable one (tested above)
		}
		quoted := "`" + strings.ReplaceAll(name, "`", "``") + "`"
		for _, stmt := range []string{
			"/*" + comment + "*/ ALTER TABLE shop." + quoted + " ADD x INT",
			"TRUNCATE /*" + comment + "*/ " + quoted,
		} {
			got := ddlTables(stmt, "shop")
			if len(got) == 0 || got[0] != (tableRef{"shop", name}) {
				t.Fatalf("%q: got %v, want shop.%s", stmt, got, name)
			}
		}
	})
}
