package transform

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"math/big"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform/phpserial"
)

// The built-in handlers: the generic ones of Magento's Data Migration Tool
// (src/Migration/Handler), shiplog's Expression, and the Magento-specific rest
// registered by name so that maps using them fail with a clear error.
func init() {
	Register("SetValue", newSetValue)
	Register("Convert", newConvert)
	Register("AddPrefix", newAddPrefix)
	Register("ConvertIp", newConvertIP(false))
	Register("ConvertBinaryIp", newConvertIP(true))
	Register("Timezone", newTimezone)
	Register("SerializeToJson", newSerializeToJSON)
	Register("FieldCopy", newFieldCopy)
	Register("SetHash", newSetHash)
	Register("ConvertTimestampToDate", newConvertTimestampToDate)
	Register("ConvertDateFormat", newConvertDateFormat)
	Register("GetEventStatus", newGetEventStatus)
	Register("TruncateSuffix", newTruncateSuffix)
	Register("Expression", newExpression)
}

// magentoOnlyHandlers are the handlers of Magento's tool that need Magento
// itself (its EAV tables, class maps, store structure or crypt key), with the
// reason shown to the user. GetDestinationValue is not here: the compiler
// implements it.
var magentoOnlyHandlers = map[string]string{
	`Eav\SetAttributeGroupCode`:                 "it needs Magento's EAV attribute groups",
	`EavAttribute\ConvertConfigurableAttribute`: "it needs Magento's EAV attribute data",
	`Rule\ConditionSql`:                         "it rewrites Magento rule conditions with the class map",
	`Rule\CustomerSegmentConditionSql`:          "it rewrites Magento customer segment conditions with the class map",
	`Rule\NormalizationIds`:                     "it needs Magento's rule and EAV tables",
	`Settings\Template`:                         "it needs Magento's email template tables",
	`Settings\VisualMerchandiserAttribute`:      "it needs Magento's visual merchandiser attributes",
	`Settings\VisualMerchandiserInsertMode`:     "it needs Magento's visual merchandiser configuration",
	`VisualMerchandiser\Attribute`:              "it needs Magento's visual merchandiser attributes",
	`VisualMerchandiser\InsertMode`:             "it needs Magento's visual merchandiser configuration",
	`VisualMerchandiser\SmartAttribute`:         "it needs Magento's visual merchandiser attributes",
}

func unsupportedHandler(name, why string) Factory {
	return func(Params, Binding) (Func, error) {
		return nil, fmt.Errorf("handler %s: %w: %s", name, ErrUnsupportedHandler, why)
	}
}

// hdlParams checks p against the required and optional param names and
// returns an error naming the handler and the param.
func hdlParams(handler string, p Params, required, optional []string) error {
	for _, r := range required {
		if _, ok := p[r]; !ok {
			return fmt.Errorf("handler %s: param '%s' is required", handler, r)
		}
	}
	for k := range p {
		known := false
		for _, n := range required {
			known = known || n == k
		}
		for _, n := range optional {
			known = known || n == k
		}
		if !known {
			return fmt.Errorf("handler %s: unknown param '%s'", handler, k)
		}
	}
	return nil
}

// hdlString is the string form of a canonical value, as PHP would see it;
// ok is false for NULL (whose string form is "").
func hdlString(v any) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case bool:
		if x {
			return "1", true
		}
		return "", true
	}
	return fmt.Sprint(v), true
}

// hdlTruthy is PHP's boolean conversion of a value read from the database:
// NULL, 0, 0.0, "" and "0" are false.
func hdlTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != "" && x != "0"
	case []byte:
		return len(x) != 0 && string(x) != "0"
	case int64:
		return x != 0
	case uint64:
		return x != 0
	case float32:
		return x != 0
	case float64:
		return x != 0
	case int:
		return x != 0
	case bool:
		return x
	}
	return true
}

// --- SetValue ---------------------------------------------------------------

var hdlDeltaRe = regexp.MustCompile(`^[+-](?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$`)

// newSetValue: SetValue(value). "NULL" (any case) sets NULL; "+N" / "-N" add
// to / subtract from the current numeric value (NULL stays NULL, a
// non-numeric value fails the row); anything else is set as a string.
func newSetValue(p Params, b Binding) (Func, error) {
	if err := hdlParams("SetValue", p, []string{"value"}, nil); err != nil {
		return nil, err
	}
	v := p["value"]
	if strings.EqualFold(v, "NULL") {
		return func(rec, _ []any) error { rec[b.Index] = nil; return nil }, nil
	}
	if !hdlDeltaRe.MatchString(v) {
		return func(rec, _ []any) error { rec[b.Index] = v; return nil }, nil
	}
	delta, ok := new(big.Rat).SetString(v)
	if !ok {
		return nil, fmt.Errorf("handler SetValue: param 'value': bad number %q", v)
	}
	deltaScale := 0
	if i := strings.IndexByte(v, '.'); i >= 0 {
		deltaScale = len(v) - i - 1
	}
	deltaInt := !strings.Contains(v, ".")
	deltaF, _ := delta.Float64()
	return func(rec, _ []any) error {
		out, err := hdlAdd(rec[b.Index], delta, deltaF, deltaInt, deltaScale)
		if err != nil {
			return fmt.Errorf("handler SetValue on %s.%s: %w", b.Table, b.Field, err)
		}
		rec[b.Index] = out
		return nil
	}, nil
}

var (
	hdlMinInt64 = big.NewInt(math.MinInt64)
	hdlMaxInt64 = big.NewInt(math.MaxInt64)
	hdlMaxUint  = new(big.Int).SetUint64(math.MaxUint64)
)

func hdlIntResult(r *big.Rat) (any, error) {
	n := r.Num()
	switch {
	case n.Cmp(hdlMinInt64) >= 0 && n.Cmp(hdlMaxInt64) <= 0:
		return n.Int64(), nil
	case n.Sign() > 0 && n.Cmp(hdlMaxUint) <= 0:
		return n.Uint64(), nil
	}
	return nil, fmt.Errorf("result %s out of range", n)
}

func hdlAdd(cur any, delta *big.Rat, deltaF float64, deltaInt bool, deltaScale int) (any, error) {
	switch x := cur.(type) {
	case nil:
		return nil, nil
	case float32:
		return float64(x) + deltaF, nil
	case float64:
		return x + deltaF, nil
	case int64:
		if !deltaInt {
			return float64(x) + deltaF, nil
		}
		return hdlIntResult(new(big.Rat).Add(new(big.Rat).SetInt64(x), delta))
	case uint64:
		if !deltaInt {
			return float64(x) + deltaF, nil
		}
		return hdlIntResult(new(big.Rat).Add(new(big.Rat).SetInt(new(big.Int).SetUint64(x)), delta))
	case string, []byte:
		s, _ := hdlString(x)
		s = strings.TrimSpace(s)
		if !hdlNumRe.MatchString(s) {
			return nil, fmt.Errorf("cannot add to non-numeric value %q", s)
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil, fmt.Errorf("cannot add to non-numeric value %q", s)
		}
		r.Add(r, delta)
		scale := deltaScale
		if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > scale {
			scale = len(s) - i - 1
		}
		if scale == 0 && !strings.Contains(s, ".") && deltaInt {
			return hdlIntResult(r)
		}
		return r.FloatString(scale), nil
	}
	return nil, fmt.Errorf("cannot add to a %T", cur)
}

var hdlNumRe = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$`)

// --- Convert ----------------------------------------------------------------

// newConvert: Convert(map "[a:b;c:d]", defaultValue). As in Magento, the map
// is parsed at compile time (each "key:value" record is trimmed; anything but
// exactly one ':' per record is an error); a value found in the map (by its
// string form; NULL looks up the empty key) is replaced, otherwise it gets
// defaultValue when one is given and is left unchanged when not. Magento
// ignores a defaultValue of "0" (PHP falsiness); shiplog honours it.
func newConvert(p Params, b Binding) (Func, error) {
	if err := hdlParams("Convert", p, []string{"map"}, []string{"defaultValue"}); err != nil {
		return nil, err
	}
	m, err := hdlParseMap(p["map"])
	if err != nil {
		return nil, fmt.Errorf("handler Convert: param 'map': %w", err)
	}
	def, hasDef := p["defaultValue"]
	hasDef = hasDef && def != ""
	return func(rec, _ []any) error {
		s, _ := hdlString(rec[b.Index])
		if to, ok := m[s]; ok {
			rec[b.Index] = to
		} else if hasDef {
			rec[b.Index] = def
		}
		return nil
	}, nil
}

func hdlParseMap(s string) (map[string]string, error) {
	body := strings.TrimLeft(strings.TrimRight(s, "]"), "[")
	m := map[string]string{}
	for _, rec := range strings.Split(body, ";") {
		kv := strings.Split(strings.Trim(rec, " \t\n\r\x00\x0b"), ":")
		if len(kv) != 2 {
			return nil, fmt.Errorf("invalid map %q: record %q is not key:value", s, rec)
		}
		m[kv[0]] = kv[1]
	}
	return m, nil
}

// --- AddPrefix --------------------------------------------------------------

// newAddPrefix: AddPrefix(prefix) prepends prefix to the value's string form.
// NULL stays NULL (Magento would store the bare prefix).
func newAddPrefix(p Params, b Binding) (Func, error) {
	if err := hdlParams("AddPrefix", p, []string{"prefix"}, nil); err != nil {
		return nil, err
	}
	prefix := p["prefix"]
	return func(rec, _ []any) error {
		if s, ok := hdlString(rec[b.Index]); ok {
			rec[b.Index] = prefix + s
		}
		return nil
	}, nil
}

// --- ConvertIp, ConvertBinaryIp ------------------------------------------

// newConvertIP: ConvertIp turns IPv4 text, or a 4-byte binary address
// (inet_pton form), into an integer (Magento's ip2long, as int64). IPv6 text
// or 16-byte binary becomes 0, as the reference stores it (ip2long fails on
// IPv6; a 128-bit value would not fit the BIGINT column either, which would
// clamp it). Anything else becomes 0. Integers already in the IPv4 range are
// kept, so replaying a row is harmless.
// ConvertBinaryIp is the same but, like Magento's, leaves empty values alone.
func newConvertIP(keepEmpty bool) Factory {
	name := "ConvertIp"
	if keepEmpty {
		name = "ConvertBinaryIp"
	}
	return func(p Params, b Binding) (Func, error) {
		if err := hdlParams(name, p, nil, nil); err != nil {
			return nil, err
		}
		return func(rec, _ []any) error {
			v := rec[b.Index]
			if keepEmpty && !hdlTruthy(v) {
				return nil
			}
			rec[b.Index] = hdlIPToInt(v)
			return nil
		}, nil
	}
}

func hdlIPToInt(v any) any {
	var raw []byte
	switch x := v.(type) {
	case int64:
		if x >= 0 && x <= math.MaxUint32 {
			return x
		}
		return int64(0)
	case uint64:
		if x <= math.MaxUint32 {
			return int64(x)
		}
		return int64(0)
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	default:
		return int64(0)
	}
	addr, err := netip.ParseAddr(string(raw))
	if err != nil || addr.Zone() != "" {
		switch len(raw) {
		case 4:
			addr = netip.AddrFrom4([4]byte(raw))
		case 16:
			addr = netip.AddrFrom16([16]byte(raw))
		default:
			return int64(0)
		}
	}
	if !addr.Is4() {
		return int64(0) // IPv6 (IPv4-mapped too): ip2long fails
	}
	a := addr.As4()
	return int64(a[0])<<24 | int64(a[1])<<16 | int64(a[2])<<8 | int64(a[3])
}

// --- Timezone ---------------------------------------------------------------

// newTimezone: Timezone(offset) shifts the value by offset hours (an integer
// from -14 to +12): integer columns hold unix seconds, datetime/timestamp
// columns 'YYYY-MM-DD HH:MM:SS[.ffffff]' text (fraction kept). Empty values,
// zero dates and offset 0 are left alone; other columns types are refused, as
// Magento does.
func newTimezone(p Params, b Binding) (Func, error) {
	if err := hdlParams("Timezone", p, []string{"offset"}, nil); err != nil {
		return nil, err
	}
	off, err := strconv.Atoi(strings.TrimSpace(p["offset"]))
	if err != nil || off < -14 || off > 12 {
		return nil, fmt.Errorf("handler Timezone: param 'offset': must be an integer between -14 and +12, got %q", p["offset"])
	}
	if !hdlTimezoneType(b.Column) {
		return nil, fmt.Errorf("handler Timezone: field %s.%s: data type %q is not supported (int, datetime or timestamp)", b.Table, b.Field, b.Column.DataType)
	}
	shift := int64(off) * 3600
	return func(rec, _ []any) error {
		v := rec[b.Index]
		if off == 0 || !hdlTruthy(v) {
			return nil
		}
		out, err := hdlShift(v, shift)
		if err != nil {
			return fmt.Errorf("handler Timezone on %s.%s: %w", b.Table, b.Field, err)
		}
		rec[b.Index] = out
		return nil
	}, nil
}

func hdlTimezoneType(c cdc.Column) bool {
	switch c.Kind() {
	case cdc.KindInt, cdc.KindUint:
		return true
	}
	switch c.DataType {
	case "", "datetime", "timestamp":
		return true
	}
	return false
}

const hdlDateTime = "2006-01-02 15:04:05"

func hdlShift(v any, shift int64) (any, error) {
	switch x := v.(type) {
	case int64:
		return x + shift, nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("timestamp %d out of range", x)
		}
		return int64(x) + shift, nil
	case string, []byte:
		s, _ := hdlString(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n + shift, nil
		}
		if strings.HasPrefix(s, "0000-00-00") {
			return v, nil
		}
		if len(s) < len(hdlDateTime) {
			return nil, fmt.Errorf("bad datetime %q", s)
		}
		t, err := time.Parse(hdlDateTime, s[:len(hdlDateTime)])
		frac := s[len(hdlDateTime):]
		if err != nil || (frac != "" && !hdlFracRe.MatchString(frac)) {
			return nil, fmt.Errorf("bad datetime %q", s)
		}
		return t.Add(time.Duration(shift)*time.Second).Format(hdlDateTime) + frac, nil
	}
	return nil, fmt.Errorf("cannot shift a %T", v)
}

var hdlFracRe = regexp.MustCompile(`^\.[0-9]{1,9}$`)

// --- SerializeToJson --------------------------------------------------------

// newSerializeToJSON: SerializeToJson(migrateBrokenData, suppressWarning),
// both booleans ("1"/"0"/"true"/"false"). A PHP-serialized value becomes its
// JSON (as PHP's json_encode(unserialize($v)) prints it). NULL and "" are
// left alone, and so is a value that already is a JSON object or array.
// Data that does not unserialize (or has no JSON form: INF, NAN, non-UTF-8
// strings) becomes NULL with a warning when migrateBrokenData is true (the
// default, as in Magento) unless suppressWarning; otherwise it fails the row.
func newSerializeToJSON(p Params, b Binding) (Func, error) {
	const name = "SerializeToJson"
	if err := hdlParams(name, p, nil, []string{"migrateBrokenData", "suppressWarning"}); err != nil {
		return nil, err
	}
	migrate, err := hdlBool(name, p, "migrateBrokenData", true)
	if err != nil {
		return nil, err
	}
	quiet, err := hdlBool(name, p, "suppressWarning", false)
	if err != nil {
		return nil, err
	}
	return func(rec, _ []any) error {
		out, conv, err := serialToJSON(rec[b.Index])
		if err == nil {
			if conv {
				rec[b.Index] = out
			}
			return nil
		}
		if !migrate {
			return fmt.Errorf("handler SerializeToJson on %s.%s: %w", b.Table, b.Field, err)
		}
		if !quiet {
			serialWarnBroken("SerializeToJson", b, rec, err)
		}
		rec[b.Index] = nil
		return nil
	}, nil
}

// serialToJSON is SerializeToJson's conversion of one value: conv is
// false for values left alone (see serialDecode); err is the reason data is
// broken (it does not unserialize, or has no JSON form: INF, NAN, non-UTF-8
// strings).
func serialToJSON(v any) (out string, conv bool, err error) {
	u, conv, err := serialDecode(v)
	if !conv || err != nil {
		return "", false, err
	}
	j, err := phpserial.ToJSON(u)
	if err != nil {
		return "", false, err
	}
	return string(j), true, nil
}

// serialDecode unserializes v as SerializeToJson does: conv is false for
// values left alone: NULL, "", and a JSON object or array already (so a
// replayed row is not broken data).
func serialDecode(v any) (u any, conv bool, err error) {
	var raw []byte
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case []byte:
		raw = x
	default:
		// Numbers are no serialized data: they fail as broken data.
		s, _ := hdlString(x)
		raw = []byte(s)
	}
	if len(raw) == 0 {
		return nil, false, nil
	}
	if t := strings.TrimSpace(string(raw)); t != "" && (t[0] == '{' || t[0] == '[') && json.Valid(raw) {
		return nil, false, nil
	}
	if u, err = phpserial.Unmarshal(raw); err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// serialWarnBroken logs that the value of b's field in rec is broken
// serialized data, migrated as NULL.
func serialWarnBroken(handler string, b Binding, rec []any, err error) {
	args := []any{"handler", handler, "table", b.Table, "field", b.Field, "error", err}
	if b.Rec != nil && len(b.Rec.Key) > 0 && len(rec) == len(b.Rec.Columns) {
		args = append(args, "key", fmt.Sprint(b.Rec.KeyOf(rec)))
	}
	hdlWarn("could not unserialize data; migrating NULL", args...)
}

// hdlWarn logs handler warnings (a variable for tests).
var hdlWarn = func(msg string, args ...any) { slog.Warn(msg, args...) }

func hdlBool(handler string, p Params, name string, def bool) (bool, error) {
	v, ok := p[name]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("handler %s: param '%s': want 1, 0, true or false, got %q", handler, name, v)
}

// --- FieldCopy --------------------------------------------------------------

// newFieldCopy: FieldCopy(fieldCopy) sets this field to the value of the
// record's field fieldCopy when that value is true in PHP's sense (not NULL,
// 0, 0.0, "" or "0"), as Magento's does.
func newFieldCopy(p Params, b Binding) (Func, error) {
	if err := hdlParams("FieldCopy", p, []string{"fieldCopy"}, nil); err != nil {
		return nil, err
	}
	from, err := b.IndexOf(p["fieldCopy"])
	if err != nil {
		return nil, fmt.Errorf("handler FieldCopy: param 'fieldCopy': %w", err)
	}
	return func(rec, _ []any) error {
		if v := rec[from]; hdlTruthy(v) {
			rec[b.Index] = v
		}
		return nil
	}, nil
}

// --- SetHash ----------------------------------------------------------------

// newSetHash: SetHash(hash, baseField) sets this field to the hash of
// baseField's string form (NULL hashes as ""). hash is crc32 (the default;
// an int64 like PHP's crc32()), md5, sha1 or sha256 (lower-case hex). As in
// Magento, baseField is read from the opposite record; when that table has
// no such field, from this record.
func newSetHash(p Params, b Binding) (Func, error) {
	if err := hdlParams("SetHash", p, []string{"baseField"}, []string{"hash"}); err != nil {
		return nil, err
	}
	alg := strings.ToLower(strings.TrimSpace(p["hash"]))
	if alg == "" {
		alg = "crc32"
	}
	var sum func([]byte) any
	switch alg {
	case "crc32":
		sum = func(d []byte) any { return int64(crc32.ChecksumIEEE(d)) }
	case "md5":
		sum = func(d []byte) any { h := md5.Sum(d); return hex.EncodeToString(h[:]) }
	case "sha1":
		sum = func(d []byte) any { h := sha1.Sum(d); return hex.EncodeToString(h[:]) }
	case "sha256":
		sum = func(d []byte) any { h := sha256.Sum256(d); return hex.EncodeToString(h[:]) }
	default:
		return nil, fmt.Errorf("handler SetHash: param 'hash': %q is not supported (crc32, md5, sha1, sha256)", p["hash"])
	}
	base := p["baseField"]
	fromOther, idx := false, -1
	if b.Other != nil {
		if i := b.Other.ColumnIndex(base); i >= 0 {
			fromOther, idx = true, i
		}
	}
	if idx < 0 {
		i, err := b.IndexOf(base)
		if err != nil {
			return nil, fmt.Errorf("handler SetHash: param 'baseField': %w", err)
		}
		idx = i
	}
	return func(rec, other []any) error {
		src := rec
		if fromOther {
			src = other
		}
		if idx >= len(src) {
			return fmt.Errorf("handler SetHash on %s.%s: field %s is missing from the record", b.Table, b.Field, base)
		}
		var d []byte
		if bs, ok := src[idx].([]byte); ok {
			d = bs
		} else {
			s, _ := hdlString(src[idx])
			d = []byte(s)
		}
		rec[b.Index] = sum(d)
		return nil
	}, nil
}

// --- ConvertTimestampToDate -------------------------------------------------

// newConvertTimestampToDate: a numeric, non-zero unix timestamp becomes
// 'Y-m-d H:i:s' in UTC; NULL, 0, "" and non-numeric values are left alone.
// Magento's also requires the record's frontend_input to be 'date' (it is
// written for eav_attribute.default_value); shiplog does the same when the
// record has a frontend_input field.
func newConvertTimestampToDate(p Params, b Binding) (Func, error) {
	if err := hdlParams("ConvertTimestampToDate", p, nil, nil); err != nil {
		return nil, err
	}
	fi := -1
	if b.Rec != nil {
		fi = b.Rec.ColumnIndex("frontend_input")
	}
	return func(rec, _ []any) error {
		v := rec[b.Index]
		if !hdlTruthy(v) {
			return nil
		}
		if fi >= 0 && fi < len(rec) {
			if s, _ := hdlString(rec[fi]); s != "date" {
				return nil
			}
		}
		var sec int64
		switch x := v.(type) {
		case int64:
			sec = x
		case uint64:
			if x > math.MaxInt64 {
				return nil
			}
			sec = int64(x)
		case float32, float64, string, []byte:
			s, _ := hdlString(x)
			s = strings.TrimSpace(s)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				sec = n
			} else if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 1e15 && hdlNumericRe.MatchString(s) {
				sec = int64(f)
			} else {
				return nil
			}
		default:
			return nil
		}
		rec[b.Index] = time.Unix(sec, 0).UTC().Format(hdlDateTime)
		return nil
	}, nil
}

// hdlNumericRe is PHP's is_numeric for decimal strings.
var hdlNumericRe = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// --- ConvertDateFormat ------------------------------------------------------

// hdlDateFormats is Magento's ConvertDateFormat: Magento 1's named date
// formats in configuration XML become IntlDateFormatter constants.
var hdlDateFormats = strings.NewReplacer(
	"<date_format>full</date_format>", "<date_format>0</date_format>",
	"<date_format>long</date_format>", "<date_format>1</date_format>",
	"<date_format>medium</date_format>", "<date_format>2</date_format>",
	"<date_format>short</date_format>", "<date_format>3</date_format>",
)

func newConvertDateFormat(p Params, b Binding) (Func, error) {
	if err := hdlParams("ConvertDateFormat", p, nil, nil); err != nil {
		return nil, err
	}
	return func(rec, _ []any) error {
		switch x := rec[b.Index].(type) {
		case string:
			rec[b.Index] = hdlDateFormats.Replace(x)
		case []byte:
			rec[b.Index] = hdlDateFormats.Replace(string(x))
		}
		return nil
	}, nil
}

// --- GetEventStatus ---------------------------------------------------------

// hdlNow is the clock of GetEventStatus (a variable for tests).
var hdlNow = time.Now

// newGetEventStatus: Magento's catalog event status from the record's
// date_start and date_end ('Y-m-d H:i:s' text compared with now in UTC):
// 0 open, 1 upcoming, 2 closed.
func newGetEventStatus(p Params, b Binding) (Func, error) {
	if err := hdlParams("GetEventStatus", p, nil, nil); err != nil {
		return nil, err
	}
	si, err := b.IndexOf("date_start")
	if err != nil {
		return nil, fmt.Errorf("handler GetEventStatus: %w", err)
	}
	ei, err := b.IndexOf("date_end")
	if err != nil {
		return nil, fmt.Errorf("handler GetEventStatus: %w", err)
	}
	return func(rec, _ []any) error {
		now := hdlNow().UTC().Format(hdlDateTime)
		start, _ := hdlString(rec[si])
		end, _ := hdlString(rec[ei])
		switch {
		case start <= now && end > now:
			rec[b.Index] = int64(0)
		case start > now && end > now:
			rec[b.Index] = int64(1)
		default:
			rec[b.Index] = int64(2)
		}
		return nil
	}, nil
}

// --- TruncateSuffix ---------------------------------------------------------

// newTruncateSuffix: TruncateSuffix(suffixPath, attributeCodes,
// entityTypeCode), Magento's, for the source's EAV value tables: in records
// whose attribute_id is one of the attributes attributeCodes ("[url_key,
// url_path]") of the entity type entityTypeCode, it removes the URL suffix
// from the end of the value once. The suffix is the source's
// core_config_data value at path suffixPath (the default-scope row when
// there is one, else the first), ".html" when there is none or it is "" or
// "0". As PCRE's '$' does, a suffix before a final newline is removed too.
// The tables are looked up on the source and read again when they change;
// an unknown entity type, or none of the codes known, fails the row. NULL
// stays NULL (the reference would store "").
//
// shiplog's own form TruncateSuffix(suffix) removes the given suffix the same
// way from the value of every record (an empty suffix removes nothing).
func newTruncateSuffix(p Params, b Binding) (Func, error) {
	const name = "TruncateSuffix"
	if _, ok := p["suffix"]; ok {
		if len(p) > 1 {
			return nil, fmt.Errorf("handler %s: param 'suffix' goes alone; Magento's form takes suffixPath, attributeCodes and entityTypeCode instead", name)
		}
		suffix := p["suffix"]
		return func(rec, _ []any) error {
			if s, ok := hdlString(rec[b.Index]); ok && suffix != "" {
				if t, cut := hdlCutSuffix(s, suffix); cut {
					rec[b.Index] = t
				}
			}
			return nil
		}, nil
	}
	if err := hdlParams(name, p, []string{"suffixPath", "attributeCodes", "entityTypeCode"}, nil); err != nil {
		return nil, fmt.Errorf("%w (or param 'suffix' alone)", err)
	}
	var codes []string
	for _, c := range strings.Split(strings.TrimLeft(strings.TrimRight(p["attributeCodes"], "]"), "["), ",") {
		if c = strings.TrimSpace(c); c != "" {
			codes = append(codes, c)
		}
	}
	if len(codes) == 0 {
		return nil, fmt.Errorf("handler %s: param 'attributeCodes' names no attribute; want a list such as [url_key,url_path]", name)
	}
	ai, err := b.IndexOf("attribute_id")
	if err != nil {
		return nil, fmt.Errorf("handler %s selects records by attribute_id (an EAV value table's field): %w", name, err)
	}
	l, err := b.Env.NeedLookups(name)
	if err != nil {
		return nil, err
	}
	ts := &hdlTruncSuffix{
		path: p["suffixPath"], codes: codes, typeCode: p["entityTypeCode"],
		config: l.Table(SideSource, "core_config_data"),
		attrs:  l.Table(SideSource, "eav_attribute"),
		types:  l.Table(SideSource, "eav_entity_type"),
	}
	return func(rec, _ []any) error {
		id, ok := hdlString(rec[ai])
		if !ok {
			return nil
		}
		suffix, ids, err := ts.get()
		if err != nil {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		if !ids[id] {
			return nil
		}
		if s, ok := hdlString(rec[b.Index]); ok {
			if t, cut := hdlCutSuffix(s, suffix); cut {
				rec[b.Index] = t
			}
		}
		return nil
	}, nil
}

// hdlCutSuffix removes suffix from the end of s, or from before a final
// newline.
func hdlCutSuffix(s, suffix string) (string, bool) {
	if t, ok := strings.CutSuffix(s, suffix); ok {
		return t, true
	}
	if t, ok := strings.CutSuffix(s, suffix+"\n"); ok {
		return t + "\n", true
	}
	return s, false
}

// hdlTruncSuffix is TruncateSuffix's suffix and attribute ids, worked out
// again only when a looked-up table was read again.
type hdlTruncSuffix struct {
	path, typeCode       string
	codes                []string
	config, attrs, types *LookupTable

	mu     sync.Mutex
	from   [3]*LookupRows
	suffix string
	ids    map[string]bool
}

func (ts *hdlTruncSuffix) get() (string, map[string]bool, error) {
	var from [3]*LookupRows
	for i, t := range []*LookupTable{ts.config, ts.attrs, ts.types} {
		r, err := t.Rows()
		if err != nil {
			return "", nil, err
		}
		from[i] = r
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.ids != nil && ts.from == from {
		return ts.suffix, ts.ids, nil
	}
	config, attrs, types := from[0], from[1], from[2]
	suffix := ".html"
	if rows := config.Find([]string{"path"}, ts.path); len(rows) > 0 {
		pick := rows[0]
		for _, r := range rows {
			if s, _ := config.Str(r, "scope"); s == "default" {
				pick = r
				break
			}
		}
		if v, ok := config.Str(pick, "value"); ok && v != "" && v != "0" {
			suffix = v
		}
	}
	typeIDs := types.Find([]string{"entity_type_code"}, ts.typeCode)
	if len(typeIDs) == 0 {
		return "", nil, fmt.Errorf("entity type %q (param 'entityTypeCode') is not in the source's eav_entity_type", ts.typeCode)
	}
	tid, _ := types.Str(typeIDs[0], "entity_type_id")
	ids := map[string]bool{}
	var missing []string
	for _, c := range ts.codes {
		rows := attrs.Find([]string{"attribute_code", "entity_type_id"}, c, tid)
		for _, r := range rows {
			if id, ok := attrs.Str(r, "attribute_id"); ok {
				ids[id] = true
			}
		}
		if len(rows) == 0 {
			missing = append(missing, c)
		}
	}
	if len(ids) == 0 {
		return "", nil, fmt.Errorf("none of the attributes %s (param 'attributeCodes') of entity type %s is in the source's eav_attribute", strings.Join(ts.codes, ", "), ts.typeCode)
	}
	if len(missing) > 0 {
		hdlWarn("TruncateSuffix: attributes not in the source's eav_attribute; their values are left alone", "entity_type", ts.typeCode, "attributes", strings.Join(missing, ","))
	}
	ts.from, ts.suffix, ts.ids = from, suffix, ids
	return suffix, ids, nil
}
