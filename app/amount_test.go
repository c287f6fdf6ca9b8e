package app

import "testing"

func TestParseAmount(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Amount
		err  bool
	}{
		{"two decimals", "414.95", 4149500, false},
		{"whole number", "10", 100000, false},
		{"one decimal", "0.5", 5000, false},
		{"four decimals (CLF)", "1234.5678", 12345678, false},
		{"trailing zeros past the scale are harmless", "1.500000", 15000, false},
		{"negative", "-10.00", -100000, false},
		{"empty is zero", "", 0, false},
		{"leading dot", ".25", 2500, false},
		{"more than four real decimals is refused, not rounded", "0.00001", 0, true},
		{"letters", "12a.00", 0, true},
		{"exponent is not a decimal string", "1e3", 0, true},
		{"lone dot", ".", 0, true},
		{"out of range", "999999999999999999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAmount(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseAmount(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("ParseAmount(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestAmountString(t *testing.T) {
	for in, want := range map[Amount]string{4149500: "414.95", 100000: "10.00", 12345678: "1234.5678", -5000: "-0.50", 0: "0.00"} {
		if got := in.String(); got != want {
			t.Errorf("Amount(%d).String() = %q, want %q", in, got, want)
		}
	}
}

func TestPointsFor(t *testing.T) {
	tests := []struct {
		name   string
		amount string
		rate   string
		mode   Rounding
		want   int64
	}{
		{"floor drops the fraction", "414.95", "1", RoundFloor, 414},
		{"nearest rounds half up", "10.50", "1", RoundNearest, 11},
		{"nearest rounds below half down", "10.49", "1", RoundNearest, 10},
		{"ceil rounds any fraction up", "10.01", "1", RoundCeil, 11},
		{"fractional rate", "99.99", "0.1", RoundFloor, 9},
		{"high rate", "12.34", "5", RoundFloor, 61},
		{"exact product needs no rounding", "20.00", "1.5", RoundCeil, 30},
		{"zero amount earns nothing", "0", "1", RoundCeil, 0},
		{"zero rate earns nothing", "100", "0", RoundCeil, 0},
		{"huge order at a high rate does not overflow", "900000000000.00", "1000", RoundFloor, 900000000000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rate, err := ParseRate(tt.rate)
			if err != nil {
				t.Fatal(err)
			}
			if got := PointsFor(MustAmount(tt.amount), rate, tt.mode); got != tt.want {
				t.Fatalf("PointsFor(%s, %s, %s) = %d, want %d", tt.amount, tt.rate, tt.mode, got, tt.want)
			}
		})
	}
}

func TestProportion(t *testing.T) {
	tests := []struct {
		name        string
		points      int64
		part, whole string
		want        int64
	}{
		{"half refunded takes half, rounded down", 415, "207.50", "415.00", 207},
		{"everything refunded takes everything", 414, "414.95", "414.95", 414},
		{"more than the order caps at what it earned", 414, "500.00", "414.95", 414},
		{"nothing refunded takes nothing", 414, "0", "414.95", 0},
		{"order that earned on nothing", 0, "10", "0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Proportion(tt.points, MustAmount(tt.part), MustAmount(tt.whole)); got != tt.want {
				t.Fatalf("Proportion = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEligibleOnPaid(t *testing.T) {
	order := OrderPaid{Subtotal: MustAmount("100.00"), SubtotalTax: MustAmount("20.00"),
		Shipping: MustAmount("10.00"), ShippingTax: MustAmount("2.00")}
	inclusive := order
	inclusive.TaxesIncluded = true
	tests := []struct {
		name  string
		prog  Program
		order OrderPaid
		want  string
	}{
		{"merchandise only by default", Program{}, order, "100.00"},
		{"shipping earns when the program says so", Program{EarnOnShipping: true}, order, "110.00"},
		{"tax on top earns when the program says so", Program{EarnOnTax: true}, order, "120.00"},
		{"tax on top and shipping", Program{EarnOnTax: true, EarnOnShipping: true}, order, "132.00"},
		{"tax-inclusive prices have the tax taken out", Program{}, inclusive, "80.00"},
		{"tax-inclusive prices with shipping take out both taxes", Program{EarnOnShipping: true}, inclusive, "88.00"},
		{"tax-inclusive prices earning on tax keep it", Program{EarnOnTax: true}, inclusive, "100.00"},
		{"never negative", Program{}, OrderPaid{Subtotal: 0, SubtotalTax: MustAmount("1"), TaxesIncluded: true}, "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.prog.EligibleOnPaid(tt.order).String(); got != tt.want {
				t.Fatalf("eligible = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestProgramValidate(t *testing.T) {
	if err := DefaultProgram(1).Validate(); err != nil {
		t.Fatalf("default program is invalid: %v", err)
	}
	bad := []Program{
		{EarnRate: -1, Rounding: RoundFloor},
		{Rounding: "banker"},
		{Rounding: RoundFloor, PendingDays: -1},
		{Rounding: RoundFloor, SignupBonus: -5},
	}
	edits := []func(*Program){
		func(p *Program) { p.ExpiryDays, p.InactivityMonths = 365, 12 },
		func(p *Program) { p.InactivityMonths = 121 },
		func(p *Program) { p.ExpiryDays, p.PendingDays = 14, 14 },
		func(p *Program) { p.WarnDays = []int{0} },
		func(p *Program) { p.WarnDays = []int{30, 14, 7, 3, 2, 1} },
		func(p *Program) { p.AnniversaryBonus = -1 },
		func(p *Program) { p.BirthdayBonus = -1 },
		func(p *Program) { p.Look.Color = "red" },
		func(p *Program) { p.Look.Position = "top-left" },
	}
	for _, edit := range edits {
		p := DefaultProgram(1)
		edit(&p)
		bad = append(bad, p)
	}
	for _, p := range bad {
		if err := p.Validate(); ErrorCode(err) != EInvalid {
			t.Errorf("Validate(%+v) = %v, want an invalid error", p, err)
		}
	}
}
