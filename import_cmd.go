package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"loyalty/app"
)

const importSynopsis = "import balances --shop DOMAIN --file balances.csv --as STAFF_EMAIL [--dry-run] [--platform woocommerce]"

// importCmd imports shoppers' balances from another loyalty app's CSV, as
// the staff member named by --as (the ledger and audit log name them).
func importCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, importSynopsis)
	if err != nil {
		return err
	}
	if command != "balances" {
		return fmt.Errorf("unknown import %q: use balances", command)
	}
	fs := newFlags("import balances", importSynopsis, out)
	platform, domain := shopFlag(fs)
	file := fs.String("file", "", "the CSV: a header row with customer_id and/or email, and points (or balance)")
	as := fs.String("as", "", "the email of the staff member importing (needs the adjust_balance permission)")
	dryRun := fs.Bool("dry-run", false, "report what the import would do, change nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" || *as == "" {
		fs.Usage()
		return fmt.Errorf("--file and --as are required")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	m, err := d.svc.StaffByEmail(ctx, shop, *as)
	if err != nil {
		return fmt.Errorf("--as %s: %w", *as, err)
	}
	rep, err := d.svc.ImportBalances(ctx, shop, m, f, app.ImportOptions{DryRun: *dryRun, Filename: filepath.Base(*file)})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tCUSTOMER\tEMAIL\tPOINTS\tCHANGE\tOUTCOME\tNOTE")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%+d\t%s\t%s\n", r.Line, orDash(r.CustomerID), orDash(r.Email), r.Points, r.Delta, r.Outcome, r.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verb := "imported"
	if rep.DryRun {
		verb = "dry run: would import"
	}
	fmt.Fprintf(out, "%s %+d points for %d customers; %d unchanged, %d failed\n", verb, rep.PointsAdded, rep.Customers, rep.Unchanged, rep.Failed)
	return nil
}
