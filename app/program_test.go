package app_test

import (
	"reflect"
	"testing"

	"loyalty/app"
)

func TestAProgramIsStoredAsSet(t *testing.T) {
	f := newFixture(t, nil)
	fresh, err := f.svc.Program(f.ctx, f.shop)
	if err != nil {
		t.Fatal(err)
	}
	if want := app.DefaultProgram(f.shop.ID); !reflect.DeepEqual(fresh, want) {
		t.Fatalf("a new shop's program\n got %+v\nwant %+v", fresh, want)
	}
	p := fresh
	p.EarnRate, p.SignupBonus, p.BirthdayBonus, p.AnniversaryBonus = app.Rate(2*app.AmountScale), 50, 100, 200
	p.InactivityMonths, p.WarnDays = 12, []int{30, 7, 1}
	p.Messages = app.Messages{Welcome: true, Expiring: true}
	p.Look = app.WidgetLook{Color: "#aa3355", Position: "bottom-left"}
	if err := f.svc.SetProgram(f.ctx, f.shop, p, "owner", "everything"); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Program(f.ctx, f.shop)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("stored\n got %+v, %v\nwant %+v", got, err, p)
	}
}
