package phpserial

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// Round trips: Unmarshal then Marshal gives the input back, and ToJSON gives
// what PHP's json_encode(unserialize($in)) prints.
func TestRoundTripAndJSON(t *testing.T) {
	tests := []struct {
		name, in, json string
	}{
		{"null", `N;`, `null`},
		{"true", `b:1;`, `true`},
		{"false", `b:0;`, `false`},
		{"int", `i:42;`, `42`},
		{"negative int", `i:-17;`, `-17`},
		{"min int", `i:-9223372036854775808;`, `-9223372036854775808`},
		{"double", `d:0.1;`, `0.1`},
		{"negative double", `d:-12.5;`, `-12.5`},
		{"integral double", `d:10;`, `10`},
		{"small double", `d:1.0E-5;`, `1.0e-5`},
		{"small double plain", `d:0.0001;`, `0.0001`},
		{"big double", `d:1.0E+25;`, `1.0e+25`},
		{"big double plain", `d:10000000000000000;`, `10000000000000000`},
		{"big double boundary", `d:1.0E+17;`, `1.0e+17`},
		{"double digits exp", `d:1.2345E+30;`, `1.2345e+30`},
		{"zero double", `d:0;`, `0`},
		{"empty string", `s:0:"";`, `""`},
		{"string with quotes and semicolons", `s:9:"a";b:"c;d";`, `"a\";b:\"c;d"`},
		{"utf8 multibyte byte length", `s:10:"Grüße€";`, `"Gr\u00fc\u00dfe\u20ac"`},
		{"astral", `s:4:"😀";`, `"\ud83d\ude00"`},
		{"slashes and controls", "s:8:\"a/b\\\n\t\x01x\";", `"a\/b\\\n\t\u0001x"`},
		{"list", `a:3:{i:0;s:1:"a";i:1;i:2;i:2;N;}`, `["a",2,null]`},
		{"empty array", `a:0:{}`, `[]`},
		{"not a list: gap", `a:2:{i:0;s:1:"a";i:2;s:1:"b";}`, `{"0":"a","2":"b"}`},
		{"not a list: order", `a:2:{i:1;s:1:"a";i:0;s:1:"b";}`, `{"1":"a","0":"b"}`},
		{"assoc", `a:2:{s:3:"qty";d:2;s:7:"options";a:0:{}}`, `{"qty":2,"options":[]}`},
		{
			"magento buy request",
			`a:4:{s:4:"uenc";s:8:"aHR0cA,,";s:7:"product";s:3:"123";s:15:"super_attribute";a:2:{i:92;s:2:"15";i:180;s:3:"102";}s:3:"qty";d:1.5;}`,
			`{"uenc":"aHR0cA,,","product":"123","super_attribute":{"92":"15","180":"102"},"qty":1.5}`,
		},
		{
			"magento product options nested",
			`a:2:{s:15:"info_buyRequest";a:2:{s:7:"options";a:1:{i:5;a:2:{s:4:"date";s:10:"2024-01-02";s:4:"time";b:0;}}s:3:"qty";i:-1;}s:7:"options";a:1:{i:0;a:3:{s:5:"label";s:7:"Größe";s:5:"value";s:1:"M";s:9:"option_id";i:7;}}}`,
			`{"info_buyRequest":{"options":{"5":{"date":"2024-01-02","time":false}},"qty":-1},"options":[{"label":"Gr\u00f6\u00dfe","value":"M","option_id":7}]}`,
		},
		{
			"object with private and protected props",
			"O:13:\"Varien_Object\":3:{s:5:\"title\";s:1:\"x\";s:8:\"\x00*\x00_data\";a:1:{s:2:\"id\";i:3;}s:20:\"\x00Varien_Object\x00_hash\";s:2:\"ab\";}",
			`{"title":"x","_data":{"id":3},"_hash":"ab"}`,
		},
		{"empty object", `O:8:"stdClass":0:{}`, `{}`},
		{"object in array", `a:1:{i:0;O:8:"stdClass":1:{s:1:"a";i:1;}}`, `[{"a":1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Unmarshal([]byte(tt.in))
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			back, err := Marshal(v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(back) != tt.in {
				t.Errorf("round trip:\n got %q\nwant %q", back, tt.in)
			}
			j, err := ToJSON(v)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			if string(j) != tt.json {
				t.Errorf("json:\n got %s\nwant %s", j, tt.json)
			}
		})
	}
}

func TestUnmarshalValues(t *testing.T) {
	v, err := Unmarshal([]byte(`a:3:{s:1:"5";s:1:"a";s:2:"05";s:1:"b";s:2:"-3";d:-0.5;}`))
	if err != nil {
		t.Fatal(err)
	}
	a := v.(*Array)
	if len(a.Entries) != 3 || a.Entries[0].Key != int64(5) || a.Entries[1].Key != "05" || a.Entries[2].Key != int64(-3) || a.Entries[2].Value != -0.5 {
		t.Errorf("numeric string keys: %#v", a.Entries)
	}
	// A repeated key replaces the earlier value in place.
	v, err = Unmarshal([]byte(`a:3:{i:0;s:1:"a";i:1;s:1:"b";s:1:"0";s:1:"c";}`))
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := ToJSON(v); string(j) != `["c","b"]` {
		t.Errorf("duplicate key: %s", j)
	}
	// Many duplicates (the map path).
	in := `a:10:{` + strings.Repeat(`i:1;i:2;`, 10) + `}`
	v, err = Unmarshal([]byte(in))
	if err != nil || len(v.(*Array).Entries) != 1 {
		t.Errorf("duplicates: %v %v", v, err)
	}
	for in, want := range map[string]float64{`d:INF;`: math.Inf(1), `d:-INF;`: math.Inf(-1), `d:1e400;`: math.Inf(1), `d:.5;`: 0.5, `d:5.;`: 5, `d:+1.5e3;`: 1500} {
		v, err := Unmarshal([]byte(in))
		if err != nil || v != want {
			t.Errorf("%s: %v %v", in, v, err)
		}
	}
	v, err = Unmarshal([]byte(`d:NAN;`))
	if f, ok := v.(float64); err != nil || !ok || !math.IsNaN(f) {
		t.Errorf("NAN: %v %v", v, err)
	}
	if _, err := ToJSON(v); !errors.Is(err, ErrJSON) {
		t.Errorf("ToJSON(NAN): %v", err)
	}
	// Binary-safe strings, trailing data ignored as PHP does.
	v, err = Unmarshal([]byte("s:3:\"\x00\"\xff\";trailing"))
	if err != nil || v != "\x00\"\xff" {
		t.Errorf("binary string: %q %v", v, err)
	}
	if _, err := ToJSON(v); !errors.Is(err, ErrJSON) {
		t.Errorf("ToJSON(invalid UTF-8): %v", err)
	}
	if b, _ := Marshal(math.Inf(-1)); string(b) != "d:-INF;" {
		t.Errorf("Marshal(-INF) = %s", b)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct {
		in          string
		unsupported bool
	}{
		{in: ``},
		{in: `N`},
		{in: `x:1;`},
		{in: `b:2;`},
		{in: `b:1`},
		{in: `i:;`},
		{in: `i:1.5;`},
		{in: `i:99999999999999999999;`},
		{in: `d:abc;`},
		{in: `d:1e;`},
		{in: `d:.;`},
		{in: `s:5:"abc";`},
		{in: `s:3:"abcd";`},
		{in: `s:-1:"";`},
		{in: `s:3:"abc"`},
		{in: `s:99999999999:"abc";`},
		{in: `a:1:{i:0;i:1;`},
		{in: `a:2:{i:0;i:1;}`},
		{in: `a:1000000:{}`},
		{in: `a:1:{d:1.5;i:1;}`},
		{in: `a:1:{a:0:{}i:1;}`},
		{in: `a:1:{N;i:1;}`},
		{in: `O:0:"":0:{}`},
		{in: `O:3:"Foo":1:{s:1:"a";}`},
		{in: `{"already":"json"}`},
		{in: `a:1:{i:0;r:1;}`, unsupported: true},
		{in: `a:1:{i:0;R:1;}`, unsupported: true},
		{in: `C:11:"ArrayObject":21:{x:i:0;a:0:{};m:a:0:{}}`, unsupported: true},
		{in: `E:7:"Foo:Bar";`, unsupported: true},
		{in: `S:1:"\61";`, unsupported: true},
	}
	for _, tt := range tests {
		_, err := Unmarshal([]byte(tt.in))
		if err == nil {
			t.Errorf("Unmarshal(%q): no error", tt.in)
			continue
		}
		if errors.Is(err, ErrUnsupported) != tt.unsupported {
			t.Errorf("Unmarshal(%q): %v, unsupported=%v", tt.in, err, tt.unsupported)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("a:1:{i:0;", 600) + "N;" + strings.Repeat("}", 600)
	if _, err := Unmarshal([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Errorf("deep: %v", err)
	}
	ok := strings.Repeat("a:1:{i:0;", 10) + "N;" + strings.Repeat("}", 10)
	if _, err := (Options{MaxDepth: 10}).Unmarshal([]byte(ok)); err != nil {
		t.Errorf("depth 10 with MaxDepth 10: %v", err)
	}
	if _, err := (Options{MaxDepth: 9}).Unmarshal([]byte(ok)); err == nil {
		t.Errorf("depth 10 with MaxDepth 9: no error")
	}
	if _, err := (Options{MaxSize: 5}).Unmarshal([]byte(`s:3:"abc";`)); err == nil {
		t.Errorf("MaxSize: no error")
	}
}

func TestPropName(t *testing.T) {
	for in, want := range map[string]string{"a": "a", "\x00*\x00a": "a", "\x00Foo\x00bar": "bar", "\x00broken": "\x00broken", "": ""} {
		if got := PropName(in); got != want {
			t.Errorf("PropName(%q) = %q, want %q", in, got, want)
		}
	}
}
