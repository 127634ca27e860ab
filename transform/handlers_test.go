package transform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/cdc"
)

// hdlTestTable has the columns the handler tests use.
var hdlTestTable = &cdc.Table{Name: "t", Key: []int{0}, Columns: []cdc.Column{
	{Name: "id", DataType: "int"},
	{Name: "f", DataType: "varchar"},
	{Name: "other", DataType: "varchar"},
	{Name: "ts", DataType: "int", Unsigned: true},
	{Name: "dt", DataType: "datetime"},
	{Name: "frontend_input", DataType: "varchar"},
	{Name: "date_start", DataType: "datetime"},
	{Name: "date_end", DataType: "datetime"},
	{Name: "d", DataType: "date"},
}}

var hdlOtherTable = &cdc.Table{Name: "o", Columns: []cdc.Column{{Name: "email", DataType: "varchar"}}}

func hdlBind(field string) Binding {
	i := hdlTestTable.ColumnIndex(field)
	return Binding{Area: "source", Table: "t", Field: field, Index: i, Column: hdlTestTable.Columns[i], Rec: hdlTestTable, Other: hdlOtherTable}
}

type hdlCase struct {
	name    string
	params  Params
	field   string // default "f"
	in      any    // value of the field
	set     map[string]any
	other   []any
	want    any
	wantErr string // run-time error substring
}

func hdlRun(t *testing.T, handler string, cases []hdlCase) {
	t.Helper()
	f, ok := LookupHandler(handler)
	if !ok {
		t.Fatalf("handler %s not registered", handler)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			field := tc.field
			if field == "" {
				field = "f"
			}
			b := hdlBind(field)
			fn, err := f(tc.params, b)
			if err != nil {
				t.Fatalf("factory: %v", err)
			}
			rec := make([]any, len(hdlTestTable.Columns))
			for k, v := range tc.set {
				rec[hdlTestTable.ColumnIndex(k)] = v
			}
			rec[b.Index] = tc.in
			other := tc.other
			if other == nil {
				other = make([]any, len(hdlOtherTable.Columns))
			}
			err = fn(rec, other)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !hdlEqual(rec[b.Index], tc.want) {
				t.Errorf("got %#v, want %#v", rec[b.Index], tc.want)
			}
		})
	}
}

func hdlEqual(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && string(ab) == string(bb)
	}
	return a == b
}

type hdlParamCase struct {
	params Params
	field  string
	want   string // error substring
}

func hdlParamErrors(t *testing.T, handler string, cases []hdlParamCase) {
	t.Helper()
	f, _ := LookupHandler(handler)
	for _, tc := range cases {
		field := tc.field
		if field == "" {
			field = "f"
		}
		_, err := f(tc.params, hdlBind(field))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), handler) {
			t.Errorf("%s%v: error %v, want one naming %s and %q", handler, tc.params, err, handler, tc.want)
		}
	}
}

func TestSetValue(t *testing.T) {
	hdlRun(t, "SetValue", []hdlCase{
		{name: "literal", params: Params{"value": "abc"}, in: []byte("x"), want: "abc"},
		{name: "empty", params: Params{"value": ""}, in: "x", want: ""},
		{name: "NULL", params: Params{"value": "NULL"}, in: "x", want: nil},
		{name: "null any case", params: Params{"value": "null"}, in: int64(5), want: nil},
		{name: "zero", params: Params{"value": "0"}, in: int64(5), want: "0"},
		{name: "add int", params: Params{"value": "+10"}, in: int64(5), want: int64(15)},
		{name: "subtract int", params: Params{"value": "-10"}, in: int64(5), want: int64(-5)},
		{name: "add uint", params: Params{"value": "+1"}, in: uint64(18446744073709551614), want: uint64(18446744073709551615)},
		{name: "uint overflow", params: Params{"value": "+2"}, in: uint64(18446744073709551614), wantErr: "out of range"},
		{name: "add float", params: Params{"value": "+0.5"}, in: float64(1.25), want: 1.75},
		{name: "add float32", params: Params{"value": "+1"}, in: float32(0.5), want: 1.5},
		{name: "int plus fraction", params: Params{"value": "+0.5"}, in: int64(1), want: 1.5},
		{name: "decimal string", params: Params{"value": "+1"}, in: "-12.340", want: "-11.340"},
		{name: "decimal scale", params: Params{"value": "-0.005"}, in: "1.10", want: "1.095"},
		{name: "integer text", params: Params{"value": "+7"}, in: []byte("35"), want: int64(42)},
		{name: "null stays", params: Params{"value": "+7"}, in: nil, want: nil},
		{name: "non-numeric", params: Params{"value": "+7"}, in: "abc", wantErr: "non-numeric"},
		{name: "sign without number is literal", params: Params{"value": "-x"}, in: int64(1), want: "-x"},
	})
	hdlParamErrors(t, "SetValue", []hdlParamCase{
		{Params{}, "", "'value' is required"},
		{Params{"value": "1", "x": "y"}, "", "unknown param 'x'"},
	})
}

func TestConvert(t *testing.T) {
	m := Params{"map": "[0:1; 1:0 ;yes:Y]"}
	hdlRun(t, "Convert", []hdlCase{
		{name: "int", params: m, in: int64(0), want: "1"},
		{name: "trimmed record", params: m, in: "1", want: "0"},
		{name: "bytes", params: m, in: []byte("yes"), want: "Y"},
		{name: "unmatched unchanged", params: m, in: "no", want: "no"},
		{name: "unmatched default", params: Params{"map": "[a:b]", "defaultValue": "z"}, in: "no", want: "z"},
		{name: "default zero", params: Params{"map": "[a:b]", "defaultValue": "0"}, in: uint64(9), want: "0"},
		{name: "empty default ignored", params: Params{"map": "[a:b]", "defaultValue": ""}, in: "q", want: "q"},
		{name: "null looks up empty key", params: Params{"map": "[:none;a:b]"}, in: nil, want: "none"},
		{name: "null unmatched", params: m, in: nil, want: nil},
		{name: "float", params: Params{"map": "[1.5:x]"}, in: 1.5, want: "x"},
	})
	hdlParamErrors(t, "Convert", []hdlParamCase{
		{Params{}, "", "'map' is required"},
		{Params{"map": "[]"}, "", "invalid map"},
		{Params{"map": "[a:b;]"}, "", "invalid map"},
		{Params{"map": "[a:b:c]"}, "", "invalid map"},
		{Params{"map": "[a:b]", "default": "x"}, "", "unknown param 'default'"},
	})
}

func TestAddPrefix(t *testing.T) {
	p := Params{"prefix": "m1_"}
	hdlRun(t, "AddPrefix", []hdlCase{
		{name: "string", params: p, in: "x", want: "m1_x"},
		{name: "bytes", params: p, in: []byte("x"), want: "m1_x"},
		{name: "empty", params: p, in: "", want: "m1_"},
		{name: "int", params: p, in: int64(-4), want: "m1_-4"},
		{name: "uint", params: p, in: uint64(4), want: "m1_4"},
		{name: "float", params: p, in: 1.5, want: "m1_1.5"},
		{name: "float32", params: p, in: float32(0.1), want: "m1_0.1"},
		{name: "null", params: p, in: nil, want: nil},
	})
	hdlParamErrors(t, "AddPrefix", []hdlParamCase{{Params{}, "", "'prefix' is required"}})
}

func TestConvertIp(t *testing.T) {
	hdlRun(t, "ConvertIp", []hdlCase{
		{name: "ipv4 text", in: "192.168.1.1", want: int64(3232235777)},
		{name: "ipv4 bytes text", in: []byte("10.0.0.1"), want: int64(167772161)},
		{name: "ipv4 binary", in: []byte{192, 168, 1, 1}, want: int64(3232235777)},
		// The reference's ip2long fails on IPv6: 0, never a clamped BIGINT.
		{name: "ipv6 text", in: "2001:db8::1", want: int64(0)},
		{name: "ipv6 binary", in: []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, want: int64(0)},
		{name: "ipv6 loopback", in: "::1", want: int64(0)},
		{name: "4in6", in: "::ffff:1.2.3.4", want: int64(0)},
		{name: "ipv6 max", in: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", want: int64(0)},
		{name: "zone refused", in: "fe80::1%eth0", want: int64(0)},
		{name: "leading zeros refused", in: "01.2.3.4", want: int64(0)},
		{name: "garbage", in: "not an ip", want: int64(0)},
		{name: "empty", in: "", want: int64(0)},
		{name: "null", in: nil, want: int64(0)},
		{name: "already converted", in: int64(3232235777), want: int64(3232235777)},
		{name: "uint converted", in: uint64(1), want: int64(1)},
		{name: "negative int", in: int64(-1), want: int64(0)},
		{name: "float", in: 1.5, want: int64(0)},
	})
	hdlRun(t, "ConvertBinaryIp", []hdlCase{
		{name: "binary", in: []byte{127, 0, 0, 1}, want: int64(2130706433)},
		{name: "null kept", in: nil, want: nil},
		{name: "empty kept", in: []byte{}, want: []byte{}},
	})
	hdlParamErrors(t, "ConvertIp", []hdlParamCase{{Params{"x": "1"}, "", "unknown param 'x'"}})
}

func TestTimezone(t *testing.T) {
	hdlRun(t, "Timezone", []hdlCase{
		{name: "int plus", field: "id", params: Params{"offset": "+2"}, in: int64(1000), want: int64(8200)},
		{name: "uint minus", field: "ts", params: Params{"offset": "-1"}, in: uint64(7200), want: int64(3600)},
		{name: "datetime", field: "dt", params: Params{"offset": "3"}, in: "2024-12-31 22:30:00", want: "2025-01-01 01:30:00"},
		{name: "datetime bytes fraction", field: "dt", params: Params{"offset": "-14"}, in: []byte("2024-03-01 10:00:00.123456"), want: "2024-02-29 20:00:00.123456"},
		{name: "zero date", field: "dt", params: Params{"offset": "3"}, in: "0000-00-00 00:00:00", want: "0000-00-00 00:00:00"},
		{name: "null", field: "dt", params: Params{"offset": "3"}, in: nil, want: nil},
		{name: "zero int", field: "id", params: Params{"offset": "3"}, in: int64(0), want: int64(0)},
		{name: "offset zero", field: "dt", params: Params{"offset": "0"}, in: "2024-01-01 00:00:00", want: "2024-01-01 00:00:00"},
		{name: "max", field: "id", params: Params{"offset": "12"}, in: int64(1), want: int64(43201)},
		{name: "bad datetime", field: "dt", params: Params{"offset": "1"}, in: "yesterday", wantErr: "bad datetime"},
		{name: "bad month", field: "dt", params: Params{"offset": "1"}, in: "2024-13-01 00:00:00", wantErr: "bad datetime"},
		{name: "float", field: "id", params: Params{"offset": "1"}, in: 1.5, wantErr: "cannot shift"},
	})
	hdlParamErrors(t, "Timezone", []hdlParamCase{
		{Params{}, "dt", "'offset' is required"},
		{Params{"offset": "13"}, "dt", "'offset'"},
		{Params{"offset": "-15"}, "dt", "'offset'"},
		{Params{"offset": "1.5"}, "dt", "'offset'"},
		{Params{"offset": "abc"}, "dt", "'offset'"},
		{Params{"offset": "1"}, "d", "not supported"},
		{Params{"offset": "1"}, "f", "not supported"},
	})
}

func TestSerializeToJson(t *testing.T) {
	var warned []string
	old := hdlWarn
	hdlWarn = func(msg string, args ...any) { warned = append(warned, msg) }
	defer func() { hdlWarn = old }()
	broken := `a:1:{s:3:"abc";i:1;` // truncated
	hdlRun(t, "SerializeToJson", []hdlCase{
		{name: "array", in: `a:2:{s:3:"qty";i:2;s:4:"opts";a:2:{i:0;s:1:"a";i:1;d:0.5;}}`, want: `{"qty":2,"opts":["a",0.5]}`},
		{name: "bytes", in: []byte(`s:7:"Größe";`), want: `"Gr\u00f6\u00dfe"`},
		{name: "object", in: "O:8:\"stdClass\":1:{s:4:\"\x00*\x00a\";b:1;}", want: `{"a":true}`},
		{name: "null", in: nil, want: nil},
		{name: "empty", in: "", want: ""},
		{name: "empty bytes", in: []byte{}, want: []byte{}},
		{name: "already json", in: `{"a":1}`, want: `{"a":1}`},
		{name: "already json list", in: []byte(` [1,2]`), want: []byte(` [1,2]`)},
		{name: "broken default migrates null", in: broken, want: nil},
		{name: "broken explicit", params: Params{"migrateBrokenData": "1", "suppressWarning": "1"}, in: broken, want: nil},
		{name: "broken fails", params: Params{"migrateBrokenData": "0"}, in: broken, wantErr: "SerializeToJson"},
		{name: "broken false", params: Params{"migrateBrokenData": "false"}, in: "{not json", wantErr: "SerializeToJson"},
		{name: "INF fails", params: Params{"migrateBrokenData": "0"}, in: "d:INF;", wantErr: "JSON"},
		{name: "number is broken", params: Params{"migrateBrokenData": "0"}, in: int64(5), wantErr: "SerializeToJson"},
	})
	if len(warned) != 1 {
		t.Errorf("warnings: %q, want one (the suppressed one not counted)", warned)
	}
	hdlParamErrors(t, "SerializeToJson", []hdlParamCase{
		{Params{"migrateBrokenData": "yes"}, "", "'migrateBrokenData'"},
		{Params{"suppressWarning": "2"}, "", "'suppressWarning'"},
		{Params{"migrate": "1"}, "", "unknown param 'migrate'"},
	})
}

func TestFieldCopy(t *testing.T) {
	p := Params{"fieldCopy": "other"}
	hdlRun(t, "FieldCopy", []hdlCase{
		{name: "copies", params: p, in: "old", set: map[string]any{"other": []byte("new")}, want: []byte("new")},
		{name: "int", params: p, in: "old", set: map[string]any{"other": int64(3)}, want: int64(3)},
		{name: "null not copied", params: p, in: "old", want: "old"},
		{name: "empty not copied", params: p, in: "old", set: map[string]any{"other": ""}, want: "old"},
		{name: "zero string not copied", params: p, in: "old", set: map[string]any{"other": []byte("0")}, want: "old"},
		{name: "zero not copied", params: p, in: "old", set: map[string]any{"other": uint64(0)}, want: "old"},
		{name: "zero float not copied", params: p, in: "old", set: map[string]any{"other": 0.0}, want: "old"},
		{name: "decimal zero copied (PHP string)", params: p, in: "old", set: map[string]any{"other": "0.00"}, want: "0.00"},
	})
	hdlParamErrors(t, "FieldCopy", []hdlParamCase{
		{Params{}, "", "'fieldCopy' is required"},
		{Params{"fieldCopy": "nope"}, "", "nope"},
	})
}

func TestSetHash(t *testing.T) {
	hdlRun(t, "SetHash", []hdlCase{
		{name: "crc32 default from this record", params: Params{"baseField": "other"}, set: map[string]any{"other": "The quick brown fox jumped over the lazy dog."}, want: int64(2191738434)},
		{name: "crc32 of int", params: Params{"hash": "crc32", "baseField": "id"}, set: map[string]any{"id": int64(1)}, want: int64(2212294583)},
		{name: "crc32 of null", params: Params{"baseField": "other"}, want: int64(0)},
		{name: "md5", params: Params{"hash": "md5", "baseField": "other"}, set: map[string]any{"other": []byte("abc")}, want: "900150983cd24fb0d6963f7d28e17f72"},
		{name: "sha1", params: Params{"hash": "SHA1", "baseField": "other"}, set: map[string]any{"other": "abc"}, want: "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{name: "sha256", params: Params{"hash": "sha256", "baseField": "other"}, set: map[string]any{"other": "abc"}, want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "opposite record first", params: Params{"hash": "md5", "baseField": "email"}, other: []any{"abc"}, want: "900150983cd24fb0d6963f7d28e17f72"},
	})
	hdlParamErrors(t, "SetHash", []hdlParamCase{
		{Params{"hash": "crc32"}, "", "'baseField' is required"},
		{Params{"baseField": "other", "hash": "sha512"}, "", "'hash'"},
		{Params{"baseField": "missing"}, "", "missing"},
	})
}

func TestConvertTimestampToDate(t *testing.T) {
	date := map[string]any{"frontend_input": "date"}
	hdlRun(t, "ConvertTimestampToDate", []hdlCase{
		{name: "int", set: date, in: int64(1700000000), want: "2023-11-14 22:13:20"},
		{name: "uint", set: date, in: uint64(86400), want: "1970-01-02 00:00:00"},
		{name: "text", set: date, in: []byte("1700000000"), want: "2023-11-14 22:13:20"},
		{name: "float text truncated", set: date, in: "86400.9", want: "1970-01-02 00:00:00"},
		{name: "float", set: date, in: 86400.5, want: "1970-01-02 00:00:00"},
		{name: "negative", set: date, in: int64(-86400), want: "1969-12-31 00:00:00"},
		{name: "zero kept", set: date, in: int64(0), want: int64(0)},
		{name: "null kept", set: date, in: nil, want: nil},
		{name: "non-numeric kept", set: date, in: "2024-01-01", want: "2024-01-01"},
		{name: "frontend_input not date", set: map[string]any{"frontend_input": "text"}, in: int64(5), want: int64(5)},
	})
	hdlParamErrors(t, "ConvertTimestampToDate", []hdlParamCase{{Params{"x": ""}, "", "unknown param 'x'"}})
}

func TestConvertDateFormat(t *testing.T) {
	hdlRun(t, "ConvertDateFormat", []hdlCase{
		{name: "all", in: "<a><date_format>full</date_format><date_format>short</date_format></a>", want: "<a><date_format>0</date_format><date_format>3</date_format></a>"},
		{name: "bytes", in: []byte("<date_format>medium</date_format>"), want: "<date_format>2</date_format>"},
		{name: "null", in: nil, want: nil},
	})
}

func TestGetEventStatus(t *testing.T) {
	old := hdlNow
	hdlNow = func() time.Time { return time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC) }
	defer func() { hdlNow = old }()
	hdlRun(t, "GetEventStatus", []hdlCase{
		{name: "open", set: map[string]any{"date_start": "2024-01-01 00:00:00", "date_end": "2025-01-01 00:00:00"}, want: int64(0)},
		{name: "upcoming", set: map[string]any{"date_start": "2024-07-01 00:00:00", "date_end": []byte("2025-01-01 00:00:00")}, want: int64(1)},
		{name: "closed", set: map[string]any{"date_start": "2024-01-01 00:00:00", "date_end": "2024-02-01 00:00:00"}, want: int64(2)},
		{name: "null end closed", set: map[string]any{"date_start": "2024-01-01 00:00:00"}, want: int64(2)},
	})
}

func TestTruncateSuffix(t *testing.T) {
	p := Params{"suffix": ".html"}
	hdlRun(t, "TruncateSuffix", []hdlCase{
		{name: "string", params: p, in: "shoes.html", want: "shoes"},
		{name: "once", params: p, in: []byte("a.html.html"), want: "a.html"},
		{name: "absent", params: p, in: "shoes.htm", want: "shoes.htm"},
		{name: "null", params: p, in: nil, want: nil},
		{name: "empty suffix", params: Params{"suffix": ""}, in: "x", want: "x"},
	})
	hdlParamErrors(t, "TruncateSuffix", []hdlParamCase{{Params{}, "", "'suffix' is required"}})
	f, _ := LookupHandler("TruncateSuffix")
	if _, err := f(Params{"suffixPath": "catalog/seo/product_url_suffix", "attributeCodes": "[url_key]", "entityTypeCode": "catalog_product"}, hdlBind("f")); !errors.Is(err, ErrUnsupportedHandler) {
		t.Errorf("Magento form: %v", err)
	}
}

func TestHandlerRegistry(t *testing.T) {
	for _, n := range []string{"SetValue", `\Migration\Handler\Convert`, "addprefix", "ConvertIp", "ConvertBinaryIp", "Timezone",
		"SerializeToJson", "FieldCopy", "SetHash", "ConvertTimestampToDate", "ConvertDateFormat", "GetEventStatus", "TruncateSuffix", "Expression"} {
		if _, ok := LookupHandler(n); !ok {
			t.Errorf("%s not registered", n)
		}
	}
	if _, ok := LookupHandler("GetDestinationValue"); ok {
		t.Errorf("GetDestinationValue must be left to the compiler")
	}
	for name := range magentoOnlyHandlers {
		registryMu.RLock()
		_, built := registry[canonicalHandlerName(name)]
		registryMu.RUnlock()
		if built {
			continue // registered since: its line leaves the table at merge
		}
		f, ok := LookupHandler(`\Migration\Handler\` + name)
		if !ok {
			t.Errorf("%s not registered", name)
			continue
		}
		_, err := f(Params{}, hdlBind("f"))
		if !errors.Is(err, ErrUnsupportedHandler) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, ok := LookupHandler(`Rule\ConditionSql`); !ok {
		t.Errorf(`Rule\ConditionSql not registered by its namespaced name`)
	}
}
