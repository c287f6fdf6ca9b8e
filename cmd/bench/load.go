package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"loyalty/app"
	"loyalty/internal/loadgen"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
)

// connections is how many connections the load phases keep busy.
const connections = 64

// webhookRequest is a signed Shopify delivery of body to base (a server's
// /webhooks/shopify), with delivery id id.
func webhookRequest(ctx context.Context, base, shop, id, signature string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["X-Shopify-Topic"] = []string{shopify.TopicOrdersPaid}
	h["X-Shopify-Shop-Domain"] = []string{shop}
	h["X-Shopify-Webhook-Id"] = []string{id}
	h["X-Shopify-Hmac-Sha256"] = []string{signature}
	h["X-Shopify-Api-Version"] = []string{"2025-01"}
	return req, nil
}

// floorHandler is the least an intake can do, run in the bench process: read
// the body, verify its HMAC and enqueue it with asynq, as the app's intake
// does, without the shop lookup or the deduplication.
func floorHandler(queue *asynq.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := shopify.Verify(body, r.Header.Get("X-Shopify-Hmac-Sha256"), shopifySecret); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: r.Header.Get("X-Shopify-Shop-Domain"),
			Topic: r.Header.Get("X-Shopify-Topic"), DeliveryID: r.Header.Get("X-Shopify-Webhook-Id"), ReceivedAt: time.Now(), Body: body})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := queue.EnqueueContext(r.Context(), task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// proxyRequest is a widget read as Shopify's app proxy forwards it: signed
// query, the shopper's address in X-Forwarded-For.
func proxyRequest(ctx context.Context, base, shop, customer, clientIP string, now time.Time) (*http.Request, error) {
	q := url.Values{
		"shop":                  {shop},
		"logged_in_customer_id": {customer},
		"path_prefix":           {"/apps/loyalty"},
		"timestamp":             {strconv.FormatInt(now.Unix(), 10)},
	}
	q.Set("signature", shopify.SignProxy(q, shopifySecret))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header["X-Forwarded-For"] = []string{clientIP}
	return req, nil
}

// dbLimit runs the ledger's core transaction (balance update and ledger
// insert with a unique idempotency key) on customers of shop in a tight loop
// with limitConns connections for d, and returns transactions per
// second and how many failed.
func dbLimit(ctx context.Context, s *stack, shopID int64, customers []int64, d time.Duration) (float64, int64, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type tally struct{ ok, failed int64 }
	tallies := make([]tally, limitConns)
	errc := make(chan error, limitConns)
	run := "limit-" + randomHex(4)
	start := time.Now()
	for w := 0; w < limitConns; w++ {
		go func(w int) {
			var firstErr error
			defer func() { errc <- firstErr }()
			conn, err := s.pool.Acquire(context.WithoutCancel(ctx))
			if err != nil {
				firstErr = err
				return
			}
			defer conn.Release()
			for i := 0; ctx.Err() == nil; i++ {
				customer := customers[(i*limitConns+w)%len(customers)]
				err := pgx.BeginFunc(context.WithoutCancel(ctx), conn, func(tx pgx.Tx) error {
					var balance int64
					if err := tx.QueryRow(ctx, `UPDATE customers SET balance = balance + 10, updated_at = now()
						WHERE id = $1 RETURNING balance`, customer).Scan(&balance); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after,
						pending_after, cause_order, idempotency_key) VALUES ($1, $2, 'earn', 10, $3, 0, $4, $4)`,
						shopID, customer, balance, fmt.Sprintf("%s:%d:%d", run, w, i))
					return err
				})
				if err != nil && ctx.Err() == nil {
					tallies[w].failed++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				if err == nil {
					tallies[w].ok++
				}
			}
		}(w)
	}
	var firstErr error
	for range limitConns {
		if err := <-errc; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	elapsed := time.Since(start)
	var ok, failed int64
	for _, t := range tallies {
		ok += t.ok
		failed += t.failed
	}
	return float64(ok) / elapsed.Seconds(), ok, failed, firstErr
}

// warmUp sends a little load that is not measured: connections open, caches
// fill, the Go runtimes size their heaps.
func warmUp(ctx context.Context, client *http.Client, d time.Duration, build loadgen.Build) loadgen.Result {
	return loadgen.Run(ctx, loadgen.Config{Concurrency: connections, Duration: d, Client: client}, build)
}
