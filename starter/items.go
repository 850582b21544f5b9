package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/workflows"
)

// itemExample is shown in every --item error, so the fix is one copy away.
const itemExample = `"BOOK-GOPL:2"`

// parseItems turns the --item values, each SKU:QTY, into order lines. An
// error names the --item that is wrong (by value and position) and the form
// it should have. Duplicate SKUs and limits are left to Order.Validate.
func parseItems(values []string) ([]inventory.Item, error) {
	items := make([]inventory.Item, 0, len(values))
	for i, v := range values {
		it, err := parseItem(v)
		if err != nil {
			return nil, fmt.Errorf("--item #%d %s: %w", i+1, workflows.QuoteInput(v), err)
		}
		items = append(items, it)
	}
	return items, nil
}

// parseItem parses one SKU:QTY, QTY a positive integer.
func parseItem(v string) (inventory.Item, error) {
	sku, qty, ok := strings.Cut(strings.TrimSpace(v), ":")
	sku, qty = strings.TrimSpace(sku), strings.TrimSpace(qty)
	switch {
	case !ok:
		return inventory.Item{}, fmt.Errorf("want SKU:QTY, e.g. %s", itemExample)
	case sku == "":
		return inventory.Item{}, fmt.Errorf("the SKU is empty: want SKU:QTY, e.g. %s", itemExample)
	case qty == "":
		return inventory.Item{}, fmt.Errorf("the quantity is missing: want SKU:QTY with QTY a positive integer, e.g. %s", itemExample)
	}
	n, err := strconv.Atoi(qty)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(qty, "-") {
		return inventory.Item{}, fmt.Errorf("quantity %s is too large: want SKU:QTY with QTY from 1 to %d, e.g. %s", workflows.QuoteInput(qty), workflows.MaxQty, itemExample)
	}
	if err != nil || n < 1 {
		return inventory.Item{}, fmt.Errorf("quantity %s is not a positive integer: want SKU:QTY, e.g. %s", workflows.QuoteInput(qty), itemExample)
	}
	return inventory.Item{SKU: sku, Qty: n}, nil
}
