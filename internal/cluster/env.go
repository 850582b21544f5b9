package cluster

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ordersaga/ordersaga/internal/tracing"
)

// Variables the cluster reads or sets by name, with the compose service
// that has them.
const (
	EnvAddress   = "TEMPORAL_ADDRESS"   // temporal-namespace, the workers, starter: the frontend they dial
	EnvNamespace = "TEMPORAL_NAMESPACE" // the workers, starter

	envMetricsAddr   = "ORDERSAGA_METRICS_ADDR"   // the workers: their Prometheus listener
	envServerMetrics = "PROMETHEUS_ENDPOINT"      // temporal: its Prometheus listener
	envBindOnIP      = "BIND_ON_IP"               // temporal: the address its listeners bind
	envFrontendPort  = "FRONTEND_GRPC_PORT"       // temporal (a template default compose leaves alone)
	envDynamicConfig = "DYNAMIC_CONFIG_FILE_PATH" // temporal
	envPostgresSeeds = "POSTGRES_SEEDS"           // temporal
	envDBPort        = "DB_PORT"                  // temporal
	envSQLHost       = "SQL_HOST"                 // temporal-schema
	envSQLPort       = "SQL_PORT"                 // temporal-schema
	envSchemaDir     = "TEMPORAL_SCHEMA_DIR"      // temporal-schema: read by setup-schema.sh, unset by compose
	envPostgresUser  = "POSTGRES_USER"            // postgres
	envPostgresPass  = "POSTGRES_PASSWORD"        // postgres
	envPostgresDB    = "POSTGRES_DB"              // postgres, optional: POSTGRES_USER's by default
	dsnSuffix        = "_DSN"                     // the workers, audit: a store's DSN
)

// tracingEndpoints are the variables that turn a process's tracing on
// (internal/tracing), each naming its collector: in compose, the jaeger
// service, which this host has no name for.
var tracingEndpoints = []string{tracing.EndpointEnv, tracing.TracesEndpointEnv}

// listenFlag names a listener's address in a service's command.
const listenFlag = "--listen"

// CodecServer is the compose service that decrypts payloads for the Web
// UI and the Temporal CLI.
const CodecServer = "codec-server"

// EnvCodecKeyFile names the payload encryption key file: in .env, the file
// on the host that compose mounts as the codec-keys secret; in the
// services' environment, where it is mounted.
const EnvCodecKeyFile = "ORDERSAGA_CODEC_KEY_FILE"

// postgresHost is the compose service name in the stack's DSNs.
const postgresHost = "postgres"

// nodePorts are the ports config_template.yaml reads that each node of
// one host needs its own of: every role's gRPC and membership port, and
// the frontend's HTTP API.
var nodePorts = []string{
	envFrontendPort, "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT",
	"HISTORY_GRPC_PORT", "HISTORY_MEMBERSHIP_PORT",
	"MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT",
	"WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT",
}

// Service is the compose service name as read from the compose file, its
// values interpolated from the stack's .env; a copy the caller may change.
func (c *Cluster) Service(name string) (Service, error) {
	s, ok := c.compose[name]
	if !ok {
		return Service{}, fmt.Errorf("%s has no service %s: add it, or use one of its services", ComposeFile, name)
	}
	return s.clone(), nil
}

// ServiceEnv is the compose service's environment on this host, with
// extra (the caller's) over onOneHost's changes over the compose file's.
func (c *Cluster) ServiceEnv(service string, extra map[string]string) (map[string]string, error) {
	s, err := c.Service(service)
	if err != nil {
		return nil, err
	}
	host, err := c.onOneHost(service)
	if err != nil {
		return nil, fmt.Errorf("the %s service on this host: %w", service, err)
	}
	env := s.Environment
	maps.Copy(env, host)
	maps.Copy(env, extra)
	return env, nil
}

// ServiceCommand is the compose service's command on this host: a
// listener it names with --listen (the codec server's, which compose binds
// on every interface of its container) binds a free loopback port instead.
func (c *Cluster) ServiceCommand(service string) ([]string, error) {
	s, err := c.Service(service)
	if err != nil {
		return nil, err
	}
	cmd := s.Command
	for i, arg := range cmd {
		if arg != listenFlag {
			continue
		}
		if i+1 == len(cmd) {
			return nil, fmt.Errorf("%s: the %s service's %s has no address: give it host:port", ComposeFile, service, listenFlag)
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd[i+1] = net.JoinHostPort("127.0.0.1", port)
	}
	return cmd, nil
}

// Namespace is the namespace compose's starter service works in, which
// the namespace job creates.
func (c *Cluster) Namespace() (string, error) {
	s, err := c.Service("starter")
	if err != nil {
		return "", err
	}
	ns := s.Environment[EnvNamespace]
	if ns == "" {
		return "", fmt.Errorf("%s: the starter service sets no %s: set it to the namespace the stack uses", ComposeFile, EnvNamespace)
	}
	return ns, nil
}

// onOneHost are the only changes to the compose file's environment, all of
// them because every container is a process on this host rather than on
// its own address: a service's name and port become a loopback address and
// a free port, a listener binds loopback only, and each server node, which
// compose would give its own IP and the template's default ports, gets
// ports of its own, its metrics listener's too. The mounted dynamic config
// is read where it is in the checkout; the schema job reads the server
// module's schema files where the admin-tools image has its copy of them.
// Tracing is off, there being no jaeger service here: a caller that
// collects spans passes its own endpoint in ServiceEnv's extra. A
// variable naming a secret where compose mounts it (/run/secrets/...)
// names the secret's file on this host.
func (c *Cluster) onOneHost(service string) (map[string]string, error) {
	env, err := c.onOneHostAddrs(service)
	if err != nil {
		return nil, err
	}
	s := c.compose[service]
	for k, v := range s.Environment {
		if file, ok := s.Secrets[v]; ok {
			env[k] = file
		} else if strings.HasPrefix(v, secretsDir+"/") {
			return nil, fmt.Errorf("%s: the %s service's %s=%s names a secret it does not mount: add the secret to its secrets", ComposeFile, service, k, v)
		}
	}
	return env, nil
}

// onOneHostAddrs are onOneHost's changes of addresses, ports and tracing.
func (c *Cluster) onOneHostAddrs(service string) (map[string]string, error) {
	switch service {
	case "temporal-schema":
		return map[string]string{envSQLHost: "127.0.0.1", envSQLPort: c.pgPort,
			envSchemaDir: filepath.Join(c.serverDir, "schema", "postgresql", "v12")}, nil
	case "temporal":
		env := map[string]string{envPostgresSeeds: "127.0.0.1", envDBPort: c.pgPort, envBindOnIP: "127.0.0.1",
			envDynamicConfig: filepath.Join(c.root, dynamicConfig)}
		for _, k := range nodePorts {
			port, err := c.nodePort(strings.HasSuffix(k, "_MEMBERSHIP_PORT"))
			if err != nil {
				return nil, err
			}
			env[k] = port
		}
		port, err := c.nodePort(false)
		if err != nil {
			return nil, err
		}
		env[envServerMetrics] = net.JoinHostPort("127.0.0.1", port)
		return env, nil
	}
	// The workers, the namespace job and the starter: TEMPORAL_ADDRESS is
	// the caller's; the metrics listener and the DSNs move to this host;
	// tracing is off ("" is no endpoint).
	env := map[string]string{}
	for _, k := range tracingEndpoints {
		if _, ok := c.compose[service].Environment[k]; ok {
			env[k] = ""
		}
	}
	if _, ok := c.compose[service].Environment[envMetricsAddr]; ok {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		env[envMetricsAddr] = "127.0.0.1:" + port
	}
	for k, v := range c.compose[service].Environment {
		if strings.HasSuffix(k, dsnSuffix) {
			dsn, err := c.onThisHost(v)
			if err != nil {
				return nil, err
			}
			env[k] = dsn
		}
	}
	return env, nil
}

// nodePort is a free loopback port for a node that no node of the cluster
// was given before. A membership port is one below 32768: each member's
// goes into cluster_membership.rpc_port, a SMALLINT in the server's
// PostgreSQL schema, and the kernel's free ports (freePort) are above it;
// the server would fail its first heartbeat with "out of range for type
// smallint".
func (c *Cluster) nodePort(membership bool) (string, error) {
	const low, high = 20000, 32767
	c.mu.Lock()
	defer c.mu.Unlock()
	for range 100 {
		var port string
		if membership {
			port = strconv.Itoa(low + rand.IntN(high-low+1))
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
			if err != nil {
				continue
			}
			l.Close()
		} else {
			var err error
			if port, err = freePort(); err != nil {
				return "", err
			}
		}
		if !c.ports[port] {
			c.ports[port] = true
			return port, nil
		}
	}
	return "", fmt.Errorf("no free loopback port for a server node (membership port: %v): free some ports and start again", membership)
}

// freePort asks the kernel for a free loopback port.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// onThisHost points a compose DSN (postgres://role:password@postgres:5432/db)
// at the cluster's PostgreSQL.
func (c *Cluster) onThisHost(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("%s: a DSN does not parse: %w", ComposeFile, err)
	}
	if u.Hostname() != postgresHost {
		return "", fmt.Errorf("%s: DSN %q is not on the %s service: point it at %s", ComposeFile, u.Redacted(), postgresHost, postgresHost)
	}
	u.Host = net.JoinHostPort("127.0.0.1", c.pgPort)
	return u.String(), nil
}

// StoreDSNs are the DSNs compose gives the four services, by variable
// (ORDERSAGA_PAYMENT_DSN...), each with its own role, on this host.
func (c *Cluster) StoreDSNs() (map[string]string, error) {
	dsns := map[string]string{}
	for _, s := range workerServices {
		for k, v := range c.compose[s].Environment {
			if !strings.HasSuffix(k, dsnSuffix) {
				continue
			}
			dsn, err := c.onThisHost(v)
			if err != nil {
				return nil, err
			}
			dsns[k] = dsn
		}
	}
	return dsns, nil
}
