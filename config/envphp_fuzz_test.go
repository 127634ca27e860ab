package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsePHPReturn: any file is read or refused, never a crash or a loop;
// a key written in single quotes comes back as written.
func FuzzParsePHPReturn(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "m2", "app", "etc", "env.php")); err == nil {
		f.Add(string(b), "k")
	}
	f.Add("<?php return array('crypt' => array(\"key\" => \"a\\nb\"), /* c */ 1 => -2.5e3, X::Y => true);", "key")
	f.Add("<?php return ['a' => [[[['", "'")
	f.Fuzz(func(t *testing.T, php, key string) {
		_, _ = parsePHPReturn(php)
		quoted := []byte{'\''}
		for i := 0; i < len(key); i++ {
			if key[i] == '\'' || key[i] == '\\' {
				quoted = append(quoted, '\\')
			}
			quoted = append(quoted, key[i])
		}
		quoted = append(quoted, '\'')
		v, err := parsePHPReturn("<?php return ['crypt' => ['key' => " + string(quoted) + "]];")
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		if got := v.(phpArray).get("crypt").(phpArray).get("key"); got != key {
			t.Fatalf("key %q read as %q", key, got)
		}
	})
}
