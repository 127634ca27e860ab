package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ReadM2CryptKey returns the Magento 2 key(s) of Magento 2's app/etc/env.php
// at path: the string at 'crypt' => ['key' => '...'] of the array the file
// returns (several keys, separated by whitespace or newlines, are returned
// as one string, as Magento keeps them). The key is a secret: no error
// quotes the file's content.
func ReadM2CryptKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("m2_env_php: %w", err)
	}
	v, err := parsePHPReturn(string(data))
	if err != nil {
		return "", fmt.Errorf("m2_env_php %s: %w (want Magento 2's app/etc/env.php, a PHP file returning an array)", path, err)
	}
	top, ok := v.(phpArray)
	if !ok {
		return "", fmt.Errorf("m2_env_php %s: the file does not return an array (want Magento 2's app/etc/env.php)", path)
	}
	crypt, ok := top.get("crypt").(phpArray)
	if !ok {
		return "", fmt.Errorf("m2_env_php %s: no 'crypt' => ['key' => ...] entry: is it Magento 2's app/etc/env.php of an installed store? (or set option m2_crypt_key instead)", path)
	}
	key, ok := crypt.get("key").(string)
	if !ok || strings.TrimSpace(key) == "" {
		return "", fmt.Errorf("m2_env_php %s: 'crypt' has no non-empty string 'key' (or set option m2_crypt_key instead)", path)
	}
	return key, nil
}

// phpArray is a PHP array literal's entries in order; keys are strings
// (integer keys as their decimal text), values string, phpArray or
// phpOther.
type phpArray []phpEntry

type phpEntry struct {
	key string
	val any
}

// phpOther is a value the parser skips over (a number, a constant, true,
// null): the key is a string, nothing else matters here.
type phpOther struct{}

func (a phpArray) get(key string) any {
	var out any
	for _, e := range a {
		if e.key == key {
			out = e.val // PHP keeps the last of duplicate keys
		}
	}
	return out
}

// phpParser reads the small PHP subset env.php is written in: `<?php`,
// comments, `return` of an array literal ([...] or array(...)) of
// strings, numbers, constants and arrays, and `;`.
type phpParser struct {
	s    string
	i    int
	line int
}

var errPHPEnd = errors.New("unexpected end of file")

func parsePHPReturn(s string) (any, error) {
	p := &phpParser{s: s, line: 1}
	p.skipSpace()
	if !p.eat("<?php") {
		return nil, p.errf("no <?php at the start")
	}
	p.skipSpace()
	if !p.word("return") {
		return nil, p.errf("want `return` of an array")
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eat(";") {
		return nil, p.errf("want `;` after the returned array")
	}
	return v, nil
}

func (p *phpParser) errf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *phpParser) skipSpace() {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\n':
			p.line++
			p.i++
		case c == ' ' || c == '\t' || c == '\r':
			p.i++
		case c == '#' || strings.HasPrefix(p.s[p.i:], "//"):
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case strings.HasPrefix(p.s[p.i:], "/*"):
			end := strings.Index(p.s[p.i+2:], "*/")
			if end < 0 {
				p.i = len(p.s)
				return
			}
			p.line += strings.Count(p.s[p.i:p.i+2+end], "\n")
			p.i += end + 4
		default:
			return
		}
	}
}

func (p *phpParser) eat(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

// word eats keyword w (case-insensitive, as PHP reads keywords) when it is
// not the start of a longer name.
func (p *phpParser) word(w string) bool {
	if len(p.s)-p.i < len(w) || !strings.EqualFold(p.s[p.i:p.i+len(w)], w) {
		return false
	}
	if j := p.i + len(w); j < len(p.s) && isNameByte(p.s[j]) {
		return false
	}
	p.i += len(w)
	return true
}

func isNameByte(c byte) bool {
	return c == '_' || c == '\\' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func (p *phpParser) value() (any, error) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.errf("%v", errPHPEnd)
	}
	switch c := p.s[p.i]; {
	case c == '[':
		p.i++
		return p.array("]")
	case c == '\'' || c == '"':
		return p.str()
	case p.word("array"):
		p.skipSpace()
		if !p.eat("(") {
			return nil, p.errf("want ( after array")
		}
		return p.array(")")
	case c == '-' || c == '+' || c == '.' || isNameByte(c):
		// A number, true/false/null or a constant (Foo::BAR).
		for p.i < len(p.s) && (isNameByte(p.s[p.i]) || strings.ContainsRune("-+.:", rune(p.s[p.i]))) {
			p.i++
		}
		return phpOther{}, nil
	default:
		return nil, p.errf("unexpected character %q", c)
	}
}

func (p *phpParser) array(closer string) (phpArray, error) {
	var out phpArray
	next := 0
	for {
		p.skipSpace()
		if p.eat(closer) {
			return out, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		e := phpEntry{val: v}
		if p.eat("=>") {
			switch k := v.(type) {
			case string:
				e.key = k
			case phpOther:
				e.key = "" // a numeric or constant key: never 'crypt' or 'key'
			default:
				return nil, p.errf("an array cannot be a key")
			}
			if e.val, err = p.value(); err != nil {
				return nil, err
			}
			p.skipSpace()
		} else {
			e.key = fmt.Sprint(next)
			next++
		}
		out = append(out, e)
		if p.eat(",") {
			continue
		}
		if p.eat(closer) {
			return out, nil
		}
		if p.i >= len(p.s) {
			return nil, p.errf("%v: an array is not closed with %s", errPHPEnd, closer)
		}
		return nil, p.errf("want , or %s in an array", closer)
	}
}

// str reads a quoted string. In single quotes only \' and \\ are escapes;
// in double quotes the usual ones are, and a $ would interpolate a
// variable, which a configuration file does not do: it is an error.
func (p *phpParser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\n':
			p.line++
		case c == '\\' && p.i+1 < len(p.s):
			n := p.s[p.i+1]
			if q == '\'' {
				if n == '\'' || n == '\\' {
					b.WriteByte(n)
					p.i += 2
					continue
				}
				break
			}
			if r, ok := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'v': '\v', 'f': '\f', 'e': 0x1b,
				'\\': '\\', '$': '$', '"': '"'}[n]; ok {
				b.WriteByte(r)
				p.i += 2
				continue
			}
		case c == '$' && q == '"':
			return "", p.errf("a double-quoted string with a variable ($) cannot be read")
		}
		b.WriteByte(c)
		p.i++
	}
	return "", p.errf("%v: a string is not closed", errPHPEnd)
}
