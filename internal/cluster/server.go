package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
)

// serverConfigTmpl is the server image's config template, in the server's
// module.
const serverConfigTmpl = "docker/config_template.yaml"

// serverModulePath is the Temporal server's Go module, which tools/go.mod
// pins at the version compose's server image runs.
const serverModulePath = "go.temporal.io/server"

// serverTemplate parses the server image's config template: the server
// module's docker/config_template.yaml at the version tools/go.mod pins,
// which must be the compose file's server image's.
func serverTemplate(serverDir, serverVersion, image string) (*template.Template, error) {
	_, tag, _ := strings.Cut(image, ":")
	if serverVersion != "v"+tag {
		return nil, fmt.Errorf("%s runs %s but tools/go.mod pins %s %s: move them together", ComposeFile, image, serverModulePath, serverVersion)
	}
	path := filepath.Join(serverDir, serverConfigTmpl)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the server's config template: %w", err)
	}
	tmpl, err := template.New(filepath.Base(path)).Funcs(dockerizeFuncs).Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return tmpl, nil
}

// dockerizeFuncs are the functions config_template.yaml calls, with the
// meanings dockerize (v0.9, template.go), which renders it in the image,
// gives them. Its default takes the value first and the fallback second,
// the opposite of sprig's, and falls back only when the variable is
// unset: one set to "" stays "". trim is sprig's, which dockerize adds.
var dockerizeFuncs = template.FuncMap{
	"default": func(args ...any) (string, error) {
		if len(args) == 0 {
			return "", errors.New("default called with no values")
		}
		if s, ok := args[0].(string); ok {
			return s, nil
		}
		if len(args) < 2 {
			return "", errors.New("default called with no default value")
		}
		s, ok := args[1].(string)
		if !ok {
			return "", errors.New("default is not a string value")
		}
		return s, nil
	},
	"lower": strings.ToLower,
	"split": strings.Split,
	"trim":  strings.TrimSpace,
}

// serverModule is where the Go module cache holds the server module at
// the version tools/go.mod pins, and that version.
func serverModule(root string) (dir, version string, err error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", serverModulePath)
	cmd.Dir = filepath.Join(root, "tools")
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exit.Stderr)))
		}
		return "", "", fmt.Errorf("find %s in tools/go.mod: %w", serverModulePath, err)
	}
	dir, version, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if dir == "" {
		return "", "", fmt.Errorf("%s %s is not in the module cache: run `cd tools && go mod download %s`", serverModulePath, version, serverModulePath)
	}
	return dir, version, nil
}

// builtTool is a binary that the Makefile builds into bin/.
func builtTool(root, name string) (string, error) {
	bin := filepath.Join(root, "bin", name)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("no %s at %s: build it with 'make bin/%s' (make test does)", name, bin, name)
	}
	return bin, nil
}

// temporalCLI is the Temporal CLI: $TEMPORAL_BIN, else the one `make
// bin/temporal` builds.
func temporalCLI(root string) (string, error) {
	bin := os.Getenv("TEMPORAL_BIN")
	if bin == "" {
		return builtTool(root, "temporal")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("no Temporal CLI at TEMPORAL_BIN=%s: point it at one, or unset it for bin/temporal", bin)
	}
	return bin, nil
}
