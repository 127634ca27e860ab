package transform

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The golden test pins what the map and settings readers make of every real
// file: the stock maps of Magento's Data Migration Tool (the shared fixtures
// beside the checkout), the examples and the testdata. For each file it
// compares the Rules (origins included) or the exact error with
// testdata/golden/<file>.golden, and the outcome of systematic mutations of
// the testdata files (each element renamed, dropped, emptied, doubled, given
// an attribute or text; each YAML line dropped, doubled, its key or value
// changed) with <file>.mutations.golden, so that every error message stays
// byte for byte the same.
//
// Regenerate (only when a change of output is intended):
//
//	go test -run TestMapFilesGolden ./transform -update

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the current readers")

// goldenInput is a file to read, under a stable name (the file name in
// errors and origins).
type goldenInput struct {
	name, path string
}

// magentoFixturesDir is the folder of the real Magento files (the shared
// fixtures beside the checkout); a missing folder fails the test.
func magentoFixturesDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{filepath.Join("..", "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		if _, err := os.Stat(filepath.Join(d, "dmt", "etc")); err == nil {
			return d
		}
	}
	t.Fatalf("the Magento fixtures (../shared/fixtures/magento beside the checkout) are missing")
	return ""
}

func goldenInputs(t *testing.T) []goldenInput {
	t.Helper()
	var in []goldenInput
	isMapFile := func(base string) bool {
		return (strings.HasPrefix(base, "map") || strings.HasPrefix(base, "settings")) &&
			regexp.MustCompile(`\.(xml|yaml|yml)(\.dist)?$`).MatchString(base)
	}
	walk := func(root, prefix string) {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !isMapFile(d.Name()) {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			in = append(in, goldenInput{name: prefix + filepath.ToSlash(rel), path: path})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	walk(magentoFixturesDir(t), "fixtures/magento/")
	walk(filepath.Join("..", "examples"), "examples/")
	walk(filepath.Join("testdata", "maps"), "transform/testdata/maps/")
	sort.Slice(in, func(i, j int) bool { return in[i].name < in[j].name })
	if len(in) < 25 {
		t.Fatalf("found only %d map files: %v", len(in), in)
	}
	return in
}

// parseGolden reads data as a map or settings file, by name.
func parseGolden(name string, data []byte) (any, error) {
	format := "xml"
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		format = "yaml"
	}
	if strings.HasPrefix(filepath.Base(name), "settings") {
		return ParseSettings(name, data, format)
	}
	return ParseMap(name, data, format)
}

// dumpResult is the deterministic form of a parse: the JSON of the rules or
// the error with its type.
func dumpResult(v any, err error) string {
	if err != nil {
		return fmt.Sprintf("error %T: %s\n", err, err)
	}
	b, jerr := json.MarshalIndent(v, "", "  ")
	if jerr != nil {
		panic(jerr)
	}
	return string(b) + "\n"
}

// shortResult is a one-line form of a parse: the error, or a hash of the rules.
func shortResult(v any, err error) string {
	if err != nil {
		return fmt.Sprintf("error %T: %q", err, err.Error())
	}
	b, jerr := json.Marshal(v)
	if jerr != nil {
		panic(jerr)
	}
	return fmt.Sprintf("ok %x", sha256.Sum256(b))
}

func TestMapFilesGolden(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	if *updateGolden {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range goldenInputs(t) {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel() // each input is read and written on its own
			data, err := os.ReadFile(in.path)
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Join(dir, strings.ReplaceAll(in.name, "/", "__"))
			checkGolden(t, base+".golden", dumpResult(parseGolden(in.name, data)))

			ms := mutations(t, in.name, data)
			if len(ms) == 0 {
				return
			}
			var b strings.Builder
			for _, m := range ms {
				fmt.Fprintf(&b, "%s\t%s\n", m.id, shortResult(parseGolden(in.name, m.data)))
			}
			checkGolden(t, base+".mutations.golden", b.String())
		})
	}
}

func checkGolden(t *testing.T, file, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\n got %s\nwant %s", file, i+1, g, w)
		}
	}
}

type mutation struct {
	id   string
	data []byte
}

// mutations returns the mutated forms of a file: only the testdata files,
// which hold every construct of both forms, to keep the test fast.
func mutations(t *testing.T, name string, data []byte) []mutation {
	if !strings.HasPrefix(name, "transform/testdata/") {
		return nil
	}
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		return yamlMutations(data)
	}
	return xmlMutations(t, data)
}

var (
	yamlKeyRE   = regexp.MustCompile(`^(\s*(?:-\s+)?)([A-Za-z_]+):`)
	yamlValueRE = regexp.MustCompile(`^(\s*(?:-\s+)?[A-Za-z_]+:\s*)(\S.*)$`)
	yamlItemRE  = regexp.MustCompile(`^(\s*-\s+)(\S.*)$`)
)

func yamlMutations(data []byte) []mutation {
	lines := strings.SplitAfter(string(data), "\n")
	var out []mutation
	with := func(id string, i int, repl ...string) {
		n := append(append(append([]string{}, lines[:i]...), repl...), lines[i+1:]...)
		out = append(out, mutation{fmt.Sprintf("line %d %s", i+1, id), []byte(strings.Join(n, ""))})
	}
	for i, l := range lines {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		with("drop", i)
		with("double", i, l, l)
		if m := yamlKeyRE.FindStringSubmatchIndex(l); m != nil {
			with("key zz", i, l[:m[4]]+"zz"+l[m[5]:])
			with("key empty", i, l[:m[4]]+`""`+l[m[5]:])
		}
		for _, v := range []string{"~", "[x]", "{a: b}", "x", "a.b", "''", "'a b'", "'*'", "&a x", "[a.b.c]", "[[a]]"} {
			if m := yamlValueRE.FindStringSubmatch(strings.TrimRight(l, "\n")); m != nil {
				with("value "+v, i, m[1]+v+"\n")
			}
			if m := yamlItemRE.FindStringSubmatch(strings.TrimRight(l, "\n")); m != nil {
				with("item "+v, i, m[1]+v+"\n")
			}
		}
	}
	for _, sw := range [][2]string{{"source", "destination"}, {"destination", "source"}, {"key", "value"}, {"value", "key"},
		{"handler", "value"}, {"value", "eval"}, {"from", "to"}, {"field", "path"}, {"path", "field"}} {
		out = append(out, mutation{"replace " + sw[0] + " " + sw[1], []byte(strings.ReplaceAll(string(data), sw[0]+":", sw[1]+":"))})
	}
	return out
}

// mnode is an element (start set) or another token of a file being mutated.
type mnode struct {
	start *xml.StartElement
	tok   xml.Token // CharData, Comment, ProcInst or Directive
	kids  []*mnode
}

// xmlMutations rewrites data, changing one element at a time.
func xmlMutations(t *testing.T, data []byte) []mutation {
	doc := &mnode{}
	stack := []*mnode{doc}
	var elems []*mnode
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil // malformed: the golden of the file itself covers it
		}
		top := stack[len(stack)-1]
		switch tk := xml.CopyToken(tok).(type) {
		case xml.StartElement:
			n := &mnode{start: &tk}
			top.kids = append(top.kids, n)
			elems = append(elems, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) < 2 {
				return nil
			}
			stack = stack[:len(stack)-1]
		default:
			top.kids = append(top.kids, &mnode{tok: tk})
		}
	}
	var out []mutation
	for e, target := range elems {
		for _, kind := range []string{"rename", "drop", "empty", "double", "attr", "text", "class", "name", "value",
			"to source", "to destination", "to ignore", "to rename", "to move", "to transform", "to document", "to field",
			"to datatype", "to to", "to handler", "to param", "to path", "to key", "to value", "to log_changes",
			"text *", "text a.b", "text a b"} {
			var b bytes.Buffer
			for _, k := range doc.kids {
				writeMutated(&b, k, target, kind)
			}
			out = append(out, mutation{fmt.Sprintf("element %d %s", e, kind), b.Bytes()})
		}
	}
	for _, sw := range [][2]string{{"source", "destination"}, {"destination", "source"}, {"key", "value"}, {"document_rules", "field_rules"}, {"field_rules", "document_rules"}} {
		out = append(out, mutation{"replace " + sw[0] + " " + sw[1],
			bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("<"+sw[0]+">"), []byte("<"+sw[1]+">")), []byte("</"+sw[0]+">"), []byte("</"+sw[1]+">"))})
	}
	return out
}

func mname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// writeMutated writes n as XML, changing target by kind.
func writeMutated(b *bytes.Buffer, n, target *mnode, kind string) {
	if n.start == nil {
		switch tk := n.tok.(type) {
		case xml.CharData:
			xml.EscapeText(b, tk)
		case xml.Comment:
			b.WriteString("<!--" + string(tk) + "-->")
		case xml.ProcInst:
			b.WriteString("<?" + tk.Target + " " + string(tk.Inst) + "?>")
		case xml.Directive:
			b.WriteString("<!" + string(tk) + ">")
		}
		return
	}
	s := n.start.Copy()
	kids := n.kids
	if n == target {
		switch {
		case kind == "drop":
			return
		case kind == "double":
			writeMutated(b, n, nil, "")
		case kind == "rename":
			s.Name = xml.Name{Local: "zz"}
		case strings.HasPrefix(kind, "to "):
			s.Name = xml.Name{Local: strings.TrimPrefix(kind, "to ")}
		case kind == "attr":
			s.Attr = append(s.Attr, xml.Attr{Name: xml.Name{Local: "zz"}, Value: "1"})
		case kind == "class" || kind == "name" || kind == "value":
			s.Attr = append(s.Attr, xml.Attr{Name: xml.Name{Local: kind}, Value: "v"})
		case kind == "empty":
			kids = nil
		case kind == "text":
			kids = append([]*mnode{{tok: xml.CharData("zz")}}, kids...)
		case strings.HasPrefix(kind, "text "):
			kids = []*mnode{{tok: xml.CharData(strings.TrimPrefix(kind, "text "))}}
		}
	}
	b.WriteString("<" + mname(s.Name))
	for _, a := range s.Attr {
		b.WriteString(" " + mname(a.Name) + `="`)
		xml.EscapeText(b, []byte(a.Value))
		b.WriteString(`"`)
	}
	b.WriteString(">")
	for _, k := range kids {
		writeMutated(b, k, target, kind)
	}
	b.WriteString("</" + mname(s.Name) + ">")
}

// multiErrorInputs hold more than one error each: which one a reader reports
// (the order it reads in) is pinned too.
var multiErrorInputs = []struct{ name, data string }{
	{"settings.yaml", "key:\n  rename: [{from: a, to: 'b*'}]\n  ignore: [' ']\n"},
	{"settings.yaml", "key:\n  zz: 1\n  ignore: [a]\n  ignore: [b]\n"},
	{"settings.yaml", "value: {transform: [{path: ' '}]}\nkey: {ignore: [' ']}\n"},
	{"settings.yaml", "key: {rename: [{from: a, to: b}], ignore: [c]}\nvalue: {transform: [{path: d, value: e}]}\n"},
	{"map.yaml", "source:\n  documents:\n    zz: 1\n    ignore: [a]\n    ignore: [b]\n"},
	{"map.yaml", "source:\n  fields:\n    transform: [{field: x}]\n    ignore: [y]\n"},
	{"map.yaml", "destination: {documents: {ignore: [' ']}}\nsource: {documents: {ignore: [' ']}}\n"},
	{"map.yaml", "source:\n  fields: {ignore: [x]}\n  documents: {ignore: [' ']}\n"},
	{"map.yaml", "destination:\n  fields:\n    move: [x]\n    zz: 1\n"},
	{"map.yaml", "source:\n  fields: {ignore_datatype: [a.b], ignore: [a.c]}\n  documents: {rename: [{from: x, to: y}], ignore: [z]}\n"},
	{"map.xml", "<map><destination><document_rules><ignore><document> </document></ignore></document_rules></destination><source><document_rules><ignore><document> </document></ignore></document_rules></source></map>"},
	{"map.xml", "<map><source><field_rules><ignore><field>x</field></ignore></field_rules><document_rules><ignore><document> </document></ignore></document_rules></source></map>"},
	{"map.xml", "<map><source><field_rules><ignore><datatype>x</datatype><field>y</field></ignore></field_rules></source></map>"},
	{"map.xml", "<map><source><field_rules><ignore><datatype>a.x</datatype><field>a.y</field><datatype>a.z</datatype></ignore><transform><field>a.b</field><handler class=\"X\"/></transform></field_rules><document_rules><log_changes><document>q</document></log_changes></document_rules></source><source/></map>"},
	{"settings.xml", "<settings><value><transform/></value><key><ignore/></key></settings>"},
	{"settings.xml", "<settings><key><rename><path>a</path><to>b</to></rename><ignore><path>c*</path></ignore></key><value/><key/></settings>"},
}

func TestMapFilesGoldenMultiError(t *testing.T) {
	var b strings.Builder
	for i, in := range multiErrorInputs {
		fmt.Fprintf(&b, "%d %s\t%s\n", i, in.name, shortResult(parseGolden(in.name, []byte(in.data))))
	}
	checkGolden(t, filepath.Join("testdata", "golden", "multi-error.golden"), b.String())
}
