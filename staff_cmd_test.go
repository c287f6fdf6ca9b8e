package main

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"loyalty/app"
	"loyalty/internal/password"
	"loyalty/internal/testenv"
)

func TestStaffCommands(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	svc := env.Service.WithPasswordHasher(password.Bcrypt{Cost: bcrypt.MinCost})
	staff := func(t *testing.T, stdin string, extra []string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"staff"}, args...)...)
		cmd.Env = append(environment(env, "127.0.0.1:1"), extra...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Run("staff add creates the first owner with the password from STAFF_PASSWORD", func(t *testing.T) {
		out, err := staff(t, "", []string{"STAFF_PASSWORD=a long enough secret"},
			"add", "--shop", testenv.ShopDomain, "--email", "Owner@Acme.test", "--name", "Olga Owner", "--role", "owner")
		if err != nil || !strings.Contains(out, "added Olga Owner (owner@acme.test) as owner") {
			t.Fatalf("%v\n%s", err, out)
		}
		m, err := svc.SignIn(ctx, env.Shop, "owner@acme.test", "a long enough secret")
		if err != nil || m.Role != app.RoleOwner {
			t.Fatalf("sign in: %v %+v", err, m)
		}
	})
	t.Run("or from stdin", func(t *testing.T) {
		if out, err := staff(t, "another good secret\n", nil,
			"add", "--shop", testenv.ShopDomain, "--email", "help@acme.test", "--name", "Sam Support", "--role", "support"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if _, err := svc.SignIn(ctx, env.Shop, "help@acme.test", "another good secret"); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct{ name, password, email, role, want string }{
		{"a short password", "short", "x@acme.test", "admin", "at least 12 characters"},
		{"an unknown role", "a long enough secret", "x@acme.test", "boss", "role must be owner, admin or support"},
		{"a taken email, whatever its case", "a long enough secret", "OWNER@acme.test", "admin", "already staff"},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			out, err := staff(t, "", []string{"STAFF_PASSWORD=" + c.password},
				"add", "--shop", testenv.ShopDomain, "--email", c.email, "--name", "X", "--role", c.role)
			if err == nil || !strings.Contains(out, c.want) {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
	t.Run("tokens create prints a token once; revoke ends it", func(t *testing.T) {
		out, err := staff(t, "", nil, "tokens", "create", "--shop", testenv.ShopDomain, "--email", "help@acme.test", "--name", "helpdesk")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		m := regexp.MustCompile(`token (\d+) for help@acme.test[^\n]*\n(lyt_\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no token in:\n%s", out)
		}
		if who, shop, err := svc.AuthenticateAPIToken(ctx, m[2]); err != nil || who.Email != "help@acme.test" || shop.ID != env.Shop.ID {
			t.Fatalf("%v %+v %+v", err, who, shop)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		if out, err := staff(t, "", nil, "tokens", "revoke", "--shop", testenv.ShopDomain, "--id", m[1]); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if _, _, err := svc.AuthenticateAPIToken(ctx, m[2]); err != app.ErrUnauthenticated {
			t.Fatalf("revoked token %d: %v", id, err)
		}
		log, _ := svc.AuditLog(ctx, testenv.ShopDomain, 20)
		var actions []string
		for _, e := range log {
			actions = append(actions, e.Action)
		}
		if s := strings.Join(actions, ","); !strings.Contains(s, "api token revoke") || !strings.Contains(s, "api token create") || !strings.Contains(s, "staff add") {
			t.Fatalf("audit: %s", s)
		}
	})
	t.Run("staff list shows everyone; disable takes access away", func(t *testing.T) {
		if out, err := staff(t, "", nil, "disable", "--shop", testenv.ShopDomain, "--email", "HELP@acme.test"); err != nil || !strings.Contains(out, "disabled") {
			t.Fatalf("%v\n%s", err, out)
		}
		out, err := staff(t, "", nil, "list", "--shop", testenv.ShopDomain)
		if err != nil || !regexp.MustCompile(`help@acme.test\s+Sam Support\s+support\s+\S+\s+disabled`).MatchString(out) ||
			!regexp.MustCompile(`owner@acme.test\s+Olga Owner\s+owner\s+\S+\s+active`).MatchString(out) {
			t.Fatalf("%v\n%s", err, out)
		}
		if _, err := svc.SignIn(ctx, env.Shop, "help@acme.test", "another good secret"); err != app.ErrBadCredentials {
			t.Fatalf("sign in when disabled: %v", err)
		}
	})
}
