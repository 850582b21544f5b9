package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/activities/inventory"
)

// DescribeItems lists items for a person: "2 × BOOK-GOPL, 1 × MUG-GOPHER".
func DescribeItems(items []inventory.Item) string {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%d × %s", it.Qty, it.SKU))
	}
	return strings.Join(parts, ", ")
}

// FormatCents formats an amount in cents as dollars: 5997 → "$59.97".
func FormatCents(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s$%d.%02d", sign, cents/100, cents%100)
}

// DescribeUndoing lists compensations for a person: "refund, then release".
func DescribeUndoing(names []string) string { return strings.Join(names, ", then ") }

// MaxEcho is how much of a rejected value an error message quotes: enough
// to recognise it, not so much that a huge input makes a huge message.
const MaxEcho = 40

// QuoteInput quotes a value a person or a client gave, for an error
// message: on one line, cut after MaxEcho bytes (at a character boundary)
// with its full length. The starter's parsers use it too.
func QuoteInput(s string) string {
	if len(s) <= MaxEcho {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(runePrefix(s, MaxEcho)), len(s))
}

// clip bounds a caller's text that the order keeps (a cancel's or a
// resume's reason), so that no signal or update can grow the order's state,
// and with it every query answer and the result, past Temporal's payload
// limits.
func clip(s string) string { return clipTo(s, MaxTextLength) }

// clipTo cuts s to at most limit bytes, ending in an ellipsis, at a rune
// boundary.
func clipTo(s string, limit int) string {
	const ellipsis = "…"
	if len(s) <= limit {
		return s
	}
	return runePrefix(s, max(limit-len(ellipsis), 0)) + ellipsis
}

// runePrefix is the longest prefix of s of at most n bytes that does not
// cut a character in two.
func runePrefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
