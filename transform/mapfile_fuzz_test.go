package transform

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds the testdata files matching pattern to the corpus.
func addSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "maps", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s (%v)", pattern, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkParseError checks that a failure is a *FileError naming the file.
func checkParseError(t *testing.T, name string, err error) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v is not a *FileError", err, err)
	}
	if fe.File != name || fe.Line < 0 || fe.Msg == "" {
		t.Fatalf("bad FileError %+v", fe)
	}
}

func FuzzParseMapXML(f *testing.F) {
	addSeeds(f, "map_*.xml")
	f.Add([]byte("<map><source><document_rules><ignore><document>a*</document></ignore></document_rules></source></map>"))
	f.Add([]byte("<map><destination><field_rules><ignore><datatype>a.b</datatype></ignore></field_rules></destination></map>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseMap("map.xml", data, "xml")
		if err != nil {
			checkParseError(t, "map.xml", err)
			return
		}
		checkRulesWellFormed(t, "map.xml", r)
	})
}

func FuzzParseMapYAML(f *testing.F) {
	addSeeds(f, "map_*.yaml")
	f.Add([]byte("source: {fields: {transform: [{field: a.b, eval: x}]}}\n"))
	f.Add([]byte("destination: {documents: {ignore: ['*']}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseMap("map.yaml", data, "yaml")
		if err != nil {
			checkParseError(t, "map.yaml", err)
			return
		}
		checkRulesWellFormed(t, "map.yaml", r)
	})
}

func FuzzParseSettingsXML(f *testing.F) {
	addSeeds(f, "settings_*.xml")
	f.Add([]byte("<settings><key><ignore><path>a/*</path></ignore></key></settings>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSettings("settings.xml", data, "xml")
		if err != nil {
			checkParseError(t, "settings.xml", err)
			return
		}
		checkSettingsWellFormed(t, "settings.xml", s)
	})
}

// checkRulesWellFormed asserts what a successful parse promises: documents are
// non-empty names without '.', field references are "document.field",
// wildcards appear only in document ignores, handlers have names and unique
// param names, the destination area has no renames or moves, and every rule
// has an origin in file.
func checkRulesWellFormed(t *testing.T, file string, r *Rules) {
	t.Helper()
	if r == nil {
		t.Fatal("nil rules without error")
	}
	if r.SourcePrefix != "" || r.DestPrefix != "" || r.FullRowTables != nil || r.IgnoreDestTables != nil {
		t.Errorf("options set by the map reader: %+v", r)
	}
	if len(r.Destination.RenameDocuments) > 0 || len(r.Destination.MoveFields) > 0 {
		t.Errorf("destination renames or moves: %+v", r.Destination)
	}
	for _, a := range []Area{r.Source, r.Destination} {
		for _, d := range a.IgnoreDocuments {
			checkOrigin(t, file, d.At)
			if d.Name == "" || strings.Contains(d.Name, ".") || hasSpace(d.Name) {
				t.Errorf("bad ignored document %q", d.Name)
			}
		}
		for _, d := range a.RenameDocuments {
			checkOrigin(t, file, d.At)
			for _, n := range []string{d.From, d.To} {
				if n == "" || strings.ContainsAny(n, ".*") || hasSpace(n) {
					t.Errorf("bad renamed document %q", n)
				}
			}
		}
		for _, rs := range [][]Rule{a.IgnoreFields, a.IgnoreDatatypes} {
			for _, f := range rs {
				checkOrigin(t, file, f.At)
				checkFieldRef(t, f.Name)
			}
		}
		for _, m := range a.MoveFields {
			checkOrigin(t, file, m.At)
			checkFieldRef(t, m.From)
			checkFieldRef(t, m.To)
		}
		for _, tr := range a.Transforms {
			checkOrigin(t, file, tr.At)
			checkFieldRef(t, tr.Field)
			checkHandler(t, file, tr.Handler)
		}
	}
}

func checkSettingsWellFormed(t *testing.T, file string, s *SettingsRules) {
	t.Helper()
	if s == nil {
		t.Fatal("nil settings without error")
	}
	for _, p := range s.IgnorePaths {
		checkOrigin(t, file, p.At)
		if p.Name == "" || hasSpace(p.Name) {
			t.Errorf("bad ignored path %q", p.Name)
		}
	}
	for _, r := range s.RenamePaths {
		checkOrigin(t, file, r.At)
		for _, n := range []string{r.From, r.To} {
			if n == "" || strings.Contains(n, "*") || hasSpace(n) {
				t.Errorf("bad renamed path %q", n)
			}
		}
	}
	for _, tr := range s.Transforms {
		checkOrigin(t, file, tr.At)
		if tr.Path == "" || strings.Contains(tr.Path, "*") || hasSpace(tr.Path) {
			t.Errorf("bad transform path %q", tr.Path)
		}
		checkHandler(t, file, tr.Handler)
	}
}

func checkFieldRef(t *testing.T, ref string) {
	t.Helper()
	doc, field, ok := strings.Cut(ref, ".")
	if !ok || doc == "" || field == "" || strings.ContainsAny(field, ".") || strings.Contains(ref, "*") || hasSpace(ref) {
		t.Errorf("bad field reference %q", ref)
	}
}

func checkHandler(t *testing.T, file string, h HandlerSpec) {
	t.Helper()
	checkOrigin(t, file, h.At)
	if strings.TrimSpace(h.Name) == "" {
		t.Errorf("empty handler name")
	}
	seen := map[string]bool{}
	for _, p := range h.Params {
		if p.Name == "" || seen[p.Name] {
			t.Errorf("handler %s: empty or duplicate param %q", h.Name, p.Name)
		}
		seen[p.Name] = true
	}
}

func checkOrigin(t *testing.T, file string, o Origin) {
	t.Helper()
	if o.File != file || o.Line <= 0 || o.Element == "" {
		t.Errorf("bad origin %+v", o)
	}
}
