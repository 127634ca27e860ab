package binlog

import (
	"strings"
)

// tableRef is a table a DDL statement names. Name is "" for a whole database
// (DROP DATABASE).
type tableRef struct {
	Schema, Name string
}

// ddlTables returns the tables whose structure or identity a DDL statement
// changes: ALTER TABLE (and its RENAME TO / EXCHANGE PARTITION ... WITH TABLE
// target), DROP TABLE, RENAME TABLE (both sides), TRUNCATE, CREATE TABLE (the
// created table, including CREATE ... LIKE / AS SELECT, not the LIKE source),
// CREATE INDEX and DROP INDEX (the indexed table), and DROP DATABASE.
// Unqualified names resolve to defaultSchema, the event's current database.
// Temporary tables, views, routines and statements it does not know return
// nothing.
func ddlTables(stmt, defaultSchema string) []tableRef {
	p := &ddlParser{toks: skipSetStatement(tokenize(stmt)), schema: defaultSchema}
	return p.parse()
}

// skipSetStatement drops MariaDB's "SET STATEMENT var=value, ... FOR" prefix,
// which the binlog keeps in front of the statement it qualifies.
func skipSetStatement(toks []token) []token {
	if len(toks) < 2 || !isWord(toks[0], "SET") || !isWord(toks[1], "STATEMENT") {
		return toks
	}
	for i := 2; i < len(toks); i++ {
		if isWord(toks[i], "FOR") {
			return toks[i+1:]
		}
	}
	return toks
}

func isWord(t token, w string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, w)
}

type tokKind uint8

const (
	tokWord   tokKind = iota // unquoted word (keyword or identifier)
	tokIdent                 // `quoted identifier`
	tokString                // 'string' or "string"
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

// tokenize splits a statement into words, identifiers, strings and punctuation,
// dropping comments. Executable comments (/*!50100 ... */, /*M!100100 ... */)
// keep their content, as the server runs it.
func tokenize(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(s[i:], "/*!") || strings.HasPrefix(s[i:], "/*M!"):
			i += strings.IndexByte(s[i:], '!') + 1
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += end + 4
		case strings.HasPrefix(s[i:], "*/"):
			i += 2 // end of an executable comment
		case c == '#' || (strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || s[i+2] <= ' ')):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return toks
			}
			i += end + 1
		case c == '`':
			var b strings.Builder
			j := i + 1
			for j < len(s) {
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tokIdent, b.String()})
			i = j + 1
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for j < len(s) {
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tokString, b.String()})
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j]})
			i = j
		default:
			toks = append(toks, token{tokPunct, string(c)})
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

type ddlParser struct {
	toks   []token
	i      int
	schema string
}

func (p *ddlParser) peekWord(w string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == tokWord && strings.EqualFold(p.toks[p.i].text, w)
}

// accept consumes the words ws in sequence if they are next.
func (p *ddlParser) accept(ws ...string) bool {
	for k, w := range ws {
		j := p.i + k
		if j >= len(p.toks) || p.toks[j].kind != tokWord || !strings.EqualFold(p.toks[j].text, w) {
			return false
		}
	}
	p.i += len(ws)
	return true
}

func (p *ddlParser) acceptPunct(c string) bool {
	if p.i < len(p.toks) && p.toks[p.i].kind == tokPunct && p.toks[p.i].text == c {
		p.i++
		return true
	}
	return false
}

// ident reads one identifier. A "double-quoted" string is one too: where
// a name must stand, only sql_mode=ANSI_QUOTES lets the server accept it.
func (p *ddlParser) ident() (string, bool) {
	if p.i >= len(p.toks) {
		return "", false
	}
	t := p.toks[p.i]
	if t.kind != tokWord && t.kind != tokIdent && t.kind != tokString {
		return "", false
	}
	p.i++
	return t.text, true
}

// name reads [schema.]table.
func (p *ddlParser) name() (tableRef, bool) {
	first, ok := p.ident()
	if !ok {
		return tableRef{}, false
	}
	if p.acceptPunct(".") {
		second, ok := p.ident()
		if !ok {
			return tableRef{}, false
		}
		return tableRef{Schema: first, Name: second}, true
	}
	return tableRef{Schema: p.schema, Name: first}, true
}

// nameList reads name {, name}.
func (p *ddlParser) nameList() []tableRef {
	var refs []tableRef
	for {
		r, ok := p.name()
		if !ok {
			return refs
		}
		refs = append(refs, r)
		if !p.acceptPunct(",") {
			return refs
		}
	}
}

func (p *ddlParser) parse() []tableRef {
	switch {
	case p.accept("ALTER"):
		return p.alter()
	case p.accept("DROP"):
		return p.drop()
	case p.accept("RENAME"):
		if !p.accept("TABLE") && !p.accept("TABLES") {
			return nil
		}
		p.accept("IF", "EXISTS")
		var refs []tableRef
		for {
			from, ok := p.name()
			if !ok {
				return refs
			}
			refs = append(refs, from)
			p.skipWait()
			if !p.accept("TO") {
				return refs
			}
			to, ok := p.name()
			if !ok {
				return refs
			}
			refs = append(refs, to)
			if !p.acceptPunct(",") {
				return refs
			}
		}
	case p.accept("TRUNCATE"):
		p.accept("TABLE")
		if r, ok := p.name(); ok {
			return []tableRef{r}
		}
	case p.accept("CREATE"):
		return p.create()
	}
	return nil
}

// skipWait skips MariaDB's WAIT n / NOWAIT.
func (p *ddlParser) skipWait() {
	if p.accept("WAIT") {
		p.i++
	}
	p.accept("NOWAIT")
}

func (p *ddlParser) alter() []tableRef {
	p.accept("ONLINE")
	p.accept("OFFLINE")
	p.accept("IGNORE")
	if !p.accept("TABLE") {
		return nil
	}
	p.accept("IF", "EXISTS")
	r, ok := p.name()
	if !ok {
		return nil
	}
	refs := []tableRef{r}
	// Later clauses that name another table.
	for p.i < len(p.toks) {
		switch {
		case p.accept("RENAME"):
			if p.accept("COLUMN") || p.accept("INDEX") || p.accept("KEY") || p.accept("CONSTRAINT") {
				continue
			}
			if !p.accept("TO") {
				p.accept("AS")
			}
			if to, ok := p.name(); ok {
				refs = append(refs, to)
			}
		case p.accept("WITH", "TABLE"):
			if t, ok := p.name(); ok {
				refs = append(refs, t)
			}
		default:
			p.i++
		}
	}
	return refs
}

func (p *ddlParser) drop() []tableRef {
	if p.accept("TEMPORARY") {
		return nil
	}
	switch {
	case p.accept("TABLE"), p.accept("TABLES"):
		p.accept("IF", "EXISTS")
		return p.nameList()
	case p.accept("DATABASE"), p.accept("SCHEMA"):
		p.accept("IF", "EXISTS")
		if db, ok := p.ident(); ok {
			return []tableRef{{Schema: db}}
		}
		return nil
	}
	p.accept("ONLINE")
	p.accept("OFFLINE")
	if !p.accept("INDEX") {
		return nil
	}
	p.accept("IF", "EXISTS")
	if _, ok := p.ident(); !ok {
		return nil
	}
	if !p.accept("ON") {
		return nil
	}
	if r, ok := p.name(); ok {
		return []tableRef{r}
	}
	return nil
}

func (p *ddlParser) create() []tableRef {
	p.accept("OR", "REPLACE")
	if p.accept("TEMPORARY") {
		return nil
	}
	if p.accept("TABLE") {
		p.accept("IF", "NOT", "EXISTS")
		if r, ok := p.name(); ok {
			return []tableRef{r}
		}
		return nil
	}
	p.accept("ONLINE")
	p.accept("OFFLINE")
	if !(p.accept("UNIQUE") || p.accept("FULLTEXT") || p.accept("SPATIAL")) && !p.peekWord("INDEX") {
		return nil
	}
	if !p.accept("INDEX") {
		return nil
	}
	p.accept("IF", "NOT", "EXISTS")
	if _, ok := p.ident(); !ok {
		return nil
	}
	if p.accept("USING") {
		p.i++
	}
	if !p.accept("ON") {
		return nil
	}
	if r, ok := p.name(); ok {
		return []tableRef{r}
	}
	return nil
}
