package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Keyring encrypts secrets at rest (platform access tokens, per-shop webhook
// secrets) with AES-256-GCM. The first key seals; every key opens, so a key
// rotation can proceed row by row while the app keeps running.
type Keyring struct {
	keys []sealKey
}

type sealKey struct {
	id   string
	aead cipher.AEAD
}

// sealedPrefix marks the format, so a later format can live beside it.
const sealedPrefix = "v1"

// NewKeyring builds a keyring from 32-byte keys, the sealing key first.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	for i, raw := range append([][]byte{current}, previous...) {
		if len(raw) != 32 {
			return nil, fmt.Errorf("encryption key %d: want 32 bytes, got %d", i+1, len(raw))
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		// The id names the key without revealing it: a short hash, enough to
		// pick the right key when opening and to find rows still sealed with
		// an old one.
		sum := sha256.Sum256(append([]byte("loyalty key id:"), raw...))
		k.keys = append(k.keys, sealKey{id: hex.EncodeToString(sum[:4]), aead: aead})
	}
	return k, nil
}

// CurrentKeyID is the id of the sealing key.
func (k *Keyring) CurrentKeyID() string { return k.keys[0].id }

// Seal encrypts plaintext. The context (for example "shop:42:access_token")
// is authenticated but not stored: a sealed value copied to another row or
// field does not open there.
func (k *Keyring) Seal(plaintext, context string) string {
	key := k.keys[0]
	nonce := make([]byte, key.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	sealed := key.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return sealedPrefix + ":" + key.id + ":" + base64.RawURLEncoding.EncodeToString(sealed)
}

// ErrUnsealable means a sealed value cannot be opened: the key that sealed it
// is not configured, or the value was tampered with or moved.
var ErrUnsealable = errors.New("sealed value cannot be opened with the configured keys")

// Open decrypts a value made by Seal with the same context.
func (k *Keyring) Open(sealed, context string) (string, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != sealedPrefix {
		return "", ErrUnsealable
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", ErrUnsealable
	}
	for _, key := range k.keys {
		if key.id != parts[1] || len(raw) < key.aead.NonceSize() {
			continue
		}
		plain, err := key.aead.Open(nil, raw[:key.aead.NonceSize()], raw[key.aead.NonceSize():], []byte(context))
		if err != nil {
			return "", ErrUnsealable
		}
		return string(plain), nil
	}
	return "", fmt.Errorf("%w (sealed with key %s)", ErrUnsealable, parts[1])
}

// sealedKeyID returns the id of the key a value was sealed with.
func sealedKeyID(sealed string) string {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}
