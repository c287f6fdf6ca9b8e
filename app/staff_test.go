package app_test

import (
	"testing"

	"loyalty/app"
)

// TestRolePermissions is the permission matrix of issue 8, written out.
func TestRolePermissions(t *testing.T) {
	grants := map[app.Role][]app.Permission{
		app.RoleOwner:      app.Permissions,
		app.RoleAdmin:      {app.ViewCustomers, app.EditProgram, app.EditRewards, app.ManageStaff, app.ApproveAdjustments},
		app.RoleSupport:    {app.ViewCustomers, app.AdjustBalance, app.ResendMessages, app.ExportCustomerData},
		app.Role("intern"): nil,
	}
	for role, granted := range grants {
		for _, p := range app.Permissions {
			want := false
			for _, g := range granted {
				want = want || g == p
			}
			name := "cannot"
			if want {
				name = "can"
			}
			t.Run(string(role)+" "+name+" "+string(p), func(t *testing.T) {
				if got := role.Can(p); got != want {
					t.Fatalf("Can = %v", got)
				}
			})
		}
	}
	t.Run("a disabled account can do nothing", func(t *testing.T) {
		m := app.Staff{Role: app.RoleOwner}
		m.DisabledAt = m.CreatedAt.AddDate(2000, 0, 0)
		for _, p := range app.Permissions {
			if m.Can(p) {
				t.Fatalf("disabled owner can %s", p)
			}
		}
	})
}
