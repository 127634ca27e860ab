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
