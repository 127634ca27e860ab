package transform

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/blowfish"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/shiplog/shiplog/cdc"
)

// The tests encrypt the Magento 1 way and decrypt the Magento 2 way with the
// primitives directly (not through the handler's code), and check those
// helpers against vectors Magento itself published: the reference tool's
// EncryptTest data set (Magento 1 values and their plaintext) and Magento 2's
// _sodium_chachaieft_fixtures.php (a sodium value and its plaintext).

// core_config_data as in the real Magento 1 schema (schema/m1-schema.sql).
var encConfigTable = &cdc.Table{Name: "core_config_data", Key: []int{0}, Columns: []cdc.Column{
	{Name: "config_id", DataType: "int", Unsigned: true},
	{Name: "scope", DataType: "varchar"},
	{Name: "scope_id", DataType: "int"},
	{Name: "path", DataType: "varchar"},
	{Name: "value", DataType: "text"},
}}

const (
	encValue = 4 // index of core_config_data.value
	// Magento 1 keys are md5 hex strings (32 characters).
	encM1Key = "538e855c156dcb99aa1bef633a1b98b9"
	// Magento 2 keys: a 32-character one (before 2.4.7) and a 2.4.7+ one.
	encM2Key     = "6wRADHwwCBGgdxbcHhovGB0upmg0mbsN"
	encM2KeyOld  = "uPuzBU067DXTM4PqEi14Sv5tbWjVcRZI"
	encM2KeyB64  = "base64bDr+HSz4tZ+cjZA89J5RvbZzCfDKWO1iXgDfmqeZL0c="
	encPlainText = "pässwörd with spaces, ünïcode & symbols!"
)

func encBind(opts map[string]string) Binding {
	return Binding{Area: "destination", Table: "core_config_data", Field: "value", Index: encValue,
		Column: encConfigTable.Columns[encValue], Rec: encConfigTable, Other: encConfigTable, Env: &HandlerEnv{Options: opts}}
}

func encOpts(m1, m2 string) map[string]string {
	return map[string]string{"crypt_key": m1, "m2_crypt_key": m2, "edition_migrate": "opensource-to-opensource"}
}

// m1Blowfish is Magento 1's Mage_Core_Model_Encryption::encrypt: Blowfish
// ECB under the key's bytes, NUL padding to the block, base64.
func m1Blowfish(t *testing.T, key, plain string) string {
	t.Helper()
	c, err := blowfish.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ecbEncrypt(c, []byte(plain)))
}

func ecbEncrypt(c cipher.Block, plain []byte) []byte {
	p := nulPad(plain, c.BlockSize())
	out := make([]byte, len(p))
	for i := 0; i < len(p); i += c.BlockSize() {
		c.Encrypt(out[i:], p[i:])
	}
	return out
}

func nulPad(b []byte, bs int) []byte {
	p := append([]byte{}, b...)
	for len(p)%bs != 0 {
		p = append(p, 0)
	}
	return p
}

// m1EnterpriseAES is Magento 1 Enterprise's "0:2:iv:base64" form: AES CBC
// (Rijndael-128 with a 32-byte key) with the iv as written, NUL padding.
func m1EnterpriseAES(t *testing.T, key, iv, plain string) string {
	t.Helper()
	c, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	p := nulPad([]byte(plain), aes.BlockSize)
	out := make([]byte, len(p))
	cipher.NewCBCEncrypter(c, []byte(iv)).CryptBlocks(out, p)
	return "0:2:" + iv + ":" + base64.StdEncoding.EncodeToString(out)
}

// m2Open decrypts v as Magento 2's Encryptor::decrypt does for cipher 3:
// "keyVersion:3:base64", the first 12 bytes the nonce (and the additional
// data), ChaCha20-Poly1305 IETF under keys[keyVersion].
func m2Open(t *testing.T, v string, keys ...[]byte) (version int, plain string) {
	t.Helper()
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[1] != "3" {
		t.Fatalf("%q is not keyVersion:3:data", v)
	}
	version, err := strconv.Atoi(parts[0])
	if err != nil || version < 0 || version >= len(keys) {
		t.Fatalf("%q: key version %q, have %d keys", v, parts[0], len(keys))
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	return version, m2OpenRaw(t, keys[version], raw)
}

func m2OpenRaw(t *testing.T, key, raw []byte) string {
	t.Helper()
	a, err := chacha20poly1305.New(key)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < chacha20poly1305.NonceSize {
		t.Fatalf("sealed value of %d bytes", len(raw))
	}
	nonce := raw[:chacha20poly1305.NonceSize]
	p, err := a.Open(nil, nonce, raw[chacha20poly1305.NonceSize:], nonce)
	if err != nil {
		t.Fatalf("Magento 2 would not decrypt it: %v", err)
	}
	return string(p)
}

// The helpers agree with what Magento published.
func TestEncryptHelpersMatchMagentoVectors(t *testing.T) {
	// Reference tool, tests/unit/.../Handler/Settings/EncryptTest.php.
	if got := m1Blowfish(t, encM1Key, "1350644470"); got != "2klxhuOkPMF22vf24BCruA==" {
		t.Errorf("Blowfish helper: %q, want Magento 1's 2klxhuOkPMF22vf24BCruA==", got)
	}
	if got := m1EnterpriseAES(t, "7979bbf5eedb156a709cca04bcd1ab3f", "4db32e3c8ef3612a", "1350644470"); got != "0:2:4db32e3c8ef3612a:+AFOl9Rr7yTVBAUukxOQbg==" {
		t.Errorf("AES helper: %q, want Magento 1's 0:2:4db32e3c8ef3612a:+AFOl9Rr7yTVBAUukxOQbg==", got)
	}
	// Magento 2, Encryption/Test/Unit/Crypt/_files/_sodium_chachaieft_fixtures.php.
	raw, _ := base64.StdEncoding.DecodeString("146BhsQ3grT0VgkYuY3ii3gpClXHkFqlIcNpAD4+bAMBP+ToCHZHiJID")
	if got := m2OpenRaw(t, []byte(encM2Key), raw); got != "Hello World!!!" {
		t.Errorf("sodium helper: %q, want Hello World!!!", got)
	}
	if _, got := m2Open(t, "0:3:146BhsQ3grT0VgkYuY3ii3gpClXHkFqlIcNpAD4+bAMBP+ToCHZHiJID", []byte(encM2Key)); got != "Hello World!!!" {
		t.Errorf("m2Open: %q", got)
	}
}

func TestEncryptHandler(t *testing.T) {
	b64Key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(encM2KeyB64, "base64"))
	wrongKey := "0123456789abcdef0123456789abcdef"
	type tc struct {
		name    string
		handler string // default Encrypt
		m1, m2  string // keys; m1 default encM1Key, m2 default encM2Key
		in      any
		keys    [][]byte // Magento 2 keys by version; default {encM2Key}
		want    string   // plaintext Magento 2 must get
		version int
		keep    bool   // the value must stay as it was
		wantErr string // row error
		secrets []string
	}
	cases := []tc{
		{name: "reference vector, Blowfish", in: "2klxhuOkPMF22vf24BCruA==", want: "1350644470"},
		{name: "reference vector, Enterprise AES", m1: "7979bbf5eedb156a709cca04bcd1ab3f",
			in: "0:2:4db32e3c8ef3612a:+AFOl9Rr7yTVBAUukxOQbg==", want: "1350644470"},
		{name: "UTF-8 over several blocks", in: m1Blowfish(t, encM1Key, encPlainText), want: encPlainText},
		{name: "a whole block, no padding", in: m1Blowfish(t, encM1Key, "12345678"), want: "12345678"},
		{name: "card number", handler: `\Migration\Handler\Encrypt`, in: m1Blowfish(t, encM1Key, "4111111111111111"), want: "4111111111111111"},
		{name: "trimmed as PHP trim does", in: m1Blowfish(t, encM1Key, " \tapi-key\r\n\x0b"), want: "api-key"},
		{name: "inner whitespace kept", in: m1Blowfish(t, encM1Key, "a b\tc"), want: "a b\tc"},
		{name: "as bytes", in: []byte(m1Blowfish(t, encM1Key, "blob")), want: "blob"},
		{name: "Settings\\Encrypt", handler: `Settings\Encrypt`, in: m1Blowfish(t, encM1Key, "pwd"), want: "pwd"},
		{name: "Enterprise AES computed", m1: "7979bbf5eedb156a709cca04bcd1ab3f",
			in: m1EnterpriseAES(t, "7979bbf5eedb156a709cca04bcd1ab3f", "abcdefghijklmnop", encPlainText), want: encPlainText},
		{name: "several Magento 2 keys: the last, version 2", m2: encM2KeyOld + "\n" + "zsmVdKkwVgylxMM8ZzQ3GTv7SxvusKnJ  " + encM2Key + "\n",
			keys: [][]byte{[]byte(encM2KeyOld), []byte("zsmVdKkwVgylxMM8ZzQ3GTv7SxvusKnJ"), []byte(encM2Key)},
			in:   m1Blowfish(t, encM1Key, "secret"), want: "secret", version: 2},
		{name: "Magento 2.4.7 base64 key", m2: encM2KeyB64, keys: [][]byte{b64Key}, in: m1Blowfish(t, encM1Key, "secret"), want: "secret"},
		{name: "old and 2.4.7 keys", m2: encM2KeyOld + " " + encM2KeyB64, keys: [][]byte{[]byte(encM2KeyOld), b64Key},
			in: m1Blowfish(t, encM1Key, "secret"), want: "secret", version: 1},

		{name: "empty stays", in: "", keep: true},
		{name: "NULL stays", in: nil, keep: true},
		{name: "0 stays (PHP falsy)", in: "0", keep: true},

		{name: "garbage base64", in: "not base64 at all!", wantErr: "not base64"},
		{name: "already Magento 2", in: "0:3:146BhsQ3grT0VgkYuY3ii3gpClXHkFqlIcNpAD4+bAMBP+ToCHZHiJID", wantErr: "not base64"},
		{name: "plain text value", in: "1", wantErr: "not base64"},
		{name: "not whole blocks", in: base64.StdEncoding.EncodeToString([]byte("12345")), wantErr: "not whole 8-byte cipher blocks"},
		{name: "wrong Magento 1 key", in: m1Blowfish(t, wrongKey, encPlainText), wantErr: "not text", secrets: []string{encPlainText}},
		{name: "wrong Magento 1 key, short value", in: m1Blowfish(t, wrongKey, "4111111111111111"), wantErr: "not text", secrets: []string{"4111111111111111"}},
		{name: "wrong key, Enterprise AES", in: m1EnterpriseAES(t, wrongKey, "abcdefghijklmnop", encPlainText), wantErr: "not text", secrets: []string{encPlainText}},
		{name: "Enterprise init vector too short", in: "0:2:short:+AFOl9Rr7yTVBAUukxOQbg==", wantErr: "init vector"},
		{name: "Enterprise form, key too long for AES", m1: strings.Repeat("k", 40), in: "0:2:4db32e3c8ef3612a:+AFOl9Rr7yTVBAUukxOQbg==", wantErr: "AES takes at most 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.handler == "" {
				c.handler = "Encrypt"
			}
			if c.m1 == "" {
				c.m1 = encM1Key
			}
			if c.m2 == "" {
				c.m2 = encM2Key
			}
			if c.keys == nil {
				c.keys = [][]byte{[]byte(encM2Key)}
			}
			f, ok := LookupHandler(c.handler)
			if !ok {
				t.Fatalf("%s not registered", c.handler)
			}
			fn, err := f(nil, encBind(encOpts(c.m1, c.m2)))
			if err != nil {
				t.Fatalf("bind: %v", err)
			}
			rec := []any{int64(7), "default", int64(0), "payment/payflow_advanced/pwd", c.in}
			err = fn(rec, rec)
			switch {
			case c.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, c.wantErr)
				}
				for _, s := range append([]string{c.m1, c.m2, encM2Key, encM2KeyOld}, c.secrets...) {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q shows a secret", err)
					}
				}
				if !encSame(rec[encValue], c.in) {
					t.Errorf("value changed to %v on error", rec[encValue])
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.keep:
				if !encSame(rec[encValue], c.in) {
					t.Fatalf("value %v, want %v kept", rec[encValue], c.in)
				}
			default:
				out, ok := rec[encValue].(string)
				if !ok {
					t.Fatalf("value %T %v, want a string", rec[encValue], rec[encValue])
				}
				version, plain := m2Open(t, out, c.keys...)
				if plain != c.want || version != c.version {
					t.Fatalf("Magento 2 decrypts version %d %q, want version %d %q", version, plain, c.version, c.want)
				}
				if !strings.HasPrefix(out, strconv.Itoa(c.version)+":3:") {
					t.Fatalf("%q does not start with %d:3:", out, c.version)
				}
			}
		})
	}
}

func encSame(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	return a == b
}

// Each encryption takes a fresh nonce (Magento 2 relies on it: a repeated
// nonce under one key breaks ChaCha20-Poly1305), and the handler is safe to
// call from several goroutines.
func TestEncryptFreshNonces(t *testing.T) {
	f, _ := LookupHandler("Encrypt")
	fn, err := f(nil, encBind(encOpts(encM1Key, encM2Key)))
	if err != nil {
		t.Fatal(err)
	}
	in := m1Blowfish(t, encM1Key, "same secret")
	const n = 64
	outs := make(chan string, n)
	for range n {
		go func() {
			rec := []any{int64(1), "default", int64(0), "p", in}
			if err := fn(rec, rec); err != nil {
				outs <- "error: " + err.Error()
				return
			}
			outs <- rec[encValue].(string)
		}()
	}
	seen := map[string]bool{}
	for range n {
		out := <-outs
		if _, plain := m2Open(t, out, []byte(encM2Key)); plain != "same secret" {
			t.Fatalf("%q decrypts to %q", out, plain)
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.SplitN(out, ":", 3)[2])
		nonce := string(raw[:chacha20poly1305.NonceSize])
		if seen[nonce] {
			t.Fatalf("nonce repeated after %d values", len(seen))
		}
		seen[nonce] = true
	}
}

func TestEncryptBindErrors(t *testing.T) {
	cases := []struct {
		name   string
		params Params
		env    *HandlerEnv
		want   []string
	}{
		{name: "no options at all", env: &HandlerEnv{}, want: []string{"Magento 1 crypt key is not set", "crypt_key", "config.xml"}},
		{name: "no environment", env: nil, want: []string{"crypt_key"}},
		{name: "no Magento 1 key", env: &HandlerEnv{Options: encOpts("", encM2Key)}, want: []string{"option crypt_key", "local.xml"}},
		{name: "blank Magento 1 key", env: &HandlerEnv{Options: encOpts("  \n", encM2Key)}, want: []string{"option crypt_key"}},
		{name: "no Magento 2 key", env: &HandlerEnv{Options: encOpts(encM1Key, "")}, want: []string{"Magento 2 crypt key is not set", "m2_crypt_key", "env.php"}},
		{name: "Magento 2 key too short", env: &HandlerEnv{Options: encOpts(encM1Key, "short-key")}, want: []string{"m2_crypt_key", "9 bytes"}},
		{name: "current Magento 2 key bad, older good", env: &HandlerEnv{Options: encOpts(encM1Key, encM2Key+"\nnot-a-32-byte-key")}, want: []string{"key 2 of 2", "17 bytes"}},
		{name: "Magento 2 base64 key not 32 bytes", env: &HandlerEnv{Options: encOpts(encM1Key, "base64"+base64.StdEncoding.EncodeToString([]byte("sixteen byte key")))}, want: []string{"base64 form of 32 bytes"}},
		{name: "Magento 2 base64 key not base64", env: &HandlerEnv{Options: encOpts(encM1Key, "base64!!!!")}, want: []string{"base64 form of 32 bytes"}},
		{name: "Magento 1 key too long for Blowfish", env: &HandlerEnv{Options: encOpts(strings.Repeat("x", 57), encM2Key)}, want: []string{"crypt_key is 57 bytes", "1 to 56"}},
		{name: "unknown param", params: Params{"field": "value"}, env: &HandlerEnv{Options: encOpts(encM1Key, encM2Key)}, want: []string{"unknown param 'field'"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, h := range []string{"Encrypt", `Settings\Encrypt`} {
				f, _ := LookupHandler(h)
				b := encBind(nil)
				b.Env = c.env
				_, err := f(c.params, b)
				if err == nil {
					t.Fatalf("%s: bound", h)
				}
				for _, w := range append(c.want, h) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error %q does not say %q", h, err, w)
					}
				}
				var opts map[string]string
				if c.env != nil {
					opts = c.env.Options
				}
				for k, v := range opts {
					if strings.TrimSpace(v) != "" && (k == "crypt_key" || k == "m2_crypt_key") {
						for _, s := range strings.Fields(v) {
							if strings.Contains(err.Error(), s) {
								t.Errorf("%s: error %q shows option %s", h, err, k)
							}
						}
					}
				}
			}
		})
	}
}

// The reference's own settings.xml.dist: every path it encrypts binds with
// the keys set, and a Magento 1 value of it comes out as Magento 2 reads it.
func TestEncryptOnStockSettingsXMLDist(t *testing.T) {
	rules, err := ReadSettings(filepath.Join(magentoFixturesDir(t), "dmt", "etc", "opensource-to-opensource", "settings.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, tr := range rules.Transforms {
		if canonicalHandlerName(tr.Handler.Name) != "encrypt" {
			continue
		}
		paths = append(paths, tr.Path)
		f, ok := LookupHandler(tr.Handler.Name)
		if !ok {
			t.Fatalf("%s: %s not registered", tr.Path, tr.Handler.Name)
		}
		params := Params{}
		for _, p := range tr.Handler.Params {
			params[p.Name] = p.Value
		}
		fn, err := f(params, encBind(encOpts(encM1Key, encM2KeyOld+"\n"+encM2Key)))
		if err != nil {
			t.Fatalf("%s: %v", tr.Path, err)
		}
		plain := "secret of " + tr.Path
		rec := []any{int64(1), "default", int64(0), tr.Path, m1Blowfish(t, encM1Key, plain)}
		if err := fn(rec, rec); err != nil {
			t.Fatalf("%s: %v", tr.Path, err)
		}
		if v, got := m2Open(t, rec[encValue].(string), []byte(encM2KeyOld), []byte(encM2Key)); v != 1 || got != plain {
			t.Fatalf("%s: Magento 2 reads version %d %q, want 1 %q", tr.Path, v, got, plain)
		}
	}
	if len(paths) < 20 || !slices.Contains(paths, "payment/payflow_advanced/pwd") {
		t.Fatalf("encrypted paths of settings.xml.dist: %d %v", len(paths), paths)
	}
}
