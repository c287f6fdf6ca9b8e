package store

import "context"

// OrderNames maps platform order ids to the names shoppers know them by
// ("#1001"); orders without a name are left out.
func (s *Store) OrderNames(ctx context.Context, shopID int64, platformIDs []string) (map[string]string, error) {
	names := map[string]string{}
	if len(platformIDs) == 0 {
		return names, nil
	}
	var rows []struct {
		PlatformID string
		Name       string
	}
	err := s.db.WithContext(ctx).Raw(`SELECT platform_id, name FROM orders
		WHERE shop_id = ? AND platform_id IN ? AND name <> ''`, shopID, platformIDs).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		names[r.PlatformID] = r.Name
	}
	return names, nil
}
