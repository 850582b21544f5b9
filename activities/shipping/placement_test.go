package shipping

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// placedKey is the key that the placement tests' orders all use, as two
// placements of one order ID would.
const placedKey = "o1/ship"

func placedShip(placement string) ShipRequest {
	req := shipRequest(placedKey, testAddress, defaultParcel...)
	req.Placement = placement
	return req
}

func placedCancel(placement string) CancelRequest {
	return CancelRequest{Key: placedKey, OrderID: "o1", Placement: placement}
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

func storedShipmentOf(t *testing.T, s *Store, key string) (Shipment, bool) {
	t.Helper()
	sh, found, err := s.ShipmentByKey(context.Background(), key)
	if err != nil {
		t.Fatalf("ShipmentByKey(%s): %v", key, err)
	}
	return sh, found
}

func TestShipAndCancelOnlyForThePlacementThatShipped(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, tt := range placementPairs {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				ctx := context.Background()
				first := mustShip(t, s, placedShip(tt.recorded))
				if first.Placement != tt.recorded {
					t.Errorf("shipment placement = %q, want %q", first.Placement, tt.recorded)
				}

				again, shipErr := s.Ship(ctx, placedShip(tt.requested))
				cancelled, cancelErr := s.Cancel(ctx, placedCancel(tt.requested))

				if tt.recorded != tt.requested {
					if !errors.Is(shipErr, ErrKeyConflict) || !errors.Is(cancelErr, ErrKeyConflict) {
						t.Errorf("Ship err = %v, Cancel err = %v; want ErrKeyConflict for both", shipErr, cancelErr)
					}
					if stored, _ := storedShipmentOf(t, s, placedKey); stored != first {
						t.Errorf("stored shipment = %+v, want the first %+v", stored, first)
					}
					assertStatuses(t, s, map[string]int{Created: 1})
					return
				}
				if shipErr != nil || again != first {
					t.Errorf("repeated Ship = %+v, %v; want the first %+v", again, shipErr, first)
				}
				if want := (CancelResult{Key: placedKey, Status: Cancelled}); cancelErr != nil || cancelled != want {
					t.Errorf("Cancel = %+v, %v; want %+v", cancelled, cancelErr, want)
				}
				if stored, _ := storedShipmentOf(t, s, placedKey); stored.Status != Cancelled || stored.Placement != tt.recorded {
					t.Errorf("stored shipment = %+v, want cancelled, placement %q", stored, tt.recorded)
				}
				assertStatuses(t, s, map[string]int{Cancelled: 1})
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
				mustShip(t, s, placedShip(tt.recorded))
				_, shipErr := s.Ship(context.Background(), placedShip("p2"))
				_, cancelErr := s.Cancel(context.Background(), placedCancel("p2"))
				for call, err := range map[string]error{"ship": shipErr, "cancel shipment": cancelErr} {
					want := `^` + call + ` o1/ship: idempotency key reused with a different request: o1/ship belongs to another placement of order "o1" \(` +
						tt.owner + `\); order IDs cannot be reused$`
					if err == nil || !regexp.MustCompile(want).MatchString(err.Error()) {
						t.Errorf("%s: err = %v, want it to match %s", call, err, want)
					}
					if err != nil && strings.Contains(err.Error(), "Gopher Way") {
						t.Errorf("%s: the message quotes the address: %v", call, err)
					}
				}
			})
		}
	})
}

func TestCancelWithoutShipmentVoidsKeyForItsPlacement(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, tt := range placementPairs {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				ctx := context.Background()
				res, err := s.Cancel(ctx, placedCancel(tt.recorded))
				if want := (CancelResult{Key: placedKey, Status: Voided}); err != nil || res != want {
					t.Fatalf("Cancel = %+v, %v; want %+v", res, err, want)
				}
				void, found := storedShipmentOf(t, s, placedKey)
				if !found || void.Status != Voided || void.Placement != tt.recorded {
					t.Fatalf("stored shipment = %+v (found %v), want voided by placement %q", void, found, tt.recorded)
				}

				_, shipErr := s.Ship(ctx, placedShip(tt.requested))
				again, cancelErr := s.Cancel(ctx, placedCancel(tt.requested))
				if tt.recorded == tt.requested {
					if !errors.Is(shipErr, ErrKeyVoided) {
						t.Errorf("Ship of the same placement: err = %v, want ErrKeyVoided", shipErr)
					}
					if cancelErr != nil || again.Status != Voided {
						t.Errorf("second Cancel = %+v, %v; want voided", again, cancelErr)
					}
				} else if !errors.Is(shipErr, ErrKeyConflict) || !errors.Is(cancelErr, ErrKeyConflict) {
					t.Errorf("other placement: Ship err = %v, Cancel err = %v; want ErrKeyConflict for both", shipErr, cancelErr)
				}
				if stored, _ := storedShipmentOf(t, s, placedKey); stored != void {
					t.Errorf("stored shipment = %+v, want the void %+v", stored, void)
				}
				assertStatuses(t, s, map[string]int{Voided: 1})
			})
		}
	})
}

func TestShipmentsByPlacementStreamsInByteOrder(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		ctx := context.Background()
		shipAs := func(key, placement string) {
			req := shipRequest(key, testAddress, defaultParcel...)
			req.Placement = placement
			mustShip(t, s, req)
		}
		cancelAs := func(key, placement string) {
			if _, err := s.Cancel(ctx, CancelRequest{Key: key, OrderID: "o1", Placement: placement}); err != nil {
				t.Fatalf("Cancel(%s): %v", key, err)
			}
		}
		// Recorded out of order. In byte order "B" < "a" < "b" (a locale's
		// collation puts "a" first), and the workflow IDs "a" < "a-b" <
		// "a/b" sort otherwise than their keys ("a-b/ship" < "a/b/ship" <
		// "a/ship").
		shipAs("o2/ship", "b")
		shipAs("a/b/ship", "a")
		shipAs("o9/ship", "")
		shipAs("a/ship", "a")
		cancelAs("o1/ship", "b")
		shipAs("o3/ship", "B")
		shipAs("a-b/ship", "a")
		cancelAs("o8/ship", "")

		type entry struct{ placement, key, status string }
		want := []entry{
			{"", "o8/ship", Voided},
			{"", "o9/ship", Created},
			{"B", "o3/ship", Created},
			{"a", "a/ship", Created},
			{"a", "a-b/ship", Created},
			{"a", "a/b/ship", Created},
			{"b", "o1/ship", Voided},
			{"b", "o2/ship", Created},
		}
		var got []entry
		for sh, err := range s.ShipmentsByPlacement(ctx) {
			if err != nil {
				t.Fatalf("ShipmentsByPlacement: %v", err)
			}
			if stored, _ := storedShipmentOf(t, s, sh.Key); sh != stored {
				t.Errorf("streamed %+v, want the stored shipment %+v", sh, stored)
			}
			got = append(got, entry{sh.Placement, sh.Key, sh.Status})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("streamed\n%v\nwant\n%v", got, want)
		}

		n := 0
		for range s.ShipmentsByPlacement(ctx) {
			if n++; n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("a loop that breaks after 2 records saw %d", n)
		}

		list, err := s.Shipments(ctx)
		if err != nil {
			t.Fatalf("Shipments: %v", err)
		}
		for _, sh := range list {
			if stored, _ := storedShipmentOf(t, s, sh.Key); sh != stored {
				t.Errorf("Shipments lists %+v, want the stored shipment %+v", sh, stored)
			}
		}
	})
}
