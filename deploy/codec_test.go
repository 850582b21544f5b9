package deploy

import (
	"cmp"
	"net"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// The stack always encrypts: every container of the ordersaga image reads
// the key ring from one file, which compose mounts as a secret, and the
// codec server, which decrypts for the Web UI and the Temporal CLI, always
// runs, behind a bearer token.
const (
	codecService    = "codec-server"
	codecSecret     = "codec-keys"
	codecKeyFileEnv = "ORDERSAGA_CODEC_KEY_FILE"
	codecKeysEnv    = "ORDERSAGA_CODEC_KEYS"
	codecAuthEnv    = "ORDERSAGA_CODEC_TOKEN"
)

// required matches a compose reference to name that stops compose, with a
// message, when the variable is unset or empty: ${NAME:?message}.
func required(name string) *regexp.Regexp {
	return regexp.MustCompile(`^\$\{` + name + `:\?[^}]+\}$`)
}

// secretPath is where a service's secret is mounted in its container: an
// absolute target as it is, else /run/secrets/<target or source>.
func secretPath(s types.ServiceSecretConfig) string {
	if path.IsAbs(s.Target) {
		return s.Target
	}
	return path.Join("/run/secrets", cmp.Or(s.Target, s.Source))
}

// imageUser is the user the final stage of the Dockerfile runs as.
func imageUser(t *testing.T) string {
	t.Helper()
	stages := parseDockerfile(t, filepath.Join(root, dockerfile))
	users := stages[len(stages)-1].instr["USER"]
	if len(users) == 0 {
		t.Fatalf("%s: the final stage has no USER", dockerfile)
	}
	return users[len(users)-1]
}

// TestCodecKeysReachEveryProcess: every process of the ordersaga image
// reads or writes payloads, so each mounts the codec-keys secret and reads
// its ring there, and no other way: a process left without the ring fails
// the orders it cannot read, and one with a ring of its own (an inline
// ORDERSAGA_CODEC_KEYS) could not read the others'.
func TestCodecKeysReachEveryProcess(t *testing.T) {
	p := load(t, true)
	built := servicesBuilt(p)
	for _, name := range append(runners(), "starter", codecService) {
		if !slices.Contains(built, name) {
			t.Errorf("%s: not built from the %s, the ordersaga image", name, dockerfile)
		}
	}
	for _, name := range built {
		s := service(t, p, name)
		i := slices.IndexFunc(s.Secrets, func(sc types.ServiceSecretConfig) bool { return sc.Source == codecSecret })
		if i < 0 {
			t.Errorf("%s: does not mount the %s secret: add it to x-ordersaga's secrets", name, codecSecret)
			continue
		}
		sc := s.Secrets[i]
		if want := secretPath(sc); env(s, codecKeyFileEnv) != want {
			t.Errorf("%s: %s=%q, want %q, where the %s secret is mounted", name, codecKeyFileEnv, env(s, codecKeyFileEnv), want, codecSecret)
		}
		// Outside Swarm a file secret is bind-mounted with the host file's
		// owner and mode (docker/compose#9648): these would only mislead.
		if sc.UID != "" || sc.GID != "" || sc.Mode != nil {
			t.Errorf("%s: sets uid, gid or mode on the %s secret, which compose ignores for a file: the key file's owner and mode on the host are what count", name, codecSecret)
		}
		if _, ok := s.Environment[codecKeysEnv]; ok {
			t.Errorf("%s: sets %s: the ring comes from the %s secret only", name, codecKeysEnv, codecSecret)
		}
	}
}

// TestCodecKeyFileFromEnv: the secret's file is named in .env, and compose
// refuses to start without it, saying how to make one that the image's
// user, and only that user, can read.
func TestCodecKeyFileFromEnv(t *testing.T) {
	raw := load(t, false)
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	sec, ok := raw.Secrets[codecSecret]
	if !ok {
		t.Fatalf("%s has no top-level secret %s", composeFile, codecSecret)
	}
	file := strings.TrimPrefix(sec.File, abs+string(filepath.Separator)) // compose-go resolves it against the project
	if !required(codecKeyFileEnv).MatchString(file) {
		t.Errorf("secret %s: file %q, want ${%s:?how to make one}", codecSecret, file, codecKeyFileEnv)
	}
	uid, _, _ := strings.Cut(imageUser(t), ":")
	for _, want := range []string{"bin/worker codec-key add", "chown " + uid + ":"} {
		if !strings.Contains(file, want) {
			t.Errorf("secret %s: the message for a missing %s does not say %q", codecSecret, codecKeyFileEnv, want)
		}
	}
	example := readFile(t, filepath.Join(root, envExample))
	if !strings.Contains(example, "chown "+uid+":") {
		t.Errorf("%s does not tell to give the key file to the image's user %s (chown): the containers could not read it", envExample, uid)
	}

	p := load(t, true)
	got := p.Secrets[codecSecret].File
	if filepath.Dir(got) != abs {
		t.Errorf("secret %s: %s in %s is %q, want a file in the repository root", codecSecret, codecKeyFileEnv, envExample, got)
	}
	ignored := readFile(t, filepath.Join(root, ".gitignore"))
	if !slices.Contains(strings.Fields(ignored), "/"+filepath.Base(got)) {
		t.Errorf(".gitignore does not ignore /%s: the key file could be committed", filepath.Base(got))
	}
	// The build stage copies the whole context: the key file would be sent
	// to the builder, and the build fail when it belongs to the image's user.
	dockerignore := readFile(t, filepath.Join(root, ".dockerignore"))
	if !slices.ContainsFunc(strings.Fields(dockerignore), func(f string) bool { return strings.TrimPrefix(f, "/") == filepath.Base(got) }) {
		t.Errorf(".dockerignore does not exclude %s: `docker compose up --build` would send the key file to the builder", filepath.Base(got))
	}
}

// TestCodecServer: the codec server always runs, on the workers' image;
// since it listens on every interface of its container, compose requires
// its bearer token, and it is published on the host's loopback only, on
// the port it listens on (its Host check allows loopback names with its
// own port).
func TestCodecServer(t *testing.T) {
	p := load(t, true)
	s := service(t, p, codecService)
	worker := service(t, p, "order")
	if s.Image != worker.Image || s.Build == nil {
		t.Errorf("%s: image %q, want the workers' %q built from the %s", codecService, s.Image, worker.Image, dockerfile)
	}
	if len(s.Profiles) != 0 {
		t.Errorf("%s: profiles %q, want none: the stack always encrypts, and the UI needs it", codecService, s.Profiles)
	}
	if len(s.Command) == 0 || s.Command[0] != "codec-server" || len(s.Entrypoint) != 0 {
		t.Fatalf("%s: entrypoint %q command %q, want the image's worker with codec-server", codecService, s.Entrypoint, s.Command)
	}
	listen := flagValue(s.Command, "--listen")
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("%s: --listen %q: %v", codecService, listen, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		t.Errorf("%s: listens on %s, which no other container nor the host can reach", codecService, listen)
	}
	if token := env(load(t, false).Services[codecService], codecAuthEnv); !required(codecAuthEnv).MatchString(token) {
		t.Errorf("%s: %s=%q, want ${%s:?message}: it listens on %s and refuses to start without one", codecService, codecAuthEnv, token, codecAuthEnv, listen)
	}
	published := ""
	for _, pc := range s.Ports {
		if pc.HostIP != "127.0.0.1" {
			t.Errorf("%s: publishes %s on %q: anyone who reaches it with the token can decrypt; publish on 127.0.0.1", codecService, pc.Published, pc.HostIP)
		}
		if pc.Published == port && pc.Target == parsePort(t, port) {
			published = pc.Published
		}
	}
	if published == "" {
		t.Errorf("%s: port %s is not published on the same host port", codecService, port)
	}
	if got := env(s, "ORDERSAGA_LOG_FORMAT"); got != "json" {
		t.Errorf("%s: ORDERSAGA_LOG_FORMAT=%q, want json", codecService, got)
	}
}

// TestUIUsesTheCodecServer: the Web UI shows payloads decrypted by the
// codec server. The browser calls it, so by the host's name for it
// (localhost, as the UI is opened: the login cookie is kept per host
// name), with the cookie of its login (credentials included); and the
// codec server allows the UI's origin.
func TestUIUsesTheCodecServer(t *testing.T) {
	p := load(t, true)
	ui := one(t, p, "temporalio/ui")
	_, port, _ := net.SplitHostPort(flagValue(service(t, p, codecService).Command, "--listen"))
	if got, want := env(ui, "TEMPORAL_CODEC_ENDPOINT"), "http://localhost:"+port; got != want {
		t.Errorf("%s: TEMPORAL_CODEC_ENDPOINT=%q, want %q, the codec server as the browser reaches it", ui.Name, got, want)
	}
	if got := env(ui, "TEMPORAL_CODEC_INCLUDE_CREDENTIALS"); got != "true" {
		t.Errorf("%s: TEMPORAL_CODEC_INCLUDE_CREDENTIALS=%q, want true: without the login cookie every call gets 401", ui.Name, got)
	}
	origin := flagValue(service(t, p, codecService).Command, "--ui-origin")
	if origin == "" {
		m := regexp.MustCompile(`"ui-origin", "([^"]+)"`).FindStringSubmatch(readFile(t, filepath.Join(root, "worker", "codecserver.go")))
		if m == nil {
			t.Fatalf("worker/codecserver.go: no default for --ui-origin found")
		}
		origin = m[1]
	}
	uiPort := ""
	for _, pc := range ui.Ports {
		uiPort = pc.Published
	}
	if want := "http://localhost:" + uiPort; origin != want {
		t.Errorf("%s: --ui-origin %q, want the UI's published address %s", codecService, origin, want)
	}
}

// servicesBuilt are the services built from the Dockerfile: the ordersaga
// image's.
func servicesBuilt(p *types.Project) []string {
	var names []string
	for name, s := range p.Services {
		if s.Build != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// parsePort is port as a number.
func parsePort(t *testing.T, port string) uint32 {
	t.Helper()
	n, err := net.LookupPort("tcp", port)
	if err != nil {
		t.Fatalf("port %q: %v", port, err)
	}
	return uint32(n)
}

// flagValue is the value after flag in args, or "".
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}
