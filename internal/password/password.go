// Package password hashes staff passwords with bcrypt, for app.PasswordHasher.
package password

import (
	"golang.org/x/crypto/bcrypt"

	"loyalty/app"
)

// Bcrypt hashes with bcrypt at Cost (bcrypt.DefaultCost when zero; tests
// use bcrypt.MinCost to stay fast).
type Bcrypt struct{ Cost int }

var _ app.PasswordHasher = Bcrypt{}

// Hash returns the bcrypt hash of password.
func (b Bcrypt) Hash(password string) (string, error) {
	cost := b.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	// bcrypt reads only the first 72 bytes, and refuses more.
	h, err := bcrypt.GenerateFromPassword(truncate(password), cost)
	return string(h), err
}

// Compare returns nil when password matches hash.
func (Bcrypt) Compare(hash, password string) error {
	return bcrypt.CompareHashAndPassword([]byte(hash), truncate(password))
}

func truncate(p string) []byte {
	if len(p) > 72 {
		return []byte(p[:72])
	}
	return []byte(p)
}
