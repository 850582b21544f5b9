package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// concurrency is how many goroutines race on one key in the concurrent tests.
const concurrency = 20

func openTestStore(t *testing.T) *Store {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), DatabaseFile))
}

func openStoreAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// catalog is the shipped catalog.json, by SKU.
func catalog(t *testing.T) map[string]catalogEntry {
	t.Helper()
	var entries []catalogEntry
	if err := json.Unmarshal(catalogJSON, &entries); err != nil {
		t.Fatalf("parse catalog.json: %v", err)
	}
	out := make(map[string]catalogEntry, len(entries))
	for _, e := range entries {
		out[e.SKU] = e
	}
	return out
}

// products returns the store's products by SKU, checking on the way that
// every one keeps the stock invariant Received = OnHand + Reserved.
func products(t *testing.T, s *Store) map[string]Product {
	t.Helper()
	list, err := s.Products(context.Background())
	if err != nil {
		t.Fatalf("Products: %v", err)
	}
	out := make(map[string]Product, len(list))
	for _, p := range list {
		if p.Received != p.OnHand+p.Reserved {
			t.Errorf("%s breaks the stock invariant: received %d != on hand %d + reserved %d",
				p.SKU, p.Received, p.OnHand, p.Reserved)
		}
		out[p.SKU] = p
	}
	return out
}

func onHand(t *testing.T, s *Store, sku string) int {
	t.Helper()
	p, ok := products(t, s)[sku]
	if !ok {
		t.Fatalf("no product %s", sku)
	}
	return p.OnHand
}

// assertStockUnchanged fails if any product differs from before.
func assertStockUnchanged(t *testing.T, s *Store, before map[string]Product) {
	t.Helper()
	after := products(t, s)
	if !maps.Equal(before, after) {
		t.Errorf("stock changed:\nbefore %v\nafter  %v", before, after)
	}
}

func countRows(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func reservationCount(t *testing.T, s *Store) int {
	t.Helper()
	return countRows(t, s, `SELECT count(*) FROM reservations`)
}

func reserveRequest(key, orderID string, items ...Item) ReserveRequest {
	return ReserveRequest{Key: key, OrderID: orderID, Items: items}
}

func mustReserve(t *testing.T, s *Store, req ReserveRequest) Reservation {
	t.Helper()
	res, err := s.Reserve(context.Background(), req)
	if err != nil {
		t.Fatalf("Reserve(%+v): %v", req, err)
	}
	return res
}

func mustRelease(t *testing.T, s *Store, key, orderID string) ReleaseResult {
	t.Helper()
	res, err := s.Release(context.Background(), ReleaseRequest{Key: key, OrderID: orderID})
	if err != nil {
		t.Fatalf("Release(%s): %v", key, err)
	}
	return res
}

func storedReservation(t *testing.T, s *Store, key string) (Reservation, bool) {
	t.Helper()
	r, found, err := s.Reservation(context.Background(), key)
	if err != nil {
		t.Fatalf("Reservation(%s): %v", key, err)
	}
	return r, found
}

// runConcurrently calls fn(i) from n goroutines released at the same moment
// and waits for all of them.
func runConcurrently(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func TestNewStoreIsSeededFromCatalog(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		want := catalog(t)
		got := products(t, s)

		if len(got) != len(want) {
			t.Fatalf("store has %d products, catalog has %d", len(got), len(want))
		}
		for sku, c := range want {
			p := got[sku]
			if p.Name != c.Name || p.UnitPriceCents != c.UnitPriceCents || p.OnHand != c.Stock || p.Received != c.Stock || p.Reserved != 0 {
				t.Errorf("%s = %+v, want seeded from %+v", sku, p, c)
			}
		}
		if lamp := got["LAMP-LIMITED"]; lamp.OnHand != 3 {
			t.Errorf("LAMP-LIMITED on hand = %d, want 3", lamp.OnHand)
		}
	})
}

func TestReopenDoesNotSeedAgain(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		path := backend.Source(t)
		first, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		mustReserve(t, first, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 2}))
		first.Close()

		s := openStoreAt(t, path)
		got := products(t, s)
		if len(got) != len(catalog(t)) {
			t.Errorf("store has %d products after reopen, want %d", len(got), len(catalog(t)))
		}
		if lamp := got["LAMP-LIMITED"]; lamp.OnHand != 1 || lamp.Received != 3 {
			t.Errorf("LAMP-LIMITED after reopen = %+v, want on hand 1, received 3 (seeded once)", lamp)
		}
	})
}

func TestConcurrentOpenOfNewStoreSeedsOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		path := backend.Source(t)
		const openers = 8
		errs := make([]error, openers)
		runConcurrently(openers, func(i int) {
			s, err := Open(context.Background(), path)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
			}
		}

		s := openStoreAt(t, path)
		want := catalog(t)
		got := products(t, s)
		if len(got) != len(want) {
			t.Errorf("store has %d products, want %d", len(got), len(want))
		}
		for sku, c := range want {
			if got[sku].OnHand != c.Stock || got[sku].Received != c.Stock {
				t.Errorf("%s on hand %d, received %d; want %d (seeded once)", sku, got[sku].OnHand, got[sku].Received, c.Stock)
			}
		}
	})
}

func TestReservePricesLinesFromCatalogAndTakesStock(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		before := products(t, s)

		res := mustReserve(t, s, reserveRequest("o1/reserve", "o1",
			Item{SKU: "BOOK-GOPL", Qty: 2}, Item{SKU: "LAMP-LIMITED", Qty: 1}))

		wantLines := []Line{
			{SKU: "BOOK-GOPL", Name: before["BOOK-GOPL"].Name, Qty: 2, UnitPriceCents: before["BOOK-GOPL"].UnitPriceCents},
			{SKU: "LAMP-LIMITED", Name: before["LAMP-LIMITED"].Name, Qty: 1, UnitPriceCents: before["LAMP-LIMITED"].UnitPriceCents},
		}
		if !reflect.DeepEqual(res.Lines, wantLines) {
			t.Errorf("lines = %+v, want %+v", res.Lines, wantLines)
		}
		if want := int64(2*3999 + 8999); res.TotalCents != want {
			t.Errorf("total = %d, want %d", res.TotalCents, want)
		}
		if res.Status != Reserved || res.Key != "o1/reserve" || res.OrderID != "o1" || res.ID == "" {
			t.Errorf("reservation = %+v, want reserved o1/reserve for o1 with an ID", res)
		}

		after := products(t, s)
		for sku, qty := range map[string]int{"BOOK-GOPL": 2, "LAMP-LIMITED": 1} {
			if after[sku].OnHand != before[sku].OnHand-qty || after[sku].Reserved != qty {
				t.Errorf("%s: on hand %d -> %d, reserved %d; want %d taken and reserved",
					sku, before[sku].OnHand, after[sku].OnHand, after[sku].Reserved, qty)
			}
		}
		if stored, _ := storedReservation(t, s, "o1/reserve"); !reflect.DeepEqual(stored, res) {
			t.Errorf("stored reservation = %+v, want %+v", stored, res)
		}
	})
}

func TestReserveAllStockLeavesNoneForTheNextOrder(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		mustReserve(t, s, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 3}))
		if n := onHand(t, s, "LAMP-LIMITED"); n != 0 {
			t.Fatalf("LAMP-LIMITED on hand = %d, want 0", n)
		}
		_, err := s.Reserve(context.Background(), reserveRequest("o2/reserve", "o2", Item{SKU: "LAMP-LIMITED", Qty: 1}))
		if !errors.Is(err, ErrOutOfStock) {
			t.Errorf("second order: err = %v, want ErrOutOfStock", err)
		}
	})
}

func TestReserveSameKeyTwiceTakesStockOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := reserveRequest("o1/reserve", "o1", Item{SKU: "MUG-GOPHER", Qty: 3}, Item{SKU: "STICKER-PACK", Qty: 1})
		first := mustReserve(t, s, req)
		afterFirst := products(t, s)

		second := mustReserve(t, s, req)
		if !reflect.DeepEqual(first, second) {
			t.Errorf("second Reserve = %+v, want the first %+v", second, first)
		}
		// The items in another order are the same request.
		reordered := reserveRequest("o1/reserve", "o1", Item{SKU: "STICKER-PACK", Qty: 1}, Item{SKU: "MUG-GOPHER", Qty: 3})
		if third := mustReserve(t, s, reordered); !reflect.DeepEqual(first, third) {
			t.Errorf("Reserve with reordered items = %+v, want the first %+v", third, first)
		}
		assertStockUnchanged(t, s, afterFirst)
		if n := reservationCount(t, s); n != 1 {
			t.Errorf("%d reservations recorded, want 1", n)
		}
	})
}

func TestReserveConcurrentSameKeyTakesStockOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		before := products(t, s)
		req := reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 2}, Item{SKU: "BOOK-GOPL", Qty: 1})

		results := make([]Reservation, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = s.Reserve(context.Background(), req)
		})

		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Reserve #%d: %v", i, errs[i])
				continue
			}
			if !reflect.DeepEqual(results[i], results[0]) {
				t.Errorf("Reserve #%d = %+v, want %+v like #0", i, results[i], results[0])
			}
		}
		after := products(t, s)
		if got := before["LAMP-LIMITED"].OnHand - after["LAMP-LIMITED"].OnHand; got != 2 {
			t.Errorf("LAMP-LIMITED: %d units taken, want 2", got)
		}
		if got := before["BOOK-GOPL"].OnHand - after["BOOK-GOPL"].OnHand; got != 1 {
			t.Errorf("BOOK-GOPL: %d units taken, want 1", got)
		}
		if n := reservationCount(t, s); n != 1 {
			t.Errorf("%d reservations recorded, want 1", n)
		}
	})
}

func TestReserveSameKeyDifferentRequestConflicts(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		original := reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 2}, Item{SKU: "MUG-GOPHER", Qty: 1})
		tests := []struct {
			name string
			req  ReserveRequest
		}{
			{"other quantity", reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 3}, Item{SKU: "MUG-GOPHER", Qty: 1})},
			{"other SKU", reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 2}, Item{SKU: "TEE-TEMPORAL-M", Qty: 1})},
			{"item missing", reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 2})},
			{"item added", reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 2}, Item{SKU: "MUG-GOPHER", Qty: 1}, Item{SKU: "STICKER-PACK", Qty: 1})},
			{"other order", reserveRequest("o1/reserve", "o2", Item{SKU: "BOOK-GOPL", Qty: 2}, Item{SKU: "MUG-GOPHER", Qty: 1})},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				first := mustReserve(t, s, original)
				before := products(t, s)

				_, err := s.Reserve(context.Background(), tt.req)
				if !errors.Is(err, ErrKeyConflict) {
					t.Fatalf("err = %v, want ErrKeyConflict", err)
				}
				assertStockUnchanged(t, s, before)
				if stored, _ := storedReservation(t, s, original.Key); !reflect.DeepEqual(stored, first) {
					t.Errorf("stored reservation = %+v, want the first %+v", stored, first)
				}
			})
		}
	})
}

func TestReserveFailureChangesNothing(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name    string
			items   []Item
			wantErr error
		}{
			{
				name:    "out of stock",
				items:   []Item{{SKU: "LAMP-LIMITED", Qty: 4}},
				wantErr: ErrOutOfStock,
			},
			{
				// The first line can be served and is taken before the
				// second is found short: it must be given back.
				name:    "one line served, the next out of stock",
				items:   []Item{{SKU: "BOOK-GOPL", Qty: 5}, {SKU: "LAMP-LIMITED", Qty: 4}},
				wantErr: ErrOutOfStock,
			},
			{
				name:    "unknown SKU",
				items:   []Item{{SKU: "NO-SUCH-THING", Qty: 1}},
				wantErr: ErrUnknownSKU,
			},
			{
				name:    "one line served, the next unknown",
				items:   []Item{{SKU: "MUG-GOPHER", Qty: 1}, {SKU: "NO-SUCH-THING", Qty: 1}},
				wantErr: ErrUnknownSKU,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				before := products(t, s)

				_, err := s.Reserve(context.Background(), reserveRequest("o1/reserve", "o1", tt.items...))
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				assertStockUnchanged(t, s, before)
				if n := reservationCount(t, s); n != 0 {
					t.Errorf("%d reservations recorded, want 0", n)
				}
				if n := countRows(t, s, `SELECT count(*) FROM reservation_lines`); n != 0 {
					t.Errorf("%d reservation lines recorded, want 0", n)
				}
			})
		}
	})
}

func TestReserveRejectsInvalidRequests(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name string
			req  ReserveRequest
		}{
			{"empty key", reserveRequest("", "o1", Item{SKU: "BOOK-GOPL", Qty: 1})},
			{"no items", reserveRequest("o1/reserve", "o1")},
			{"zero quantity", reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 0})},
			{"negative quantity", reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 1}, Item{SKU: "MUG-GOPHER", Qty: -2})},
			{"SKU listed twice", reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 1}, Item{SKU: "BOOK-GOPL", Qty: 1})},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				before := products(t, s)
				_, err := s.Reserve(context.Background(), tt.req)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				assertStockUnchanged(t, s, before)
				if n := reservationCount(t, s); n != 0 {
					t.Errorf("%d reservations recorded, want 0", n)
				}
			})
		}
	})
}

func TestReleaseReturnsStockOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		before := products(t, s)
		mustReserve(t, s, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 2}, Item{SKU: "MUG-GOPHER", Qty: 3}))

		first := mustRelease(t, s, "o1/reserve", "o1")
		if want := (ReleaseResult{Key: "o1/reserve", Status: Released, UnitsReturned: 5}); first != want {
			t.Errorf("first Release = %+v, want %+v", first, want)
		}
		assertStockUnchanged(t, s, before)

		second := mustRelease(t, s, "o1/reserve", "o1")
		if want := (ReleaseResult{Key: "o1/reserve", Status: Released, UnitsReturned: 0}); second != want {
			t.Errorf("second Release = %+v, want %+v", second, want)
		}
		assertStockUnchanged(t, s, before)
		if r, _ := storedReservation(t, s, "o1/reserve"); r.Status != Released {
			t.Errorf("stored status = %q, want %q", r.Status, Released)
		}
	})
}

func TestReleaseConcurrentReturnsStockOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		before := products(t, s)
		mustReserve(t, s, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 3}))

		results := make([]ReleaseResult, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = s.Release(context.Background(), ReleaseRequest{Key: "o1/reserve", OrderID: "o1"})
		})

		returned := 0
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Release #%d: %v", i, errs[i])
				continue
			}
			if results[i].Status != Released {
				t.Errorf("Release #%d status = %q, want %q", i, results[i].Status, Released)
			}
			returned += results[i].UnitsReturned
		}
		if returned != 3 {
			t.Errorf("releases returned %d units in all, want 3", returned)
		}
		assertStockUnchanged(t, s, before)
	})
}

func TestReleaseOfUnreservedKeyVoidsIt(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		before := products(t, s)

		res := mustRelease(t, s, "o1/reserve", "o1")
		if want := (ReleaseResult{Key: "o1/reserve", Status: Voided}); res != want {
			t.Errorf("Release = %+v, want %+v", res, want)
		}
		assertStockUnchanged(t, s, before)
		if r, found := storedReservation(t, s, "o1/reserve"); !found || r.Status != Voided || len(r.Lines) != 0 {
			t.Errorf("stored reservation = %+v (found %v), want voided with no lines", r, found)
		}

		// A reserve that was overtaken by the release arrives late: refused.
		_, err := s.Reserve(context.Background(), reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 1}))
		if !errors.Is(err, ErrKeyVoided) {
			t.Fatalf("Reserve after void: err = %v, want ErrKeyVoided", err)
		}
		assertStockUnchanged(t, s, before)

		// Releasing again keeps it voided.
		if again := mustRelease(t, s, "o1/reserve", "o1"); again.Status != Voided || again.UnitsReturned != 0 {
			t.Errorf("second Release = %+v, want voided, 0 units", again)
		}
		if n := reservationCount(t, s); n != 1 {
			t.Errorf("%d reservations recorded, want 1 (the void)", n)
		}
	})
}

func TestSetStockKeepsReceivedEqualToOnHandPlusReserved(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		ctx := context.Background()

		// products() checks the invariant for every product at every step.
		mustReserve(t, s, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 2}, Item{SKU: "BOOK-GOPL", Qty: 4}))
		products(t, s)

		p, err := s.SetStock(ctx, "LAMP-LIMITED", 10)
		if err != nil {
			t.Fatalf("SetStock: %v", err)
		}
		if want := (Product{SKU: "LAMP-LIMITED", Name: p.Name, UnitPriceCents: 8999, OnHand: 10, Reserved: 2, Received: 12}); p != want {
			t.Errorf("SetStock returned %+v, want %+v", p, want)
		}
		if got := products(t, s)["LAMP-LIMITED"]; got != p {
			t.Errorf("stored product = %+v, want %+v", got, p)
		}

		mustReserve(t, s, reserveRequest("o2/reserve", "o2", Item{SKU: "LAMP-LIMITED", Qty: 7}))
		products(t, s)
		mustRelease(t, s, "o1/reserve", "o1")
		products(t, s)

		// Counting less stock than there is (shrinkage) lowers received.
		if _, err := s.SetStock(ctx, "LAMP-LIMITED", 1); err != nil {
			t.Fatalf("SetStock down: %v", err)
		}
		lamp := products(t, s)["LAMP-LIMITED"]
		if lamp.OnHand != 1 || lamp.Reserved != 7 || lamp.Received != 8 {
			t.Errorf("LAMP-LIMITED = %+v, want on hand 1, reserved 7, received 8", lamp)
		}

		if _, err := s.SetStock(ctx, "BOOK-GOPL", 0); err != nil {
			t.Fatalf("SetStock to zero: %v", err)
		}
		if n := onHand(t, s, "BOOK-GOPL"); n != 0 {
			t.Errorf("BOOK-GOPL on hand = %d, want 0", n)
		}
		mustRelease(t, s, "o2/reserve", "o2")
		lamp = products(t, s)["LAMP-LIMITED"]
		if lamp.OnHand != 8 || lamp.Reserved != 0 || lamp.Received != 8 {
			t.Errorf("LAMP-LIMITED after all releases = %+v, want on hand 8 = received", lamp)
		}
	})
}

func TestSetStockRejectsUnknownSKUAndNegativeQuantity(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		before := products(t, s)

		if _, err := s.SetStock(context.Background(), "NO-SUCH-THING", 5); !errors.Is(err, ErrUnknownSKU) {
			t.Errorf("unknown SKU: err = %v, want ErrUnknownSKU", err)
		}
		if _, err := s.SetStock(context.Background(), "BOOK-GOPL", -1); err == nil {
			t.Error("negative quantity: no error")
		}
		assertStockUnchanged(t, s, before)
		if n := countRows(t, s, `SELECT count(*) FROM products`); n != len(before) {
			t.Errorf("%d products after SetStock of an unknown SKU, want %d", n, len(before))
		}
	})
}

func TestReservationsListsEveryKeyOldestFirst(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		keys := []string{"o3/reserve", "o1/reserve", "o2/reserve", "o4/reserve"}
		for _, k := range keys[:3] {
			mustReserve(t, s, reserveRequest(k, k[:2], Item{SKU: "STICKER-PACK", Qty: 1}))
		}
		mustRelease(t, s, keys[3], "o4")

		list, err := s.Reservations(context.Background())
		if err != nil {
			t.Fatalf("Reservations: %v", err)
		}
		var got []string
		for _, r := range list {
			got = append(got, r.Key)
		}
		if !reflect.DeepEqual(got, keys) {
			t.Errorf("Reservations keys = %v, want %v (in creation order)", got, keys)
		}
	})
}

func TestReserveAfterReleaseIsRefused(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 2})
		mustReserve(t, s, req)
		mustRelease(t, s, "o1/reserve", "o1")
		before := products(t, s)

		// A retry of the reserve that arrives after its order released it must
		// not report a reservation that no longer holds anything.
		_, err := s.Reserve(context.Background(), req)
		if !errors.Is(err, ErrKeyVoided) {
			t.Fatalf("Reserve after release: err = %v, want ErrKeyVoided", err)
		}
		assertStockUnchanged(t, s, before)
	})
}

func TestOpenAddsCatalogSKUsTheStoreLacks(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		path := backend.Source(t)
		s := openStoreAt(t, path)
		mustReserve(t, s, reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 1}))
		if _, err := s.db.ExecContext(context.Background(), `DELETE FROM products WHERE sku = 'MUG-GOPHER'`); err != nil {
			t.Fatal(err)
		}
		s.Close()

		s = openStoreAt(t, path)
		got := products(t, s)
		want := catalog(t)
		if p, ok := got["MUG-GOPHER"]; !ok || p.OnHand != want["MUG-GOPHER"].Stock {
			t.Errorf("MUG-GOPHER after reopen = %+v (found %v), want seeded with %d", p, ok, want["MUG-GOPHER"].Stock)
		}
		if p := got["BOOK-GOPL"]; p.OnHand != want["BOOK-GOPL"].Stock-1 || p.Reserved != 1 {
			t.Errorf("BOOK-GOPL after reopen = %+v, want its stock kept (one reserved)", p)
		}
	})
}
