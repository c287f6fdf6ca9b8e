package config

import (
	"maps"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestConsoleUsers(t *testing.T) {
	t.Run("development has the demo login when none is set", func(t *testing.T) {
		c, err := load(fromMap(nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Console.Users) != 1 || c.Console.Users[0].Name != DevConsoleUser ||
			bcrypt.CompareHashAndPassword([]byte(c.Console.Users[0].Hash), []byte(DevConsolePassword)) != nil {
			t.Fatalf("console users %+v", c.Console.Users)
		}
	})
	t.Run("production without staff has the console off", func(t *testing.T) {
		c, err := load(fromMap(goodProduction))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Console.Users) != 0 {
			t.Fatalf("console users %+v", c.Console.Users)
		}
	})
	t.Run("names and bcrypt hashes, comma separated", func(t *testing.T) {
		env := maps.Clone(goodProduction)
		env["CONSOLE_USERS"] = "ada:" + hash(t, "s3cret-1") + ", grace:" + hash(t, "s3cret-2")
		c, err := load(fromMap(env))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Console.Users) != 2 || c.Console.Users[1].Name != "grace" {
			t.Fatalf("console users %+v", c.Console.Users)
		}
		masked := strings.Join(c.Masked(), "\n")
		if !strings.Contains(masked, "CONSOLE_USERS=ada:****,grace:****") || strings.Contains(masked, "$2a$") {
			t.Fatalf("masked config shows:\n%s", masked)
		}
	})
	tests := []struct{ name, value, want string }{
		{"an entry without a hash", "ada", "CONSOLE_USERS: each entry must be name:bcrypt-hash"},
		{"a password in clear", "ada:hunter2", "CONSOLE_USERS: the password of ada must be a bcrypt hash"},
		{"a name twice", "ada:" + devConsoleHash + ",ada:" + devConsoleHash, "CONSOLE_USERS: ada is listed twice"},
		{"the development password in production", "ada:" + devConsoleHash, "CONSOLE_USERS: ada has the public development password"},
	}
	for _, tc := range tests {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			env := maps.Clone(goodProduction)
			env["CONSOLE_USERS"] = tc.value
			_, err := load(fromMap(env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
