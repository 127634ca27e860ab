package deltalog

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

func TestReadGroups(t *testing.T) {
	dir := t.TempDir()
	xmlFile := filepath.Join(dir, "deltalog.xml")
	os.WriteFile(xmlFile, []byte(`<?xml version="1.0"?>
<groups>
  <group name="delta_map">
    <document key="entity_id">sales_flat_order</document>
    <document key="order_id, line">items</document>
  </group>
  <group name="delta_customer"><document>customer_entity</document></group>
</groups>`), 0o600)
	got, err := ReadGroups(xmlFile)
	if err != nil {
		t.Fatal(err)
	}
	want := []Document{
		{Group: "delta_map", Table: "sales_flat_order", Key: []string{"entity_id"}},
		{Group: "delta_map", Table: "items", Key: []string{"order_id", "line"}},
		{Group: "delta_customer", Table: "customer_entity"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	yamlFile := filepath.Join(dir, "deltalog.yaml")
	os.WriteFile(yamlFile, []byte("groups:\n  delta_map:\n    - {table: sales_flat_order, key: [entity_id]}\n    - customer_entity\n"), 0o600)
	got, err = ReadGroups(yamlFile)
	if err != nil || len(got) != 2 || got[0].Key[0] != "entity_id" || got[1].Table != "customer_entity" {
		t.Fatalf("yaml: %+v %v", got, err)
	}
	for name, text := range map[string]string{
		"bad.xml":  "<groups><group name='g'><table>x</table></group></groups>",
		"bad2.xml": "<groups><group name='g'><document></document></group></groups>",
		"bad3.xml": "<groups><group",
		"bad.yaml": "groups:\n  g:\n    - {table: t, keys: [a]}\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o600)
		if _, err := ReadGroups(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: want an error naming the file, got %v", name, err)
		}
	}
}

func TestNamesStayWithin64(t *testing.T) {
	long := strings.Repeat("x", 70)
	for _, n := range []string{LogTableName("pre_", long), triggerName(long, "UPDATE"), LogTableName("", "short")} {
		if len(n) > 64 {
			t.Errorf("%s is %d long", n, len(n))
		}
	}
	if LogTableName("pre_", "orders") != "pre_m2_cl_orders" {
		t.Error(LogTableName("pre_", "orders"))
	}
	if LogTableName("", long+"a") == LogTableName("", long+"b") {
		t.Error("long names collide")
	}
}

func TestTriggerDDLLogsOldKeyOnKeyChange(t *testing.T) {
	tb := &cdc.Table{Name: "items", Columns: []cdc.Column{{Name: "order_id"}, {Name: "line"}, {Name: "qty"}}}
	in := &Installer{Schema: "shop"}
	ddl := in.triggerDDL(Spec{Table: tb, Key: []int{0, 1}, LogTable: "m2_cl_items"}, "UPDATE", "shiplog_items_u_after", "users_trigger")
	for _, want := range []string{
		"AFTER UPDATE ON `shop`.`items` FOR EACH ROW FOLLOWS `users_trigger`",
		"VALUES (NEW.`order_id`, NEW.`line`, 'UPDATE')",
		"IF NOT (OLD.`order_id` <=> NEW.`order_id` AND OLD.`line` <=> NEW.`line`) THEN",
		"VALUES (OLD.`order_id`, OLD.`line`, 'UPDATE')",
	} {
		if !strings.Contains(ddl, want) {
			t.Errorf("trigger lacks %q:\n%s", want, ddl)
		}
	}
}

// TestChangeLogsAreToldFromUserTables: shiplog's and Magento's change logs
// of an existing table (with the installation prefix, and cut names) are
// recognised; tables merely named like one, or shaped wrong, are not.
func TestChangeLogsAreToldFromUserTables(t *testing.T) {
	col := func(name, dataType, columnType string, unsigned bool) cdc.Column {
		return cdc.Column{Name: name, DataType: dataType, ColumnType: columnType, Unsigned: unsigned}
	}
	orders := &cdc.Table{Name: "p_orders", Columns: []cdc.Column{col("id", "int", "int(11)", false), col("amount", "int", "int(11)", false)}, Key: []int{0}, KeyName: "PRIMARY"}
	long := "p_" + strings.Repeat("l", 60)
	longT := &cdc.Table{Name: long, Columns: []cdc.Column{col("id", "int", "int(11)", false)}, Key: []int{0}, KeyName: "PRIMARY"}
	shiplog := func(name string, keys ...cdc.Column) *cdc.Table {
		cols := append([]cdc.Column{col("seq", "bigint", "bigint(20) unsigned", true)}, keys...)
		cols = append(cols, col("operation", "enum", "enum('INSERT','UPDATE','DELETE')", false), col("changed_at", "timestamp", "timestamp(6)", false))
		return &cdc.Table{Name: name, Columns: cols, Key: []int{0}, KeyName: "PRIMARY"}
	}
	magento := func(name string) *cdc.Table {
		return &cdc.Table{Name: name, Columns: []cdc.Column{col("id", "int", "int(11)", false), col("operation", "text", "text", false),
			col("processed", "tinyint", "tinyint(1)", false)}, Key: []int{0}, KeyName: "PRIMARY"}
	}
	id := col("id", "int", "int(11)", false)
	tables := []*cdc.Table{
		orders, longT,
		shiplog("p_m2_cl_orders", id),
		shiplog(LogTableName("p_", long[2:]), id),
		magento("p_" + ("m2_cl_" + long[2:])[:64]),
		shiplog("p_m2_cl_gone", id),  // no table p_gone
		shiplog("p_m2_cl_items", id), // no table p_items either
		magento("m2_cl_orders"),      // outside the prefix
		{Name: "p_m2_cl_notes", Columns: []cdc.Column{id, col("note", "varchar", "varchar(32)", false)}, Key: []int{0}, KeyName: "PRIMARY"},
	}
	// A user's table named like the log of orders, without the log's shape.
	userLog := &cdc.Table{Name: "p_m2_cl_orders", Columns: []cdc.Column{id, col("note", "varchar", "varchar(32)", false)}, Key: []int{0}, KeyName: "PRIMARY"}
	// A log of a column orders has not.
	badKey := shiplog("p_m2_cl_orders", col("sku", "varchar", "varchar(8)", false))

	got := ChangeLogs(tables, "p_")
	want := map[string]string{"p_m2_cl_orders": "p_orders", LogTableName("p_", long[2:]): long, "p_" + ("m2_cl_" + long[2:])[:64]: long}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ChangeLogs = %v, want %v", got, want)
	}
	for _, lt := range []*cdc.Table{userLog, badKey} {
		if got := ChangeLogs([]*cdc.Table{orders, lt}, "p_"); len(got) != 0 {
			t.Errorf("%v taken for a change log: %v", lt.Columns, got)
		}
	}
}
