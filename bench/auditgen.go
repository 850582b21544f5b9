package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// orderEnd is how a generated placement ended, and so what the stores hold
// for it.
type orderEnd int

const (
	// endCompleted: reserved, a captured charge equal to the reservation's
	// total, a created shipment.
	endCompleted orderEnd = iota
	// endDeclined: the charge was declined, the reservation released, the
	// shipment voided (cancelled before it was ever booked).
	endDeclined
	// endCancelled: cancelled in its window: released, refunded, the
	// shipment voided.
	endCancelled
)

func (e orderEnd) String() string {
	switch e {
	case endDeclined:
		return "declined"
	case endCancelled:
		return "cancelled"
	}
	return "completed"
}

// mixPeriod and the shares in it make the mix of generated placements: of
// every 20, 2 declined, 1 cancelled, the other 17 completed.
const mixPeriod = 20

// endOf is how the i-th generated placement ended.
func endOf(i int) orderEnd {
	switch i % mixPeriod {
	case 0, 1:
		return endDeclined
	case 2:
		return endCancelled
	}
	return endCompleted
}

// mixCounts counts the ends of the first n generated placements.
type mixCounts struct{ completed, declined, cancelled int }

func countMix(n int) mixCounts {
	var c mixCounts
	for i := range n {
		switch endOf(i) {
		case endCompleted:
			c.completed++
		case endDeclined:
			c.declined++
		case endCancelled:
			c.cancelled++
		}
	}
	return c
}

// undone is how many placements hold nothing: declined and cancelled.
func (c mixCounts) undone() int { return c.declined + c.cancelled }

// genSKUs are the catalog's SKUs the generated orders buy: all of them but
// LAMP-LIMITED, which has 3 units. Each has a million units in the catalog,
// and an order takes at most maxGenQty of each, so 100,000 orders never run
// short.
var genSKUs = []string{"BOOK-GOPL", "MUG-GOPHER", "STICKER-PACK", "TEE-TEMPORAL-M"}

const maxGenQty = 3

// genSeed makes the generated placements the same from run to run.
const genSeed = 0x6f726465727361

// genOrder is one generated placement: the order, and how it ended.
type genOrder struct {
	end       orderEnd
	orderID   string
	placement string
	items     []inventory.Item
}

// genOrderAt is the i-th generated placement. It depends on i alone, so
// that each store's writer can make the orders it needs by itself. The
// placement is a random UUID, as Temporal's run IDs are: the stores'
// streams come in an order unrelated to the order of the writes.
func genOrderAt(i int) genOrder {
	r := rand.New(rand.NewPCG(genSeed, uint64(i)))
	o := genOrder{end: endOf(i), orderID: fmt.Sprintf("forgotten-%07d", i), placement: randomUUID(r)}
	for _, j := range r.Perm(len(genSKUs))[:1+r.IntN(3)] {
		o.items = append(o.items, inventory.Item{SKU: genSKUs[j], Qty: 1 + r.IntN(maxGenQty)})
	}
	return o
}

// randomUUID formats 128 random bits as a version 4 UUID.
func randomUUID(r *rand.Rand) string {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

func (o genOrder) key(step string) string {
	return ordersaga.WorkflowIDPrefix + o.orderID + "/" + step
}

// totalCents is what the reservation of o costs at prices, by SKU.
func (o genOrder) totalCents(prices map[string]int64) int64 {
	var total int64
	for _, it := range o.items {
		total += int64(it.Qty) * prices[it.SKU]
	}
	return total
}

// generate creates the three stores in dataDir with their own Open, and
// writes n placements into them with their own methods, as the saga's
// activities do: each write is one of the store's transactions, so the
// rows, the derived columns and the stock are the real ones. The three
// stores are written at once, each by its own goroutine. (100,000
// placements take about 80 s this way on a quiet 2-core machine, the
// inventory's the longest: fast enough not to call for batched INSERTs
// that would bypass the stores' code.)
func generate(ctx context.Context, dataDir string, n int) error {
	inv, err := inventory.Open(ctx, filepath.Join(dataDir, inventory.DatabaseFile))
	if err != nil {
		return err
	}
	defer inv.Close()
	pay, err := payment.Open(ctx, filepath.Join(dataDir, payment.DatabaseFile))
	if err != nil {
		return err
	}
	defer pay.Close()
	shp, err := shipping.Open(ctx, filepath.Join(dataDir, shipping.DatabaseFile))
	if err != nil {
		return err
	}
	defer shp.Close()
	products, err := inv.Products(ctx)
	if err != nil {
		return err
	}
	prices := map[string]int64{}
	for _, p := range products {
		prices[p.SKU] = p.UnitPriceCents
	}
	for _, sku := range genSKUs {
		if _, ok := prices[sku]; !ok {
			return fmt.Errorf("the catalog has no %s", sku)
		}
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range []struct {
		name  string
		write func(context.Context, genOrder) error
	}{
		{"inventory", func(ctx context.Context, o genOrder) error { return writeInventory(ctx, inv, o) }},
		{"payment", func(ctx context.Context, o genOrder) error { return writePayment(ctx, pay, o, o.totalCents(prices)) }},
		{"shipping", func(ctx context.Context, o genOrder) error { return writeShipping(ctx, shp, o) }},
	} {
		g.Go(func() error {
			for i := range n {
				if err := w.write(gctx, genOrderAt(i)); err != nil {
					return fmt.Errorf("%s, placement %d: %w", w.name, i, err)
				}
				if (i+1)%max(n/5, 1) == 0 {
					fmt.Printf("  %s: %d of %d placements written (%s)\n", w.name, i+1, n, time.Since(start).Round(time.Second))
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func writeInventory(ctx context.Context, s *inventory.Store, o genOrder) error {
	key := o.key("reserve")
	if _, err := s.Reserve(ctx, inventory.ReserveRequest{Key: key, OrderID: o.orderID, Placement: o.placement, Items: o.items}); err != nil {
		return err
	}
	if o.end == endCompleted {
		return nil
	}
	_, err := s.Release(ctx, inventory.ReleaseRequest{Key: key, OrderID: o.orderID, Placement: o.placement})
	return err
}

func writePayment(ctx context.Context, s *payment.Store, o genOrder, totalCents int64) error {
	key := o.key("charge")
	token := payment.TokenVisa
	if o.end == endDeclined {
		token = payment.TokenDeclined
	}
	_, err := s.Charge(ctx, payment.ChargeRequest{Key: key, OrderID: o.orderID, Placement: o.placement, AmountCents: totalCents, Token: token}, 1)
	switch {
	case o.end == endDeclined && errors.Is(err, payment.ErrDeclined):
		return nil
	case err != nil:
		return err
	case o.end == endDeclined:
		return fmt.Errorf("charge %s: captured with %s", key, token)
	case o.end == endCancelled:
		_, err = s.Refund(ctx, payment.RefundRequest{Key: key, OrderID: o.orderID, Placement: o.placement})
	}
	return err
}

func writeShipping(ctx context.Context, s *shipping.Store, o genOrder) error {
	key := o.key("ship")
	if o.end != endCompleted {
		_, err := s.Cancel(ctx, shipping.CancelRequest{Key: key, OrderID: o.orderID, Placement: o.placement})
		return err
	}
	parcel := make([]shipping.Parcel, 0, len(o.items))
	for _, it := range o.items {
		parcel = append(parcel, shipping.Parcel{SKU: it.SKU, Qty: it.Qty})
	}
	_, err := s.Ship(ctx, shipping.ShipRequest{Key: key, OrderID: o.orderID, Placement: o.placement,
		Address: "1 Bench Street, Testville", Items: parcel})
	return err
}
