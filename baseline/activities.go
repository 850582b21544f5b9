package baseline

import "context"

// Activity names, registered on TaskQueue. They mirror the order saga's
// three steps (reserve, charge, ship) without doing any of them.
const (
	ReserveActivity = "BaselineReserve"
	ChargeActivity  = "BaselineCharge"
	ShipActivity    = "BaselineShip"
)

// Steps are the baseline's activities, in the order the workflow runs them.
var Steps = []string{ReserveActivity, ChargeActivity, ShipActivity}

// Noop is every baseline activity: it returns at once, so that a baseline
// run measures only scheduling, dispatch and history.
func Noop(context.Context) error { return nil }
