package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
)

// pendingRedemption makes a shopper with points redeem a 5.00 reward with
// no queue at hand: the redemption waits for its code.
func pendingRedemption(t *testing.T, env *testenv.Env) app.Redemption {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "1", Customer: &app.CustomerRef{PlatformID: "c1"}, Subtotal: app.MustAmount("900")}); err != nil {
		t.Fatal(err)
	}
	reward, err := env.Service.AddReward(ctx, env.Shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := env.Service.Redeem(ctx, env.Shop, app.RedeemRequest{CustomerID: "c1", RewardID: reward.ID, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPendingRedemptionsAreQueuedBySweep(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	// Redeemed while the queue was unreachable: nothing was queued.
	r := pendingRedemption(t, env)
	h := NewHandler(env.Service, env.Store, env.Log, nil).WithQueue(asynq.NewClientFromRedisClient(env.Redis))
	inspect := asynq.NewInspectorFromRedisClient(env.Redis)
	queued := func() int {
		tasks, _ := inspect.ListPendingTasks(QueueCritical)
		n := 0
		for _, task := range tasks {
			if task.ID == fmt.Sprintf("issue-code:%d", r.ID) && task.Type == TypeIssueCode {
				n++
			}
		}
		return n
	}

	h.now = time.Now // a redemption younger than a minute is left to its own task
	if err := h.IssuePending(ctx, nil); err != nil || queued() != 0 {
		t.Fatalf("err %v; a fresh redemption was swept", err)
	}
	h.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	for i := 0; i < 2; i++ { // a second sweep finds the task already queued
		if err := h.IssuePending(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := queued(); got != 1 {
		t.Fatalf("%d issue-code tasks for the redemption, want exactly 1", got)
	}
}

// TestARedemptionWhoseTaskGaveUpIsQueuedAgain: a last try whose
// FailRedemption failed leaves the redemption pending and its task archived
// under the redemption's task id; the sweep must not be refused by it.
func TestARedemptionWhoseTaskGaveUpIsQueuedAgain(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	r := pendingRedemption(t, env)
	queue := asynq.NewClientFromRedisClient(env.Redis)
	inspect := asynq.NewInspectorFromRedisClient(env.Redis)
	if _, err := queue.EnqueueContext(ctx, NewIssueCodeTask(env.Shop, r.ID)); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("issue-code:%d", r.ID)
	if err := inspect.ArchiveTask(QueueCritical, id); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(env.Service, env.Store, env.Log, nil).WithQueue(queue).WithInspector(inspect)
	h.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if err := h.IssuePending(ctx, nil); err != nil {
		t.Fatal(err)
	}
	info, err := inspect.GetTaskInfo(QueueCritical, id)
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("task = %+v, %v; want it pending again", info, err)
	}
	t.Run("a task still waiting is left alone", func(t *testing.T) {
		if err := h.IssuePending(ctx, nil); err != nil {
			t.Fatal(err)
		}
		tasks, _ := inspect.ListPendingTasks(QueueCritical)
		if len(tasks) != 1 {
			t.Fatalf("%d pending tasks, want 1", len(tasks))
		}
	})
}
