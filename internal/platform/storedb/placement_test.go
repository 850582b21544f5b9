package storedb

import (
	"errors"
	"testing"
)

var errConflict = errors.New("idempotency key reused with a different request")

func TestCheckPlacement(t *testing.T) {
	const at = "2030-03-04T12:00:05.120000000Z"
	tests := []struct {
		name, owner, requester, want string
	}{
		{name: "the owner", owner: "p1", requester: "p1"},
		{name: "before placements, asked so", owner: "", requester: ""},
		{name: "another placement", owner: "p1", requester: "p2",
			want: `idempotency key reused with a different request: order-42/charge belongs to another placement of order "42" (placement p1, recorded 2030-03-04T12:00:05Z); order IDs cannot be reused`},
		{name: "a record from before placements", owner: "", requester: "p2",
			want: `idempotency key reused with a different request: order-42/charge belongs to another placement of order "42" (recorded before placements, at 2030-03-04T12:00:05Z); order IDs cannot be reused`},
		{name: "an order from before placements", owner: "p1", requester: "",
			want: `idempotency key reused with a different request: order-42/charge belongs to another placement of order "42" (placement p1, recorded 2030-03-04T12:00:05Z); order IDs cannot be reused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPlacement(errConflict, "order-42/charge", "42", tt.owner, tt.requester, at)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want || !errors.Is(err, errConflict)):
				t.Errorf("err = %v, want %q wrapping the conflict", err, tt.want)
			}
		})
	}
}

func TestByteOrder(t *testing.T) {
	if got := (&DB{dialect: SQLite}).ByteOrder("placement", "key"); got != "placement, key" {
		t.Errorf("SQLite: %q", got)
	}
	if got := (&DB{dialect: Postgres}).ByteOrder("placement", "key"); got != `placement COLLATE "C", key COLLATE "C"` {
		t.Errorf("PostgreSQL: %q", got)
	}
}
