package main

import "go.temporal.io/sdk/worker"

// withCapacity bounds how many of s's tasks that use its store the
// service's worker runs at once to pool, the connections the store may
// hold (--db-max-conns). Each such task holds at most one connection at a
// time, inside one transaction (the payment gateway is called outside any),
// so none waits for a connection while its timeout runs: the others wait
// in Temporal's task queue, for this worker or a replica with room. The SDK
// would otherwise run up to 1,000 at once, and the pool would make them
// queue for its connections instead.
//
// The order service's store is used by the order ID's claim, a local
// activity of the order workflow's worker; the inventory, payment and
// shipping services' by their activities. The audit opens its own
// read-only stores, one run at a time, and the baseline has none: both
// keep the SDK's bounds. stores.Conn has the rule that sizes a PostgreSQL
// server for every pool.
func withCapacity(s service, pool int, opts worker.Options) worker.Options {
	switch s.name {
	case "order":
		opts.MaxConcurrentLocalActivityExecutionSize = pool
	case "inventory", "payment", "shipping":
		opts.MaxConcurrentActivityExecutionSize = pool
	}
	return opts
}
