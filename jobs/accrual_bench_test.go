package jobs_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
)

// workerParallelism makes RunParallel run as many goroutines as a worker
// with the default WORKER_CONCURRENCY (128) on two cores; floorParallelism
// as many as the worker's database pool has connections (20), the
// concurrency the floor does best at.
const (
	workerParallelism = 64
	floorParallelism  = 10
)

// BenchmarkWorkerAccrual measures what a worker does for one orders/paid
// delivery, from the task to the recorded delivery: the whole ledger
// transaction and its bookkeeping, at a worker's concurrency, each order a
// new order of one of 5,000 customers.
func BenchmarkWorkerAccrual(b *testing.B) {
	env := testenv.New(b, nil)
	h := jobs.NewHandler(env.Service, env.Store, env.Log, nil)
	var order map[string]any
	if err := json.Unmarshal(testenv.Fixture(b, "shopify/orders_paid.json"), &order); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.SetParallelism(workerParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		o := map[string]any{}
		for k, v := range order {
			o[k] = v
		}
		customer := map[string]any{}
		for k, v := range order["customer"].(map[string]any) {
			customer[k] = v
		}
		o["customer"] = customer
		for pb.Next() {
			n := seq.Add(1)
			o["id"] = 9000000000 + n
			customer["id"] = 7000000000 + n%5000
			body, _ := json.Marshal(o)
			task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: testenv.ShopDomain, Topic: shopify.TopicOrdersPaid,
				DeliveryID: "bench-" + strconv.FormatInt(n, 10), ReceivedAt: time.Now(), Body: body})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.ProcessWebhook(context.Background(), asynq.NewTask(task.Type(), task.Payload())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLedgerFloor is the least crediting an order can cost the
// database, on as many connections as the worker's pool: one transaction that appends an entry
// under a unique key and moves the balance.
func BenchmarkLedgerFloor(b *testing.B) {
	env := testenv.New(b, nil)
	db := env.Store.SQL()
	if _, err := db.Exec(`INSERT INTO customers (shop_id, platform_id) SELECT $1, 'f' || g FROM generate_series(0, 4999) g`, env.Shop.ID); err != nil {
		b.Fatal(err)
	}
	var ids []int64
	rows, err := db.Query(`SELECT id FROM customers WHERE shop_id = $1 ORDER BY id`, env.Shop.ID)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	var seq atomic.Int64
	b.SetParallelism(floorParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			customer := ids[n%int64(len(ids))]
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			var balance int64
			if err := tx.QueryRow(`UPDATE customers SET balance = balance + 42 WHERE id = $1 RETURNING balance`, customer).Scan(&balance); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, cause_order, idempotency_key)
				VALUES ($1, $2, 'earn', 42, $3, 0, $4, $5)`, env.Shop.ID, customer, balance, "o"+strconv.FormatInt(n, 10), "floor:"+strconv.FormatInt(n, 10)); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
