// Package phpserial decodes PHP's serialize() format and encodes the result as
// PHP's json_encode() would, for migrating serialized columns to JSON.
//
// Supported: N; b:; i:; d: (including INF, -INF and NAN); s:len:"..." (len is
// a byte length, the content is binary safe); a:n:{...} arrays; O:len:"Class":n:{...}
// objects. Not supported (an error): r:/R: references, C: custom-serialized
// objects, E: enums and S: escaped strings. Decoding has depth and size limits
// and never panics; bytes after the first complete value are ignored, as PHP's
// unserialize() does.
package phpserial

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Default limits of Unmarshal.
const (
	DefaultMaxDepth = 512
	DefaultMaxSize  = 64 << 20
)

// Array is a PHP array: an ordered map whose keys are int64 or string. Keys
// are unique; string keys that PHP would store as integers ("5", "-3") are
// stored as int64, as unserialize() does.
type Array struct {
	Entries []Entry
}

// Object is a PHP object of class Class. Props keep their serialized names:
// protected properties start with "\x00*\x00", private ones with
// "\x00Class\x00"; see PropName.
type Object struct {
	Class string
	Props []Entry
}

// Entry is one key (int64 or string) and value of an Array or Object.
type Entry struct {
	Key   any
	Value any
}

// IsList reports whether a's keys are 0..n-1 in order, the arrays PHP's
// json_encode writes as JSON arrays.
func (a *Array) IsList() bool {
	for i, e := range a.Entries {
		if k, ok := e.Key.(int64); !ok || k != int64(i) {
			return false
		}
	}
	return true
}

// PropName strips the visibility prefix of a serialized property name:
// "\x00*\x00name" and "\x00Class\x00name" become "name".
func PropName(name string) string {
	if len(name) > 0 && name[0] == 0 {
		for i := 1; i < len(name); i++ {
			if name[i] == 0 {
				return name[i+1:]
			}
		}
	}
	return name
}

// SyntaxError reports malformed input at a byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("phpserial: %s at offset %d", e.Msg, e.Offset)
}

// ErrUnsupported is wrapped by errors for valid PHP serializations this
// package does not decode (references, custom-serialized objects, enums).
var ErrUnsupported = errors.New("phpserial: unsupported")

// Options are decoding limits; zero fields take the defaults.
type Options struct {
	// MaxDepth is the deepest nesting of arrays and objects accepted.
	MaxDepth int
	// MaxSize is the longest input accepted, in bytes.
	MaxSize int
}

// Unmarshal decodes one PHP-serialized value with the default limits. The
// result is nil, bool, int64, float64, string, *Array or *Object.
func Unmarshal(data []byte) (any, error) {
	return Options{}.Unmarshal(data)
}

// Unmarshal decodes one PHP-serialized value with o's limits.
func (o Options) Unmarshal(data []byte) (any, error) {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if len(data) > o.MaxSize {
		return nil, fmt.Errorf("phpserial: input of %d bytes exceeds the limit of %d", len(data), o.MaxSize)
	}
	d := decoder{buf: data, maxDepth: o.MaxDepth}
	return d.value(0)
}

type decoder struct {
	buf      []byte
	pos      int
	maxDepth int
}

func (d *decoder) errf(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) expect(c byte) error {
	if d.pos >= len(d.buf) {
		return d.errf("unexpected end of data, want %q", c)
	}
	if d.buf[d.pos] != c {
		return d.errf("want %q, got %q", c, d.buf[d.pos])
	}
	d.pos++
	return nil
}

// until returns the bytes up to (not including) the next c and moves past c.
func (d *decoder) until(c byte) ([]byte, error) {
	for i := d.pos; i < len(d.buf); i++ {
		if d.buf[i] == c {
			tok := d.buf[d.pos:i]
			d.pos = i + 1
			return tok, nil
		}
	}
	return nil, d.errf("unexpected end of data, want %q", c)
}

// length reads an unsigned decimal length followed by ':'.
func (d *decoder) length() (int, error) {
	start := d.pos
	tok, err := d.until(':')
	if err != nil {
		return 0, err
	}
	if len(tok) == 0 || len(tok) > 10 {
		d.pos = start
		return 0, d.errf("bad length %q", tok)
	}
	n := 0
	for _, c := range tok {
		if c < '0' || c > '9' {
			d.pos = start
			return 0, d.errf("bad length %q", tok)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func (d *decoder) value(depth int) (any, error) {
	if d.pos+1 >= len(d.buf) {
		return nil, d.errf("unexpected end of data")
	}
	t := d.buf[d.pos]
	if t == 'N' {
		d.pos++
		if err := d.expect(';'); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if d.buf[d.pos+1] != ':' {
		return nil, d.errf("bad type %q", t)
	}
	d.pos += 2
	switch t {
	case 'b':
		tok, err := d.until(';')
		if err != nil {
			return nil, err
		}
		switch string(tok) {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, d.errf("bad boolean %q", tok)
	case 'i':
		start := d.pos
		tok, err := d.until(';')
		if err != nil {
			return nil, err
		}
		if !isInt(tok) {
			d.pos = start
			return nil, d.errf("bad integer %q", tok)
		}
		n, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			d.pos = start
			return nil, d.errf("integer %q out of range", tok)
		}
		return n, nil
	case 'd':
		start := d.pos
		tok, err := d.until(';')
		if err != nil {
			return nil, err
		}
		f, ok := parseDouble(tok)
		if !ok {
			d.pos = start
			return nil, d.errf("bad double %q", tok)
		}
		return f, nil
	case 's':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		if err := d.expect(';'); err != nil {
			return nil, err
		}
		return s, nil
	case 'a':
		return d.array(depth)
	case 'O':
		return d.object(depth)
	case 'r', 'R':
		return nil, fmt.Errorf("%w: reference %q at offset %d", ErrUnsupported, t, d.pos-2)
	case 'C':
		return nil, fmt.Errorf("%w: custom-serialized object at offset %d", ErrUnsupported, d.pos-2)
	case 'E':
		return nil, fmt.Errorf("%w: enum at offset %d", ErrUnsupported, d.pos-2)
	case 'S':
		return nil, fmt.Errorf("%w: escaped string at offset %d", ErrUnsupported, d.pos-2)
	}
	d.pos -= 2
	return nil, d.errf("bad type %q", t)
}

// str reads len:"bytes" (without the trailing ';').
func (d *decoder) str() (string, error) {
	n, err := d.length()
	if err != nil {
		return "", err
	}
	if err := d.expect('"'); err != nil {
		return "", err
	}
	if n > len(d.buf)-d.pos {
		return "", d.errf("string length %d runs past the end of data", n)
	}
	s := string(d.buf[d.pos : d.pos+n])
	d.pos += n
	if err := d.expect('"'); err != nil {
		return "", err
	}
	return s, nil
}

// members reads n:{key;value...} into entries; keys are int64 or string.
func (d *decoder) members(depth int, object bool) ([]Entry, error) {
	if depth >= d.maxDepth {
		return nil, d.errf("nesting deeper than %d", d.maxDepth)
	}
	n, err := d.length()
	if err != nil {
		return nil, err
	}
	if err := d.expect('{'); err != nil {
		return nil, err
	}
	// Each member takes at least 4 bytes ("N;N;" is the shortest pair).
	if n > (len(d.buf)-d.pos)/4 {
		return nil, d.errf("%d members cannot fit in the remaining data", n)
	}
	entries := make([]Entry, 0, n)
	var index map[any]int
	if n > 8 {
		index = make(map[any]int, n)
	}
	for i := 0; i < n; i++ {
		at := d.pos
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		switch kk := k.(type) {
		case int64:
			if object {
				k = strconv.FormatInt(kk, 10)
			}
		case string:
			if !object {
				if n, ok := numericKey(kk); ok {
					k = n
				}
			}
		default:
			d.pos = at
			return nil, d.errf("bad key type %T", k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		// A repeated key replaces the value in place, as PHP does.
		j := -1
		if index != nil {
			if p, ok := index[k]; ok {
				j = p
			}
		} else {
			for p := range entries {
				if entries[p].Key == k {
					j = p
					break
				}
			}
		}
		if j >= 0 {
			entries[j].Value = v
			continue
		}
		if index != nil {
			index[k] = len(entries)
		}
		entries = append(entries, Entry{Key: k, Value: v})
	}
	if err := d.expect('}'); err != nil {
		return nil, err
	}
	return entries, nil
}

func (d *decoder) array(depth int) (any, error) {
	e, err := d.members(depth, false)
	if err != nil {
		return nil, err
	}
	return &Array{Entries: e}, nil
}

func (d *decoder) object(depth int) (any, error) {
	class, err := d.str()
	if err != nil {
		return nil, err
	}
	if class == "" {
		return nil, d.errf("empty class name")
	}
	if err := d.expect(':'); err != nil {
		return nil, err
	}
	e, err := d.members(depth, true)
	if err != nil {
		return nil, err
	}
	return &Object{Class: class, Props: e}, nil
}

// isInt reports whether tok is [+-]?[0-9]+.
func isInt(tok []byte) bool {
	if len(tok) > 0 && (tok[0] == '+' || tok[0] == '-') {
		tok = tok[1:]
	}
	if len(tok) == 0 {
		return false
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseDouble accepts PHP's serialized doubles: [+-]?digits with an optional
// fraction and exponent, NAN, INF and -INF.
func parseDouble(tok []byte) (float64, bool) {
	switch string(tok) {
	case "NAN":
		return math.NaN(), true
	case "INF":
		return math.Inf(1), true
	case "-INF":
		return math.Inf(-1), true
	}
	i := 0
	if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
		i++
	}
	digits := 0
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
		digits++
	}
	if i < len(tok) && tok[i] == '.' {
		i++
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		exp := 0
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(tok) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		// Out of range: PHP gives ±INF or 0, as ParseFloat's value does.
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// numericKey reports whether PHP stores the string key s as an integer:
// a canonical decimal ("0", "-12", not "012", "-0" or "+1") within int64.
func numericKey(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	t := s
	if t[0] == '-' {
		t = t[1:]
	}
	if t == "" || (t[0] == '0' && (len(t) > 1 || len(s) != len(t))) {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
