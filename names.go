// Package ordersaga holds the names that the order workflow, the services,
// the worker and the starter must agree on. They live in one place because a
// typo in any of them does not fail to compile: it silently routes a task to a
// queue nobody polls or a signal to a channel nobody reads.
package ordersaga

import "go.temporal.io/sdk/temporal"

// Task queues: one per service, so that each service can be deployed, scaled
// and stopped on its own (`worker --services payment`), while a laptop runs all
// four in one process.
const (
	OrdersTaskQueue    = "orders"
	InventoryTaskQueue = "inventory"
	PaymentTaskQueue   = "payment"
	ShippingTaskQueue  = "shipping"
)

// Workflow, signal, query and update names that clients (the starter, the Web UI, the
// Temporal CLI) use to reach an order.
const (
	// OrderWorkflowType is the registered name of workflows.OrderWorkflow.
	OrderWorkflowType = "OrderWorkflow"
	// CancelOrderSignal asks a running order to stop and undo what it did.
	CancelOrderSignal = "cancel-order"
	// CancelOrderUpdate asks the same as CancelOrderSignal and answers
	// whether the order accepted the cancel: it refuses, before anything
	// enters the order's history, an order past its shipment or already
	// failing or cancelled. Temporal keeps updates' and signals' names
	// apart, so the act has one name wherever it is sent from.
	CancelOrderUpdate = "cancel-order"
	// OrderPlacedUpdate answers, once the order's reservation is decided,
	// with the priced lines, the total and the reservation ID, or with why
	// the order was refused (invalid, its ID already used, out of stock, an
	// unknown SKU, cancelled first). `starter place` sends it with the
	// order's start (Update-with-Start), so that placing answers with the
	// reservation rather than only "started".
	OrderPlacedUpdate = "order-placed"
	// OrderStatusQuery returns the order's whole state (workflows.OrderState).
	OrderStatusQuery = "order-status"
	// ResumeCompensationUpdate asks an order in NEEDS_ATTENTION to try its
	// remaining compensations again, once an operator fixed what made them
	// fail; the order refuses it in any other status.
	ResumeCompensationUpdate = "resume-compensation"
	// WorkflowIDPrefix makes an order's workflow ID from its order ID:
	// order 42 runs as workflow "order-42".
	WorkflowIDPrefix = "order-"
)

// The continuous audit: a Temporal Schedule starts the audit workflow every
// few minutes on its own task queue, which only a worker hosting the audit
// service (`worker run --services audit`, where the three stores are
// reachable) polls.
const (
	AuditTaskQueue    = "audit"
	AuditWorkflowType = "AuditWorkflow"
	// AuditScheduleID is the schedule's ID; its runs are workflows
	// "<AuditScheduleID>-<time>".
	AuditScheduleID = "ordersaga-audit"
)

// Search attributes, registered on the server as Keyword
// (`temporal server start-dev --search-attribute OrderStatus=Keyword ...`).
// They let people list orders by status in the starter and in the Web UI.
// They carry no personal data: a customer ID, never a name or an address.
const (
	OrderStatusAttribute = "OrderStatus"
	CustomerIDAttribute  = "CustomerId"
)

// Typed keys for the search attributes above.
var (
	OrderStatusKey = temporal.NewSearchAttributeKeyKeyword(OrderStatusAttribute)
	CustomerIDKey  = temporal.NewSearchAttributeKeyKeyword(CustomerIDAttribute)
)

// WorkflowID is the workflow ID of an order.
func WorkflowID(orderID string) string { return WorkflowIDPrefix + orderID }
