package cluster

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Files of the compose stack, relative to the repository's root.
const (
	ComposeFile    = "docker-compose.yml"
	EnvExampleFile = ".env.example"
	initDatabases  = "deploy/postgres/init-databases.sh"
	setupSchema    = "deploy/temporal/setup-schema.sh"
	setupNamespace = "deploy/temporal/setup-namespace.sh"
	dynamicConfig  = "deploy/temporal/dynamicconfig.yaml"
)

// workerServices are the compose services that run one ordersaga service
// each, with its store's DSN.
var workerServices = []string{"order", "inventory", "payment", "shipping"}

// WorkerServices are the compose services that run one ordersaga service
// each (order, inventory, payment, shipping), each with its own store.
func WorkerServices() []string { return slices.Clone(workerServices) }

// Service is what the cluster reads of a compose service, its values
// interpolated from the stack's .env.
type Service struct {
	Image       string
	Entrypoint  []string
	Command     []string
	Environment map[string]string
	// Volumes are the service's mounts in compose's short syntax,
	// SOURCE:TARGET[:MODE], whichever syntax the file uses.
	Volumes []string
	// Healthcheck is the health check's test, ["CMD", program, args...].
	Healthcheck []string
	// Secrets are the files the service mounts as compose secrets: by the
	// path in its container (/run/secrets/<target>), the file on this host
	// (the top-level secret's file, relative to the repository's root).
	Secrets map[string]string
}

// clone is a deep copy of s, so that a caller cannot change the cluster's.
func (s Service) clone() Service {
	s.Entrypoint = slices.Clone(s.Entrypoint)
	s.Command = slices.Clone(s.Command)
	s.Environment = maps.Clone(s.Environment)
	s.Volumes = slices.Clone(s.Volumes)
	s.Healthcheck = slices.Clone(s.Healthcheck)
	s.Secrets = maps.Clone(s.Secrets)
	return s
}

// composeService is a service as the compose file spells it: a command
// or an entrypoint as a list or a string, a volume or a secret in the
// short or the long syntax.
type composeService struct {
	Image       string            `yaml:"image"`
	Entrypoint  stringList        `yaml:"entrypoint"`
	Command     stringList        `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []volume          `yaml:"volumes"`
	Secrets     []secretMount     `yaml:"secrets"`
	Healthcheck struct {
		Test stringList `yaml:"test"`
	} `yaml:"healthcheck"`
}

// composeSecret is a top-level secret. The cluster mounts files only: an
// environment or external secret has no file on this host to point at.
type composeSecret struct {
	File string `yaml:"file"`
}

// secretsDir is where compose mounts a service's secret whose target is
// not an absolute path.
const secretsDir = "/run/secrets"

// secretMount is a service's secret, `- NAME` in the short syntax or
// {source: NAME, target: T} in the long one; uid, gid and mode are left
// out, as compose leaves them out for a file secret outside Swarm.
type secretMount struct {
	Source, Target string
}

func (m *secretMount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		m.Source = n.Value
		return nil
	}
	var long struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	m.Source, m.Target = long.Source, long.Target
	return nil
}

// mountPath is where the secret is in the container: an absolute target
// as it is, else /run/secrets/<target>, the target being the source's name
// unless given.
func (m secretMount) mountPath() string {
	if path.IsAbs(m.Target) {
		return m.Target
	}
	return path.Join(secretsDir, cmp.Or(m.Target, m.Source))
}

// stringList is a compose list that may be written as one string, which
// compose splits as a shell would (here: on white space).
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	return n.Decode((*[]string)(l))
}

// volume is a mount in compose's short syntax, SOURCE:TARGET[:MODE], as
// written or converted from the long syntax.
type volume string

func (v *volume) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*v = volume(n.Value)
		return nil
	}
	var long struct {
		Source   string `yaml:"source"`
		Target   string `yaml:"target"`
		ReadOnly bool   `yaml:"read_only"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	s := long.Source + ":" + long.Target
	if long.ReadOnly {
		s += ":ro"
	}
	*v = volume(s)
	return nil
}

// loadCompose reads the compose file's services with their values
// interpolated from env, as compose does from .env.
func loadCompose(root string, env map[string]string) (map[string]Service, error) {
	b, err := os.ReadFile(filepath.Join(root, ComposeFile))
	if err != nil {
		return nil, fmt.Errorf("read the compose file: %w", err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
		Secrets  map[string]composeSecret  `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", ComposeFile, err)
	}
	services := map[string]Service{}
	for name, cs := range f.Services {
		s, err := cs.interpolate(env)
		if err != nil {
			return nil, fmt.Errorf("%s: service %s: %w", ComposeFile, name, err)
		}
		if s.Secrets, err = secretFiles(root, cs.Secrets, f.Secrets, env); err != nil {
			return nil, fmt.Errorf("%s: service %s: %w", ComposeFile, name, err)
		}
		services[name] = s
	}
	return services, nil
}

// secretFiles are a service's secrets: by the path in its container, the
// file on this host, interpolated from env and, when relative, taken from
// root as compose takes it from the project's directory.
func secretFiles(root string, mounts []secretMount, secrets map[string]composeSecret, env map[string]string) (map[string]string, error) {
	if len(mounts) == 0 {
		return nil, nil
	}
	files := map[string]string{}
	for _, m := range mounts {
		sec, ok := secrets[m.Source]
		if !ok {
			return nil, fmt.Errorf("secret %s is not one of the top-level secrets: define it there, with its file", m.Source)
		}
		file, err := interpolate(sec.File, env)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", m.Source, err)
		}
		if file == "" {
			return nil, fmt.Errorf("secret %s has no file, which the cluster needs to mount it on this host: give it one", m.Source)
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(root, file)
		}
		files[m.mountPath()] = filepath.Clean(file)
	}
	return files, nil
}

// interpolate is the service with its compose variables substituted from
// env.
func (cs composeService) interpolate(env map[string]string) (Service, error) {
	var errs []error
	do := func(v string) string {
		out, err := interpolate(v, env)
		errs = append(errs, err)
		return out
	}
	list := func(l []string) []string {
		var out []string
		for _, v := range l {
			out = append(out, do(v))
		}
		return out
	}
	s := Service{
		Image:       do(cs.Image),
		Entrypoint:  list(cs.Entrypoint),
		Command:     list(cs.Command),
		Environment: map[string]string{},
		Healthcheck: list(cs.Healthcheck.Test),
	}
	for k, v := range cs.Environment {
		s.Environment[k] = do(v)
	}
	for _, v := range cs.Volumes {
		s.Volumes = append(s.Volumes, do(string(v)))
	}
	return s, errors.Join(errs...)
}

// composeVar matches compose's ${NAME}, ${NAME:-default}, ${NAME-default},
// ${NAME:?message}, ${NAME?message} and the escaped dollar $$.
var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes the compose variables in s from env; a required
// variable that is missing is an error with compose's message.
func interpolate(s string, env map[string]string) (string, error) {
	var errs []error
	out := composeVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeVar.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		v, set := env[name]
		unset := !set || (strings.HasPrefix(op, ":") && v == "")
		switch {
		case !unset || op == "":
			return v
		case strings.HasSuffix(op, "-"):
			return arg
		default:
			errs = append(errs, fmt.Errorf("%s: %s", name, arg))
			return ""
		}
	})
	return out, errors.Join(errs...)
}

// envLine is one NAME=value line of an .env file.
var envLine = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=(.*)$`)

// TestEnv is a .env for a stack that is not production's: every variable
// that .env.example sets, with a test value of the same shape
// (change-me-orders → e2e-orders, ./codec-keys → ./e2e-codec-keys). A file
// it names is not the checkout's own (that is production's), and may not
// exist: Start, given no .env, writes the key file itself.
func TestEnv(root string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(root, EnvExampleFile))
	if err != nil {
		return nil, fmt.Errorf("read the stack's example .env: %w", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := envLine.FindStringSubmatch(sc.Text()); m != nil {
			dir, value := "", m[2]
			if strings.HasPrefix(value, "./") || strings.HasPrefix(value, "/") {
				dir, value = path.Split(value)
			}
			env[m[1]] = dir + "e2e-" + strings.TrimPrefix(value, "change-me-")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", EnvExampleFile, err)
	}
	if len(env) == 0 {
		return nil, fmt.Errorf("%s sets no variable: give it the stack's NAME=value lines", EnvExampleFile)
	}
	return env, nil
}

// environ turns env into NAME=value entries, sorted for stable logs.
func environ(env map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// Environ turns a service's environment (ServiceEnv's) into the NAME=value
// entries of exec.Cmd.Env, sorted for stable logs.
func Environ(env map[string]string) []string { return environ(env) }
