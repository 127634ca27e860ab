package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMagentoOptionsReachHandlers: every <options> child of a config.xml is
// kept by name as written (the ones shiplog reads too, the reference's
// others, and unknown ones, with a warning for those).
func TestMagentoOptionsReachHandlers(t *testing.T) {
	cleanEnv(t)
	cfg, err := Load(filepath.Join("testdata", "magento-full.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"map_file": "etc/map.xml", "eav_map_file": "etc/map-eav.xml", "settings_map_file": "/abs/settings.xml",
		"delta_document_groups_file": "etc/deltalog.xml", "bulk_size": "", "direct_document_copy": "0",
		"source_prefix": "m1_", "dest_prefix": "", "log_file": "migration.log",
		"progress_bar_format":         "%percent%% [%bar%] Remaining Time: %remaining%",
		"edition_migrate":             "opensource-to-opensource",
		"init_statements_source":      "SET NAMES utf8; SET time_zone = '+00:00';",
		"init_statements_destination": "SET NAMES utf8;", "crypt_key": "", "shiny_new_option": "1",
	}
	if !maps.Equal(cfg.Options.Magento, want) {
		t.Errorf("Options.Magento = %q\nwant %q", cfg.Options.Magento, want)
	}
	if cfg.Options.ClassMapFile != "" || cfg.Options.M2EnvPHP != "" {
		t.Errorf("ClassMapFile %q, M2EnvPHP %q: want none", cfg.Options.ClassMapFile, cfg.Options.M2EnvPHP)
	}
}

// TestStockConfigClassMap: the reference's config.xml.dist names its
// class-map.xml.dist from the tool's root; it is found there like the maps.
func TestStockConfigClassMap(t *testing.T) {
	cleanEnv(t)
	dmt := filepath.Join(magentoFixtures(t), "dmt")
	cfg, err := Load(filepath.Join(dmt, "etc", "opensource-to-opensource", "1.9.4.5", "config.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(filepath.Join(dmt, "etc", "opensource-to-opensource", "class-map.xml.dist"))
	if cfg.Options.ClassMapFile != want {
		t.Errorf("ClassMapFile = %q, want %q", cfg.Options.ClassMapFile, want)
	}
	if st, err := os.Stat(cfg.Options.ClassMapFile); err != nil || st.IsDir() {
		t.Errorf("class map %s is not a file: %v", cfg.Options.ClassMapFile, err)
	}
	o := cfg.Options.Magento
	if v, ok := o["crypt_key"]; !ok || v != "" {
		t.Errorf("crypt_key = %q (set %v), want an empty option", v, ok)
	}
	if o["edition_number"] != "1.9.4.5" || o["class_map"] != "etc/opensource-to-opensource/class-map.xml.dist" ||
		o["upgrade_customer_password_hash"] != "1" {
		t.Errorf("options as written: edition_number %q, class_map %q, upgrade_customer_password_hash %q",
			o["edition_number"], o["class_map"], o["upgrade_customer_password_hash"])
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "options/") {
			t.Errorf("warning on a stock option: %s", w)
		}
	}
}

func TestMagentoOptionsYAML(t *testing.T) {
	envPHP, _ := filepath.Abs(filepath.Join("testdata", "m2", "app", "etc", "env.php"))
	tests := []struct {
		name     string
		yaml     string
		env      map[string]string
		want     map[string]string
		classMap string // relative to the config's folder unless absolute
		envPHP   string
		warn     string
		errKey   string
	}{
		{name: "scalars as text",
			yaml: "magento:\n  options:\n    crypt_key: 6fb0c8e25d3a\n    edition_number: 1.9.4.5\n    bulk_size: 100\n    upgrade_customer_password_hash: true\n    ratio: 0.5\n    empty: \"\"\n",
			want: map[string]string{"crypt_key": "6fb0c8e25d3a", "edition_number": "1.9.4.5", "bulk_size": "100",
				"upgrade_customer_password_hash": "1", "ratio": "0.5", "empty": ""},
			warn: "magento.options.ratio is not an option"},
		{name: "paths resolve from the config's folder",
			yaml:     "magento: {options: {class_map: etc/class-map.xml, m2_env_php: " + envPHP + "}}",
			want:     map[string]string{"class_map": "etc/class-map.xml", "m2_env_php": envPHP},
			classMap: "etc/class-map.xml", envPHP: envPHP},
		{name: "environment overrides and adds",
			yaml: "magento: {options: {crypt_key: fromfile}}",
			env:  map[string]string{"SHIPLOG_MAGENTO_OPTIONS_CRYPT_KEY": "fromenv", "SHIPLOG_MAGENTO_OPTIONS_M2_CRYPT_KEY": "k1 k2", "SHIPLOG_MAGENTO_OPTIONS_CLASS_MAP": "rel/cm.xml"},
			want: map[string]string{"crypt_key": "fromenv", "m2_crypt_key": "k1 k2", "class_map": "rel/cm.xml"},
			// From the environment a path is the working folder's.
			classMap: "/rel/cm.xml"},
		{name: "both Magento 2 keys", yaml: "magento: {options: {m2_crypt_key: abc, m2_env_php: " + envPHP + "}}",
			errKey: "magento.options.m2_crypt_key"},
		{name: "options not a mapping", yaml: "magento: {options: 3}", errKey: "magento.options"},
		{name: "unknown magento key", yaml: "magento: {option: {crypt_key: x}}", errKey: "magento.option"},
		{name: "magento a scalar", yaml: "magento: 1", errKey: "magento"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			path := writeFile(t, dir, "c.yaml", minimalYAML+tc.yaml)
			cfg, err := Load(path)
			if tc.errKey != "" {
				var cerr *Error
				if !errors.As(err, &cerr) || cerr.Key != tc.errKey {
					t.Fatalf("error %v, want one for key %s", err, tc.errKey)
				}
				if strings.Contains(err.Error(), "abc") {
					t.Errorf("the error shows a key's value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(cfg.Options.Magento, tc.want) {
				t.Errorf("Options.Magento = %q, want %q", cfg.Options.Magento, tc.want)
			}
			wantCM := tc.classMap
			if strings.HasPrefix(wantCM, "/rel") {
				wantCM = wantCM[1:]
			} else if wantCM != "" {
				wantCM = filepath.Join(dir, wantCM)
			}
			if cfg.Options.ClassMapFile != wantCM || cfg.Options.M2EnvPHP != tc.envPHP {
				t.Errorf("ClassMapFile %q, M2EnvPHP %q; want %q, %q", cfg.Options.ClassMapFile, cfg.Options.M2EnvPHP, wantCM, tc.envPHP)
			}
			hasWarn := slices.ContainsFunc(cfg.Warnings, func(w string) bool { return tc.warn != "" && strings.Contains(w, tc.warn) })
			if (tc.warn != "") != hasWarn {
				t.Errorf("warnings %q, want one with %q", cfg.Warnings, tc.warn)
			}
			for _, w := range cfg.Warnings {
				if strings.Contains(w, "6fb0c8e25d3a") || strings.Contains(w, "fromenv") {
					t.Errorf("a warning shows a crypt key: %s", w)
				}
			}
		})
	}
}

// TestMagentoEnvPHPNotFound: m2_env_php in a config.xml is looked for like
// the maps, and a missing one is a warning naming every place looked at.
func TestMagentoEnvPHPNotFound(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc", "v")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "app", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "app", "etc"), "env.php", "<?php return ['crypt' => ['key' => 'k']];")
	path := writeFile(t, sub, "config.xml", `<config><source><database host="h" name="s" user="u"/></source>
<destination><database host="h" name="d" user="u"/></destination>
<options><m2_env_php>app/etc/env.php</m2_env_php><class_map>nowhere/class-map.xml</class_map></options></config>`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "app", "etc", "env.php"); cfg.Options.M2EnvPHP != want {
		t.Errorf("M2EnvPHP = %q, want %q (found two folders above the config)", cfg.Options.M2EnvPHP, want)
	}
	if cfg.Options.ClassMapFile != filepath.Join(sub, "nowhere", "class-map.xml") {
		t.Errorf("ClassMapFile = %q: want it read from the config's folder", cfg.Options.ClassMapFile)
	}
	if !slices.ContainsFunc(cfg.Warnings, func(w string) bool {
		return strings.HasPrefix(w, "options/class_map: file nowhere/class-map.xml not found; looked at "+filepath.Join(sub, "nowhere", "class-map.xml"))
	}) {
		t.Errorf("warnings %q: want one naming options/class_map and the places looked at", cfg.Warnings)
	}
}

func TestReadM2CryptKey(t *testing.T) {
	key, err := ReadM2CryptKey(filepath.Join("testdata", "m2", "app", "etc", "env.php"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a9f3c0e1d2b4f6a8c0e2d4b6f8a0c2e4\nbase64Rm9vQmFyQmF6UXV4MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="; key != want {
		t.Errorf("key = %q, want %q", key, want)
	}
	const secret = "S3cr3tK3y"
	tests := []struct {
		name, php, want, errHas string
	}{
		{name: "array() syntax, double quotes, comments",
			php:  "<?php\n/* generated */\nreturn array(\n  // the key\n  \"crypt\" => array(\"key\" => \"" + secret + "\\n2nd\"), # tail\n  'x' => -1.5,\n);\n",
			want: secret + "\n2nd"},
		{name: "escapes in single quotes", php: `<?php return ['crypt' => ['key' => 'a\'b\\c\n']];`, want: `a'b\c\n`},
		{name: "last of duplicate keys", php: "<?php return ['crypt' => ['key' => 'old'], 'crypt' => ['key' => '" + secret + "']];", want: secret},
		{name: "constants and numeric keys", php: "<?php return [0 => 'a', \\PDO::MYSQL_ATTR_INIT_COMMAND => 'x', 'crypt' => ['key' => '" + secret + "', 'other' => null]];", want: secret},
		{name: "no crypt", php: "<?php return ['db' => ['password' => '" + secret + "']];", errHas: "no 'crypt' => ['key' => ...]"},
		{name: "empty key", php: "<?php return ['crypt' => ['key' => '  ']];", errHas: "no non-empty string 'key'"},
		{name: "key not a string", php: "<?php return ['crypt' => ['key' => ['" + secret + "']]];", errHas: "no non-empty string 'key'"},
		{name: "not php", php: "crypt: {key: " + secret + "}", errHas: "line 1: no <?php"},
		{name: "unclosed string", php: "<?php return ['crypt' => ['key' => '" + secret + "\n\n", errHas: "line 3: unexpected end of file: a string is not closed"},
		{name: "unclosed array", php: "<?php return ['crypt' => ['key' => '" + secret + "'", errHas: "an array is not closed with ]"},
		{name: "interpolation", php: "<?php return ['crypt' => ['key' => \"$" + secret + "\"]];", errHas: "variable"},
		{name: "concatenation", php: "<?php return ['crypt' => ['key' => '" + secret + "' . 'x']];", errHas: "line 1: want , or ] in an array"},
		{name: "no semicolon", php: "<?php return ['crypt' => ['key' => '" + secret + "']]", errHas: "want `;`"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "env.php", tc.php)
			got, err := ReadM2CryptKey(path)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming %s with %q", err, path, tc.errHas)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the file's content: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ReadM2CryptKey = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ReadM2CryptKey(filepath.Join(t.TempDir(), "env.php")); err == nil || !strings.Contains(err.Error(), "m2_env_php") {
		t.Errorf("missing file: error %v, want one naming m2_env_php", err)
	}
}

func TestMagentoSecrets(t *testing.T) {
	o := Options{Magento: map[string]string{"crypt_key": "m1key", "m2_crypt_key": "old\nnewer", "edition_number": "1.9.4.5"}}
	got := o.MagentoSecrets()
	for _, want := range []string{"m1key", "old\nnewer", "old", "newer"} {
		if !slices.Contains(got, want) {
			t.Errorf("MagentoSecrets() = %q lacks %q", got, want)
		}
	}
	if slices.Contains(got, "1.9.4.5") {
		t.Errorf("MagentoSecrets() = %q holds a plain option", got)
	}
}

// TestMagentoShiplogOptions: config.xml options shiplog adds choose the
// change-log delta and the copy's workers.
func TestMagentoShiplogOptions(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	p := writeFile(t, dir, "config.xml", `<config><source><database host="h" name="m1" user="u"/></source>
<destination><database host="h" name="m2" user="u"/></destination>
<options><delta_source>triggers</delta_source><workers>3</workers></options></config>`)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Delta.Source != DeltaTriggers || cfg.Options.Workers != 3 {
		t.Fatalf("delta.source %q, workers %d: want triggers, 3", cfg.Delta.Source, cfg.Options.Workers)
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "delta_source") || strings.Contains(w, "workers") {
			t.Errorf("warning on a shiplog option: %s", w)
		}
	}
	p = writeFile(t, dir, "bad.xml", `<config><source><database host="h" name="m1" user="u"/></source>
<destination><database host="h" name="m2" user="u"/></destination>
<options><delta_source>polling</delta_source></options></config>`)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "delta.source") {
		t.Fatalf("delta_source polling: %v, want an error naming delta.source", err)
	}
}

// TestMagentoFileOption: a *_file option of the stock config.xml.dist is
// found from the tool's root; an unset one says so; a missing one names
// every place looked at.
func TestMagentoFileOption(t *testing.T) {
	cleanEnv(t)
	dmt := filepath.Join(magentoFixtures(t), "dmt")
	cfg, err := Load(filepath.Join(dmt, "etc", "opensource-to-opensource", "1.9.4.5", "config.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := cfg.MagentoFile("stores_map_file")
	want, _ := filepath.Abs(filepath.Join(dmt, "etc", "opensource-to-opensource", "map-stores.xml.dist"))
	if err != nil || !ok || p != want {
		t.Fatalf("stores_map_file = %q %v %v, want %q", p, ok, err, want)
	}
	if _, ok, err := cfg.MagentoFile("no_such_option"); ok || err != nil {
		t.Fatalf("unset option: %v %v", ok, err)
	}
	cfg.Options.Magento["eav_map_file"] = "etc/nowhere.xml"
	if _, ok, err := cfg.MagentoFile("eav_map_file"); !ok || err == nil || !strings.Contains(err.Error(), "options/eav_map_file") || !strings.Contains(err.Error(), "looked at") {
		t.Fatalf("missing file: %v %v", ok, err)
	}
}
