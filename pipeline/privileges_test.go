package pipeline

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/grants"
)

// What each mode asks of each server, as the statements an operator runs.
func TestPrivilegeNeedsPerMode(t *testing.T) {
	binlogCfg := &config.Config{}
	binlogCfg.Source.Database = "shop"
	binlogCfg.Destination.Database = "shop_new"
	triggerCfg := *binlogCfg
	triggerCfg.Delta.Source = config.DeltaTriggers
	mariadb1011 := server{mariadb: true, major: 10, minor: 11}
	mariadb106 := server{mariadb: true, major: 10, minor: 6}
	mysql8 := server{major: 8, minor: 0}
	selectOnly := grants.Parse([]string{"GRANT USAGE ON *.* TO `u`@`%`", "GRANT SELECT ON `shop`.* TO `u`@`%`", "GRANT SUPER ON *.* TO `u`@`%`"})
	cases := []struct {
		name string
		cfg  *config.Config
		srv  server
		w    Work
		want []string
	}{
		{"binlog run, MariaDB: BACKUP STAGE BLOCK_COMMIT needs RELOAD", binlogCfg, mariadb1011, Work{Copy: true, Stream: true},
			[]string{"GRANT BINLOG MONITOR, REPLICATION SLAVE, RELOAD ON *.* TO 'u'@'%'"}},
		{"binlog delta, MariaDB: no snapshot, no RELOAD", binlogCfg, mariadb1011, Work{Stream: true},
			[]string{"GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'u'@'%'"}},
		{"binlog data, MySQL: SUPER reads the position, FTWRL needs RELOAD", binlogCfg, mysql8, Work{Copy: true},
			[]string{"GRANT REPLICATION SLAVE, RELOAD ON *.* TO 'u'@'%'"}},
		{"cutover read-only, MariaDB 10.11: SUPER is not enough", binlogCfg, mariadb1011, Work{Cutover: true, SetSourceReadOnly: true},
			[]string{"GRANT BINLOG MONITOR, READ_ONLY ADMIN ON *.* TO 'u'@'%'"}},
		{"cutover read-only, MariaDB 10.6: SUPER is", binlogCfg, mariadb106, Work{Cutover: true, SetSourceReadOnly: true},
			[]string{"GRANT BINLOG MONITOR ON *.* TO 'u'@'%'"}},
		{"cutover", binlogCfg, mariadb1011, Work{Cutover: true}, []string{"GRANT BINLOG MONITOR ON *.* TO 'u'@'%'"}},
		{"trigger delta", &triggerCfg, mariadb1011, Work{Stream: true},
			[]string{"GRANT INSERT, DELETE, CREATE, TRIGGER ON `shop`.* TO 'u'@'%'", "GRANT PROCESS ON *.* TO 'u'@'%'"}},
		{"trigger data also locks the tables to install the triggers", &triggerCfg, mariadb1011, Work{Copy: true},
			[]string{"GRANT INSERT, DELETE, CREATE, TRIGGER, LOCK TABLES ON `shop`.* TO 'u'@'%'", "GRANT PROCESS ON *.* TO 'u'@'%'"}},
		{"trigger cutover asks nothing of the source", &triggerCfg, mariadb1011, Work{Cutover: true}, nil},
		{"apply --from-kafka asks nothing of the source", binlogCfg, mariadb1011, Work{Apply: true}, nil},
	}
	for _, c := range cases {
		var got []string
		for _, m := range missing(selectOnly, "'u'@'%'", sourceNeeds(c.cfg, c.srv, c.w)) {
			stmt, _, _ := strings.Cut(m, ";")
			got = append(got, stmt)
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	var got []string
	for _, m := range missing(selectOnly, "'u'@'%'", destinationNeeds(binlogCfg)) {
		stmt, _, _ := strings.Cut(m, ";")
		got = append(got, stmt)
	}
	if want := "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop\\_new`.* TO 'u'@'%'"; strings.Join(got, "\n") != want {
		t.Errorf("destination: got %q, want %q", got, want)
	}
}
