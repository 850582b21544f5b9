package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

func defaultTuning() tuning {
	return tuning{pollers: DefaultPollers, workflowPollers: DefaultWorkflowPollers, activityPollers: DefaultActivityPollers, workflowCacheSize: DefaultWorkflowCacheSize}
}

func TestTuningCheck(t *testing.T) {
	good := defaultTuning()
	if err := good.check(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*tuning)
		want string
	}{
		{"one workflow poller", func(t *tuning) { t.workflowPollers = 1 }, "--workflow-pollers is 1: give at least 2"},
		{"no activity poller", func(t *tuning) { t.activityPollers = 0 }, "--activity-pollers is 0: give at least 1"},
		{"no cache", func(t *tuning) { t.workflowCacheSize = 0 }, "--workflow-cache-size is 0: give at least 1"},
		{"unknown poller mode", func(t *tuning) { t.pollers = "auto" }, `ORDERSAGA_POLLERS is "auto": give fixed or autoscaling`},
		{"one workflow poller when autoscaling", func(t *tuning) { t.pollers, t.workflowPollers = PollersAutoscaling, 1 }, "--workflow-pollers is 1: give at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			tc.edit(&bad)
			if err := bad.check(); err == nil || err.Error() != tc.want {
				t.Errorf("check() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPollersFlag: --pollers takes its default from ORDERSAGA_POLLERS,
// the command line wins, and a bad value is refused in one line wherever
// it came from.
func TestPollersFlag(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      string // "" leaves ORDERSAGA_POLLERS empty
		args     []string
		want     pollerMode
		parseErr string
		checkErr string
	}{
		{name: "default", want: PollersFixed},
		{name: "flag", args: []string{"--pollers", "autoscaling"}, want: PollersAutoscaling},
		{name: "env", env: "autoscaling", want: PollersAutoscaling},
		{name: "flag over env", env: "autoscaling", args: []string{"--pollers=fixed"}, want: PollersFixed},
		{name: "flag over a bad env", env: "auto", args: []string{"--pollers=fixed"}, want: PollersFixed},
		{name: "bad flag", args: []string{"--pollers", "Autoscaling"}, parseErr: `invalid argument "Autoscaling" for "--pollers" flag: give fixed or autoscaling`},
		{name: "bad env", env: "auto", want: "auto", checkErr: `ORDERSAGA_POLLERS is "auto": give fixed or autoscaling`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(PollersEnv, tc.env)
			var tu tuning
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			tu.register(fs)
			err := fs.Parse(tc.args)
			if tc.parseErr != "" {
				if err == nil || err.Error() != tc.parseErr {
					t.Fatalf("parse %q: %v, want %q", tc.args, err, tc.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %q: %v", tc.args, err)
			}
			if tu.pollers != tc.want {
				t.Errorf("pollers = %q, want %q", tu.pollers, tc.want)
			}
			err = tu.check()
			if got := errString(err); got != tc.checkErr {
				t.Errorf("check() = %q, want %q", got, tc.checkErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestWorkerOptions: the fixed mode sets the SDK's poller counts and no
// behavior; autoscaling sets a behavior from 1 up to the flags' numbers,
// starting at them, and no count (the SDK panics on both).
func TestWorkerOptions(t *testing.T) {
	autoscaling := func(initial, least, most int) worker.PollerBehavior {
		return worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{
			InitialNumberOfPollers: initial, MinimumNumberOfPollers: least, MaximumNumberOfPollers: most})
	}
	for _, tc := range []struct {
		name  string
		tu    tuning
		want  worker.Options
		label string
	}{
		{
			name:  "fixed",
			tu:    tuning{pollers: PollersFixed, workflowPollers: 6, activityPollers: 3, workflowCacheSize: 100},
			want:  worker.Options{WorkerStopTimeout: 7 * time.Second, MaxConcurrentWorkflowTaskPollers: 6, MaxConcurrentActivityTaskPollers: 3},
			label: "pollers=fixed workflow_pollers=6 activity_pollers=3 workflow_cache_size=100",
		},
		{
			name: "autoscaling",
			tu:   tuning{pollers: PollersAutoscaling, workflowPollers: 6, activityPollers: 3, workflowCacheSize: 100},
			want: worker.Options{WorkerStopTimeout: 7 * time.Second,
				WorkflowTaskPollerBehavior: autoscaling(6, 1, 6), ActivityTaskPollerBehavior: autoscaling(3, 1, 3)},
			label: "pollers=autoscaling workflow_pollers=6 activity_pollers=3 workflow_cache_size=100",
		},
		{
			name: "autoscaling one activity poller",
			tu:   tuning{pollers: PollersAutoscaling, workflowPollers: 2, activityPollers: 1, workflowCacheSize: 1},
			want: worker.Options{WorkerStopTimeout: 7 * time.Second,
				WorkflowTaskPollerBehavior: autoscaling(2, 1, 2), ActivityTaskPollerBehavior: autoscaling(1, 1, 1)},
			label: "pollers=autoscaling workflow_pollers=2 activity_pollers=1 workflow_cache_size=1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.tu.workerOptions(7 * time.Second)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("worker options\n got %+v\nwant %+v", got, tc.want)
			}
			if s := tc.tu.String(); s != tc.label {
				t.Errorf("String() = %q, want %q", s, tc.label)
			}
			// The SDK panics on options it refuses, such as a poller count
			// and a behavior together; a lazy client dials nothing.
			c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = worker.New(c, "tuning-test", got)
		})
	}
}

func TestAutoscalingRange(t *testing.T) {
	for _, most := range []int{1, 2, 8, 32} {
		got := autoscalingRange(most)
		want := worker.PollerBehaviorAutoscalingOptions{InitialNumberOfPollers: most, MinimumNumberOfPollers: 1, MaximumNumberOfPollers: most}
		if got != want {
			t.Errorf("autoscalingRange(%d) = %+v, want %+v", most, got, want)
		}
	}
}

func TestPollersHelpNamesTheModes(t *testing.T) {
	var tu tuning
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	tu.register(fs)
	if usage := fs.FlagUsages(); !strings.Contains(usage, "--pollers fixed|autoscaling") || !strings.Contains(usage, PollersEnv) {
		t.Errorf("usage lacks the modes or the variable:\n%s", usage)
	}
}
