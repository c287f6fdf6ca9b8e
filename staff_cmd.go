package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"loyalty/app"
)

// passwordInput is where `staff add` reads a password when STAFF_PASSWORD
// is not set; tests replace it.
var passwordInput io.Reader = os.Stdin

const staffSynopsis = "staff add|list|disable|tokens"

func staffCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, staffSynopsis)
	if err != nil {
		return err
	}
	switch command {
	case "add":
		return staffAdd(ctx, args, out)
	case "list":
		fs := newFlags("staff list", "staff list --shop DOMAIN", out)
		platform, domain := shopFlag(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		d, shop, err := openShop(ctx, fs, *platform, *domain)
		if err != nil {
			return err
		}
		defer d.store.Close()
		list, err := d.svc.StaffList(ctx, shop)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tCREATED\tSTATUS")
		for _, m := range list {
			status := "active"
			if !m.DisabledAt.IsZero() {
				status = "disabled " + m.DisabledAt.Format(time.DateOnly)
			} else if m.LockedUntil.After(time.Now()) {
				status = "locked until " + m.LockedUntil.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Email, m.Name, m.Role, m.CreatedAt.Format(time.DateOnly), status)
		}
		return tw.Flush()
	case "disable":
		fs := newFlags("staff disable", "staff disable --shop DOMAIN --email EMAIL", out)
		platform, domain := shopFlag(fs)
		email := fs.String("email", "", "the staff member to disable")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *email == "" {
			fs.Usage()
			return fmt.Errorf("--email is required")
		}
		d, shop, err := openShop(ctx, fs, *platform, *domain)
		if err != nil {
			return err
		}
		defer d.store.Close()
		if err := d.svc.DisableStaff(ctx, shop, "cli", *email); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s disabled: signed out everywhere, API tokens no longer work\n", *email)
		return nil
	case "tokens":
		return staffTokens(ctx, args, out)
	default:
		return fmt.Errorf("unknown staff command %q: use add, list, disable or tokens", command)
	}
}

// staffAdd creates a staff member, typically a shop's first owner, who
// then adds the others from the console.
func staffAdd(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("staff add", "staff add --shop DOMAIN --email EMAIL --name NAME --role owner|admin|support (password from STAFF_PASSWORD or stdin)", out)
	platform, domain := shopFlag(fs)
	email := fs.String("email", "", "the staff member's email, their sign-in name")
	name := fs.String("name", "", "the staff member's name, shown in the audit log")
	role := fs.String("role", "", "owner, admin or support")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" || *role == "" {
		fs.Usage()
		return fmt.Errorf("--email, --name and --role are required")
	}
	password, err := readPassword(out)
	if err != nil {
		return err
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	m, err := d.svc.AddStaff(ctx, shop, "cli", *email, *name, app.Role(*role), password)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "added %s (%s) as %s of %s; sign in at /console/login\n", m.Name, m.Email, m.Role, shop.Domain)
	return nil
}

// readPassword takes STAFF_PASSWORD, or the first line of stdin.
func readPassword(out io.Writer) (string, error) {
	if p := os.Getenv("STAFF_PASSWORD"); p != "" {
		return p, nil
	}
	fmt.Fprintf(out, "password (at least %d characters): ", app.MinPasswordLength)
	line, err := bufio.NewReader(passwordInput).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no password: set STAFF_PASSWORD or type one on stdin")
	}
	fmt.Fprintln(out)
	return strings.TrimRight(line, "\r\n"), nil
}

func staffTokens(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, "staff tokens create|revoke")
	if err != nil {
		return err
	}
	switch command {
	case "create":
		fs := newFlags("staff tokens create", "staff tokens create --shop DOMAIN --email EMAIL --name TOKEN-NAME", out)
		platform, domain := shopFlag(fs)
		email := fs.String("email", "", "the staff member the token acts as")
		name := fs.String("name", "", "what the token is for, e.g. \"helpdesk integration\"")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *email == "" || *name == "" {
			fs.Usage()
			return fmt.Errorf("--email and --name are required")
		}
		d, shop, err := openShop(ctx, fs, *platform, *domain)
		if err != nil {
			return err
		}
		defer d.store.Close()
		m, err := d.svc.StaffByEmail(ctx, shop, *email)
		if err != nil {
			return fmt.Errorf("staff %s: %w", *email, err)
		}
		t, token, err := d.svc.CreateAPIToken(ctx, shop, m, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "token %d for %s (%s); it is shown only this once:\n%s\n", t.ID, m.Email, m.Role, token)
		return nil
	case "revoke":
		fs := newFlags("staff tokens revoke", "staff tokens revoke --shop DOMAIN --id TOKEN-ID", out)
		platform, domain := shopFlag(fs)
		id := fs.Int64("id", 0, "the token's id, as printed when it was created")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *id == 0 {
			fs.Usage()
			return fmt.Errorf("--id is required")
		}
		d, shop, err := openShop(ctx, fs, *platform, *domain)
		if err != nil {
			return err
		}
		defer d.store.Close()
		if err := d.svc.RevokeAPIToken(ctx, shop, "cli", *id); err != nil {
			return err
		}
		fmt.Fprintf(out, "token %d revoked\n", *id)
		return nil
	default:
		return fmt.Errorf("unknown staff tokens command %q: use create or revoke", command)
	}
}
