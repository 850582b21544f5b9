package platform

import (
	"os/exec"
	"strings"
	"testing"
)

const (
	module   = "github.com/ordersaga/ordersaga"
	platform = module + "/internal/platform"
)

// TestPlatformImportsNoSaga: no building block depends, directly or not,
// on a package of ordersaga outside internal/platform. A package that
// needs to know about orders belongs beside the saga, not here.
func TestPlatformImportsNoSaga(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(pkg, platform+"/") {
			continue
		}
		checked++
		for _, dep := range strings.Fields(deps) {
			if (dep == module || strings.HasPrefix(dep, module+"/")) && !strings.HasPrefix(dep, platform) {
				t.Errorf("%s depends on %s: building blocks may import only each other", pkg, dep)
			}
		}
	}
	if checked < 6 {
		t.Errorf("checked %d platform packages, want at least 6: is go list reading the right tree?", checked)
	}
}
