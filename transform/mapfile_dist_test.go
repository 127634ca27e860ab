package transform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadMapDist: the reference ships its maps as .xml.dist and its
// config.xml names them so; ReadMap reads them as map.xml (it refused
// "unsupported file extension .dist" before).
func TestReadMapDist(t *testing.T) {
	dir := filepath.Join(magentoFixturesDir(t), "dmt", "etc", "opensource-to-opensource")
	for _, f := range []string{filepath.Join("1.9.4.5", "map.xml.dist"), "map-eav.xml.dist", "map-log.xml.dist"} {
		r, err := ReadMap(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if f == filepath.Join("1.9.4.5", "map.xml.dist") && len(r.Source.IgnoreDocuments) < 100 {
			t.Errorf("%s: read, but %d ignored source documents (the stock map ignores hundreds)", f, len(r.Source.IgnoreDocuments))
		}
	}
	if _, err := ReadSettings(filepath.Join(dir, "settings.xml.dist")); err != nil {
		t.Errorf("settings.xml.dist: %v", err)
	}
	other := filepath.Join(t.TempDir(), "map.txt.dist")
	if err := os.WriteFile(other, []byte("<map/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMap(other); err == nil || !strings.Contains(err.Error(), `unsupported file extension ".txt"`) {
		t.Errorf("a .txt.dist file: %v, want unsupported file extension \".txt\"", err)
	}
}
