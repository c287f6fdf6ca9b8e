package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/web"
	"loyalty/webhooks"
)

const maxBody = 64 << 10

type harness struct {
	env     *testenv.Env
	server  *httptest.Server
	inspect *asynq.Inspector
	intake  *webhooks.Intake
}

// newHarness serves the app's routes over rdb (the environment's Redis
// unless a test passes another, e.g. an unreachable one).
func newHarness(t testing.TB, env *testenv.Env, rdb *redis.Client, secrets ...string) *harness {
	t.Helper()
	if rdb == nil {
		rdb = env.Redis
	}
	if len(secrets) == 0 {
		secrets = []string{testenv.ShopifySecret}
	}
	reg := prometheus.NewRegistry()
	intake := webhooks.New(webhooks.Config{ShopifySecrets: secrets}, env.Service, rdb, env.Store, env.Log, webhooks.NewMetrics(reg))
	srv := web.New(web.Deps{Intake: intake, Registry: reg, Postgres: env.Store, Redis: pinger{rdb},
		MaxWebhookBody: maxBody, Log: env.Log})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	inspect := asynq.NewInspectorFromRedisClient(env.Redis)
	return &harness{env: env, server: ts, inspect: inspect, intake: intake}
}

type pinger struct{ c *redis.Client }

func (p pinger) Ping(ctx context.Context) error { return p.c.Ping(ctx).Err() }

// quietLogger drops go-redis's own log lines: tests that point a client at
// a dead port on purpose would otherwise fill the output with dial errors.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietLogger{}) }

// deadRedis is a client for a port nothing listens on.
func deadRedis(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

type delivery struct {
	topic, shop, id string
	body            []byte
	signature       string // computed with the test secret when empty
	contentLength   bool
}

func (h *harness) post(t *testing.T, d delivery) (int, string) {
	t.Helper()
	if d.shop == "" {
		d.shop = testenv.ShopDomain
	}
	if d.signature == "" {
		d.signature = shopify.Sign(d.body, testenv.ShopifySecret)
	}
	var body io.Reader = bytes.NewReader(d.body)
	req, err := http.NewRequest(http.MethodPost, h.server.URL+"/webhooks/shopify", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	// HTTP/2 lower-cases header names; set them that way to prove nothing
	// depends on the canonical spelling.
	req.Header["x-shopify-topic"] = []string{d.topic}
	req.Header.Set("X-Shopify-Shop-Domain", d.shop)
	req.Header.Set("X-Shopify-Webhook-Id", d.id)
	req.Header.Set("X-Shopify-Api-Version", "2026-07")
	req.Header.Set("X-Shopify-Triggered-At", "2026-11-20T10:00:00.000000Z")
	if d.signature != "-" {
		req.Header.Set("X-Shopify-Hmac-Sha256", d.signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (h *harness) queued(t *testing.T, queue string) []*asynq.TaskInfo {
	t.Helper()
	tasks, err := h.inspect.ListPendingTasks(queue)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatalf("list %s queue: %v", queue, err)
	}
	return tasks
}

func TestShopifyFixturesAreAcceptedAndQueued(t *testing.T) {
	env := testenv.New(t, nil)
	h := newHarness(t, env, nil)
	tests := []struct {
		fixture, topic, taskType, queue string
	}{
		{"shopify/orders_paid.json", "orders/paid", jobs.TypeAccrue, jobs.QueueCritical},
		{"shopify/refunds_create.json", "refunds/create", jobs.TypeReverse, jobs.QueueCritical},
		{"shopify/orders_paid.json", "orders/cancelled", jobs.TypeReverse, jobs.QueueCritical},
		{"shopify/customers_create.json", "customers/create", jobs.TypeBonus, jobs.QueueDefault},
		{"shopify/app_uninstalled.json", "app/uninstalled", jobs.TypeShop, jobs.QueueCritical},
	}
	for i, tt := range tests {
		t.Run(tt.topic+" becomes a "+tt.taskType+" task", func(t *testing.T) {
			body := testenv.Fixture(t, tt.fixture)
			id := "delivery-" + string(rune('a'+i))
			status, answer := h.post(t, delivery{topic: tt.topic, id: id, body: body})
			if status != http.StatusOK {
				t.Fatalf("status = %d %q, want 200", status, answer)
			}
			var found *asynq.TaskInfo
			for _, task := range h.queued(t, tt.queue) {
				if task.ID == jobs.TaskID(app.Shopify, testenv.ShopDomain, id) {
					found = task
				}
			}
			if found == nil || found.Type != tt.taskType {
				t.Fatalf("task for %s = %+v, want a %s task in %s", id, found, tt.taskType, tt.queue)
			}
		})
	}
}

func TestShopifySignatures(t *testing.T) {
	env := testenv.New(t, nil)
	h := newHarness(t, env, nil, testenv.ShopifySecret, "previous-secret")
	body := testenv.Fixture(t, "shopify/orders_paid.json")
	tests := []struct {
		name      string
		signature string
		want      int
	}{
		{"the current secret is accepted", shopify.Sign(body, testenv.ShopifySecret), http.StatusOK},
		{"the previous secret is accepted during a rotation", shopify.Sign(body, "previous-secret"), http.StatusOK},
		{"another app's secret is refused", shopify.Sign(body, "someone-else"), http.StatusUnauthorized},
		{"a signature of other bytes is refused", shopify.Sign(append(body, ' '), testenv.ShopifySecret), http.StatusUnauthorized},
		{"a missing signature is refused", "-", http.StatusUnauthorized},
		{"garbage is refused", "not base64!", http.StatusUnauthorized},
		{"the published vector (secret hush) is accepted only for its own body", "hMTq0K2x7oyOjoBwGYeTj5oxfnaVYXzbanUG9aajpKI=", http.StatusUnauthorized},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _ := h.post(t, delivery{topic: "orders/paid", id: "sig-" + string(rune('a'+i)), body: body, signature: tt.signature})
			if status != tt.want {
				t.Fatalf("status = %d, want %d", status, tt.want)
			}
		})
	}
	t.Run("the published vector verifies its own body", func(t *testing.T) {
		status, _ := h.post(t, delivery{topic: "orders/paid", id: "vector", body: []byte(`"my secret message"`),
			signature: "hMTq0K2x7oyOjoBwGYeTj5oxfnaVYXzbanUG9aajpKI="})
		if status != http.StatusOK {
			t.Fatalf("status = %d, want 200 (accepted; the worker records it as malformed)", status)
		}
	})
}

func TestShopifyIntakeAnswers(t *testing.T) {
	env := testenv.New(t, nil)
	h := newHarness(t, env, nil)
	order := testenv.Fixture(t, "shopify/orders_paid.json")

	t.Run("a body over the limit is 413", func(t *testing.T) {
		big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), maxBody)...)
		big = append(big, `"}`...)
		if status, _ := h.post(t, delivery{topic: "orders/paid", id: "big", body: big}); status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", status)
		}
	})
	t.Run("a body over the limit without Content-Length is 413", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), maxBody+1)
		req, _ := http.NewRequest(http.MethodPost, h.server.URL+"/webhooks/shopify", io.MultiReader(bytes.NewReader(big)))
		req.ContentLength = -1 // chunked
		req.Header.Set("X-Shopify-Hmac-Sha256", shopify.Sign(big, testenv.ShopifySecret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", resp.StatusCode)
		}
	})
	t.Run("the same delivery twice is queued once", func(t *testing.T) {
		before := len(h.queued(t, jobs.QueueCritical))
		for i := 0; i < 3; i++ {
			if status, _ := h.post(t, delivery{topic: "orders/paid", id: "twice", body: order}); status != http.StatusOK {
				t.Fatalf("status = %d", status)
			}
		}
		if got := len(h.queued(t, jobs.QueueCritical)) - before; got != 1 {
			t.Fatalf("%d tasks queued, want 1", got)
		}
	})
	t.Run("a retry is queued again once the first copy's task is gone, never dropped on a mark", func(t *testing.T) {
		// The first copy ran (or never reached the queue at all): only a task
		// that exists makes a delivery a duplicate.
		if status, _ := h.post(t, delivery{topic: "orders/paid", id: "again", body: order}); status != http.StatusOK {
			t.Fatalf("status = %d", status)
		}
		id := jobs.TaskID(app.Shopify, testenv.ShopDomain, "again")
		if err := h.inspect.DeleteTask(jobs.QueueCritical, id); err != nil {
			t.Fatalf("delete the first copy's task: %v", err)
		}
		if status, _ := h.post(t, delivery{topic: "orders/paid", id: "again", body: order}); status != http.StatusOK {
			t.Fatalf("status = %d", status)
		}
		if _, err := h.inspect.GetTaskInfo(jobs.QueueCritical, id); err != nil {
			t.Fatalf("the retry was not queued: %v", err)
		}
	})
	t.Run("an unknown shop is answered 200 and dropped", func(t *testing.T) {
		before := len(h.queued(t, jobs.QueueCritical))
		status, answer := h.post(t, delivery{topic: "orders/paid", shop: "stranger.myshopify.com", id: "u1", body: order})
		if status != http.StatusOK || len(h.queued(t, jobs.QueueCritical)) != before {
			t.Fatalf("status = %d %q; queue grew", status, answer)
		}
	})
	t.Run("a signed delivery without its headers is 400", func(t *testing.T) {
		if status, _ := h.post(t, delivery{topic: "", id: "h1", body: order}); status != http.StatusBadRequest {
			t.Fatalf("status = %d, want 400", status)
		}
	})
	t.Run("a topic the app does not handle is answered 200 and not queued", func(t *testing.T) {
		status, _ := h.post(t, delivery{topic: "products/update", id: "p1", body: []byte(`{"id":1}`)})
		if status != http.StatusOK {
			t.Fatalf("status = %d, want 200", status)
		}
	})
}

func TestUninstalledShopIsDropped(t *testing.T) {
	env := testenv.New(t, nil)
	if err := env.Service.Uninstall(context.Background(), env.Shop); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, env, nil)
	status, answer := h.post(t, delivery{topic: "orders/paid", id: "after-uninstall", body: testenv.Fixture(t, "shopify/orders_paid.json")})
	if status != http.StatusOK || len(h.queued(t, jobs.QueueCritical)) != 0 {
		t.Fatalf("status = %d %q, want 200 with nothing queued", status, answer)
	}
}

func TestQueueDownParksInTheInboxAndTheRelayCatchesUp(t *testing.T) {
	env := testenv.New(t, nil)
	down := newHarness(t, env, deadRedis(t))
	order := testenv.Fixture(t, "shopify/orders_paid.json")
	for _, id := range []string{"while-down-1", "while-down-2", "while-down-1"} {
		if status, answer := down.post(t, delivery{topic: "orders/paid", id: id, body: order}); status != http.StatusOK {
			t.Fatalf("with Redis down, status = %d %q; want 200 from the inbox", status, answer)
		}
	}
	ctx := context.Background()
	if n, _ := env.Store.InboxSize(ctx); n != 2 {
		t.Fatalf("inbox holds %d, want 2 (the repeat is a duplicate)", n)
	}

	// Redis is back: the relay moves everything to the queue, once.
	relay := webhooks.NewRelay(env.Store, env.Redis, time.Second, env.Log, nil)
	if n, err := relay.RelayOnce(ctx); err != nil || n != 2 {
		t.Fatalf("relayed %d, %v; want 2", n, err)
	}
	if n, _ := relay.RelayOnce(ctx); n != 0 {
		t.Fatalf("second relay moved %d more", n)
	}
	if n, _ := env.Store.InboxSize(ctx); n != 0 {
		t.Fatalf("inbox still holds %d", n)
	}
	up := newHarness(t, env, nil)
	if got := len(up.queued(t, jobs.QueueCritical)); got != 2 {
		t.Fatalf("%d tasks queued after relay, want 2", got)
	}
}

func TestNeitherQueueNorInboxMeansRetryLater(t *testing.T) {
	env := testenv.New(t, nil)
	h := newHarness(t, env, deadRedis(t))
	env.Store.Close() // PostgreSQL gone too
	status, _ := h.post(t, delivery{topic: "orders/paid", id: "nowhere", body: testenv.Fixture(t, "shopify/orders_paid.json")})
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503 so that Shopify retries", status)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	env := testenv.New(t, nil)
	h := newHarness(t, env, nil)
	h.post(t, delivery{topic: "orders/paid", id: "m1", body: testenv.Fixture(t, "shopify/orders_paid.json")})
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  `"postgres":"ok"`,
		"/metrics": `loyalty_webhooks_total{outcome="accepted",platform="shopify",topic="orders/paid"} 1`,
	} {
		resp, err := http.Get(h.server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d, want 200 containing %q; got:\n%.500s", path, resp.StatusCode, want, b)
		}
	}
	t.Run("readyz fails when Redis is unreachable", func(t *testing.T) {
		down := newHarness(t, env, deadRedis(t))
		resp, err := http.Get(down.server.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", resp.StatusCode)
		}
	})
}
