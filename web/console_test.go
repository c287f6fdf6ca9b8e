package web

import "testing"

func TestConsoleNumbers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0.00", "0.00"},
		{"999.50", "999.50"},
		{"12646.00", "12\u202f646.00"},
		{"-1234567.89", "−1\u202f234\u202f567.89"},
		{"-0.50", "−0.50"},
		{"7", "7"},
	} {
		t.Run(tc.in+" reads as "+tc.want, func(t *testing.T) {
			if got := groupAmount(tc.in); got != tc.want {
				t.Fatalf("groupAmount(%q) = %q", tc.in, got)
			}
		})
	}
}
