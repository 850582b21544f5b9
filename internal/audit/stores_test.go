package audit_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// RunAt audits the stores where the data directory puts them, and refuses
// a directory without them rather than audit empty stores.
func TestRunAt(t *testing.T) {
	w := newWorld(t)
	total := w.complete(placed("1"))
	w.ended(placed("1"), workflows.Completed)
	opts := audit.Options{Now: func() time.Time { return now }}
	r, err := audit.RunAt(w.ctx, w.dir, stores.DSNs{}, w.temporal, opts)
	if err != nil || !r.OK() || r.OrdersEnded[workflows.Completed] != 1 || r.CapturedCents != total {
		t.Errorf("RunAt = %+v, %v; want one completed order of %d cents and no violation", r, err, total)
	}
	missing := filepath.Join(t.TempDir(), "data")
	if _, err := audit.RunAt(w.ctx, missing, stores.DSNs{}, w.temporal, opts); err == nil || !strings.Contains(err.Error(), "no store at") {
		t.Errorf("RunAt of a directory without stores = %v, want no store there", err)
	}
}
