package email

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Languages are the languages messages are written in; the first is the
// fallback for a shopper whose language is none of them.
var Languages = []string{"en", "pl", "lv", "ro", "ru"}

//go:embed catalog/*.json
var catalogFiles embed.FS

// Lang is one language's catalogue with its rules for plurals, numbers and
// dates.
type Lang struct {
	Code     string
	messages map[string]entry
	months   [12]string
	// dateLayout places {d}, {month} and {y}.
	dateLayout string
	group      string // thousands separator
	// minGroup is the fewest digits in front of the first separator:
	// Polish writes 1234 but 12 345.
	minGroup int
	plural   func(n int64) string
}

// entry is a message, or its forms by plural category.
type entry struct {
	text  string
	forms map[string]string
}

func (e *entry) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &e.text); err == nil {
		return nil
	}
	return json.Unmarshal(b, &e.forms)
}

type catalogFile struct {
	Months     [12]string       `json:"months"`
	DateLayout string           `json:"date"`
	Messages   map[string]entry `json:"messages"`
}

const nbsp = "\u00a0"

// rules are each language's plural categories (CLDR's, for whole numbers)
// and number grouping.
var rules = map[string]struct {
	plural   func(n int64) string
	group    string
	minGroup int
}{
	"en": {func(n int64) string {
		if n == 1 {
			return "one"
		}
		return "other"
	}, ",", 1},
	"pl": {func(n int64) string {
		switch {
		case n == 1:
			return "one"
		case n%10 >= 2 && n%10 <= 4 && (n%100 < 12 || n%100 > 14):
			return "few"
		}
		return "many"
	}, nbsp, 2},
	"ru": {func(n int64) string {
		switch {
		case n%10 == 1 && n%100 != 11:
			return "one"
		case n%10 >= 2 && n%10 <= 4 && (n%100 < 12 || n%100 > 14):
			return "few"
		}
		return "many"
	}, nbsp, 1},
	"lv": {func(n int64) string {
		switch {
		case n%10 == 0 || (n%100 >= 11 && n%100 <= 19):
			return "zero"
		case n%10 == 1 && n%100 != 11:
			return "one"
		}
		return "other"
	}, nbsp, 1},
	"ro": {func(n int64) string {
		switch {
		case n == 1:
			return "one"
		case n == 0 || (n%100 >= 1 && n%100 <= 19):
			return "few"
		}
		return "other"
	}, ".", 1},
}

var langs = loadLangs()

func loadLangs() map[string]*Lang {
	out := map[string]*Lang{}
	for _, code := range Languages {
		b, err := fs.ReadFile(catalogFiles, path.Join("catalog", code+".json"))
		if err != nil {
			panic(fmt.Sprintf("email catalogue %s: %v", code, err))
		}
		var f catalogFile
		if err := json.Unmarshal(b, &f); err != nil {
			panic(fmt.Sprintf("email catalogue %s: %v", code, err))
		}
		r := rules[code]
		out[code] = &Lang{Code: code, messages: f.Messages, months: f.Months, dateLayout: f.DateLayout,
			group: r.group, minGroup: r.minGroup, plural: r.plural}
	}
	return out
}

// For returns the catalogue for a shopper's locale ("pl", "pl-PL", "ru_RU"),
// English when the app does not speak it.
func For(locale string) *Lang {
	return First(locale)
}

// First is the first of locales the app speaks, English when none.
func First(locales ...string) *Lang {
	for _, locale := range locales {
		base := strings.ToLower(strings.TrimSpace(locale))
		if i := strings.IndexAny(base, "-_"); i >= 0 {
			base = base[:i]
		}
		if l, ok := langs[base]; ok {
			return l
		}
	}
	return langs["en"]
}

// Vars fill a message's {placeholders}.
type Vars map[string]string

// T returns the message key, in the plural form for count when it has
// forms, with {n} set to count and the other placeholders from vars.
func (l *Lang) T(key string, count int64, vars Vars) string {
	e, ok := l.messages[key]
	if !ok {
		e, ok = langs["en"].messages[key]
	}
	if !ok {
		return key
	}
	text := e.text
	if e.forms != nil {
		text, ok = e.forms[l.plural(count)]
		if !ok {
			text = e.forms["other"]
		}
	}
	pairs := []string{"{n}", l.Number(count)}
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Number writes a whole number with the language's thousands separator.
func (l *Lang) Number(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	if len(s) < 3+l.minGroup {
		return sign + s
	}
	var b strings.Builder
	head := len(s) % 3
	if head == 0 {
		head = 3
	}
	b.WriteString(s[:head])
	for i := head; i < len(s); i += 3 {
		b.WriteString(l.group)
		b.WriteString(s[i : i+3])
	}
	return sign + b.String()
}

// Date writes a day as the language says it in a sentence ("14 March
// 2026", "14 marca 2026 r.", "2026. gada 14. martā").
func (l *Lang) Date(t time.Time) string {
	return strings.NewReplacer("{d}", strconv.Itoa(t.Day()), "{month}", l.months[t.Month()-1],
		"{y}", strconv.Itoa(t.Year())).Replace(l.dateLayout)
}

// Keys lists the English catalogue's keys, which every language has.
func Keys() []string {
	keys := make([]string, 0, len(langs["en"].messages))
	for k := range langs["en"].messages {
		keys = append(keys, k)
	}
	return keys
}

// Has reports whether the language has its own text for key, in every
// plural form it uses.
func (l *Lang) Has(key string) bool {
	e, ok := l.messages[key]
	if !ok {
		return false
	}
	if e.forms == nil {
		return true
	}
	for _, n := range []int64{0, 1, 2, 3, 5, 11, 21, 101, 120} {
		if _, ok := e.forms[l.plural(n)]; !ok {
			return false
		}
	}
	return true
}
