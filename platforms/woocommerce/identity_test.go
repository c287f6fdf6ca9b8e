package woocommerce

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testWidgetSecret = "wc-widget-secret-0123456789"
	testStoreKey     = "store_3f9a-K"
	// goldenIdentityToken is testIdentity() signed with testWidgetSecret,
	// computed outside this package (Python's hmac, and PHP's hash_hmac in
	// TestPHPSignerMatchesGo), so the format is pinned, not just
	// self-consistent.
	goldenIdentityToken = "v1.store_3f9a-K.42.1767225600.aWGDOU-XhElIPf_7U7rr_NrvAACYcvDpOPuOqLIJaeU"
)

// testExpires is 2026-01-01T00:00:00Z; testNow an hour before, as when the
// plugin has just signed the token.
var (
	testExpires = time.Unix(1767225600, 0).UTC()
	testNow     = testExpires.Add(-time.Hour)
)

func testIdentity() Identity {
	return Identity{StoreKey: testStoreKey, CustomerID: "42", ExpiresAt: testExpires}
}

// signedWith returns testIdentity() changed by edit, signed with the test
// secret.
func signedWith(edit func(*Identity)) string {
	id := testIdentity()
	edit(&id)
	return SignIdentity(testWidgetSecret, id)
}

// withSignature returns the token with its signature replaced by edit's
// result.
func withSignature(token string, edit func(sig string) string) string {
	i := strings.LastIndexByte(token, '.')
	return token[:i+1] + edit(token[i+1:])
}

func TestSignIdentityMatchesTheDocumentedFormat(t *testing.T) {
	if got := SignIdentity(testWidgetSecret, testIdentity()); got != goldenIdentityToken {
		t.Errorf("SignIdentity = %q\nwant            %q", got, goldenIdentityToken)
	}
}

func TestVerifyIdentity(t *testing.T) {
	const day = 24 * time.Hour
	maxUint64 := strconv.FormatUint(1<<64-1, 10)
	key64 := strings.Repeat("aZ09-_", 10) + "abcd"

	tests := []struct {
		name     string
		token    string
		secret   string // testWidgetSecret when empty, unless noSecret
		noSecret bool
		storeKey string // testStoreKey when empty
		now      time.Time
		want     error // nil, ErrBadIdentity or ErrIdentityExpired
		wantID   Identity
	}{
		// Accepted.
		{name: "a token the store signed verifies", token: goldenIdentityToken, now: testNow, wantID: testIdentity()},
		{name: "a token verifies right up to its expiry", token: goldenIdentityToken, now: testExpires, wantID: testIdentity()},
		{name: "a token verifies until 30 s after its expiry (clock skew)", token: goldenIdentityToken, now: testExpires.Add(30 * time.Second), wantID: testIdentity()},
		{name: "a token expiring exactly 24 h from now verifies", token: goldenIdentityToken, now: testExpires.Add(-day), wantID: testIdentity()},
		{name: "a token expiring 24 h and 30 s from now verifies (clock skew)", token: goldenIdentityToken, now: testExpires.Add(-day - 30*time.Second), wantID: testIdentity()},
		{
			name: "the largest customer id (2^64-1) verifies", now: testNow,
			token:  signedWith(func(id *Identity) { id.CustomerID = maxUint64 }),
			wantID: Identity{StoreKey: testStoreKey, CustomerID: maxUint64, ExpiresAt: testExpires},
		},
		{
			name: "a 64-character store key of letters, digits, - and _ verifies", now: testNow, storeKey: key64,
			token:  signedWith(func(id *Identity) { id.StoreKey = key64 }),
			wantID: Identity{StoreKey: key64, CustomerID: "42", ExpiresAt: testExpires},
		},

		// Expired.
		{name: "a token 31 s past its expiry is expired", token: goldenIdentityToken, now: testExpires.Add(31 * time.Second), want: ErrIdentityExpired},
		{name: "a day-old token is expired", token: goldenIdentityToken, now: testExpires.Add(day), want: ErrIdentityExpired},

		// Refused: lifetime.
		{name: "a token expiring more than 24 h (plus skew) from now is refused", token: goldenIdentityToken, now: testExpires.Add(-day - 31*time.Second), want: ErrBadIdentity},
		{name: "a token expiring in the year 3000 is refused", token: signedWith(func(id *Identity) { id.ExpiresAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }), now: testNow, want: ErrBadIdentity},

		// Refused: who signed it, and for whom.
		{name: "a token signed with another secret is refused", token: SignIdentity("another-secret-0123456789", testIdentity()), now: testNow, want: ErrBadIdentity},
		{name: "a token for another store is refused, even under the same secret", token: goldenIdentityToken, storeKey: "other-store", now: testNow, want: ErrBadIdentity},
		{name: "a token whose store key was swapped is refused", token: strings.Replace(goldenIdentityToken, testStoreKey, "other-store", 1), storeKey: "other-store", now: testNow, want: ErrBadIdentity},
		{name: "a token whose customer id was swapped is refused", token: strings.Replace(goldenIdentityToken, ".42.", ".43.", 1), now: testNow, want: ErrBadIdentity},
		{name: "a token whose expiry was extended is refused", token: strings.Replace(goldenIdentityToken, ".1767225600.", ".1767229200.", 1), now: testNow, want: ErrBadIdentity},
		{name: "with no widget secret configured nothing verifies", token: SignIdentity("", testIdentity()), noSecret: true, now: testNow, want: ErrBadIdentity},

		// Refused: version.
		{name: "version v2 is refused", token: "v2" + strings.TrimPrefix(goldenIdentityToken, "v1"), now: testNow, want: ErrBadIdentity},
		{name: "version V1 (upper case) is refused", token: "V1" + strings.TrimPrefix(goldenIdentityToken, "v1"), now: testNow, want: ErrBadIdentity},
		{name: "a token without a version is refused", token: strings.TrimPrefix(goldenIdentityToken, "v1."), now: testNow, want: ErrBadIdentity},

		// Refused: customer id, even when properly signed.
		{name: "customer id 0 (a guest) is refused", token: signedWith(func(id *Identity) { id.CustomerID = "0" }), now: testNow, want: ErrBadIdentity},
		{name: "an empty customer id is refused", token: signedWith(func(id *Identity) { id.CustomerID = "" }), now: testNow, want: ErrBadIdentity},
		{name: "a non-numeric customer id is refused", token: signedWith(func(id *Identity) { id.CustomerID = "abc" }), now: testNow, want: ErrBadIdentity},
		{name: "a customer id with a leading zero is refused", token: signedWith(func(id *Identity) { id.CustomerID = "042" }), now: testNow, want: ErrBadIdentity},
		{name: "a negative customer id is refused", token: signedWith(func(id *Identity) { id.CustomerID = "-42" }), now: testNow, want: ErrBadIdentity},
		{name: "a customer id with a plus sign is refused", token: signedWith(func(id *Identity) { id.CustomerID = "+42" }), now: testNow, want: ErrBadIdentity},
		{name: "a customer id beyond 2^64-1 is refused", token: signedWith(func(id *Identity) { id.CustomerID = "18446744073709551616" }), now: testNow, want: ErrBadIdentity},
		{name: "a customer id with spaces is refused", token: signedWith(func(id *Identity) { id.CustomerID = " 42" }), now: testNow, want: ErrBadIdentity},

		// Refused: store key, even when properly signed.
		{name: "an empty store key is refused", token: signedWith(func(id *Identity) { id.StoreKey = "" }), now: testNow, want: ErrBadIdentity},
		{name: "a 65-character store key is refused", token: signedWith(func(id *Identity) { id.StoreKey = key64 + "x" }), storeKey: key64 + "x", now: testNow, want: ErrBadIdentity},
		{name: "a store key with a dot splits the token and is refused", token: signedWith(func(id *Identity) { id.StoreKey = "shop.example" }), storeKey: "shop.example", now: testNow, want: ErrBadIdentity},
		{name: "a store key with | (the message separator) is refused", token: signedWith(func(id *Identity) { id.StoreKey = "a|42" }), storeKey: "a|42", now: testNow, want: ErrBadIdentity},
		{name: "a store key with a space is refused", token: signedWith(func(id *Identity) { id.StoreKey = "my store" }), storeKey: "my store", now: testNow, want: ErrBadIdentity},

		// Refused: expiry field.
		{name: "an expiry with a leading zero is refused", token: strings.Replace(goldenIdentityToken, ".1767225600.", ".01767225600.", 1), now: testNow, want: ErrBadIdentity},
		{name: "a negative expiry is refused", token: strings.Replace(goldenIdentityToken, ".1767225600.", ".-1767225600.", 1), now: testNow, want: ErrBadIdentity},
		{name: "an expiry in exponent notation is refused", token: strings.Replace(goldenIdentityToken, ".1767225600.", ".17672256e2.", 1), now: testNow, want: ErrBadIdentity},
		{name: "an empty expiry is refused", token: strings.Replace(goldenIdentityToken, ".1767225600.", "..", 1), now: testNow, want: ErrBadIdentity},
		{name: "an expiry beyond int64 is refused", token: strings.Replace(goldenIdentityToken, ".1767225600.", ".99999999999999999999.", 1), now: testNow, want: ErrBadIdentity},

		// Refused: signature encoding.
		{name: "a truncated signature is refused", token: goldenIdentityToken[:len(goldenIdentityToken)-1], now: testNow, want: ErrBadIdentity},
		{name: "a padded signature is refused", token: goldenIdentityToken + "=", now: testNow, want: ErrBadIdentity},
		{name: "a signature in standard base64 (+ and /) is refused", token: withSignature(goldenIdentityToken, func(s string) string {
			return strings.NewReplacer("-", "+", "_", "/").Replace(s)
		}), now: testNow, want: ErrBadIdentity},
		{name: "a signature whose last character differs only in unused bits is refused", token: withSignature(goldenIdentityToken, func(s string) string {
			// The 43rd character carries 4 bits of the MAC and 2 unused
			// ones; a lenient decoder would read these two alike.
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, s[len(s)-1])
			return s[:len(s)-1] + string(alphabet[last^1])
		}), now: testNow, want: ErrBadIdentity},
		{name: "an empty signature is refused", token: withSignature(goldenIdentityToken, func(string) string { return "" }), now: testNow, want: ErrBadIdentity},

		// Refused: shape.
		{name: "an empty token is refused", token: "", now: testNow, want: ErrBadIdentity},
		{name: "a token with an extra part is refused", token: goldenIdentityToken + ".x", now: testNow, want: ErrBadIdentity},
		{name: "a token with surrounding whitespace is refused", token: " " + goldenIdentityToken + "\n", now: testNow, want: ErrBadIdentity},
		{name: "a token longer than 256 bytes is refused", token: goldenIdentityToken + strings.Repeat("A", 256), now: testNow, want: ErrBadIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret, storeKey := tt.secret, tt.storeKey
			if secret == "" && !tt.noSecret {
				secret = testWidgetSecret
			}
			if storeKey == "" {
				storeKey = testStoreKey
			}
			got, err := VerifyIdentity(tt.token, secret, storeKey, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyIdentity(%q) = %v, want it accepted", tt.token, err)
				}
				if got != tt.wantID {
					t.Errorf("VerifyIdentity = %+v, want %+v", got, tt.wantID)
				}
				return
			}
			if err == nil {
				t.Fatalf("VerifyIdentity(%q) accepted it as %+v, want %v", tt.token, got, tt.want)
			}
			if !errors.Is(err, ErrBadIdentity) || !errors.Is(err, tt.want) {
				t.Errorf("VerifyIdentity error %q, want one wrapping %v", err, tt.want)
			}
			if tt.want == ErrBadIdentity && errors.Is(err, ErrIdentityExpired) {
				t.Errorf("VerifyIdentity error %q says expired; it is refused for another reason", err)
			}
			if got != (Identity{}) {
				t.Errorf("VerifyIdentity returned %+v with its error", got)
			}
		})
	}
}

func TestVerifyIdentityErrorsNeverShowTheSecret(t *testing.T) {
	for _, token := range []string{goldenIdentityToken, SignIdentity("x", testIdentity()), "v1.a.b.c.d", ""} {
		_, err := VerifyIdentity(token, testWidgetSecret, "other", testNow)
		if err == nil || strings.Contains(err.Error(), testWidgetSecret) {
			t.Errorf("VerifyIdentity(%q) error = %v", token, err)
		}
	}
}

// The fuzz target checks this for random tokens; here every position of one
// token gets every byte that could matter.
func TestVerifyIdentityRefusesAnySingleByteChange(t *testing.T) {
	replacements := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.|+/= \x00\xff")
	for i := range len(goldenIdentityToken) {
		for _, b := range replacements {
			if goldenIdentityToken[i] == b {
				continue
			}
			changed := []byte(goldenIdentityToken)
			changed[i] = b
			if id, err := VerifyIdentity(string(changed), testWidgetSecret, testStoreKey, testNow); err == nil {
				t.Errorf("byte %d changed to %q: %q verified as %+v", i, b, changed, id)
			}
		}
	}
}

func FuzzVerifyIdentity(f *testing.F) {
	f.Add(goldenIdentityToken, testWidgetSecret, testStoreKey, uint64(42), uint64(3600), uint(70), byte('A'))
	f.Add("v1.a.1.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "s", "a", uint64(1), uint64(0), uint(0), byte('v'))
	f.Add("v1....", "zażółć-secret", "A-b_C", uint64(1<<64-1), uint64(86400), uint(3), byte('.'))
	f.Add("", "", "", uint64(0), uint64(0), uint(0), byte(0))
	f.Fuzz(func(t *testing.T, token, secret, storeKey string, customer, lifetime uint64, pos uint, b byte) {
		// Whatever comes in: no panic, every error wraps ErrBadIdentity,
		// and an accepted token is exactly the one SignIdentity writes.
		if id, err := VerifyIdentity(token, secret, storeKey, testNow); err != nil {
			if !errors.Is(err, ErrBadIdentity) {
				t.Fatalf("error %v does not wrap ErrBadIdentity", err)
			}
		} else if id.StoreKey != storeKey || SignIdentity(secret, id) != token {
			t.Fatalf("accepted %q as %+v, which signs differently", token, id)
		}

		// A token signed for a real customer verifies before it expires...
		storeKey = fuzzStoreKey(storeKey)
		if secret == "" || storeKey == "" || customer == 0 {
			return
		}
		want := Identity{
			StoreKey:   storeKey,
			CustomerID: strconv.FormatUint(customer, 10),
			ExpiresAt:  testNow.Add(time.Duration(lifetime%(24*3600+1)) * time.Second),
		}
		signed := SignIdentity(secret, want)
		got, err := VerifyIdentity(signed, secret, storeKey, testNow)
		if err != nil {
			t.Fatalf("VerifyIdentity(SignIdentity(%+v)) = %v", want, err)
		}
		if got != want {
			t.Fatalf("VerifyIdentity = %+v, want %+v", got, want)
		}
		// ...and never after any single byte of it changed.
		i := int(pos % uint(len(signed)))
		if signed[i] == b {
			return
		}
		changed := signed[:i] + string([]byte{b}) + signed[i+1:]
		if id, err := VerifyIdentity(changed, secret, storeKey, testNow); err == nil {
			t.Fatalf("byte %d of %q changed to %q: verified as %+v", i, signed, b, id)
		}
	})
}

// fuzzStoreKey keeps the store-key characters of s, at most 64 of them.
func fuzzStoreKey(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if b.Len() == maxStoreKeyLen {
			break
		}
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// The WordPress plugin, checked with a real PHP when one is installed.

const pluginDir = "wordpress-plugin"

// requirePHP returns the php binary, or skips: the plugin's checks are the
// only ones here that need a tool Go does not bring.
func requirePHP(t *testing.T) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		t.Skip("php is not on PATH, so the WordPress plugin is not checked (install php-cli to run these tests)")
	}
	return php
}

// runPHP runs script with stdin and returns its standard output. Any
// warning or notice fails the test: the harnesses turn them into
// exceptions.
func runPHP(t *testing.T, php, script string, stdin any, args ...string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "harness.php")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(stdin)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(php, append([]string{"-d", "display_errors=stderr", "-d", "error_reporting=-1", path}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("php %s: %v\nstderr: %s\nstdout: %s", filepath.Base(path), err, stderr.Bytes(), out)
	}
	return out
}

func pluginPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(pluginDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPluginPHPFilesPassLint(t *testing.T) {
	php := requirePHP(t)
	var files []string
	err := filepath.WalkDir(pluginDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".php") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found only %d PHP files under %s: %v", len(files), pluginDir, files)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			if out, err := exec.Command(php, "-l", file).CombinedOutput(); err != nil {
				t.Errorf("php -l %s: %v\n%s", file, err, out)
			}
		})
	}
}

// Every PHP file but uninstall.php (guarded by WP_UNINSTALL_PLUGIN) stops
// when loaded outside WordPress.
func TestPluginPHPFilesRefuseDirectAccess(t *testing.T) {
	php := requirePHP(t)
	for _, rel := range []string{"loyalty-points.php", "includes/class-loyalty-identity.php", "includes/class-loyalty-settings.php", "includes/class-loyalty-widget.php", "uninstall.php"} {
		out, err := exec.Command(php, "-d", "display_errors=stderr", pluginPath(t, rel)).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("php %s outside WordPress: %v, printed %q; want a silent exit", rel, err, out)
		}
	}
}

// signHarness signs each case of the JSON on stdin with the plugin's
// loyalty_points_sign_identity and prints the tokens as a JSON array.
const signHarness = `<?php
define( 'ABSPATH', __DIR__ . '/' );
set_error_handler( function ( $no, $str, $file, $line ) { throw new ErrorException( $str, 0, $no, $file, $line ); } );
require $argv[1];
$tokens = array();
foreach ( json_decode( stream_get_contents( STDIN ), true ) as $c ) {
	$customer = $c['customer_as_int'] ? (int) $c['customer_id'] : $c['customer_id'];
	if ( 'true' === $c['customer_id'] ) {
		$customer = true;
	}
	$expires  = $c['expires_as_int'] ? (int) $c['expires'] : $c['expires'];
	$tokens[] = loyalty_points_sign_identity( $c['secret'], $c['store_key'], $customer, $expires );
}
echo json_encode( $tokens );
`

type phpSignCase struct {
	Secret        string `json:"secret"`
	StoreKey      string `json:"store_key"`
	CustomerID    string `json:"customer_id"`
	CustomerAsInt bool   `json:"customer_as_int"` // as get_current_user_id() returns it
	Expires       string `json:"expires"`
	ExpiresAsInt  bool   `json:"expires_as_int"` // as time() + 3600 is
}

// signWithPHP returns the plugin's token for each case ("" where it refused).
func signWithPHP(t *testing.T, php string, cases []phpSignCase) []string {
	t.Helper()
	out := runPHP(t, php, signHarness, cases, pluginPath(t, "includes/class-loyalty-identity.php"))
	var tokens []string
	if err := json.Unmarshal(out, &tokens); err != nil || len(tokens) != len(cases) {
		t.Fatalf("PHP printed %q (%v), want %d tokens", out, err, len(cases))
	}
	return tokens
}

func TestPHPSignerMatchesGo(t *testing.T) {
	php := requirePHP(t)
	exp := strconv.FormatInt(testExpires.Unix(), 10)
	cases := []phpSignCase{
		{Secret: testWidgetSecret, StoreKey: testStoreKey, CustomerID: "42", CustomerAsInt: true, Expires: exp, ExpiresAsInt: true},
		{Secret: testWidgetSecret, StoreKey: testStoreKey, CustomerID: "42", Expires: exp},
		{Secret: testWidgetSecret, StoreKey: "a", CustomerID: "1", CustomerAsInt: true, Expires: exp, ExpiresAsInt: true},
		{Secret: testWidgetSecret, StoreKey: "-", CustomerID: "9223372036854775807", CustomerAsInt: true, Expires: exp, ExpiresAsInt: true},
		{Secret: testWidgetSecret, StoreKey: "_", CustomerID: "18446744073709551615", Expires: exp},
		{Secret: testWidgetSecret, StoreKey: "store-with-dashes_and_underscores-0123456789", CustomerID: "1000000", CustomerAsInt: true, Expires: "1767222001"},
		{Secret: testWidgetSecret, StoreKey: strings.Repeat("Ab-_9", 12) + "wxyz", CustomerID: "7", CustomerAsInt: true, Expires: exp},
		{Secret: `p@ss/word+with=&<>"'!~`, StoreKey: testStoreKey, CustomerID: "42", Expires: exp},
		{Secret: "zażółć-gęślą-jaźń-ключ-秘密", StoreKey: testStoreKey, CustomerID: "42", Expires: exp},
		{Secret: strings.Repeat("0123456789abcdef", 16), StoreKey: testStoreKey, CustomerID: "42", Expires: exp},
	}
	tokens := signWithPHP(t, php, cases)
	for i, c := range cases {
		id := Identity{StoreKey: c.StoreKey, CustomerID: c.CustomerID, ExpiresAt: time.Unix(mustAtoi(t, c.Expires), 0).UTC()}
		if want := SignIdentity(c.Secret, id); tokens[i] != want {
			t.Errorf("case %d %+v:\nPHP signed %q\nGo signed  %q", i, c, tokens[i], want)
			continue
		}
		got, err := VerifyIdentity(tokens[i], c.Secret, c.StoreKey, testNow)
		if err != nil || got != id {
			t.Errorf("case %d: VerifyIdentity(PHP's %q) = %+v, %v; want %+v", i, tokens[i], got, err, id)
		}
	}
	if tokens[0] != goldenIdentityToken {
		t.Errorf("PHP signed %q, want the golden %q", tokens[0], goldenIdentityToken)
	}
}

func TestPHPSignerRefusesWhatGoRefuses(t *testing.T) {
	php := requirePHP(t)
	exp := strconv.FormatInt(testExpires.Unix(), 10)
	ok := phpSignCase{Secret: testWidgetSecret, StoreKey: testStoreKey, CustomerID: "42", Expires: exp}
	with := func(edit func(*phpSignCase)) phpSignCase { c := ok; edit(&c); return c }
	cases := map[string]phpSignCase{
		"no secret":                       with(func(c *phpSignCase) { c.Secret = "" }),
		"empty store key":                 with(func(c *phpSignCase) { c.StoreKey = "" }),
		"store key with a dot":            with(func(c *phpSignCase) { c.StoreKey = "shop.example" }),
		"store key with |":                with(func(c *phpSignCase) { c.StoreKey = "a|b" }),
		"store key of 65 characters":      with(func(c *phpSignCase) { c.StoreKey = strings.Repeat("k", 65) }),
		"store key with a newline at end": with(func(c *phpSignCase) { c.StoreKey = testStoreKey + "\n" }),
		"store key not in ASCII":          with(func(c *phpSignCase) { c.StoreKey = "sklep-żółty" }),
		"customer 0 (a guest)":            with(func(c *phpSignCase) { c.CustomerID, c.CustomerAsInt = "0", true }),
		"customer with a leading zero":    with(func(c *phpSignCase) { c.CustomerID = "042" }),
		"negative customer":               with(func(c *phpSignCase) { c.CustomerID, c.CustomerAsInt = "-42", true }),
		"customer with a newline at end":  with(func(c *phpSignCase) { c.CustomerID = "42\n" }),
		"customer id of 21 digits":        with(func(c *phpSignCase) { c.CustomerID = "123456789012345678901" }),
		"customer id true (not user 1)":   with(func(c *phpSignCase) { c.CustomerID = "true" }),
		"expiry 0":                        with(func(c *phpSignCase) { c.Expires, c.ExpiresAsInt = "0", true }),
		"expiry with a leading zero":      with(func(c *phpSignCase) { c.Expires = "0" + exp }),
		"negative expiry":                 with(func(c *phpSignCase) { c.Expires = "-" + exp }),
	}
	var names []string
	var list []phpSignCase
	for name, c := range cases {
		names = append(names, name)
		list = append(list, c)
	}
	tokens := signWithPHP(t, php, list)
	for i, name := range names {
		c := list[i]
		if tokens[i] != "" {
			t.Errorf("%s: PHP signed %q, want it refused", name, tokens[i])
		}
		expires, err := strconv.ParseInt(c.Expires, 10, 64)
		if err != nil || strconv.FormatInt(expires, 10) != c.Expires {
			continue // SignIdentity cannot write this expiry
		}
		id := Identity{StoreKey: c.StoreKey, CustomerID: c.CustomerID, ExpiresAt: time.Unix(expires, 0)}
		if _, err := VerifyIdentity(SignIdentity(c.Secret, id), c.Secret, c.StoreKey, testNow); err == nil {
			t.Errorf("%s: Go accepts an identity the plugin refuses to sign", name)
		}
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wpHarness loads the whole plugin on just enough of WordPress and
// WooCommerce (stubs whose escaping follows core's) to run one scenario from
// stdin, and prints what happened as JSON.
const wpHarness = `<?php
define( 'ABSPATH', __DIR__ . '/' );
set_error_handler( function ( $no, $str, $file, $line ) { throw new ErrorException( $str, 0, $no, $file, $line ); } );
$GLOBALS['t'] = array(
	'scenario'   => json_decode( stream_get_contents( STDIN ), true ),
	'hooks'      => array(),
	'shortcodes' => array(),
	'scripts'    => array(),
	'errors'     => array(),
);

class WooCommerce {}
function add_action( $hook, $callback, $priority = 10, $accepted_args = 1 ) { $GLOBALS['t']['hooks'][ $hook ][] = $callback; return true; }
function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) { return add_action( $hook, $callback ); }
function do_action( $hook, ...$args ) { foreach ( $GLOBALS['t']['hooks'][ $hook ] ?? array() as $cb ) { call_user_func_array( $cb, $args ); } }
function apply_filters( $hook, $value, ...$args ) { foreach ( $GLOBALS['t']['hooks'][ $hook ] ?? array() as $cb ) { $value = call_user_func_array( $cb, array_merge( array( $value ), $args ) ); } return $value; }
function add_shortcode( $tag, $callback ) { $GLOBALS['t']['shortcodes'][ $tag ] = $callback; }
function get_option( $name, $default = false ) { $o = $GLOBALS['t']['scenario']['options']; return array_key_exists( $name, $o ) ? $o[ $name ] : $default; }
function plugin_basename( $file ) { return 'loyalty-points/' . basename( $file ); }
function get_locale() { return $GLOBALS['t']['scenario']['locale']; }
function get_woocommerce_currency() { return $GLOBALS['t']['scenario']['currency']; }
function get_current_user_id() { return $GLOBALS['t']['scenario']['user_id']; }
function wc_get_page_permalink( $page ) { if ( 'myaccount' !== $page ) { throw new Exception( $page ); } return 'https://shop.example/my-account/'; }
function wp_registration_url() { return 'https://shop.example/wp-login.php?action=register&lang=pl'; }
function wp_enqueue_script( $handle, $src = '', $deps = array(), $ver = false, $args = array() ) { $GLOBALS['t']['scripts'][ $handle ] = array( 'src' => $src, 'deps' => $deps, 'ver' => $ver, 'args' => $args ); }
function esc_attr( $text ) { return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' ); }
function esc_html( $text ) { return esc_attr( $text ); }
function esc_url( $url ) { return str_replace( array( '&', "'" ), array( '&#038;', '&#039;' ), (string) $url ); }
function esc_url_raw( $url, $protocols = null ) { return preg_match( '#^[a-z]+://#i', $url ) ? $url : 'http://' . $url; }
function wp_parse_url( $url ) { return parse_url( $url ); }
function untrailingslashit( $s ) { return rtrim( $s, '/\\' ); }
function __( $text, $domain = 'default' ) { return $text; }
function esc_html__( $text, $domain = 'default' ) { return esc_html( $text ); }
function add_settings_error( $setting, $code, $message, $type = 'error' ) { $GLOBALS['t']['errors'][] = $setting; }

require $argv[1];
do_action( 'plugins_loaded' );

$s   = $GLOBALS['t']['scenario'];
$out = array();
ob_start();
if ( 'shortcode' === $s['run'] ) {
	echo call_user_func( $GLOBALS['t']['shortcodes']['loyalty_widget'], array(), '', 'loyalty_widget' );
} elseif ( 'settings' === $s['run'] ) {
	Loyalty_Points_Settings::render_widget_secret();
	$out['sanitized'] = array(
		'secret kept when left empty'   => Loyalty_Points_Settings::sanitize_widget_secret( '' ),
		'secret kept when too short'    => Loyalty_Points_Settings::sanitize_widget_secret( 'short' ),
		'secret kept when it has space' => Loyalty_Points_Settings::sanitize_widget_secret( 'new secret 0123456789' ),
		'secret replaced'               => Loyalty_Points_Settings::sanitize_widget_secret( ' new-secret-0123456789 ' ),
		'store key kept when invalid'   => Loyalty_Points_Settings::sanitize_store_key( 'shop.example' ),
		'store key replaced'            => Loyalty_Points_Settings::sanitize_store_key( ' new_key-1 ' ),
		'app url kept when http'        => Loyalty_Points_Settings::sanitize_app_url( 'http://loyalty.example.com' ),
		'app url kept without scheme'   => Loyalty_Points_Settings::sanitize_app_url( 'loyalty.example.com' ),
		'app url kept with a query'     => Loyalty_Points_Settings::sanitize_app_url( 'https://loyalty.example.com/?x=1' ),
		'app url replaced'              => Loyalty_Points_Settings::sanitize_app_url( 'https://new.example.com/' ),
		'local app url over http'       => Loyalty_Points_Settings::sanitize_app_url( 'http://localhost:8080' ),
		'unknown placement'             => Loyalty_Points_Settings::sanitize_placement( 'popup' ),
		'placement replaced'            => Loyalty_Points_Settings::sanitize_placement( 'account' ),
	);
} else {
	do_action( $s['run'] );
}
$out['html']        = ob_get_clean();
$out['hooked']      = array_keys( $GLOBALS['t']['hooks'] );
$out['scripts']     = (object) $GLOBALS['t']['scripts'];
$out['errors']      = $GLOBALS['t']['errors'];
$out['donotcache']  = defined( 'DONOTCACHEPAGE' );
$out['module_tags'] = array(
	apply_filters( 'script_loader_tag', '<script src="https://loyalty.example.com/widget/loyalty-widget.js" id="loyalty-points-widget-js" defer data-wp-strategy="defer"></script>' . "\n", 'loyalty-points-widget', 'https://loyalty.example.com/widget/loyalty-widget.js' ),
	apply_filters( 'script_loader_tag', "<script type='text/javascript' src='https://loyalty.example.com/widget/loyalty-widget.js' id='loyalty-points-widget-js'></script>\n", 'loyalty-points-widget', '' ),
	apply_filters( 'script_loader_tag', "<script src='https://shop.example/other.js' id='other-js'></script>\n", 'other', '' ),
);
echo json_encode( $out );
`

type wpScenario struct {
	Options  map[string]any `json:"options"`
	Locale   string         `json:"locale"`
	Currency string         `json:"currency"`
	UserID   int            `json:"user_id"`
	Run      string         `json:"run"` // an action to fire, "shortcode" or "settings"
}

type wpResult struct {
	HTML    string   `json:"html"`
	Hooked  []string `json:"hooked"`
	Scripts map[string]struct {
		Src  string            `json:"src"`
		Ver  any               `json:"ver"`
		Args map[string]any    `json:"args"`
		Deps []json.RawMessage `json:"deps"`
	} `json:"scripts"`
	Errors     []string          `json:"errors"`
	DoNotCache bool              `json:"donotcache"`
	ModuleTags []string          `json:"module_tags"`
	Sanitized  map[string]string `json:"sanitized"`
}

func runPlugin(t *testing.T, php string, s wpScenario) wpResult {
	t.Helper()
	out := runPHP(t, php, wpHarness, s, pluginPath(t, "loyalty-points.php"))
	var r wpResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("harness printed %q: %v", out, err)
	}
	return r
}

// connected is a store with the plugin set up: the floating launcher,
// WooCommerce's own registration form on.
func connected(edit func(*wpScenario)) wpScenario {
	s := wpScenario{
		Options: map[string]any{
			"loyalty_points_app_url":                    "https://loyalty.example.com",
			"loyalty_points_store_key":                  testStoreKey,
			"loyalty_points_widget_secret":              testWidgetSecret,
			"loyalty_points_placement":                  "floating",
			"woocommerce_enable_myaccount_registration": "yes",
		},
		Locale:   "pl_PL",
		Currency: "PLN",
		Run:      "wp_footer",
	}
	if edit != nil {
		edit(&s)
	}
	return s
}

var tokenAttr = regexp.MustCompile(` data-token="([^"]*)"`)

func TestPluginRendersTheWidget(t *testing.T) {
	php := requirePHP(t)
	const (
		common   = `<loyalty-widget data-platform="woocommerce" data-store="store_3f9a-K" data-api="https://loyalty.example.com" data-locale="pl_PL" data-currency="PLN"`
		guestEnd = ` data-login-url="https://shop.example/my-account/" data-register-url="https://shop.example/my-account/"></loyalty-widget>`
	)
	tests := []struct {
		name       string
		scenario   wpScenario
		want       string // {token} stands for the signed token
		wantHooked []string
		wantNot    []string // hooks that must not be used
	}{
		{
			name:       "a guest gets the launcher with sign-in and register links, and no token",
			scenario:   connected(nil),
			want:       common + ` data-layout="launcher"` + guestEnd,
			wantHooked: []string{"wp_footer"},
		},
		{
			name:     "a logged-in customer gets the launcher with a signed token",
			scenario: connected(func(s *wpScenario) { s.UserID = 7 }),
			want:     common + ` data-layout="launcher" data-token="{token}"></loyalty-widget>`,
		},
		{
			name: "without WooCommerce registration a guest is sent to WordPress's",
			scenario: connected(func(s *wpScenario) {
				s.Options["woocommerce_enable_myaccount_registration"] = "no"
				s.Options["users_can_register"] = "1"
			}),
			want: common + ` data-layout="launcher" data-login-url="https://shop.example/my-account/" data-register-url="https://shop.example/wp-login.php?action=register&#038;lang=pl"></loyalty-widget>`,
		},
		{
			name:     "where no one may register, a guest gets no register link",
			scenario: connected(func(s *wpScenario) { s.Options["woocommerce_enable_myaccount_registration"] = "no" }),
			want:     common + ` data-layout="launcher" data-login-url="https://shop.example/my-account/"></loyalty-widget>`,
		},
		{
			name: "the My Account placement shows the widget inline on the dashboard",
			scenario: connected(func(s *wpScenario) {
				s.Options["loyalty_points_placement"] = "account"
				s.UserID = 7
				s.Run = "woocommerce_account_dashboard"
			}),
			want:       common + ` data-layout="inline" data-token="{token}"></loyalty-widget>`,
			wantHooked: []string{"woocommerce_account_dashboard", "woocommerce_after_customer_login_form"},
			wantNot:    []string{"wp_footer"},
		},
		{
			name: "the My Account placement shows guests the widget below the login form",
			scenario: connected(func(s *wpScenario) {
				s.Options["loyalty_points_placement"] = "account"
				s.Run = "woocommerce_after_customer_login_form"
			}),
			want: common + ` data-layout="inline"` + guestEnd,
		},
		{
			name: "the shortcode placement adds nothing by itself",
			scenario: connected(func(s *wpScenario) {
				s.Options["loyalty_points_placement"] = "shortcode"
				s.UserID = 7
			}),
			want:    "",
			wantNot: []string{"wp_footer", "woocommerce_account_dashboard"},
		},
		{
			name: "the [loyalty_widget] shortcode renders the widget inline",
			scenario: connected(func(s *wpScenario) {
				s.Options["loyalty_points_placement"] = "shortcode"
				s.UserID = 7
				s.Run = "shortcode"
			}),
			want: common + ` data-layout="inline" data-token="{token}"></loyalty-widget>`,
		},
		{
			name:     "the shortcode works with the floating placement too",
			scenario: connected(func(s *wpScenario) { s.Run = "shortcode" }),
			want:     common + ` data-layout="inline"` + guestEnd,
		},
		{
			name:     "attribute values are escaped",
			scenario: connected(func(s *wpScenario) { s.Currency = `"><script>alert(1)</script>`; s.Locale = "x' onload='y" }),
			want:     strings.NewReplacer(`data-locale="pl_PL"`, `data-locale="x&#039; onload=&#039;y"`, `data-currency="PLN"`, `data-currency="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`).Replace(common) + ` data-layout="launcher"` + guestEnd,
		},
		{
			name:     "without a widget secret the widget stays hidden",
			scenario: connected(func(s *wpScenario) { delete(s.Options, "loyalty_points_widget_secret"); s.UserID = 7 }),
			want:     "",
		},
		{
			name:     "without a store key the widget stays hidden",
			scenario: connected(func(s *wpScenario) { s.Options["loyalty_points_store_key"] = "" }),
			want:     "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now().Add(-time.Second)
			r := runPlugin(t, php, tt.scenario)
			html := r.HTML
			if m := tokenAttr.FindStringSubmatch(html); m != nil {
				id, err := VerifyIdentity(m[1], testWidgetSecret, testStoreKey, time.Now())
				if err != nil {
					t.Fatalf("the page's token %q does not verify: %v", m[1], err)
				}
				if lifetime := id.ExpiresAt.Sub(start); id.CustomerID != "7" || lifetime < time.Hour || lifetime > time.Hour+time.Minute {
					t.Errorf("token for customer %s lives %s; want customer 7 for an hour", id.CustomerID, lifetime)
				}
				html = strings.Replace(html, m[1], "{token}", 1)
			}
			if html != tt.want {
				t.Errorf("rendered\n%s\nwant\n%s", html, tt.want)
			}
			if wantToken := strings.Contains(tt.want, "{token}"); r.DoNotCache != wantToken {
				t.Errorf("DONOTCACHEPAGE defined: %v; want it exactly when the page carries a token (%v)", r.DoNotCache, wantToken)
			}
			script, enqueued := r.Scripts["loyalty-points-widget"]
			if enqueued != (tt.want != "") {
				t.Errorf("script enqueued: %v; want it exactly when the widget is shown", enqueued)
			}
			if enqueued {
				if script.Src != "https://loyalty.example.com/widget/loyalty-widget.js" || script.Ver != nil || len(script.Deps) != 0 ||
					script.Args["in_footer"] != true || script.Args["strategy"] != "defer" {
					t.Errorf("script enqueued as %+v; want the app's loyalty-widget.js, no version, deferred in the footer", script)
				}
			}
			for _, hook := range tt.wantHooked {
				if !containsString(r.Hooked, hook) {
					t.Errorf("%s is not hooked (hooked: %v)", hook, r.Hooked)
				}
			}
			for _, hook := range tt.wantNot {
				if containsString(r.Hooked, hook) {
					t.Errorf("%s is hooked, want it left alone", hook)
				}
			}
		})
	}
}

func TestPluginLoadsTheWidgetAsAModule(t *testing.T) {
	php := requirePHP(t)
	r := runPlugin(t, php, connected(nil))
	want := []string{
		`<script type="module" src="https://loyalty.example.com/widget/loyalty-widget.js" id="loyalty-points-widget-js" defer data-wp-strategy="defer"></script>` + "\n",
		`<script type="module" src='https://loyalty.example.com/widget/loyalty-widget.js' id='loyalty-points-widget-js'></script>` + "\n",
		`<script src='https://shop.example/other.js' id='other-js'></script>` + "\n",
	}
	for i := range want {
		if i >= len(r.ModuleTags) || r.ModuleTags[i] != want[i] {
			t.Errorf("script_loader_tag %d = %q, want %q", i, r.ModuleTags, want[i])
		}
	}
}

func TestPluginSettingsKeepTheSecretWriteOnly(t *testing.T) {
	php := requirePHP(t)
	r := runPlugin(t, php, connected(func(s *wpScenario) { s.Run = "settings" }))
	if strings.Contains(r.HTML, testWidgetSecret) {
		t.Errorf("the settings field shows the secret:\n%s", r.HTML)
	}
	if !strings.Contains(r.HTML, `type="password"`) || !strings.Contains(r.HTML, `value=""`) || !strings.Contains(r.HTML, "<strong>set</strong>") {
		t.Errorf("want an empty password field and \"set\":\n%s", r.HTML)
	}
	want := map[string]string{
		"secret kept when left empty":   testWidgetSecret,
		"secret kept when too short":    testWidgetSecret,
		"secret kept when it has space": testWidgetSecret,
		"secret replaced":               "new-secret-0123456789",
		"store key kept when invalid":   testStoreKey,
		"store key replaced":            "new_key-1",
		"app url kept when http":        "https://loyalty.example.com",
		"app url kept without scheme":   "https://loyalty.example.com",
		"app url kept with a query":     "https://loyalty.example.com",
		"app url replaced":              "https://new.example.com",
		"local app url over http":       "http://localhost:8080",
		"unknown placement":             "floating",
		"placement replaced":            "account",
	}
	for rule, w := range want {
		if got := r.Sanitized[rule]; got != w {
			t.Errorf("%s: got %q, want %q", rule, got, w)
		}
	}
	wantErrors := []string{
		"loyalty_points_widget_secret", "loyalty_points_widget_secret", "loyalty_points_store_key",
		"loyalty_points_app_url", "loyalty_points_app_url", "loyalty_points_app_url",
	}
	if strings.Join(r.Errors, ",") != strings.Join(wantErrors, ",") {
		t.Errorf("settings errors %v, want one per refused value %v", r.Errors, wantErrors)
	}

	r = runPlugin(t, php, connected(func(s *wpScenario) { s.Run = "settings"; delete(s.Options, "loyalty_points_widget_secret") }))
	if !strings.Contains(r.HTML, "<strong>not set</strong>") {
		t.Errorf("want \"not set\" without a secret:\n%s", r.HTML)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
