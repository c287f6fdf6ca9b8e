// Package shared finds the project's shared folder for tests: the protocol
// notes, published test vectors and sample payloads that sit beside the
// repository rather than inside it.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared folder, found by walking up from the test's
// working directory, so tests work from any clone with shared/ beside it.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		candidate := filepath.Join(dir, "shared")
		if _, err := os.Stat(filepath.Join(candidate, "protocols", "test_vectors.json")); err == nil {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no shared/protocols/test_vectors.json in any folder above the working directory; " +
				"the tests expect the shared folder beside the repository")
		}
		dir = parent
	}
}

// File returns the bytes of a file under shared/ (rel uses slashes), exactly
// as stored: signatures are computed over them.
func File(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(tb), filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
