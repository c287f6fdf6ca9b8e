package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/jobs"
)

// ledgerView is what PostgreSQL says a shop's orders earned.
type ledgerView struct {
	earns    map[string][]int64 // platform order id → points of each earn entry
	balances map[string]int64   // platform customer id → balance
	pending  map[string]int64   // platform customer id → pending points
}

func shopID(ctx context.Context, db *sql.DB, domain string) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, `SELECT id FROM shops WHERE platform = 'shopify' AND domain = $1`, domain).Scan(&id)
	return id, err
}

func readLedger(ctx context.Context, db *sql.DB, shop int64) (ledgerView, error) {
	v := ledgerView{earns: map[string][]int64{}, balances: map[string]int64{}, pending: map[string]int64{}}
	rows, err := db.QueryContext(ctx, `SELECT cause_order, points FROM ledger_entries WHERE shop_id = $1 AND kind = 'earn'`, shop)
	if err != nil {
		return v, err
	}
	for rows.Next() {
		var id string
		var points int64
		if err := rows.Scan(&id, &points); err != nil {
			rows.Close()
			return v, err
		}
		v.earns[id] = append(v.earns[id], points)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return v, err
	}
	rows, err = db.QueryContext(ctx, `SELECT platform_id, balance, pending FROM customers WHERE shop_id = $1`, shop)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var balance, pending int64
		if err := rows.Scan(&id, &balance, &pending); err != nil {
			return v, err
		}
		v.balances[id], v.pending[id] = balance, pending
	}
	return v, rows.Err()
}

// earnedOrders counts the shop's orders with at least one earn entry.
func earnedOrders(ctx context.Context, db *sql.DB, shop int64) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(DISTINCT cause_order) FROM ledger_entries WHERE shop_id = $1 AND kind = 'earn'`, shop).Scan(&n)
	return n, err
}

// backlog is what is still on its way to the ledger: tasks in the queue
// webhook tasks go to (all but archived) and deliveries parked in the inbox.
// Other queues (notices, periodic jobs) do not hold orders.
type backlog struct {
	tasks    int
	archived int
	inbox    int
}

func readBacklog(ctx context.Context, db *sql.DB, insp *asynq.Inspector) (backlog, error) {
	var b backlog
	info, err := insp.GetQueueInfo(jobs.QueueCritical)
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		return b, err
	}
	if info != nil {
		b.tasks = info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating
		b.archived = info.Archived
	}
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE status = 'inbox'`).Scan(&b.inbox)
	return b, err
}

// archivedFor lists the ids of a shop's archived webhook tasks: deliveries
// asynq gave up on.
func archivedFor(insp *asynq.Inspector, shop string) []string {
	var ids []string
	prefix := jobs.TaskID(app.Shopify, shop, "")
	for page := 1; ; page++ {
		tasks, err := insp.ListArchivedTasks(jobs.QueueCritical, asynq.PageSize(1000), asynq.Page(page))
		if err != nil || len(tasks) == 0 {
			return ids
		}
		for _, t := range tasks {
			if strings.HasPrefix(t.ID, prefix) {
				ids = append(ids, strings.TrimPrefix(t.ID, prefix)+" ("+truncate(t.LastErr, 60)+")")
			}
		}
	}
}

// waitCredited waits until every acknowledged order of the shop is in the
// ledger and nothing is left in the queues or the inbox, or until nothing is
// left to process, or the time-out. It prints progress to out.
func waitCredited(ctx context.Context, out io.Writer, db *sql.DB, insp *asynq.Inspector, shop int64, acked int, within time.Duration) {
	start := time.Now()
	lastPrint := time.Now()
	idleSince := time.Time{}
	for {
		n, err := earnedOrders(ctx, db, shop)
		b, berr := readBacklog(ctx, db, insp)
		switch {
		case err != nil || berr != nil:
			idleSince = time.Time{}
		case n >= acked && b.tasks == 0 && b.inbox == 0:
			fmt.Fprintf(out, "  drained: %d orders in the ledger, %.1fs after the last send\n", n, time.Since(start).Seconds())
			return
		case b.tasks == 0 && b.inbox == 0:
			// Nothing left that could credit the rest: give it a moment, then stop.
			if idleSince.IsZero() {
				idleSince = time.Now()
			} else if time.Since(idleSince) > 5*time.Second {
				fmt.Fprintf(out, "  queue and inbox empty with %d of %d acknowledged orders in the ledger\n", n, acked)
				return
			}
		default:
			idleSince = time.Time{}
		}
		if time.Since(start) > within {
			fmt.Fprintf(out, "  gave up waiting after %s: %d of %d orders in the ledger, %d tasks queued, %d parked in the inbox\n",
				within, n, acked, b.tasks, b.inbox)
			return
		}
		if time.Since(lastPrint) >= 5*time.Second {
			lastPrint = time.Now()
			fmt.Fprintf(out, "  draining: %d/%d orders in the ledger, %d tasks queued, %d archived, %d in the inbox (%s)\n",
				n, acked, b.tasks, b.archived, b.inbox, time.Since(start).Round(time.Second))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// verdict compares the ledger with what was sent.
type verdict struct {
	ordersAcked     int
	credited        int      // acknowledged orders with exactly one earn entry of the right points
	creditedUnacked int      // orders in the ledger although no delivery of theirs was acknowledged
	lost            []*order // acknowledged, not in the ledger
	doubled         []string // orders with more than one earn entry
	wrongPoints     []string // one earn entry, but not the points the order is worth
	balanceOff      []string // customers whose balance is not the sum of their orders' points
}

func (v verdict) ok() bool {
	return len(v.lost) == 0 && len(v.doubled) == 0 && len(v.wrongPoints) == 0 && len(v.balanceOff) == 0
}

func check(orders []*order, l ledgerView) verdict {
	var v verdict
	expected := map[string]int64{}
	for _, o := range orders {
		entries := l.earns[o.ID]
		if len(entries) > 0 {
			expected[o.Customer] += o.Points
		}
		if len(entries) > 1 {
			v.doubled = append(v.doubled, fmt.Sprintf("order %s: %d earn entries %v", o.ID, len(entries), entries))
		}
		if len(entries) == 1 && entries[0] != o.Points {
			v.wrongPoints = append(v.wrongPoints, fmt.Sprintf("order %s: earned %d, worth %d", o.ID, entries[0], o.Points))
		}
		if !o.acked.Load() {
			if len(entries) > 0 {
				v.creditedUnacked++
			}
			continue
		}
		v.ordersAcked++
		switch {
		case len(entries) == 0:
			v.lost = append(v.lost, o)
		case len(entries) == 1 && entries[0] == o.Points:
			v.credited++
		}
	}
	for customer, balance := range l.balances {
		if got, want := balance+l.pending[customer], expected[customer]; got != want {
			v.balanceOff = append(v.balanceOff, fmt.Sprintf("customer %s: balance %d + pending %d, orders worth %d", customer, balance, l.pending[customer], want))
		}
	}
	for customer, want := range expected {
		if _, ok := l.balances[customer]; !ok {
			v.balanceOff = append(v.balanceOff, fmt.Sprintf("customer %s: no customer row, orders worth %d", customer, want))
		}
	}
	sort.Strings(v.balanceOff)
	return v
}

// explainLost tells what the app recorded about each lost order's
// deliveries, and which faults were under way when it was acknowledged.
func explainLost(ctx context.Context, out io.Writer, db *sql.DB, shop string, lost []*order, byOrder map[*order][]*delivery, faults []fault, logDir string) {
	const show = 20
	for i, o := range lost {
		if i == show {
			fmt.Fprintf(out, "    … and %d more\n", len(lost)-show)
			break
		}
		at := time.Unix(0, o.ackedAt.Load())
		fmt.Fprintf(out, "    order %s (customer %s, %d points) acknowledged at %s during: %s\n", o.ID, o.Customer, o.Points,
			at.Format("15:04:05.000"), phaseAt(faults, at))
		for _, d := range byOrder[o] {
			var status, detail string
			err := db.QueryRowContext(ctx, `SELECT status, detail FROM webhook_deliveries WHERE platform = 'shopify' AND shop_domain = $1 AND delivery_id = $2`,
				shop, d.webhookID).Scan(&status, &detail)
			if err == sql.ErrNoRows {
				status = "no webhook_deliveries row"
			} else if err != nil {
				status = "error: " + err.Error()
			}
			fmt.Fprintf(out, "      delivery %s (%s): answers %s; recorded: %s %s\n", d.webhookID, d.kind, strings.Join(d.statuses, ","), status, detail)
		}
	}
	if len(lost) > 0 {
		ids := map[string]bool{}
		for _, o := range lost[:min(show, len(lost))] {
			for _, d := range byOrder[o] {
				ids[d.webhookID] = true
			}
		}
		fmt.Fprintf(out, "    what the app logged about them (%s/*.log):\n", logDir)
		grepLogs(out, logDir, ids)
	}
}

// grepLogs prints the log lines of the given delivery ids, with the file
// they are in and the process starts and kills around them.
func grepLogs(out io.Writer, logDir string, ids map[string]bool) {
	files, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			i := strings.Index(line, "delivery_id=")
			if strings.HasPrefix(line, "==== ") {
				fmt.Fprintf(out, "      %s: %s\n", filepath.Base(name), line)
				continue
			}
			if i < 0 {
				continue
			}
			id, _, _ := strings.Cut(line[i+len("delivery_id="):], " ")
			if ids[id] {
				fmt.Fprintf(out, "      %s: %s\n", filepath.Base(name), truncate(line, 300))
			}
		}
		f.Close()
	}
}
