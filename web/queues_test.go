package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"loyalty/app/apptest"
	"loyalty/internal/testenv"
	"loyalty/web"
)

// queuesServer serves the app with the queue dashboard for one staff login,
// ada / correct-horse, over a test Redis holding one pending task.
func queuesServer(t *testing.T) (*httptest.Server, asynq.RedisConnOpt) {
	t.Helper()
	redisURL := apptest.NewRedis(t)
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("loyalty:reconcile", nil), asynq.Queue("low")); err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct-horse"), bcrypt.MinCost)
	queues := web.NewQueues(opt, []web.StaffLogin{{Name: "ada", Hash: string(hash)}}, testenv.Logger(t))
	t.Cleanup(func() { queues.Close() })
	srv := web.New(web.Deps{Queues: queues, Registry: prometheus.NewRegistry(), Log: testenv.Logger(t)})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, opt
}

func staffGet(t *testing.T, url, name, password string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if name != "" {
		req.SetBasicAuth(name, password)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestQueueDashboard(t *testing.T) {
	ts, opt := queuesServer(t)
	dashboard := ts.URL + web.QueuesPath + "/"

	t.Run("without credentials the browser is asked to sign in", func(t *testing.T) {
		res, _ := staffGet(t, dashboard, "", "")
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("status %d, WWW-Authenticate %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("a wrong password or an unknown name is refused", func(t *testing.T) {
		for _, login := range [][2]string{{"ada", "wrong"}, {"eve", "correct-horse"}, {"", "correct-horse"}} {
			if res, _ := staffGet(t, dashboard, login[0], login[1]); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s/%s: status %d", login[0], login[1], res.StatusCode)
			}
		}
		if res, _ := staffGet(t, ts.URL+web.QueuesPath+"/api/queues", "eve", "x"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the API let a stranger in: %d", res.StatusCode)
		}
	})

	var page string
	t.Run("staff get the dashboard under the prefix", func(t *testing.T) {
		for _, url := range []string{dashboard, ts.URL + web.QueuesPath, dashboard + "queues/low"} {
			res, body := staffGet(t, url, "ada", "correct-horse")
			if res.StatusCode != http.StatusOK || !strings.Contains(body, web.QueuesPath+"/static/js/") {
				t.Fatalf("%s: status %d\n%.300s", url, res.StatusCode, body)
			}
			if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("headers %v", res.Header)
			}
			page = body
		}
	})
	t.Run("and its scripts", func(t *testing.T) {
		src := regexp.MustCompile(`src="(/console/queues/static/js/[^"]+\.js)"`).FindStringSubmatch(page)
		if src == nil {
			t.Fatalf("no script in the page:\n%.500s", page)
		}
		res, body := staffGet(t, ts.URL+src[1], "ada", "correct-horse")
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || len(body) < 1000 {
			t.Fatalf("%s: status %d, %s, %d bytes", src[1], res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
	})
	t.Run("and its API, which reads the app's queues", func(t *testing.T) {
		res, body := staffGet(t, ts.URL+web.QueuesPath+"/api/queues", "ada", "correct-horse")
		var got struct {
			Queues []struct {
				Queue   string `json:"queue"`
				Pending int    `json:"pending"`
			} `json:"queues"`
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		if len(got.Queues) != 1 || got.Queues[0].Queue != "low" || got.Queues[0].Pending != 1 {
			t.Fatalf("queues %+v", got.Queues)
		}
	})

	pause := func(t *testing.T, headers map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+web.QueuesPath+"/api/queues/low:pause", nil)
		req.SetBasicAuth("ada", "correct-horse")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	paused := func(t *testing.T) bool {
		inspector := asynq.NewInspector(opt)
		defer inspector.Close()
		info, err := inspector.GetQueueInfo("low")
		if err != nil {
			t.Fatal(err)
		}
		return info.Paused
	}
	t.Run("a change forged by another site is refused", func(t *testing.T) {
		for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
			if status := pause(t, h); status != http.StatusForbidden {
				t.Fatalf("%v: status %d", h, status)
			}
		}
		if paused(t) {
			t.Fatal("the queue was paused")
		}
	})
	t.Run("a change from the dashboard itself goes through", func(t *testing.T) {
		if status := pause(t, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ts.URL}); status != http.StatusNoContent {
			t.Fatalf("status %d", status)
		}
		if !paused(t) {
			t.Fatal("the queue is not paused")
		}
	})
}

func TestQueueDashboardIsOffWithoutStaff(t *testing.T) {
	opt, err := asynq.ParseRedisURI(apptest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	queues := web.NewQueues(opt, nil, testenv.Logger(t))
	if queues != nil {
		t.Fatal("a dashboard with no staff")
	}
	srv := web.New(web.Deps{Queues: queues, Registry: prometheus.NewRegistry(), Log: testenv.Logger(t)})
	for _, path := range []string{web.QueuesPath, web.QueuesPath + "/", web.QueuesPath + "/api/queues"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.SetBasicAuth("ada", "correct-horse")
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", path, rec.Code)
		}
	}
}
