package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"
)

// QueuesPath is where the queue dashboard lives in the staff console.
const QueuesPath = "/console/queues"

// StaffLogin is a console login: a name and the bcrypt hash of its password.
type StaffLogin struct {
	Name string
	Hash string
}

// Queues is asynqmon, the queue dashboard, for staff only: it shows the
// tasks' payloads (shoppers' orders) and can delete, run and archive
// tasks. Staff sign in with HTTP Basic authentication, which every browser
// asks for by itself, until the console (issue 8) has a login of its own.
type Queues struct {
	dashboard *asynqmon.HTTPHandler
	staff     map[string][]byte
	// decoy is checked for unknown names, so that a wrong name costs as
	// long as a wrong password and the answer time tells no one who is staff.
	decoy []byte
	// verified remembers recent successful sign-ins for a minute: the
	// dashboard polls its API every few seconds with the same credentials,
	// and bcrypt is slow on purpose. Keyed by an HMAC (with a key of this
	// process) of name and password, never the password itself.
	verified sync.Map
	key      []byte
	now      func() time.Time
	log      *slog.Logger
}

// NewQueues builds the dashboard for the queues in redis. It returns nil
// when there is no staff: the console is then off and its paths are 404.
func NewQueues(redis asynq.RedisConnOpt, staff []StaffLogin, log *slog.Logger) *Queues {
	if len(staff) == 0 {
		return nil
	}
	q := &Queues{
		dashboard: asynqmon.New(asynqmon.Options{RootPath: QueuesPath, RedisConnOpt: redis}),
		staff:     map[string][]byte{},
		key:       make([]byte, 32),
		now:       time.Now,
		log:       log,
	}
	rand.Read(q.key)
	cost := bcrypt.DefaultCost
	for _, s := range staff {
		q.staff[s.Name] = []byte(s.Hash)
		if c, err := bcrypt.Cost([]byte(s.Hash)); err == nil {
			cost = c
		}
	}
	q.decoy, _ = bcrypt.GenerateFromPassword(q.key, cost)
	return q
}

// Close lets go of the dashboard's Redis connections.
func (q *Queues) Close() error { return q.dashboard.Close() }

// serve lets staff through to the dashboard.
func (q *Queues) serve(c echo.Context) error {
	r, w := c.Request(), c.Response()
	name, ok := q.signIn(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="Loyalty console", charset="UTF-8"`)
		return echo.NewHTTPError(http.StatusUnauthorized, "sign in as staff to see the queues")
	}
	if !safeMethod(r.Method) {
		// The browser sends Basic credentials with any request to this
		// origin, a forged form post from another site included: changes
		// must come from the dashboard's own pages.
		if !sameOrigin(r) {
			return echo.NewHTTPError(http.StatusForbidden, "queue changes are accepted only from the dashboard itself")
		}
		q.log.Info("queue operation", "staff", name, "method", r.Method, "path", r.URL.Path)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	q.dashboard.ServeHTTP(w, r)
	return nil
}

// signIn checks the request's Basic credentials and returns the staff name.
func (q *Queues) signIn(r *http.Request) (string, bool) {
	name, password, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	mac := hmac.New(sha256.New, q.key)
	mac.Write([]byte(name + "\x00" + password))
	digest := string(mac.Sum(nil))
	if until, ok := q.verified.Load(digest); ok && q.now().Before(until.(time.Time)) {
		return name, true
	}
	hash, known := q.staff[name]
	if !known {
		hash = q.decoy
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !known {
		q.log.Warn("console sign-in refused", "name", name, "remote", r.RemoteAddr)
		return "", false
	}
	q.verified.Store(digest, q.now().Add(time.Minute))
	return name, true
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether a browser says the request comes from this
// origin. Clients that are not browsers send neither header and cannot be
// made to send a staff member's credentials, so they are let through.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		return err == nil && u.Host == r.Host
	}
	return true
}
