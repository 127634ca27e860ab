//go:build !unit

package main

import (
	"strings"
	"testing"
)

// logVisitorsFromM1 is what a fresh copy of the Log step gives
// customer_visitor, written independently of shiplog as one query on the
// Magento 1 database: each visitor with the customer of its latest login
// (highest log_id, NULL without one), a session id that does not fit
// Magento 2.4's varchar(1) left NULL, and created_at its first visit, else
// its last.
const logVisitorsFromM1 = `SELECT lv.visitor_id,
	(SELECT lc.customer_id FROM log_customer lc WHERE lc.visitor_id = lv.visitor_id ORDER BY lc.log_id DESC LIMIT 1),
	IF(CHAR_LENGTH(lv.session_id) > 1, NULL, lv.session_id), COALESCE(lv.first_visit_at, lv.last_visit_at), lv.last_visit_at
	FROM log_visitor lv ORDER BY lv.visitor_id`

// logVisitorsInM2 reads the same columns of Magento 2's customer_visitor.
const logVisitorsInM2 = `SELECT visitor_id, customer_id, session_id, created_at, last_visit_at FROM customer_visitor ORDER BY visitor_id`

// TestLogDeltaWithTheStockConfig: the Log step's delta (the stock
// config.xml.dist runs it in delta mode; the reference's Delta copies
// log_visitor's changes through map-log.xml), with the binlog and with the
// change logs. After data mode, Magento 1 gets visitors and logins: a new
// visitor with a long session id and no first visit who logs in; an older
// login (lower log_id) written after a newer one; a visitor's latest login
// deleted (its customer falls back to the earlier login); a visitor deleted
// by Magento 1's log cleaning while its login stays; a visitor all of whose
// logins are deleted; a login written before its visitor; a visitor updated
// after its customer changed. One `migrate delta --exit-when-caught-up`
// must leave customer_visitor as a fresh data-mode copy of the final source
// leaves it (an independent query on Magento 1), and verify must pass; a
// customer_id changed on Magento 2 is repaired at the next delta start.
func TestLogDeltaWithTheStockConfig(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			s, _ := newStockStoreStreaming(t, delta)
			stockCustomersM1(s)
			stockCustomersM2(t, s, "magento2")
			s.exec(
				`INSERT INTO log_visitor (visitor_id, session_id, first_visit_at, last_visit_at, last_url_id, store_id) VALUES
					(1, 'abcdef0123456789', '2021-03-01 10:00:00', '2021-03-01 10:30:00', 0, 1),
					(2, 'x', NULL, '2021-03-02 10:00:00', 0, 1),
					(3, NULL, '2021-03-03 10:00:00', '2021-03-03 10:45:00', 0, 1),
					(4, NULL, '2021-03-04 10:00:00', '2021-03-04 10:00:00', 0, 1),
					(8, NULL, '2021-03-08 10:00:00', '2021-03-08 10:00:00', 0, 1)`,
				`INSERT INTO log_customer (log_id, visitor_id, customer_id, login_at, store_id) VALUES
					(1, 3, 10, '2021-03-03 10:05:00', 1), (2, 3, 11, '2021-03-03 10:40:00', 1), (3, 4, 12, '2021-03-04 10:01:00', 1),
					(4, 55, 13, '2021-03-05 10:00:00', 1), (5, NULL, 14, '2021-03-05 11:00:00', 1), (13, 8, 23, '2021-03-08 10:01:00', 1)`,
			)
			s.e.mustRun("migrate", "data")
			s.assertRows(map[string][]string{logVisitorsInM2: {
				"'1',NULL,NULL,'2021-03-01 10:00:00','2021-03-01 10:30:00'",
				"'2',NULL,'x','2021-03-02 10:00:00','2021-03-02 10:00:00'",
				"'3','11',NULL,'2021-03-03 10:00:00','2021-03-03 10:45:00'",
				"'4','12',NULL,'2021-03-04 10:00:00','2021-03-04 10:00:00'",
				"'8','23',NULL,'2021-03-08 10:00:00','2021-03-08 10:00:00'",
			}})
			s.exec(
				// A new visitor, a long session id, no first visit, a login.
				`INSERT INTO log_visitor (visitor_id, session_id, first_visit_at, last_visit_at, last_url_id, store_id) VALUES (6, 'fedcba9876543210', NULL, '2021-04-06 09:00:00', 0, 1)`,
				`INSERT INTO log_customer (log_id, visitor_id, customer_id, login_at, store_id) VALUES (20, 6, 30, '2021-04-06 09:01:00', 1)`,
				// Visitor 7: login 22 written before the older login 21.
				`INSERT INTO log_visitor (visitor_id, session_id, first_visit_at, last_visit_at, last_url_id, store_id) VALUES (7, NULL, '2021-04-07 09:00:00', '2021-04-07 09:00:00', 0, 1)`,
				`INSERT INTO log_customer (log_id, visitor_id, customer_id, login_at, store_id) VALUES (22, 7, 31, '2021-04-07 09:05:00', 1)`,
				`INSERT INTO log_customer (log_id, visitor_id, customer_id, login_at, store_id) VALUES (21, 7, 32, '2021-04-07 09:01:00', 1)`,
				// Visitor 3's latest login goes: login 1 (customer 10) is the latest left.
				`DELETE FROM log_customer WHERE log_id = 2`,
				// ... and the visitor itself is updated afterwards.
				`UPDATE log_visitor SET last_visit_at = '2021-04-03 12:00:00' WHERE visitor_id = 3`,
				// Log cleaning: visitor 4 goes, its login stays.
				`DELETE FROM log_visitor WHERE visitor_id = 4`,
				// Visitor 8 loses every login.
				`DELETE FROM log_customer WHERE visitor_id = 8`,
				// A login before its visitor (visitor 9), and a logout.
				`INSERT INTO log_customer (log_id, visitor_id, customer_id, login_at, store_id) VALUES (23, 9, 33, '2021-04-09 09:01:00', 1)`,
				`INSERT INTO log_visitor (visitor_id, session_id, first_visit_at, last_visit_at, last_url_id, store_id) VALUES (9, 'y', '2021-04-09 09:00:00', '2021-04-09 09:30:00', 0, 1)`,
				`UPDATE log_customer SET logout_at = '2021-04-09 09:20:00' WHERE log_id = 23`,
			)
			r := s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			if strings.Contains(r.stderr, "Log step's delta is not supported yet") || !strings.Contains(r.stderr, "customer_visitor.customer_id follows each batch") {
				t.Errorf("delta does not say the Log step streams:\n%s", r.stderr)
			}
			want := []string{
				"'1',NULL,NULL,'2021-03-01 10:00:00','2021-03-01 10:30:00'",
				"'2',NULL,'x','2021-03-02 10:00:00','2021-03-02 10:00:00'",
				"'3','10',NULL,'2021-03-03 10:00:00','2021-04-03 12:00:00'",
				"'6','30',NULL,'2021-04-06 09:00:00','2021-04-06 09:00:00'",
				"'7','31',NULL,'2021-04-07 09:00:00','2021-04-07 09:00:00'",
				"'8',NULL,NULL,'2021-03-08 10:00:00','2021-03-08 10:00:00'",
				"'9','33','y','2021-04-09 09:00:00','2021-04-09 09:30:00'",
			}
			if got := rowsOf(t, s.e.srcDB, logVisitorsFromM1); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("the independent query on Magento 1 disagrees with the test's expectation:\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			s.assertRows(map[string][]string{
				logVisitorsInM2: want,
				"SELECT visitor_id, log_id, customer_id FROM _shiplog_log_customer ORDER BY log_id": {
					"'3','1','10'", "'4','3','12'", "'55','4','13'", "'6','20','30'", "'7','21','32'", "'7','22','31'", "'9','23','33'",
				},
			})
			if r := runShiplog(t, s.config, nil, "verify"); r.code != 0 {
				t.Errorf("verify after delta: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			} else if !strings.Contains(r.stdout+r.stderr, "customer_visitor") || !strings.Contains(r.stdout+r.stderr, "_shiplog_log_customer") {
				t.Errorf("verify does not name customer_visitor and _shiplog_log_customer:\n%s%s", r.stdout, r.stderr)
			}
			// A customer written in Magento 2 outside shiplog: the next
			// delta start repairs it and says so.
			if _, err := s.e.dstDB.Exec("UPDATE customer_visitor SET customer_id = 999, last_visit_at = last_visit_at WHERE visitor_id IN (2, 3)"); err != nil {
				t.Fatal(err)
			}
			r = s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			if !strings.Contains(r.stderr, "were repaired") || !strings.Contains(r.stderr, "visitors=2") {
				t.Errorf("the second delta start does not say it repaired two visitors:\n%s", r.stderr)
			}
			s.assertRows(map[string][]string{logVisitorsInM2: want})
		})
	}
}
