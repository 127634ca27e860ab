package transform

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/blowfish"
	"golang.org/x/crypto/chacha20poly1305"
)

// Encrypt (and its older name Settings\Encrypt) turns a value Magento 1
// encrypted into one Magento 2 decrypts, as the reference tool does.
//
// Magento 1 stores base64(Blowfish-ECB(key, plaintext)) with the plaintext
// padded by NUL bytes to the 8-byte block; its Enterprise edition (PCI key
// rotation) stores "keyVersion:cipher:iv:base64(data)", which the reference
// decrypts as AES (Rijndael-128) CBC with the iv as written, again NUL-padded.
// Both use the bytes of config.xml's crypt_key option (local.xml's
// global/crypt/key). The decrypted value is trimmed as PHP's trim() does.
//
// Magento 2 (2.3 and later) decrypts "keyVersion:3:base64(nonce||sealed)":
// ChaCha20-Poly1305 (IETF, 12-byte nonce) with the nonce also as additional
// data, under the current key of env.php's crypt/key: the last of its keys,
// keyVersion being its index. Since 2.4.7 a key may be written "base64" +
// base64(32 bytes); older keys are 32 characters used as they are.
//
// Values the reference leaves alone stay: NULL, "" and "0". A value that does
// not decrypt is an error (the row goes to the failed rows), never copied.
// Blowfish and CBC carry no authentication, so a wrong crypt_key is told by
// its output: what Magento 1 encrypted is text (valid UTF-8 without control
// characters but tab, newline, carriage return, vertical tab and form feed)
// and random bytes almost never are. No key, and nothing decrypted, appears
// in an error.
func init() {
	Register("Encrypt", newEncrypt("Encrypt"))
	Register(`Settings\Encrypt`, newEncrypt(`Settings\Encrypt`))
}

// The options the keys come from.
const (
	optM1CryptKey = "crypt_key"
	optM2CryptKey = "m2_crypt_key"
)

// m2CipherChaCha is Magento 2's cipher version of ChaCha20-Poly1305
// (Encryptor::CIPHER_AEAD_CHACHA20POLY1305).
const m2CipherChaCha = 3

// m2KeyEncodedPrefix marks a Magento 2.4.7+ key written as base64.
const m2KeyEncodedPrefix = "base64"

type encryptor struct {
	name      string
	blowfish  cipher.Block // Magento 1's plain values
	aes       cipher.Block // Magento 1 Enterprise's "v:c:iv:data" values; nil when the key does not fit
	aesErr    error        // why aes is nil
	m2        cipher.AEAD
	m2Version string
}

func newEncrypt(name string) Factory {
	return func(p Params, b Binding) (Func, error) {
		if err := hdlParams(name, p, nil, nil); err != nil {
			return nil, err
		}
		e, err := newEncryptor(name, b.Env)
		if err != nil {
			return nil, err
		}
		idx := b.Index
		return func(rec, _ []any) error {
			if idx >= len(rec) || !hdlTruthy(rec[idx]) {
				return nil
			}
			s, _ := hdlString(rec[idx])
			out, err := e.reencrypt(s)
			if err != nil {
				return err
			}
			rec[idx] = out
			return nil
		}, nil
	}
}

func newEncryptor(name string, env *HandlerEnv) (*encryptor, error) {
	e := &encryptor{name: name}
	m1 := strings.TrimSpace(env.Option(optM1CryptKey))
	if m1 == "" {
		return nil, fmt.Errorf("handler %s: the Magento 1 crypt key is not set: give it as option %s in config.xml's <options> (the value of <global><crypt><key> in Magento 1's app/etc/local.xml)", name, optM1CryptKey)
	}
	var err error
	if e.blowfish, err = blowfish.NewCipher([]byte(m1)); err != nil {
		return nil, fmt.Errorf("handler %s: option %s is %d bytes long; Magento 1's Blowfish takes 1 to 56", name, optM1CryptKey, len(m1))
	}
	if len(m1) > 32 {
		e.aesErr = fmt.Errorf("option %s is %d bytes long; AES takes at most 32", optM1CryptKey, len(m1))
	} else {
		// mcrypt pads a short key with NUL bytes to the next AES key size.
		k := make([]byte, 16)
		if len(m1) > 24 {
			k = make([]byte, 32)
		} else if len(m1) > 16 {
			k = make([]byte, 24)
		}
		copy(k, m1)
		if e.aes, err = aes.NewCipher(k); err != nil {
			return nil, fmt.Errorf("handler %s: option %s: %w", name, optM1CryptKey, err)
		}
	}

	keys := strings.Fields(env.Option(optM2CryptKey))
	if len(keys) == 0 {
		return nil, fmt.Errorf("handler %s: the Magento 2 crypt key is not set: give it as option %s (the value of 'crypt' => ['key' => ...] in Magento 2's app/etc/env.php; several keys separated by spaces or newlines, the last being current)", name, optM2CryptKey)
	}
	cur := len(keys) - 1
	key, err := m2Key(keys[cur])
	if err != nil {
		return nil, fmt.Errorf("handler %s: option %s, key %d of %d (the current one): %w", name, optM2CryptKey, cur+1, len(keys), err)
	}
	if e.m2, err = chacha20poly1305.New(key); err != nil {
		return nil, fmt.Errorf("handler %s: option %s: %w", name, optM2CryptKey, err)
	}
	e.m2Version = strconv.Itoa(cur)
	return e, nil
}

// m2Key returns the 32 bytes Magento 2's sodium cipher uses for key k.
func m2Key(k string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(k, m2KeyEncodedPrefix); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(b) != chacha20poly1305.KeySize {
			return nil, fmt.Errorf("it starts with %q but the rest is not the base64 form of %d bytes", m2KeyEncodedPrefix, chacha20poly1305.KeySize)
		}
		return b, nil
	}
	if len(k) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("it is %d bytes long; Magento 2 keys are %d characters, or %q followed by the base64 form of %d bytes", len(k), chacha20poly1305.KeySize, m2KeyEncodedPrefix, chacha20poly1305.KeySize)
	}
	return []byte(k), nil
}

// reencrypt decrypts s the Magento 1 way and encrypts the result the
// Magento 2 way.
func (e *encryptor) reencrypt(s string) (string, error) {
	plain, err := e.decryptM1(s)
	if err != nil {
		return "", fmt.Errorf("handler %s: the value does not decrypt with the Magento 1 key (option %s): %w", e.name, optM1CryptKey, err)
	}
	nonce := make([]byte, e.m2.NonceSize(), e.m2.NonceSize()+len(plain)+e.m2.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("handler %s: no random nonce: %w", e.name, err)
	}
	sealed := e.m2.Seal(nonce, nonce, plain, nonce)
	return e.m2Version + ":" + strconv.Itoa(m2CipherChaCha) + ":" + base64.StdEncoding.EncodeToString(sealed), nil
}

func (e *encryptor) decryptM1(s string) ([]byte, error) {
	block, data, iv := e.blowfish, s, []byte(nil)
	if parts := strings.SplitN(s, ":", 4); len(parts) == 4 {
		if e.aes == nil {
			return nil, e.aesErr
		}
		block, data, iv = e.aes, parts[3], []byte(parts[2])
		if len(iv) != aes.BlockSize {
			return nil, fmt.Errorf("its init vector (third part) is %d bytes long; AES takes %d", len(iv), aes.BlockSize)
		}
	}
	ct, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, errors.New("it is not base64, so not a value Magento 1 encrypted")
	}
	bs := block.BlockSize()
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, fmt.Errorf("its %d bytes are not whole %d-byte cipher blocks, so not a value Magento 1 encrypted", len(ct), bs)
	}
	out := make([]byte, len(ct))
	if iv != nil {
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	} else {
		for i := 0; i < len(ct); i += bs {
			block.Decrypt(out[i:i+bs], ct[i:i+bs])
		}
	}
	out = []byte(strings.TrimRight(string(out), "\x00"))
	if !m1Text(out) {
		return nil, errors.New("the result is not text: the key is not the one Magento 1 encrypted with, or the value is not a Magento 1 encrypted value")
	}
	// PHP's trim(): space, tab, newline, carriage return, NUL, vertical tab.
	return []byte(strings.Trim(string(out), " \t\n\r\x00\x0b")), nil
}

// m1Text reports whether b is text as Magento 1 encrypts it: valid UTF-8
// without control characters other than tab, newline, vertical tab, form
// feed and carriage return.
func m1Text(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if (c < 0x20 && (c < '\t' || c > '\r')) || c == 0x7f {
			return false
		}
	}
	return true
}
