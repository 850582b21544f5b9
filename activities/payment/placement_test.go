package payment

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
const placedKey = "o1/charge"

func placedCharge(placement string) ChargeRequest {
	return ChargeRequest{Key: placedKey, OrderID: "o1", Placement: placement, AmountCents: 5000, Token: TokenVisa}
}

func placedRefund(placement string) RefundRequest {
	return RefundRequest{Key: placedKey, OrderID: "o1", Placement: placement}
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

func TestChargeAndRefundOnlyForThePlacementThatCharged(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, tt := range placementPairs {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				ctx := context.Background()
				first := mustCharge(t, s, placedCharge(tt.recorded), 1)
				if first.Placement != tt.recorded {
					t.Errorf("charge placement = %q, want %q", first.Placement, tt.recorded)
				}

				again, chargeErr := s.Charge(ctx, placedCharge(tt.requested), 2)
				refunded, refundErr := s.Refund(ctx, placedRefund(tt.requested))

				if tt.recorded != tt.requested {
					if !errors.Is(chargeErr, ErrKeyConflict) || !errors.Is(refundErr, ErrKeyConflict) {
						t.Errorf("Charge err = %v, Refund err = %v; want ErrKeyConflict for both", chargeErr, refundErr)
					}
					if stored, _ := storedCharge(t, s, placedKey); stored != first {
						t.Errorf("stored charge = %+v, want the first %+v", stored, first)
					}
					assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000})
					return
				}
				if chargeErr != nil || again != first {
					t.Errorf("repeated Charge = %+v, %v; want the first %+v", again, chargeErr, first)
				}
				if want := (RefundResult{Key: placedKey, Status: Refunded, AmountCents: 5000}); refundErr != nil || refunded != want {
					t.Errorf("Refund = %+v, %v; want %+v", refunded, refundErr, want)
				}
				if stored, _ := storedCharge(t, s, placedKey); stored.Status != Refunded || stored.Placement != tt.recorded {
					t.Errorf("stored charge = %+v, want refunded, placement %q", stored, tt.recorded)
				}
				assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
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
				mustCharge(t, s, placedCharge(tt.recorded), 1)
				_, chargeErr := s.Charge(context.Background(), placedCharge("p2"), 1)
				_, refundErr := s.Refund(context.Background(), placedRefund("p2"))
				for call, err := range map[string]error{"charge": chargeErr, "refund": refundErr} {
					want := `^` + call + ` o1/charge: idempotency key reused with a different request: o1/charge belongs to another placement of order "o1" \(` +
						tt.owner + `\); order IDs cannot be reused$`
					if err == nil || !regexp.MustCompile(want).MatchString(err.Error()) {
						t.Errorf("%s: err = %v, want it to match %s", call, err, want)
					}
				}
			})
		}
	})
}

// The key's record is read before the gateway is asked, so a charge of
// another placement never reaches it: tok_flaky, which times out on a
// first attempt at the gateway, comes back as a key conflict instead.
func TestChargeOfAnotherPlacementNeverReachesTheGateway(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name   string
			record func(t *testing.T, s *Store)
			want   ledger
		}{
			{
				name:   "captured",
				record: func(t *testing.T, s *Store) { mustCharge(t, s, placedCharge("p1"), 1) },
				want:   ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000},
			},
			{
				name: "declined",
				record: func(t *testing.T, s *Store) {
					req := placedCharge("p1")
					req.Token = TokenDeclined
					if _, err := s.Charge(context.Background(), req, 1); !errors.Is(err, ErrDeclined) {
						t.Fatalf("err = %v, want ErrDeclined", err)
					}
				},
				want: ledger{rows: 1, byStatus: map[string]int{Declined: 1}},
			},
			{
				name:   "voided",
				record: func(t *testing.T, s *Store) { mustRefundAs(t, s, placedRefund("p1")) },
				want:   ledger{rows: 1, byStatus: map[string]int{Voided: 1}},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				tt.record(t, s)
				for _, placement := range []string{"p2", ""} {
					req := placedCharge(placement)
					req.Token = TokenFlaky
					_, err := s.Charge(context.Background(), req, 1)
					if !errors.Is(err, ErrKeyConflict) || errors.Is(err, ErrGatewayUnavailable) {
						t.Errorf("placement %q: err = %v, want ErrKeyConflict without asking the gateway", placement, err)
					}
				}
				assertLedger(t, s, tt.want)
			})
		}

		// The control: on a new key, tok_flaky's first attempt does reach
		// the gateway.
		req := placedCharge("p2")
		req.Token = TokenFlaky
		if _, err := openOn(t, backend).Charge(context.Background(), req, 1); !errors.Is(err, ErrGatewayUnavailable) {
			t.Errorf("new key: err = %v, want the gateway's ErrGatewayUnavailable", err)
		}
	})
}

func mustRefundAs(t *testing.T, s *Store, req RefundRequest) RefundResult {
	t.Helper()
	res, err := s.Refund(context.Background(), req)
	if err != nil {
		t.Fatalf("Refund(%+v): %v", req, err)
	}
	return res
}

func TestRefundWithoutChargeVoidsKeyForItsPlacement(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, tt := range placementPairs {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				ctx := context.Background()
				if res := mustRefundAs(t, s, placedRefund(tt.recorded)); res != (RefundResult{Key: placedKey, Status: Voided}) {
					t.Fatalf("Refund = %+v, want voided", res)
				}
				void, found := storedCharge(t, s, placedKey)
				if !found || void.Status != Voided || void.Placement != tt.recorded {
					t.Fatalf("stored charge = %+v (found %v), want voided by placement %q", void, found, tt.recorded)
				}

				_, chargeErr := s.Charge(ctx, placedCharge(tt.requested), 1)
				again, refundErr := s.Refund(ctx, placedRefund(tt.requested))
				if tt.recorded == tt.requested {
					if !errors.Is(chargeErr, ErrKeyVoided) {
						t.Errorf("Charge of the same placement: err = %v, want ErrKeyVoided", chargeErr)
					}
					if refundErr != nil || again.Status != Voided || again.AmountCents != 0 {
						t.Errorf("second Refund = %+v, %v; want voided, 0", again, refundErr)
					}
				} else if !errors.Is(chargeErr, ErrKeyConflict) || !errors.Is(refundErr, ErrKeyConflict) {
					t.Errorf("other placement: Charge err = %v, Refund err = %v; want ErrKeyConflict for both", chargeErr, refundErr)
				}
				if stored, _ := storedCharge(t, s, placedKey); stored != void {
					t.Errorf("stored charge = %+v, want the void %+v", stored, void)
				}
				assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Voided: 1}})
			})
		}
	})
}

func TestChargesByPlacementStreamsInByteOrder(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		ctx := context.Background()
		chargeAs := func(key, placement string) {
			mustCharge(t, s, ChargeRequest{Key: key, OrderID: "order", Placement: placement, AmountCents: 100, Token: TokenVisa}, 1)
		}
		refundAs := func(key, placement string) {
			mustRefundAs(t, s, RefundRequest{Key: key, OrderID: "order", Placement: placement})
		}
		// Recorded out of order. In byte order "B" < "a" < "b" (a locale's
		// collation puts "a" first), and the workflow IDs "a" < "a-b" <
		// "a/b" sort otherwise than their keys ("a-b/charge" <
		// "a/b/charge" < "a/charge").
		chargeAs("o2/charge", "b")
		chargeAs("a/b/charge", "a")
		chargeAs("o9/charge", "")
		chargeAs("a/charge", "a")
		refundAs("o1/charge", "b")
		chargeAs("o3/charge", "B")
		chargeAs("a-b/charge", "a")
		refundAs("o8/charge", "")

		type entry struct{ placement, key, status string }
		want := []entry{
			{"", "o8/charge", Voided},
			{"", "o9/charge", Captured},
			{"B", "o3/charge", Captured},
			{"a", "a/charge", Captured},
			{"a", "a-b/charge", Captured},
			{"a", "a/b/charge", Captured},
			{"b", "o1/charge", Voided},
			{"b", "o2/charge", Captured},
		}
		var got []entry
		for c, err := range s.ChargesByPlacement(ctx) {
			if err != nil {
				t.Fatalf("ChargesByPlacement: %v", err)
			}
			if stored, _ := storedCharge(t, s, c.Key); c != stored {
				t.Errorf("streamed %+v, want the stored charge %+v", c, stored)
			}
			got = append(got, entry{c.Placement, c.Key, c.Status})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("streamed\n%v\nwant\n%v", got, want)
		}

		n := 0
		for range s.ChargesByPlacement(ctx) {
			if n++; n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("a loop that breaks after 2 records saw %d", n)
		}

		list, err := s.Charges(ctx)
		if err != nil {
			t.Fatalf("Charges: %v", err)
		}
		for _, c := range list {
			if stored, _ := storedCharge(t, s, c.Key); c != stored {
				t.Errorf("Charges lists %+v, want the stored charge %+v", c, stored)
			}
		}
	})
}
