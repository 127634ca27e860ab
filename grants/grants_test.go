package grants

import (
	"strings"
	"testing"
)

func TestParseAndHas(t *testing.T) {
	lines := []string{
		"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*A4B6157319038724E3560894F7F932C8886EBFCF'",
		"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `app`@`%`",
		"GRANT SELECT, INSERT ON `shop\\_new`.* TO `app`@`%` WITH GRANT OPTION",
		"GRANT ALL PRIVILEGES ON `stage%`.* TO `app`@`%`",
		"GRANT SELECT (`id`, `name`), UPDATE (`name`) ON `other`.`t` TO `app`@`%`",
		"GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `app`@`%`",
		"GRANT PROXY ON ''@'%' TO 'app'@'%' WITH GRANT OPTION",
		"GRANT `writer` TO `app`@`%`",
		"SET DEFAULT ROLE `writer` FOR `app`@`%`",
		"GRANT DELETE ON `odd``name`.* TO `writer`",
		"GRANT TRIGGER ON sho_.* TO `writer`",
	}
	s := Parse(lines)
	cases := []struct {
		db    string // "" global
		privs []string
		want  bool
	}{
		{"", []string{"REPLICATION SLAVE"}, true},
		{"", []string{"REPLICATION CLIENT", "BINLOG MONITOR"}, true},
		{"", []string{"PROCESS"}, false},
		{"", []string{"SELECT"}, false},
		{"shop_new", []string{"SELECT"}, true},
		{"shop_new", []string{"INSERT"}, true},
		{"shop_new", []string{"DELETE"}, false},
		{"shopXnew", []string{"SELECT"}, false}, // \_ is literal
		{"stage1", []string{"CREATE"}, true},    // ALL PRIVILEGES on a pattern
		{"stag", []string{"CREATE"}, false},
		{"other", []string{"SELECT"}, true}, // a table grant counts for its database
		{"other", []string{"INSERT"}, false},
		{"shop", []string{"EXECUTE"}, false}, // routine grants are not placed
		{"odd`name", []string{"DELETE"}, true},
		{"shop", []string{"TRIGGER"}, true}, // sho_ matches shop (the role's grant)
		{"shopp", []string{"TRIGGER"}, false},
	}
	for _, c := range cases {
		var got bool
		if c.db == "" {
			got = s.HasGlobal(c.privs...)
		} else {
			got = s.Has(c.db, c.privs...)
		}
		if got != c.want {
			t.Errorf("%q %v: got %v, want %v", c.db, c.privs, got, c.want)
		}
	}
	if p := s.DBPattern("shop_new"); p != `shop\_new` {
		t.Errorf("DBPattern(shop_new) = %q", p)
	}
	if p := s.DBPattern("shop"); p != "" {
		t.Errorf("DBPattern(shop) = %q: the matching grant is the role's", p)
	}
}

// The server applies one database grant per grantee, the most specific: the
// privileges of two matching patterns do not add up.
func TestDatabaseGrantsDoNotAddUp(t *testing.T) {
	s := Parse([]string{
		"GRANT USAGE ON *.* TO `u`@`%`",
		"GRANT SELECT, INSERT ON `shop_new`.* TO `u`@`%`",
		"GRANT CREATE ON `shop\\_new`.* TO `u`@`%`",
		"GRANT DELETE ON `sho%`.* TO `u`@`%`",
	})
	if !s.Has("shop_new", "CREATE") || s.Has("shop_new", "SELECT") || s.Has("shop_new", "DELETE") {
		t.Errorf("shop\\_new (exact) should win alone for shop_new")
	}
	if !s.Has("shopXnew", "SELECT") || s.Has("shopXnew", "DELETE") {
		t.Errorf("shop_new (wildcard at 5) should win over sho%% for shopXnew")
	}
	if !s.Has("shopping", "DELETE") {
		t.Errorf("sho%% should apply to shopping")
	}
	if p := s.DBPattern("shop_new"); p != `shop\_new` {
		t.Errorf("DBPattern = %q", p)
	}
}

func TestLike(t *testing.T) {
	for _, c := range []struct {
		p, n string
		want bool
	}{
		{"shop", "shop", true},
		{"shop", "Shop", false},
		{"sh_p", "shop", true},
		{`sh\_p`, "shop", false},
		{`sh\_p`, "sh_p", true},
		{"%", "", true},
		{"s%p", "sp", true},
		{"s%p", "shop", true},
		{"s%p", "shops", false},
		{`100\%`, "100%", true},
		{`100\%`, "1000", false},
		{"_", "", false},
		{"ünï_", "ünïx", true},
	} {
		if got := Like(c.p, c.n); got != c.want {
			t.Errorf("Like(%q, %q) = %v, want %v", c.p, c.n, got, c.want)
		}
	}
}

func TestSortValue(t *testing.T) {
	for p, want := range map[string]int{"shop": 128, "shop_new": 5, `shop\_new`: 128, "shop%": 5, "s_o%x_": 4, "%": 1} {
		if got := sortValue(p); got != want {
			t.Errorf("sortValue(%q) = %d, want %d", p, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("GRANT SELECT (`a`, `b`), INSERT ON `d\\_b`.`t` TO `u`@`%` WITH GRANT OPTION")
	f.Add("GRANT `r` TO `u`@`h`")
	f.Add("GRANT ALL ON *.* TO 'u'@'h'")
	f.Fuzz(func(t *testing.T, line string) {
		s := Parse(strings.Split(line, "\n"))
		s.Has("db", "SELECT")
		s.HasGlobal("PROCESS")
		s.DBPattern("db")
		Like(line, "db")
	})
}
