package app

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// AmountScale is how many Amount units make one unit of a currency. Four
// decimal places hold every ISO 4217 currency exactly (the most precise in
// use, such as CLF, have four), so money is never a float anywhere.
const AmountScale = 10000

// Amount is a sum of money in ten-thousandths of the shop's currency unit:
// 414.95 USD is Amount(4149500). It is exact; parse it from the decimal
// strings the platforms send, never from floats.
type Amount int64

// ParseAmount parses a decimal string such as "414.95", "-10", "0.5" or
// "1234.5678". An empty string is zero. More than four decimal places is an
// error rather than a silent rounding.
func ParseAmount(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("amount %q: no digits", s)
	}
	if len(frac) > 4 {
		// Trailing zeros beyond the scale are harmless ("1.500000").
		if strings.TrimRight(frac[4:], "0") != "" {
			return 0, fmt.Errorf("amount %q: more than 4 decimal places", s)
		}
		frac = frac[:4]
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("amount %q: not a decimal number", s)
			}
		}
	}
	var w int64
	if whole != "" {
		var err error
		w, err = strconv.ParseInt(whole, 10, 64)
		if err != nil || w > (1<<62)/AmountScale {
			return 0, fmt.Errorf("amount %q: out of range", s)
		}
	}
	f := int64(0)
	if frac != "" {
		frac += strings.Repeat("0", 4-len(frac))
		f, _ = strconv.ParseInt(frac, 10, 64)
	}
	v := w*AmountScale + f
	if neg {
		v = -v
	}
	return Amount(v), nil
}

// MustAmount is ParseAmount for constants in tests and examples.
func MustAmount(s string) Amount {
	a, err := ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String formats the amount with two decimals, or more when it has them.
func (a Amount) String() string {
	sign := ""
	v := int64(a)
	if v < 0 {
		sign, v = "-", -v
	}
	whole, frac := v/AmountScale, v%AmountScale
	fs := fmt.Sprintf("%04d", frac)
	fs = strings.TrimRight(fs, "0")
	for len(fs) < 2 {
		fs += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, whole, fs)
}

// Rounding says how a fractional number of points becomes whole points.
type Rounding string

// Rounding modes. Floor is the default: a shopper never gets a point they did
// not fully earn, and a reversal never takes more than was earned.
const (
	RoundFloor   Rounding = "floor"
	RoundNearest Rounding = "nearest" // half up
	RoundCeil    Rounding = "ceil"
)

// Valid reports whether r is a known rounding mode.
func (r Rounding) Valid() bool {
	return r == RoundFloor || r == RoundNearest || r == RoundCeil
}

// Rate is a number of points per whole currency unit, in ten-thousandths of
// a point, so "1.5 points per 1 PLN" is Rate(15000). Merchants set rates like
// 1, 5 or 0.1; four decimals are plenty and keep the arithmetic exact.
type Rate int64

// ParseRate parses a decimal rate such as "1", "0.1" or "2.5".
func ParseRate(s string) (Rate, error) {
	a, err := ParseAmount(s)
	if err != nil {
		return 0, fmt.Errorf("rate: %w", err)
	}
	if a < 0 {
		return 0, fmt.Errorf("rate %q: negative", s)
	}
	return Rate(a), nil
}

// String formats the rate as a decimal without trailing zeros.
func (r Rate) String() string {
	s := Amount(r).String()
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// PointsFor returns the points that amount earns at rate, rounded by mode.
// The product is computed in big integers: amount × rate can exceed int64
// for very large orders at high rates.
func PointsFor(amount Amount, rate Rate, mode Rounding) int64 {
	if amount <= 0 || rate <= 0 {
		return 0
	}
	num := new(big.Int).Mul(big.NewInt(int64(amount)), big.NewInt(int64(rate)))
	return divRound(num, big.NewInt(AmountScale*AmountScale), mode)
}

// Proportion returns points × part / whole rounded down, clamped to
// [0, points]. Reversals use it so that a refund of part of an order takes
// back that share of what the order earned, at the order's own rate, and
// refunds adding up to the whole order take back exactly everything.
func Proportion(points int64, part, whole Amount) int64 {
	if points <= 0 || part <= 0 || whole <= 0 {
		return 0
	}
	if part >= whole {
		return points
	}
	num := new(big.Int).Mul(big.NewInt(points), big.NewInt(int64(part)))
	return divRound(num, big.NewInt(int64(whole)), RoundFloor)
}

func divRound(num, den *big.Int, mode Rounding) int64 {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		switch mode {
		case RoundCeil:
			q.Add(q, big.NewInt(1))
		case RoundNearest:
			if new(big.Int).Mul(r, big.NewInt(2)).Cmp(den) >= 0 {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	if !q.IsInt64() {
		return 1<<63 - 1
	}
	return q.Int64()
}
