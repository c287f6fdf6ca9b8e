package shopifyfake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// inProcess is an http.RoundTripper that answers requests by calling a
// handler in the caller's goroutine: a client of the fake needs no listener
// and no port. It does what httptest.ResponseRecorder would, which this
// package must not import.
type inProcess struct{ h http.Handler }

// RoundTrip serves req with the handler and returns what it wrote.
func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		// A RoundTripper closes the request body, even on errors.
		defer req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	// The handler gets the request a server would build: its own copy,
	// a body that is never nil, the request URI and host set.
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	w := &recorder{header: http.Header{}}
	t.h.ServeHTTP(w, in)
	w.WriteHeader(http.StatusOK) // a no-op if the handler wrote a status
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the handler's http.ResponseWriter. Like a server, it fixes
// the headers when the status is written.
type recorder struct {
	header http.Header
	sent   http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status, w.sent = status, w.header.Clone()
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}
