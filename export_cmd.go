package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"loyalty/app"
)

const (
	exportSynopsis = "export members|ledger --shop DOMAIN [--platform woocommerce] [--out FILE]"
	kpisSynopsis   = "kpis --shop DOMAIN --from 2026-11-01 --to 2026-12-01 [--by day|week|month] [--platform woocommerce]"
)

// exportCmd writes a shop's members or ledger as CSV, in the format the
// README documents, to standard output or a file.
func exportCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, exportSynopsis)
	if err != nil {
		return err
	}
	if command != "members" && command != "ledger" {
		return fmt.Errorf("unknown export %q: use members or ledger", command)
	}
	fs := newFlags("export "+command, exportSynopsis, out)
	platform, domain := shopFlag(fs)
	file := fs.String("out", "", "write to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	export := d.svc.ExportMembers
	if command == "ledger" {
		export = d.svc.ExportLedger
	}
	if *file == "" {
		return export(ctx, shop, out)
	}
	return writeAtomically(*file, func(w io.Writer) error { return export(ctx, shop, w) })
}

// writeAtomically writes through a temporary file renamed into place, so a
// failed export never leaves a truncated file that looks complete.
func writeAtomically(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// kpisCmd prints a shop's KPIs as a table: one line per bucket and a total.
func kpisCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("kpis", kpisSynopsis, out)
	platform, domain := shopFlag(fs)
	fromFlag := fs.String("from", "", "first day of the period, YYYY-MM-DD in UTC")
	toFlag := fs.String("to", "", "day after the period, YYYY-MM-DD in UTC (exclusive)")
	by := fs.String("by", "week", "bucket: day, week (from Monday) or month")
	if err := parse(fs, args); err != nil {
		return err
	}
	from, err := time.Parse(time.DateOnly, *fromFlag)
	if err != nil {
		fs.Usage()
		return fmt.Errorf("--from: want a day such as 2026-11-01")
	}
	to, err := time.Parse(time.DateOnly, *toFlag)
	if err != nil {
		fs.Usage()
		return fmt.Errorf("--to: want a day such as 2026-12-01")
	}
	q := app.KPIQuery{From: from, To: to, Bucket: app.KPIBucket(*by)}
	if err := q.Validate(); err != nil {
		return err
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	rep, err := d.svc.KPIs(ctx, shop, q)
	if err != nil {
		return err
	}
	printKPIs(out, shop, rep)
	return nil
}

func printKPIs(out io.Writer, shop app.Shop, rep app.KPIReport) {
	fmt.Fprintf(out, "%s: %s to %s (exclusive), by %s, UTC\n", shop.Domain,
		rep.Query.From.Format(time.DateOnly), rep.Query.To.Format(time.DateOnly), rep.Query.Bucket)
	if v := rep.PointValue; v.Points > 0 {
		fmt.Fprintf(out, "points valued at %s %s per %d points (%s)\n", v.Amount, rep.Currency, v.Points, v.RewardName)
	} else {
		fmt.Fprintln(out, "points valued at nothing: no active fixed or variable amount reward")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FROM\tMEMBERS\tACTIVE\tISSUED\tREDEEMED\tEXPIRED\tREDEEM%\tOUTSTANDING\tVALUE\t"+
		"M.ORDERS\tM.AOV\tM.REPEAT%\tN.ORDERS\tN.AOV\tN.REPEAT%\tREWARD.ORDERS\tREWARD.REVENUE\t")
	row := func(label string, k app.KPIFigures) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t\n", label,
			k.Members, k.ActiveMembers, k.PointsIssued, k.PointsRedeemed, k.PointsExpired, percent(k.RedemptionRate()),
			k.Outstanding, k.OutstandingValue,
			k.MemberOrders.Orders, k.MemberOrders.AverageOrderValue(), percent(k.MemberOrders.RepeatRate()),
			k.NonMemberOrders.Orders, k.NonMemberOrders.AverageOrderValue(), percent(k.NonMemberOrders.RepeatRate()),
			k.RewardOrders, k.RewardRevenue)
	}
	for _, k := range rep.Series {
		row(k.Start.Format(time.DateOnly), k)
	}
	row("total", rep.Totals)
	tw.Flush()
}

func percent(f float64) string { return fmt.Sprintf("%.1f", f*100) }
