package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func TestDeploymentFlags(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // part of check's error; "" for none
		want    worker.DeploymentOptions
	}{
		{name: "neither: unversioned"},
		{
			name: "flags",
			args: []string{"--deployment-name", "ordersaga", "--build-id", "v2"},
			want: versionedOptions("ordersaga", "v2"),
		},
		{
			name: "environment",
			env:  map[string]string{DeploymentNameEnv: "ordersaga", BuildIDEnv: "1.4.0"},
			want: versionedOptions("ordersaga", "1.4.0"),
		},
		{
			name: "flag overrides environment",
			env:  map[string]string{DeploymentNameEnv: "ordersaga", BuildIDEnv: "local"},
			args: []string{"--build-id", "abc123"},
			want: versionedOptions("ordersaga", "abc123"),
		},
		{name: "name only", args: []string{"--deployment-name", "ordersaga"}, wantErr: "give both"},
		{name: "build ID only", env: map[string]string{BuildIDEnv: "v2"}, wantErr: "give both"},
		{name: "dot in name", args: []string{"--deployment-name", "order.saga", "--build-id", "v2"}, wantErr: "contains '.' or ':'"},
		{name: "colon in name", args: []string{"--deployment-name", "order:saga", "--build-id", "v2"}, wantErr: "contains '.' or ':'"},
		{name: "reserved build ID", args: []string{"--deployment-name", "ordersaga", "--build-id", "__v2"}, wantErr: "starts with '__'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(DeploymentNameEnv, "")
			t.Setenv(BuildIDEnv, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var d deployment
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			d.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := d.check()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("check() = %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q spans several lines", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("check() = %v", err)
			}
			in := worker.Options{MaxConcurrentActivityTaskPollers: 7}
			got := d.apply(in)
			if got.DeploymentOptions != tt.want {
				t.Errorf("DeploymentOptions = %+v, want %+v", got.DeploymentOptions, tt.want)
			}
			if got.MaxConcurrentActivityTaskPollers != 7 {
				t.Errorf("apply lost the other options: %+v", got)
			}
		})
	}
}

func versionedOptions(name, buildID string) worker.DeploymentOptions {
	return worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: name, BuildID: buildID},
		DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
	}
}

// TestRunCommandHasDeploymentFlags makes sure `worker run` offers the
// flags, not only the type that reads them.
func TestRunCommandHasDeploymentFlags(t *testing.T) {
	cmd := newRunCommand(&globals{})
	for _, name := range []string{"deployment-name", "build-id"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("worker run has no --%s", name)
		}
	}
}

// fakeDeployment is a deployment as Describe shows it, recording the
// versions set current.
type fakeDeployment struct {
	client.WorkerDeploymentHandle
	describe    client.WorkerDeploymentDescribeResponse
	describeErr error
	setErr      error
	set         []client.WorkerDeploymentSetCurrentVersionOptions
}

func (f *fakeDeployment) Describe(context.Context, client.WorkerDeploymentDescribeOptions) (client.WorkerDeploymentDescribeResponse, error) {
	return f.describe, f.describeErr
}

func (f *fakeDeployment) SetCurrentVersion(_ context.Context, o client.WorkerDeploymentSetCurrentVersionOptions) (client.WorkerDeploymentSetCurrentVersionResponse, error) {
	f.set = append(f.set, o)
	return client.WorkerDeploymentSetCurrentVersionResponse{}, f.setErr
}

func TestClaimFirstCurrent(t *testing.T) {
	token := []byte("token-1")
	routing := func(current *worker.WorkerDeploymentVersion, changed time.Time) client.WorkerDeploymentDescribeResponse {
		return client.WorkerDeploymentDescribeResponse{ConflictToken: token, Info: client.WorkerDeploymentInfo{
			RoutingConfig: client.WorkerDeploymentRoutingConfig{CurrentVersion: current, CurrentVersionChangedTime: changed},
		}}
	}
	changed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name        string
		fake        fakeDeployment
		wantCurrent string
		settled     bool
		wantSet     bool // SetCurrentVersion called with B and the conflict token
	}{
		{name: "never current: claims", fake: fakeDeployment{describe: routing(nil, time.Time{})}, wantCurrent: "B", settled: true, wantSet: true},
		{name: "another build current", fake: fakeDeployment{describe: routing(&worker.WorkerDeploymentVersion{DeploymentName: "ordersaga", BuildID: "A"}, changed)}, wantCurrent: "A", settled: true},
		{name: "this build made current by an operator", fake: fakeDeployment{describe: routing(&worker.WorkerDeploymentVersion{DeploymentName: "ordersaga", BuildID: "B"}, changed)}, wantCurrent: "B", settled: true},
		{name: "unversioned chosen", fake: fakeDeployment{describe: routing(nil, changed)}, settled: true},
		{name: "deployment not registered yet", fake: fakeDeployment{describeErr: serviceerror.NewNotFound("no deployment")}},
		{name: "version not registered yet", fake: fakeDeployment{describe: routing(nil, time.Time{}), setErr: serviceerror.NewNotFound("version not found")}, wantSet: true},
		{name: "another build won the race", fake: fakeDeployment{describe: routing(nil, time.Time{}), setErr: serviceerror.NewFailedPrecondition("conflict token mismatch")}, wantSet: true},
	}
	d := deployment{name: "ordersaga", buildID: "B"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current, settled, err := d.claim(context.Background(), &tt.fake)
			if current != tt.wantCurrent || settled != tt.settled {
				t.Errorf("claim() = current %q, settled %t (%v); want %q, %t", current, settled, err, tt.wantCurrent, tt.settled)
			}
			if settled && err != nil {
				t.Errorf("settled with error %v", err)
			}
			var want []client.WorkerDeploymentSetCurrentVersionOptions
			if tt.wantSet {
				want = append(want, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: "B", ConflictToken: token})
			}
			if !reflect.DeepEqual(tt.fake.set, want) {
				t.Errorf("SetCurrentVersion calls %+v, want %+v", tt.fake.set, want)
			}
		})
	}
}
