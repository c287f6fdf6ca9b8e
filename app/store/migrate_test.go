package store_test

import (
	"context"
	"io"
	"io/fs"
	"strings"
	"testing"

	"loyalty/app/apptest"
	"loyalty/app/store"
)

// Every migration can be rolled back, and applying them again gives the
// same schema: `loyalty migrate down` is a way back, not a one-way door.
func TestEveryMigrationRollsBackAndReapplies(t *testing.T) {
	st, _ := apptest.NewDB(t)
	ctx := context.Background()
	db := st.SQL()
	schema := func() string {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT table_name || '.' || column_name || ':' || data_type
			FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var cols []string
		for rows.Next() {
			var c string
			rows.Scan(&c)
			cols = append(cols, c)
		}
		return strings.Join(cols, "\n")
	}
	before := schema()
	files, err := fs.Glob(store.Migrations(), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	for range files {
		if err := store.Migrate(ctx, db, "down", io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	var tables int
	db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`).Scan(&tables)
	if tables != 0 {
		t.Errorf("%d tables left after rolling back every migration", tables)
	}
	var status strings.Builder
	if err := store.Migrate(ctx, db, "status", &status); err != nil || strings.Count(status.String(), "pending") != len(files) {
		t.Errorf("status after rolling back: %v\n%s", err, status.String())
	}
	if err := store.Migrate(ctx, db, "up", io.Discard); err != nil {
		t.Fatal(err)
	}
	if after := schema(); after != before {
		t.Errorf("the schema after down and up again differs from the first")
	}
}
