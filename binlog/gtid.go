package binlog

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// gtidState is the server's GTID state after the last whole transaction the
// reader has passed: a MariaDB GTID list (the last GTID per replication domain)
// or a MySQL GTID set. It is unknown (and Position.GTID left empty) when the
// stream started from a file offset without one, until a GTID list or
// Previous_GTIDs event at a binlog file start tells it.
type gtidState struct {
	flavor string
	known  bool
	maria  map[uint32]mysql.MariadbGTID
	my     *mysql.MysqlGTIDSet
}

func newGTIDState(flavor, s string) (*gtidState, error) {
	g := &gtidState{flavor: flavor, maria: map[uint32]mysql.MariadbGTID{}}
	if flavor != mysql.MariaDBFlavor {
		empty := mysql.NewMysqlGTIDSet()
		g.my = &empty
	}
	if strings.TrimSpace(s) == "" {
		return g, nil
	}
	if err := g.set(s); err != nil {
		return nil, err
	}
	return g, nil
}

// set replaces the state with the text form s and marks it known.
func (g *gtidState) set(s string) error {
	if g.flavor == mysql.MariaDBFlavor {
		m := map[uint32]mysql.MariadbGTID{}
		for part := range strings.SplitSeq(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			gt, err := mysql.ParseMariadbGTID(part)
			if err != nil {
				return fmt.Errorf("MariaDB GTID list %q: %w", s, err)
			}
			if old, ok := m[gt.DomainID]; !ok || gt.SequenceNumber >= old.SequenceNumber {
				m[gt.DomainID] = *gt
			}
		}
		g.maria, g.known = m, true
		return nil
	}
	set, err := mysql.ParseMysqlGTIDSet(strings.ReplaceAll(strings.TrimSpace(s), "\n", ""))
	if err != nil {
		return fmt.Errorf("MySQL GTID set %q: %w", s, err)
	}
	g.my, g.known = set.(*mysql.MysqlGTIDSet), true
	return nil
}

// setFromList takes the state from a MariaDB Gtid_list event (binlog state at a
// file start: the last GTID per domain and server) when the state is unknown.
func (g *gtidState) setFromList(list []mysql.MariadbGTID) {
	if g.known {
		return
	}
	m := map[uint32]mysql.MariadbGTID{}
	for _, gt := range list {
		if old, ok := m[gt.DomainID]; !ok || gt.SequenceNumber >= old.SequenceNumber {
			m[gt.DomainID] = gt
		}
	}
	g.maria, g.known = m, true
}

// addMariaDB records a committed MariaDB GTID: it becomes its domain's position.
func (g *gtidState) addMariaDB(gt mysql.MariadbGTID) {
	if !g.known {
		return
	}
	g.maria[gt.DomainID] = gt
}

// addMySQL records a committed MySQL GTID given by its source id bytes, tag
// ("" for none) and transaction number. Anonymous GTIDs (all-zero sid) are not
// GTIDs and are ignored.
func (g *gtidState) addMySQL(sid []byte, tag string, gno int64) error {
	if !g.known || g.my == nil || len(sid) != 16 || gno <= 0 || isZero(sid) {
		return nil
	}
	gtid := formatUUID(sid)
	if tag != "" {
		gtid += ":" + tag
	}
	gtid += ":" + strconv.FormatInt(gno, 10)
	if err := g.my.Update(gtid); err != nil {
		return fmt.Errorf("add GTID %s: %w", gtid, err)
	}
	return nil
}

// String is the Position.GTID text: "" while unknown; MariaDB
// "domain-server-seq" per domain sorted by domain, comma-joined; MySQL the
// GTID set as the server prints it (without line breaks).
func (g *gtidState) String() string {
	if !g.known {
		return ""
	}
	if g.flavor == mysql.MariaDBFlavor {
		domains := make([]uint32, 0, len(g.maria))
		for d := range g.maria {
			domains = append(domains, d)
		}
		slices.Sort(domains)
		parts := make([]string, len(domains))
		for i, d := range domains {
			gt := g.maria[d]
			parts[i] = fmt.Sprintf("%d-%d-%d", gt.DomainID, gt.ServerID, gt.SequenceNumber)
		}
		return strings.Join(parts, ",")
	}
	return g.my.String()
}

// syncSet is the state as a go-mysql GTID set for StartSyncGTID.
func (g *gtidState) syncSet() (mysql.GTIDSet, error) {
	return mysql.ParseGTIDSet(g.flavor, g.String())
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
