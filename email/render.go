// Package email writes the messages shoppers get, in their language and
// with their shop's name and colour, and sends them: over SMTP with
// go-mail, or to the log in local mode.
package email

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"math"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"

	"loyalty/app"
)

//go:embed templates/*
var templateFiles embed.FS

var (
	htmlTemplate = htmltemplate.Must(htmltemplate.ParseFS(templateFiles, "templates/message.html"))
	textTemplate = texttemplate.Must(texttemplate.ParseFS(templateFiles, "templates/message.txt"))
)

// Message is a rendered message.
type Message struct {
	Subject string
	Text    string
	HTML    string
	Lang    string
}

// view is what the templates show.
type view struct {
	Lang, Subject, Shop, Greeting string
	Paragraphs                    []string
	Code, CodeNote                string
	CTA, ShopURL                  string
	Footer, Unsubscribe           string
	UnsubscribeURL                string
	// Color is the shop's accent; OnColor the text that reads on it.
	Color, OnColor htmltemplate.CSS
}

var hexColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// Render writes the message for m in the shopper's language: the first
// the app speaks of the locale recorded with the notice, the customer's,
// and the shop's; else English.
func Render(m app.Mail, unsubscribeURL string) (Message, error) {
	n := m.Notification.Notice
	l := First(m.Notification.Locale, m.Customer.Locale, m.Locale)
	shop := m.Shop.Name
	if shop == "" {
		shop = m.Shop.Domain
	}
	vars := Vars{"shop": shop, "reward": n.RewardName, "name": strings.TrimSpace(m.Customer.FirstName)}
	if !n.On.IsZero() {
		vars["date"] = l.Date(n.On.UTC())
	}
	v := view{Lang: l.Code, Shop: shop, Subject: l.T("subject."+string(n.Kind), n.Points, vars),
		CTA: l.T("cta", 0, vars), ShopURL: "https://" + m.Shop.Domain, Footer: l.T("footer", 0, vars),
		Unsubscribe: l.T("unsubscribe", 0, vars), UnsubscribeURL: unsubscribeURL}
	v.Greeting = l.T("greeting.anon", 0, vars)
	if vars["name"] != "" {
		v.Greeting = l.T("greeting", 0, vars)
	}
	balance := l.T("balance", m.Customer.Balance, vars)
	switch n.Kind {
	case app.MessageWelcome:
		v.Paragraphs = []string{l.T("welcome.body", 0, vars)}
		if n.Points > 0 {
			v.Paragraphs = append(v.Paragraphs, l.T("welcome.bonus", n.Points, vars))
		}
		if n.Earned > 0 { // the welcome of a shopper who joined with an order
			v.Paragraphs = append(v.Paragraphs, l.T("earned.body", n.Earned, vars), balance)
		}
	case app.MessageEarned:
		v.Paragraphs = []string{l.T("earned.body", n.Points, vars), balance}
	case app.MessageRedeemed:
		v.Paragraphs = []string{l.T("redeemed.body", 0, vars)}
		v.Code = n.Code
		if vars["date"] != "" {
			v.CodeNote = l.T("redeemed.expires", 0, vars)
		}
	case app.MessageExpiring:
		if vars["date"] == "" {
			return Message{}, fmt.Errorf("render %s: an expiry warning needs the day", n.Key)
		}
		v.Paragraphs = []string{l.T("expiring.body", n.Points, vars)}
	case app.MessageBirthday:
		v.Paragraphs = []string{l.T("birthday.body", n.Points, vars), balance}
	default:
		return Message{}, fmt.Errorf("render %s: unknown message kind %q", n.Key, n.Kind)
	}
	color := m.Look.Color
	if !hexColor.MatchString(color) {
		color = app.DefaultLook.Color
	}
	v.Color, v.OnColor = htmltemplate.CSS(color), htmltemplate.CSS(TextOn(color))

	var html, text bytes.Buffer
	if err := htmlTemplate.Execute(&html, v); err != nil {
		return Message{}, fmt.Errorf("render %s: %w", n.Key, err)
	}
	if err := textTemplate.Execute(&text, v); err != nil {
		return Message{}, fmt.Errorf("render %s: %w", n.Key, err)
	}
	return Message{Subject: v.Subject, Text: text.String(), HTML: html.String(), Lang: l.Code}, nil
}

// TextOn picks black or white text, whichever contrasts more with the
// accent colour (WCAG 2 relative luminance and contrast ratio).
func TextOn(color string) string {
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		c, _ := strconv.ParseUint(color[1+2*i:3+2*i], 16, 8)
		x := float64(c) / 255
		if x <= 0.04045 {
			x /= 12.92
		} else {
			x = math.Pow((x+0.055)/1.055, 2.4)
		}
		lum += w * x
	}
	// Contrast with white is 1.05/(lum+0.05), with black (lum+0.05)/0.05.
	if (lum+0.05)/0.05 > 1.05/(lum+0.05) {
		return "#000000"
	}
	return "#ffffff"
}
