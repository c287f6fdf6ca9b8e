package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"loyalty/app"
	"loyalty/internal/password"
	"loyalty/internal/testenv"
)

// cliEnv points the in-process commands at the test's databases, as the
// environment points the binary.
func cliEnv(t *testing.T, env *testenv.Env) {
	t.Helper()
	for _, kv := range environment(env, "127.0.0.1:0")[len(os.Environ()):] {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func TestExportAndKPIsCommands(t *testing.T) {
	env := testenv.New(t, nil)
	cliEnv(t, env)
	ctx := context.Background()
	if _, err := env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "1001", Currency: "USD", Subtotal: app.MustAmount("25"),
		Customer: &app.CustomerRef{PlatformID: "c1", Email: "c1@example.com"}, PaidAt: time.Now()}); err != nil {
		t.Fatalf("accrue: %v", err)
	}
	if _, err := env.Service.Adjust(ctx, env.Shop, app.Adjustment{CustomerID: "c1", Points: 5, Staff: "ola", Reason: "=1+1 goodwill",
		IdempotencyKey: "cli-1"}); err != nil {
		t.Fatalf("adjust: %v", err)
	}

	t.Run("export ledger writes the CSV to standard output", func(t *testing.T) {
		var out bytes.Buffer
		if err := exportCmd(ctx, []string{"ledger", "--shop", testenv.ShopDomain}, &out); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "entry_id,customer_id,") || !strings.Contains(lines[1], ",c1,c1@example.com,earn,25,25,0,1001,") ||
			!strings.Contains(lines[2], ",'=1+1 goodwill,ola,") {
			t.Errorf("ledger export:\n%s", out.String())
		}
	})
	t.Run("export members --out writes the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "members.csv")
		if err := exportCmd(ctx, []string{"members", "--shop", testenv.ShopDomain, "--out", path}, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "customer_id,email,") || !strings.Contains(string(b), "\nc1,") {
			t.Errorf("members file:\n%s", b)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".members.csv.*")); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("an unknown export is refused", func(t *testing.T) {
		if err := exportCmd(ctx, []string{"orders", "--shop", testenv.ShopDomain}, &bytes.Buffer{}); err == nil {
			t.Error("exported orders")
		}
	})
	t.Run("kpis prints a line per bucket and a total", func(t *testing.T) {
		var out bytes.Buffer
		if err := kpisCmd(ctx, []string{"--shop", testenv.ShopDomain, "--from", "2020-01-01", "--to", "2040-01-01", "--by", "month"}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "2020-01-01") || !strings.Contains(out.String(), "2039-12-01") {
			t.Errorf("kpis:\n%s", out.String()[:min(out.Len(), 2000)])
		}
		total := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "total") {
				total = strings.Join(strings.Fields(l), " ")
			}
		}
		// one member, active, 30 points issued, none redeemed or expired, 30 outstanding
		if !strings.HasPrefix(total, "total 1 1 30 0 0 0.0 30 ") {
			t.Errorf("total line %q", total)
		}
	})
	t.Run("kpis refuses a bad period", func(t *testing.T) {
		if err := kpisCmd(ctx, []string{"--shop", testenv.ShopDomain, "--from", "2026-12-01", "--to", "2026-11-01"}, &bytes.Buffer{}); err == nil {
			t.Error("accepted a period that ends before it starts")
		}
	})
}

func TestImportBalancesCommand(t *testing.T) {
	env := testenv.New(t, nil)
	cliEnv(t, env)
	ctx := context.Background()
	if _, err := env.Service.WithPasswordHasher(password.Bcrypt{Cost: bcrypt.MinCost}).AddStaff(ctx, env.Shop, "test",
		"sue@acme.test", "Sue", app.RoleSupport, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "smile.csv")
	if err := os.WriteFile(path, []byte("customer_id,email,points\nc9,c9@example.com,120\nbad,,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) string {
		t.Helper()
		var out bytes.Buffer
		args := append([]string{"balances", "--shop", testenv.ShopDomain, "--file", path, "--as", "sue@acme.test"}, extra...)
		if err := importCmd(ctx, args, &out); err != nil {
			t.Fatalf("import %v: %v", extra, err)
		}
		return out.String()
	}
	t.Run("a dry run prints each row's outcome and changes nothing", func(t *testing.T) {
		out := run("--dry-run")
		if !strings.Contains(out, "dry run: would import +120 points for 1 customers; 0 unchanged, 1 failed") || !strings.Contains(out, "new customer") {
			t.Fatalf("output:\n%s", out)
		}
		if _, err := env.Service.Balance(ctx, env.Shop, "c9"); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("dry run created the customer: %v", err)
		}
	})
	t.Run("the import applies once, however often it runs", func(t *testing.T) {
		run()
		if out := run(); !strings.Contains(out, "imported +0 points for 0 customers; 1 unchanged, 1 failed") {
			t.Fatalf("second run:\n%s", out)
		}
		c, err := env.Service.Balance(ctx, env.Shop, "c9")
		if err != nil || c.Balance != 120 || c.Email != "c9@example.com" {
			t.Fatalf("customer = %+v, %v", c, err)
		}
	})
	t.Run("the importer must be staff who may adjust balances", func(t *testing.T) {
		err := importCmd(ctx, []string{"balances", "--shop", testenv.ShopDomain, "--file", path, "--as", "nobody@acme.test"}, &bytes.Buffer{})
		if err == nil {
			t.Fatal("an unknown staff member imported")
		}
	})
}
