// Package grants reads what a MySQL/MariaDB user may do from SHOW GRANTS and
// names, as GRANT statements, what it lacks for a given piece of work.
//
// Parsing is lenient in one direction only: a privilege shiplog cannot place
// (a routine grant, a partial revoke) is ignored, and a table-level grant
// counts for its whole database, so a preflight built on it refuses only
// users that certainly lack a privilege; anything it lets through that the
// server then refuses still fails, loudly, where it is used.
package grants

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// ALL PRIVILEGES covers every privilege of its level except GRANT OPTION.
const all = "ALL PRIVILEGES"

type dbGrant struct {
	grantee string
	pattern string // LIKE pattern: _ and % are wildcards, \_ and \% literal
	privs   map[string]bool
}

type tableGrant struct {
	db    string // literal
	privs map[string]bool
}

// Set is what SHOW GRANTS says a user holds.
type Set struct {
	user   string // the grantee of the first line: the user itself
	global map[string]bool
	dbs    []dbGrant
	tables []tableGrant
}

// Parse reads the lines of SHOW GRANTS. Lines that grant roles, PROXY or
// routine privileges, REVOKE lines and lines it cannot read are skipped: they
// grant nothing a preflight asks about.
func Parse(lines []string) Set {
	s := Set{global: map[string]bool{}}
	for _, l := range lines {
		privs, db, table, grantee, ok := parseLine(l)
		if !ok {
			continue
		}
		if s.user == "" {
			s.user = grantee
		}
		switch {
		case db == "*" && table == "*":
			for p := range privs {
				s.global[p] = true
			}
		case table == "*":
			s.dbs = append(s.dbs, dbGrant{grantee: grantee, pattern: db, privs: privs})
		default:
			s.tables = append(s.tables, tableGrant{db: db, privs: privs})
		}
	}
	return s
}

// parseLine reads `GRANT p1, p2 (cols), ... ON db.table TO ...`.
func parseLine(l string) (privs map[string]bool, db, table, grantee string, ok bool) {
	l = strings.TrimSpace(l)
	if len(l) < 6 || !strings.EqualFold(l[:6], "GRANT ") {
		return nil, "", "", "", false
	}
	rest := l[6:]
	// The privilege list ends at the first top-level " ON ".
	depth, on := 0, -1
	for i := 0; i < len(rest) && on < 0; i++ {
		switch rest[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '`', '\'', '"':
			if depth == 0 {
				return nil, "", "", "", false // a role name: GRANT `role` TO ...
			}
		case ' ':
			if depth == 0 && len(rest) >= i+4 && strings.EqualFold(rest[i:i+4], " ON ") {
				on = i
			}
		}
	}
	if on < 0 {
		return nil, "", "", "", false
	}
	privs = map[string]bool{}
	for _, p := range splitTop(rest[:on]) {
		if k := strings.IndexByte(p, '('); k >= 0 {
			p = p[:k] // column privilege: counted for the table
		}
		p = strings.Join(strings.Fields(strings.ToUpper(p)), " ")
		if p == "ALL" {
			p = all
		}
		if p != "" {
			privs[p] = true
		}
	}
	obj := strings.TrimLeft(rest[on+4:], " ")
	for _, kw := range []string{"PROCEDURE ", "FUNCTION ", "PACKAGE BODY ", "PACKAGE "} {
		if len(obj) >= len(kw) && strings.EqualFold(obj[:len(kw)], kw) {
			return nil, "", "", "", false
		}
	}
	if privs["PROXY"] {
		return nil, "", "", "", false
	}
	db, obj, ok = ident(obj)
	if !ok || !strings.HasPrefix(obj, ".") {
		return nil, "", "", "", false
	}
	table, obj, ok = ident(obj[1:])
	if !ok {
		return nil, "", "", "", false
	}
	obj = strings.TrimLeft(obj, " ")
	if len(obj) < 3 || !strings.EqualFold(obj[:3], "TO ") {
		return nil, "", "", "", false
	}
	grantee, _, _ = strings.Cut(strings.TrimLeft(obj[3:], " "), " ")
	return privs, db, table, grantee, true
}

// splitTop splits at commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// ident reads `*`, a backquoted name (“ doubled) or a bare name.
func ident(s string) (name, rest string, ok bool) {
	switch {
	case strings.HasPrefix(s, "*"):
		return "*", s[1:], true
	case strings.HasPrefix(s, "`"):
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '`' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), s[i+1:], true
		}
		return "", "", false
	default:
		i := strings.IndexAny(s, ". ")
		if i <= 0 {
			return "", "", false
		}
		return s[:i], s[i:], true
	}
}

// HasGlobal reports whether the user holds one of privs on *.*.
func (s Set) HasGlobal(privs ...string) bool {
	if s.global[all] {
		return true
	}
	for _, p := range privs {
		if s.global[p] {
			return true
		}
	}
	return false
}

// Has reports whether the user holds one of privs on database db: globally,
// through a database grant whose pattern matches db, or (leniently) on some
// table of db.
func (s Set) Has(db string, privs ...string) bool {
	if s.HasGlobal(privs...) {
		return true
	}
	holds := func(m map[string]bool) bool {
		if m[all] {
			return true
		}
		for _, p := range privs {
			if m[p] {
				return true
			}
		}
		return false
	}
	// The server takes one database grant per grantee: the first matching
	// in its sort order (see pick); the user's and its roles' add up.
	grantees := map[string]bool{}
	for _, g := range s.dbs {
		grantees[g.grantee] = true
	}
	for grantee := range grantees {
		for _, g := range s.pick(grantee, db) {
			if holds(g.privs) {
				return true
			}
		}
	}
	for _, g := range s.tables {
		if holds(g.privs) && g.db == db {
			return true
		}
	}
	return false
}

// pick returns the database grants of grantee the server applies to db: of
// those whose pattern matches, the most specific (MySQL's and MariaDB's
// get_sort: an exact name first, then the later the first wildcard the
// better). Privileges of two matching patterns do not add up: a user with
// SELECT on shop_new (a pattern) and CREATE on shop\_new gets only CREATE.
func (s Set) pick(grantee, db string) []dbGrant {
	var best []dbGrant
	bestSort := -1
	for _, g := range s.dbs {
		if g.grantee != grantee || !Like(g.pattern, db) {
			continue
		}
		switch v := sortValue(g.pattern); {
		case v > bestSort:
			best, bestSort = []dbGrant{g}, v
		case v == bestSort:
			best = append(best, g)
		}
	}
	return best
}

// sortValue is get_sort for one string: 128 without wildcards, else the
// 1-based position of the last wildcard up to the first %.
func sortValue(p string) int {
	wild := 0
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
		case p[i] == '_' || p[i] == '%':
			wild = i + 1
		}
		if p[i] == '%' && wild == i+1 {
			break
		}
	}
	if wild == 0 {
		return 128
	}
	return min(wild, 127)
}

// DBPattern returns the database pattern of the user's own grant the server
// applies to db, as SHOW GRANTS spells it, or "" when there is none. A GRANT
// for db must name this pattern: a grant on another spelling that also
// matches makes a second entry, and the server uses only one of them.
func (s Set) DBPattern(db string) string {
	if p := s.pick(s.user, db); len(p) > 0 {
		return p[0].pattern
	}
	return ""
}

// Like matches a grant's database pattern: _ one character, % any run, a
// backslash makes the next character literal. Names compare exactly (Unix
// servers keep database names case-sensitive).
func Like(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '%':
				for k := j; k <= len(n); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case '_':
				if j >= len(n) {
					return false
				}
			case '\\':
				if i+1 < len(p) {
					i++
				}
				if j >= len(n) || n[j] != p[i] {
					return false
				}
			default:
				if j >= len(n) || n[j] != p[i] {
					return false
				}
			}
			i++
			j++
		}
		return j == len(n)
	}
	return match(0, 0)
}

// Read returns the grants of the session's user, with its active roles', and
// the account as 'user'@'host' for GRANT statements. MariaDB lists the grants
// of the active role with the user's; on MySQL 8 the active roles are
// expanded with SHOW GRANTS ... USING.
func Read(ctx context.Context, db *sql.DB) (Set, string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return Set{}, "", err
	}
	defer conn.Close()
	var cur string
	if err := conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cur); err != nil {
		return Set{}, "", fmt.Errorf("SELECT CURRENT_USER(): %w", err)
	}
	account := cur
	if i := strings.LastIndexByte(cur, '@'); i >= 0 {
		account = quote(cur[:i]) + "@" + quote(cur[i+1:])
	}
	lines, err := showGrants(ctx, conn, "SHOW GRANTS")
	if err != nil {
		return Set{}, "", err
	}
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return Set{}, "", fmt.Errorf("SELECT VERSION(): %w", err)
	}
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		// MySQL 8: the privileges of active roles show only with USING.
		var roles sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT CURRENT_ROLE()").Scan(&roles); err == nil &&
			roles.Valid && roles.String != "" && roles.String != "NONE" {
			if more, err := showGrants(ctx, conn, "SHOW GRANTS FOR CURRENT_USER() USING "+roles.String); err == nil {
				lines = append(lines, more...)
			}
		}
	}
	return Parse(lines), account, nil
}

func showGrants(ctx context.Context, conn *sql.Conn, q string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return lines, nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
