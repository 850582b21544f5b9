package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
)

// membershipTimeout bounds how long the nodes take to see each other, or
// to drop a node that is gone and take over its shards.
const membershipTimeout = 90 * time.Second

// roles are the server's services, each with its own membership ring.
var roles = []string{"frontend", "history", "matching", "worker"}

// WaitMembers waits until every running node's view of the cluster has
// every running node in each role's ring: after a node is killed, until
// the others have dropped it (and so taken over its history shards and
// task queues); after one starts, until they have it.
func (c *Cluster) WaitMembers(ctx context.Context) error {
	var running []*node
	c.mu.Lock()
	for _, n := range c.nodes {
		if n != nil && n.proc != nil && !n.proc.Exited() {
			running = append(running, n)
		}
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	for {
		last := sameRings(ctx, running)
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("every role's ring has the %d running nodes: not within %s (%w); last: %s", len(running), membershipTimeout, ctx.Err(), last)
		case <-time.After(pollInterval): // poll interval of a deadline-bounded wait
		}
	}
}

// sameRings is "" when every node of running has all of running in each
// role's ring, else what one of them sees.
func sameRings(ctx context.Context, running []*node) string {
	for _, n := range running {
		rings, err := describeRings(ctx, n.frontend)
		if err != nil {
			return fmt.Sprintf("%s: %v", n.name, err)
		}
		for _, role := range roles {
			if rings[role] != len(running) {
				return fmt.Sprintf("%s sees %v", n.name, rings)
			}
		}
	}
	return ""
}

// describeRings asks the frontend at address for the cluster's membership,
// as `tdbg cluster describe` does (the admin service's DescribeCluster,
// which the temporal CLI does not call), and returns each role's ring's
// member count. The admin service's messages are the server's own, not in
// go.temporal.io/api, so the response is read field by field:
// DescribeClusterResponse.membership_info (3) → MembershipInfo.rings (3) →
// RingInfo.role (1), member_count (2).
func describeRings(ctx context.Context, address string) (map[string]int, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, resp := []byte{}, []byte{}
	err = conn.Invoke(ctx, "/temporal.server.api.adminservice.v1.AdminService/DescribeCluster", &req, &resp, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return nil, err
	}
	rings := map[string]int{}
	for _, membership := range protoFields(resp, 3) {
		for _, ring := range protoFields(membership, 3) {
			var role string
			var members int
			for _, f := range protoFields(ring, 1) {
				role = string(f)
			}
			for _, f := range protoFields(ring, 2) {
				v, _ := protowire.ConsumeVarint(f)
				members = int(v)
			}
			rings[role] = members
		}
	}
	return rings, nil
}

// protoFields returns the values of field num in an encoded message: the
// bytes of each length-delimited value, or each varint's encoding.
func protoFields(msg []byte, num protowire.Number) [][]byte {
	var out [][]byte
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return out
		}
		msg = msg[l:]
		vl := protowire.ConsumeFieldValue(n, typ, msg)
		if vl < 0 {
			return out
		}
		if n == num {
			switch typ {
			case protowire.BytesType:
				v, _ := protowire.ConsumeBytes(msg)
				out = append(out, v)
			case protowire.VarintType:
				out = append(out, msg[:vl])
			}
		}
		msg = msg[vl:]
	}
	return out
}

// rawCodec passes encoded protobuf messages through gRPC as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = slices.Clone(data)
	return nil
}

func (rawCodec) Name() string { return "proto" }
