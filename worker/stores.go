package main

import (
	"context"

	"github.com/ordersaga/ordersaga/activities/inventory"
)

// openInventoryStore opens the inventory store that the flags choose, as
// they say to open it.
func (g *globals) openInventoryStore(ctx context.Context) (*inventory.Store, error) {
	src, err := g.dsns.Sources(g.dataDir)
	if err != nil {
		return nil, err
	}
	return inventory.Open(ctx, src.Inventory, g.dsns.Conn.Options()...)
}
