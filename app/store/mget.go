package store

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// mgetBatcher sends the MGETs of reads that arrive together in one
// pipeline: a widget read is one small MGET, and at thousands a second the
// write and read system calls of a round trip each cost more CPU than the
// command. Nothing waits to gather: a batch goes as soon as no other is on
// the wire, with whatever arrived while the last one was, so a lone read
// pays no delay and a busy process sends few, full pipelines.
type mgetBatcher struct {
	rdb     redis.UniversalClient
	timeout time.Duration

	mu      sync.Mutex
	waiting []*mgetCall
	sending bool
}

type mgetCall struct {
	keys []string
	vals []any
	err  error
	done chan struct{}
}

// maxMGetBatch bounds one pipeline, so one slow batch holds few reads.
const maxMGetBatch = 128

// mget returns the values of keys, as MGET does.
func (b *mgetBatcher) mget(ctx context.Context, keys []string) ([]any, error) {
	call := &mgetCall{keys: keys, done: make(chan struct{})}
	b.mu.Lock()
	b.waiting = append(b.waiting, call)
	if !b.sending {
		b.sending = true
		go b.send()
	}
	b.mu.Unlock()
	select {
	case <-call.done:
		return call.vals, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send runs batches until none wait.
func (b *mgetBatcher) send() {
	for {
		b.mu.Lock()
		n := min(len(b.waiting), maxMGetBatch)
		if n == 0 {
			b.sending = false
			b.mu.Unlock()
			return
		}
		batch := make([]*mgetCall, n)
		copy(batch, b.waiting)
		b.waiting = append(b.waiting[:0:0], b.waiting[n:]...)
		b.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		cmds := make([]*redis.SliceCmd, n)
		// A failed pipeline sets its error on every command in it.
		_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, call := range batch {
				cmds[i] = p.MGet(ctx, call.keys...)
			}
			return nil
		})
		cancel()
		for i, call := range batch {
			call.vals, call.err = cmds[i].Result()
			close(call.done)
		}
	}
}
