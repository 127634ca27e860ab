package snapshot

import (
	"reflect"
	"testing"
)

// TestDeferrableIndexes: the plain KEYs after the last non-unique key that
// stays (a SPATIAL one), each as printed; FULLTEXT, UNIQUE and PRIMARY
// keys, columns and constraints are none of them and do not cut the list.
func TestDeferrableIndexes(t *testing.T) {
	for _, c := range []struct {
		name   string
		create string
		want   []indexDef
	}{
		{"plain", "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `k` int(11) NOT NULL DEFAULT 0,\n  `KEY x` int,\n  PRIMARY KEY (`id`),\n  KEY `k_1` (`k`)\n) ENGINE=InnoDB",
			[]indexDef{{"k_1", "KEY `k_1` (`k`)"}}},
		{"tricky", "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` varchar(9),\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`a`),\n" +
			"  KEY `we``ird` (`a`(3) DESC) COMMENT 'x,y',\n  KEY `i` (`id`) IGNORED,\n  FULLTEXT KEY `ft` (`a`),\n  CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `p` (`a`)\n) ENGINE=InnoDB",
			[]indexDef{{"we`ird", "KEY `we``ird` (`a`(3) DESC) COMMENT 'x,y'"}, {"i", "KEY `i` (`id`) IGNORED"}}},
		{"after spatial", "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `a` (`id`),\n  SPATIAL KEY `g` (`g`),\n  KEY `b` (`id`)\n)",
			[]indexDef{{"b", "KEY `b` (`id`)"}}},
		{"none", "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`id`)\n)", nil},
	} {
		if got := deferrableIndexes(c.create); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
