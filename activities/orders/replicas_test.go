package orders

import (
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// replicaCounts are how many *Store values, as several workers of the order
// service would hold, share one database in the replica tests.
var replicaCounts = []int{1, 4, concurrency}

func TestReplicasClaimManyPlacementsAtOnceOneWins(t *testing.T) {
	pgtest.Replicas(t, DatabaseFile, replicaCounts, openStoreAt, assertOneWinner)
}
