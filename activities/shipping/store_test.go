package shipping

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// concurrency is how many goroutines race on one key in the concurrent tests.
const concurrency = 20

const testAddress = "1 Gopher Way, Springfield"

func openTestStore(t *testing.T) *Store {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), DatabaseFile))
}

// openStoreAt opens the store at source, a SQLite path or a PostgreSQL DSN,
// and closes it when t ends.
func openStoreAt(t *testing.T, source string) *Store {
	t.Helper()
	s, err := Open(context.Background(), source)
	if err != nil {
		t.Fatalf("Open(%s): %v", source, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func shipRequest(key, address string, items ...Parcel) ShipRequest {
	return ShipRequest{Key: key, OrderID: "o1", Address: address, Items: items}
}

// defaultParcel is what most tests ship.
var defaultParcel = []Parcel{{SKU: "BOOK-GOPL", Qty: 1}, {SKU: "MUG-GOPHER", Qty: 2}}

func mustShip(t *testing.T, s *Store, req ShipRequest) Shipment {
	t.Helper()
	sh, err := s.Ship(context.Background(), req)
	if err != nil {
		t.Fatalf("Ship(%+v): %v", req, err)
	}
	return sh
}

func mustCancel(t *testing.T, s *Store, key string) CancelResult {
	t.Helper()
	res, err := s.Cancel(context.Background(), CancelRequest{Key: key, OrderID: "o1"})
	if err != nil {
		t.Fatalf("Cancel(%s): %v", key, err)
	}
	return res
}

// statuses counts the store's shipments by status.
func statuses(t *testing.T, s *Store) map[string]int {
	t.Helper()
	list, err := s.Shipments(context.Background())
	if err != nil {
		t.Fatalf("Shipments: %v", err)
	}
	out := map[string]int{}
	for _, sh := range list {
		out[sh.Status]++
	}
	return out
}

func assertStatuses(t *testing.T, s *Store, want map[string]int) {
	t.Helper()
	if got := statuses(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("shipments by status = %v, want %v", got, want)
	}
}

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

func TestShipCreatesShipmentWithTrackingNumber(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		sh := mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))

		if sh.Status != Created || sh.Key != "o1/ship" || sh.OrderID != "o1" || sh.ID == "" {
			t.Errorf("shipment = %+v, want created for o1 with an ID", sh)
		}
		if !strings.HasPrefix(sh.TrackingNumber, "TRK") || len(sh.TrackingNumber) <= len("TRK") {
			t.Errorf("tracking number = %q, want TRK…", sh.TrackingNumber)
		}
		stored, found, err := s.ShipmentByKey(context.Background(), "o1/ship")
		if err != nil || !found || stored != sh {
			t.Errorf("stored = %+v (found %v, err %v), want %+v", stored, found, err, sh)
		}
		assertStatuses(t, s, map[string]int{Created: 1})
	})
}

func TestShipTrackingNumberIsStableForKey(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		// Two stores: the tracking number depends on the key only, so a
		// booking retried after a crash reports the same number.
		a := mustShip(t, openOn(t, backend), shipRequest("o1/ship", testAddress, defaultParcel...))
		b := mustShip(t, openOn(t, backend), shipRequest("o1/ship", testAddress, defaultParcel...))
		if a.TrackingNumber != b.TrackingNumber || a.ID != b.ID {
			t.Errorf("same key, different bookings: %+v and %+v", a, b)
		}

		s := openOn(t, backend)
		x := mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))
		y := mustShip(t, s, shipRequest("o2/ship", testAddress, defaultParcel...))
		if x.TrackingNumber == y.TrackingNumber || x.ID == y.ID {
			t.Errorf("two keys share a tracking number or ID: %+v and %+v", x, y)
		}
	})
}

func TestShipSameKeyTwiceCreatesOneShipment(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		first := mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))
		second := mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))
		// The same parcel listed in another order is the same request.
		third := mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel[1], defaultParcel[0]))
		if second != first || third != first {
			t.Errorf("repeated Ship = %+v, %+v; want the first %+v", second, third, first)
		}
		assertStatuses(t, s, map[string]int{Created: 1})
	})
}

func TestShipConcurrentSameKeyCreatesOneShipment(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := shipRequest("o1/ship", testAddress, defaultParcel...)

		results := make([]Shipment, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = s.Ship(context.Background(), req)
		})
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Ship #%d: %v", i, errs[i])
				continue
			}
			if results[i] != results[0] {
				t.Errorf("Ship #%d = %+v, want %+v like #0", i, results[i], results[0])
			}
		}
		assertStatuses(t, s, map[string]int{Created: 1})
	})
}

func TestShipSameKeyDifferentRequestConflicts(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name string
			req  ShipRequest
		}{
			{"other address", shipRequest("o1/ship", "2 Gopher Way, Springfield", defaultParcel...)},
			{"other quantity", shipRequest("o1/ship", testAddress, Parcel{SKU: "BOOK-GOPL", Qty: 1}, Parcel{SKU: "MUG-GOPHER", Qty: 3})},
			{"item missing", shipRequest("o1/ship", testAddress, Parcel{SKU: "BOOK-GOPL", Qty: 1})},
			{"other order", ShipRequest{Key: "o1/ship", OrderID: "o2", Address: testAddress, Items: defaultParcel}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				first := mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))

				_, err := s.Ship(context.Background(), tt.req)
				if !errors.Is(err, ErrKeyConflict) {
					t.Fatalf("err = %v, want ErrKeyConflict", err)
				}
				stored, _, _ := s.ShipmentByKey(context.Background(), "o1/ship")
				if stored != first {
					t.Errorf("stored = %+v, want the first %+v", stored, first)
				}
				assertStatuses(t, s, map[string]int{Created: 1})
			})
		}
	})
}

func TestShipToUndeliverableAddressFails(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, address := range []string{
			"",
			"   \t\n",
			"1 Undeliverable Road",
			"UNDELIVERABLE",
			"somewhere undeliverable",
		} {
			t.Run(address, func(t *testing.T) {
				s := openOn(t, backend)
				_, err := s.Ship(context.Background(), shipRequest("o1/ship", address, defaultParcel...))
				if !errors.Is(err, ErrUndeliverable) {
					t.Fatalf("err = %v, want ErrUndeliverable", err)
				}
				assertStatuses(t, s, map[string]int{})
			})
		}
	})
}

func TestShipRejectsInvalidRequests(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name string
			req  ShipRequest
		}{
			{"empty key", shipRequest("", testAddress, defaultParcel...)},
			{"no items", shipRequest("o1/ship", testAddress)},
			{"zero quantity", shipRequest("o1/ship", testAddress, Parcel{SKU: "BOOK-GOPL", Qty: 0})},
			{"negative quantity", shipRequest("o1/ship", testAddress, Parcel{SKU: "BOOK-GOPL", Qty: -1})},
			{"empty SKU", shipRequest("o1/ship", testAddress, Parcel{SKU: "", Qty: 1})},
			{"SKU listed twice", shipRequest("o1/ship", testAddress, Parcel{SKU: "BOOK-GOPL", Qty: 1}, Parcel{SKU: "BOOK-GOPL", Qty: 1})},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				_, err := s.Ship(context.Background(), tt.req)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				assertStatuses(t, s, map[string]int{})
			})
		}
	})
}

func TestCancelCancelsCreatedShipmentOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		sh := mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))

		for i := range 2 {
			res := mustCancel(t, s, "o1/ship")
			if want := (CancelResult{Key: "o1/ship", Status: Cancelled}); res != want {
				t.Errorf("Cancel #%d = %+v, want %+v", i+1, res, want)
			}
		}
		stored, _, _ := s.ShipmentByKey(context.Background(), "o1/ship")
		if stored.Status != Cancelled || stored.TrackingNumber != sh.TrackingNumber {
			t.Errorf("stored = %+v, want the shipment %s cancelled", stored, sh.ID)
		}
		assertStatuses(t, s, map[string]int{Cancelled: 1})
	})
}

func TestCancelConcurrentCancelsOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))

		errs := make([]error, concurrency)
		results := make([]CancelResult, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = s.Cancel(context.Background(), CancelRequest{Key: "o1/ship", OrderID: "o1"})
		})
		for i := range concurrency {
			if errs[i] != nil || results[i].Status != Cancelled {
				t.Errorf("Cancel #%d = %+v, %v; want cancelled", i, results[i], errs[i])
			}
		}
		assertStatuses(t, s, map[string]int{Cancelled: 1})
	})
}

func TestCancelOfNothingVoidsKey(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)

		res := mustCancel(t, s, "o1/ship")
		if want := (CancelResult{Key: "o1/ship", Status: Voided}); res != want {
			t.Errorf("Cancel = %+v, want %+v", res, want)
		}

		// The booking the cancel overtook arrives late: refused, no parcel.
		_, err := s.Ship(context.Background(), shipRequest("o1/ship", testAddress, defaultParcel...))
		if !errors.Is(err, ErrKeyVoided) {
			t.Fatalf("Ship after void: err = %v, want ErrKeyVoided", err)
		}
		if again := mustCancel(t, s, "o1/ship"); again.Status != Voided {
			t.Errorf("second Cancel = %+v, want voided", again)
		}
		assertStatuses(t, s, map[string]int{Voided: 1})
	})
}

func TestShipAfterCancelIsRefused(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := shipRequest("o1/ship", testAddress, defaultParcel...)
		mustShip(t, s, req)
		mustCancel(t, s, "o1/ship")

		_, err := s.Ship(context.Background(), req)
		if !errors.Is(err, ErrKeyVoided) {
			t.Fatalf("Ship after cancel: err = %v, want ErrKeyVoided", err)
		}
		assertStatuses(t, s, map[string]int{Cancelled: 1})
	})
}
