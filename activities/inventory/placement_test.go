package inventory

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// placedKey is the key that the placement tests' orders all use, as two
// placements of one order ID would.
const placedKey = "o1/reserve"

func placedReserve(placement string) ReserveRequest {
	req := reserveRequest(placedKey, "o1", Item{SKU: "LAMP-LIMITED", Qty: 2})
	req.Placement = placement
	return req
}

func placedRelease(placement string) ReleaseRequest {
	return ReleaseRequest{Key: placedKey, OrderID: "o1", Placement: placement}
}

// placementPairs are the placement that recorded a key and the placement
// of a later request with it: the same one (legacy "" included), or any
// other.
var placementPairs = []struct{ name, recorded, requested string }{
	{"same placement", "p1", "p1"},
	{"both legacy", "", ""},
	{"other placement", "p1", "p2"},
	{"legacy record, placed request", "", "p2"},
	{"placed record, legacy request", "p1", ""},
}

func TestReserveAndReleaseOnlyForThePlacementThatReserved(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, tt := range placementPairs {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				ctx := context.Background()
				first := mustReserve(t, s, placedReserve(tt.recorded))
				if first.Placement != tt.recorded {
					t.Errorf("reservation placement = %q, want %q", first.Placement, tt.recorded)
				}
				before := products(t, s)

				again, reserveErr := s.Reserve(ctx, placedReserve(tt.requested))
				released, releaseErr := s.Release(ctx, placedRelease(tt.requested))

				if tt.recorded != tt.requested {
					if !errors.Is(reserveErr, ErrKeyConflict) || !errors.Is(releaseErr, ErrKeyConflict) {
						t.Errorf("Reserve err = %v, Release err = %v; want ErrKeyConflict for both", reserveErr, releaseErr)
					}
					assertStockUnchanged(t, s, before)
					if stored, _ := storedReservation(t, s, placedKey); !reflect.DeepEqual(stored, first) {
						t.Errorf("stored reservation = %+v, want the first %+v", stored, first)
					}
					return
				}
				if reserveErr != nil || !reflect.DeepEqual(again, first) {
					t.Errorf("repeated Reserve = %+v, %v; want the first %+v", again, reserveErr, first)
				}
				if want := (ReleaseResult{Key: placedKey, Status: Released, UnitsReturned: 2}); releaseErr != nil || released != want {
					t.Errorf("Release = %+v, %v; want %+v", released, releaseErr, want)
				}
				if stored, _ := storedReservation(t, s, placedKey); stored.Status != Released || stored.Placement != tt.recorded {
					t.Errorf("stored reservation = %+v, want released, placement %q", stored, tt.recorded)
				}
				if got, want := onHand(t, s, "LAMP-LIMITED"), before["LAMP-LIMITED"].OnHand+2; got != want {
					t.Errorf("LAMP-LIMITED on hand = %d, want %d", got, want)
				}
			})
		}
	})
}

func TestPlacementConflictSaysWhoseKeyItIs(t *testing.T) {
	const stamp = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name, recorded, owner string
		}{
			{"placed record", "p1", `placement p1, recorded ` + stamp},
			{"legacy record", "", `recorded before placements, at ` + stamp},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				mustReserve(t, s, placedReserve(tt.recorded))
				_, reserveErr := s.Reserve(context.Background(), placedReserve("p2"))
				_, releaseErr := s.Release(context.Background(), placedRelease("p2"))
				for call, err := range map[string]error{"reserve": reserveErr, "release": releaseErr} {
					want := `^` + call + ` o1/reserve: idempotency key reused with a different request: o1/reserve belongs to another placement of order "o1" \(` +
						tt.owner + `\); order IDs cannot be reused$`
					if err == nil || !regexp.MustCompile(want).MatchString(err.Error()) {
						t.Errorf("%s: err = %v, want it to match %s", call, err, want)
					}
				}
			})
		}
	})
}

func TestReleaseWithoutReservationVoidsKeyForItsPlacement(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, tt := range placementPairs {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				ctx := context.Background()
				before := products(t, s)
				res, err := s.Release(ctx, placedRelease(tt.recorded))
				if want := (ReleaseResult{Key: placedKey, Status: Voided}); err != nil || res != want {
					t.Fatalf("Release = %+v, %v; want %+v", res, err, want)
				}
				void, found := storedReservation(t, s, placedKey)
				if !found || void.Status != Voided || void.Placement != tt.recorded || len(void.Lines) != 0 {
					t.Fatalf("stored reservation = %+v (found %v), want voided by placement %q", void, found, tt.recorded)
				}

				_, reserveErr := s.Reserve(ctx, placedReserve(tt.requested))
				again, releaseErr := s.Release(ctx, placedRelease(tt.requested))
				if tt.recorded == tt.requested {
					if !errors.Is(reserveErr, ErrKeyVoided) {
						t.Errorf("Reserve of the same placement: err = %v, want ErrKeyVoided", reserveErr)
					}
					if releaseErr != nil || again.Status != Voided || again.UnitsReturned != 0 {
						t.Errorf("second Release = %+v, %v; want voided, 0 units", again, releaseErr)
					}
				} else if !errors.Is(reserveErr, ErrKeyConflict) || !errors.Is(releaseErr, ErrKeyConflict) {
					t.Errorf("other placement: Reserve err = %v, Release err = %v; want ErrKeyConflict for both", reserveErr, releaseErr)
				}
				assertStockUnchanged(t, s, before)
				if stored, _ := storedReservation(t, s, placedKey); !reflect.DeepEqual(stored, void) {
					t.Errorf("stored reservation = %+v, want the void %+v", stored, void)
				}
				if n := reservationCount(t, s); n != 1 {
					t.Errorf("%d reservations recorded, want 1 (the void)", n)
				}
			})
		}
	})
}

func TestReservationsByPlacementStreamsInByteOrder(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		ctx := context.Background()
		reserveAs := func(key, placement string) {
			req := reserveRequest(key, "order", Item{SKU: "STICKER-PACK", Qty: 1})
			req.Placement = placement
			mustReserve(t, s, req)
		}
		releaseAs := func(key, placement string) {
			if _, err := s.Release(ctx, ReleaseRequest{Key: key, OrderID: "order", Placement: placement}); err != nil {
				t.Fatalf("Release(%s): %v", key, err)
			}
		}
		// Recorded out of order. In byte order "B" < "a" < "b" (a locale's
		// collation puts "a" first), and the workflow IDs "a" < "a-b" <
		// "a/b" sort otherwise than their keys ("a-b/reserve" <
		// "a/b/reserve" < "a/reserve").
		reserveAs("o2/reserve", "b")
		reserveAs("a/b/reserve", "a")
		reserveAs("o9/reserve", "")
		reserveAs("a/reserve", "a")
		releaseAs("o1/reserve", "b")
		reserveAs("o3/reserve", "B")
		reserveAs("a-b/reserve", "a")
		releaseAs("o8/reserve", "")

		type entry struct{ placement, key, status string }
		want := []entry{
			{"", "o8/reserve", Voided},
			{"", "o9/reserve", Reserved},
			{"B", "o3/reserve", Reserved},
			{"a", "a/reserve", Reserved},
			{"a", "a-b/reserve", Reserved},
			{"a", "a/b/reserve", Reserved},
			{"b", "o1/reserve", Voided},
			{"b", "o2/reserve", Reserved},
		}
		var got []entry
		for r, err := range s.ReservationsByPlacement(ctx) {
			if err != nil {
				t.Fatalf("ReservationsByPlacement: %v", err)
			}
			stored, _ := storedReservation(t, s, r.Key)
			stored.Lines = nil
			if !reflect.DeepEqual(r, stored) {
				t.Errorf("streamed %+v, want the stored reservation without lines %+v", r, stored)
			}
			got = append(got, entry{r.Placement, r.Key, r.Status})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("streamed\n%v\nwant\n%v", got, want)
		}

		n := 0
		for range s.ReservationsByPlacement(ctx) {
			if n++; n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("a loop that breaks after 2 records saw %d", n)
		}
	})
}

func TestReservationsListsLinesAndPlacements(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		first := placedReserve("p1")
		first.Items = []Item{{SKU: "MUG-GOPHER", Qty: 2}, {SKU: "BOOK-GOPL", Qty: 1}}
		mustReserve(t, s, first)
		if _, err := s.Release(context.Background(), ReleaseRequest{Key: "o2/reserve", OrderID: "o2", Placement: "p2"}); err != nil {
			t.Fatal(err)
		}
		mustReserve(t, s, reserveRequest("o3/reserve", "o3", Item{SKU: "STICKER-PACK", Qty: 4}))

		list, err := s.Reservations(context.Background())
		if err != nil {
			t.Fatalf("Reservations: %v", err)
		}
		var want []Reservation
		for _, key := range []string{placedKey, "o2/reserve", "o3/reserve"} {
			r, _ := storedReservation(t, s, key)
			want = append(want, r)
		}
		if !reflect.DeepEqual(list, want) {
			t.Errorf("Reservations =\n%+v\nwant\n%+v", list, want)
		}
	})
}
