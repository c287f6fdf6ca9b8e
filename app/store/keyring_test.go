package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestKeyring(t *testing.T) {
	current, _ := NewKeyring(key(1))
	sealed := current.Seal("shpat_secret_token", "shop:1:access_token")

	t.Run("a sealed value does not contain the secret", func(t *testing.T) {
		if strings.Contains(sealed, "shpat") || strings.Contains(sealed, "secret") {
			t.Fatalf("sealed = %q", sealed)
		}
	})
	t.Run("the same secret seals differently each time", func(t *testing.T) {
		if current.Seal("shpat_secret_token", "shop:1:access_token") == sealed {
			t.Fatal("two seals are equal: the nonce is not random")
		}
	})
	t.Run("opens with the same key and context", func(t *testing.T) {
		if got, err := current.Open(sealed, "shop:1:access_token"); err != nil || got != "shpat_secret_token" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("does not open in another row's context", func(t *testing.T) {
		if _, err := current.Open(sealed, "shop:2:access_token"); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("does not open when tampered with", func(t *testing.T) {
		// Change a character in the middle, where every bit counts (the
		// last one may only carry padding bits, and appending a fixed "AA"
		// was a no-op whenever the value already ended in AA).
		i := len(sealed) / 2
		swap := "A"
		if sealed[i] == 'A' {
			swap = "B"
		}
		tampered := sealed[:i] + swap + sealed[i+1:]
		if _, err := current.Open(tampered, "shop:1:access_token"); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("after a rotation the previous key still opens and the new one seals", func(t *testing.T) {
		rotated, _ := NewKeyring(key(2), key(1))
		if got, err := rotated.Open(sealed, "shop:1:access_token"); err != nil || got != "shpat_secret_token" {
			t.Fatalf("Open = %q, %v", got, err)
		}
		if sealedKeyID(rotated.Seal("x", "c")) == sealedKeyID(sealed) {
			t.Fatal("the rotated keyring still seals with the old key")
		}
	})
	t.Run("without the sealing key the value cannot be opened", func(t *testing.T) {
		other, _ := NewKeyring(key(3))
		if _, err := other.Open(sealed, "shop:1:access_token"); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("keys must be 32 bytes", func(t *testing.T) {
		if _, err := NewKeyring([]byte("short")); err == nil {
			t.Fatal("a short key was accepted")
		}
	})
}
