package store

import "time"

// SetViewCacheClock makes the cache read the time from now.
func SetViewCacheClock(c *ViewCache, now func() time.Time) { c.now = now }

// ViewSchema is the schema part of the snapshots' keys.
func ViewSchema() string { return viewSchema }
