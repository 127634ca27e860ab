package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// magentoFixtures is the reference tool's shipped files beside the checkout.
func magentoFixtures(t *testing.T) string {
	t.Helper()
	for _, d := range []string{filepath.Join("..", "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	t.Fatalf("the Magento fixtures (../shared/fixtures/magento beside the checkout) are missing")
	return ""
}

// TestStockConfigXMLDistAsShipped: the reference's config.xml.dist for
// 1.9.4.5, loaded as shipped (its own .dist name, only the database
// attributes as they are), names its maps as paths from the tool's root
// (etc/opensource-to-opensource/...); they are found there, four folders
// above the config, as the reference finds them, and none is reported
// missing.
func TestStockConfigXMLDistAsShipped(t *testing.T) {
	dmt := filepath.Join(magentoFixtures(t), "dmt")
	cfg, err := Load(filepath.Join(dmt, "etc", "opensource-to-opensource", "1.9.4.5", "config.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"map_file":                   filepath.Join("etc", "opensource-to-opensource", "1.9.4.5", "map.xml.dist"),
		"settings_map_file":          filepath.Join("etc", "opensource-to-opensource", "settings.xml.dist"),
		"delta_document_groups_file": filepath.Join("etc", "opensource-to-opensource", "deltalog.xml.dist"),
	}
	got := map[string]string{"map_file": cfg.Options.MapFile, "settings_map_file": cfg.Options.SettingsMapFile,
		"delta_document_groups_file": cfg.Options.DeltalogFile}
	for k, rel := range want {
		abs, _ := filepath.Abs(filepath.Join(dmt, rel))
		if got[k] != abs {
			t.Errorf("%s = %q, want %q (the tool's root is the folder holding etc/)", k, got[k], abs)
		}
		if st, err := os.Stat(got[k]); err != nil || st.IsDir() {
			t.Errorf("%s: %s is not a file: %v", k, got[k], err)
		}
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "not found") {
			t.Errorf("warning about a shipped file: %s", w)
		}
	}
}

// TestMagentoFileNotFoundNamesEveryPlace: a relative path no folder holds
// is reported with every place looked at (the config's folder and each one
// above), and read from the config's folder (where opening it then fails,
// naming it).
func TestMagentoFileNotFoundNamesEveryPlace(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc", "mine")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "config.xml")
	body := `<config><source><database host="127.0.0.1" name="m1" user="u"/></source>
<destination><database host="127.0.0.1" name="m2" user="u"/></destination>
<options><map_file>etc/nowhere/map.xml.dist</map_file></options></config>`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(sub, "etc", "nowhere", "map.xml.dist"); cfg.Options.MapFile != want {
		t.Errorf("map_file = %q, want %q (from the config's folder)", cfg.Options.MapFile, want)
	}
	var warning string
	for _, w := range cfg.Warnings {
		if strings.HasPrefix(w, "options/map_file:") {
			warning = w
		}
	}
	for _, place := range []string{filepath.Join(sub, "etc", "nowhere", "map.xml.dist"), filepath.Join(dir, "etc", "nowhere", "map.xml.dist"),
		filepath.Join(dir, "etc", "etc", "nowhere", "map.xml.dist")} {
		if !strings.Contains(warning, place) {
			t.Errorf("the warning does not name %s: %q", place, warning)
		}
	}
	// Found one folder up: the tool's root.
	if err := os.MkdirAll(filepath.Join(dir, "etc", "nowhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "nowhere", "map.xml.dist"), []byte("<map/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "etc", "nowhere", "map.xml.dist"); cfg.Options.MapFile != want {
		t.Errorf("map_file = %q, want %q", cfg.Options.MapFile, want)
	}
}
