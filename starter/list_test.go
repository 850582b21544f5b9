package main

import (
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    workflows.Status
		wantErr bool
	}{
		{in: "", want: ""},
		{in: "COMPLETED", want: workflows.Completed},
		{in: "completed", want: workflows.Completed},
		{in: " Cancelled ", want: workflows.Cancelled},
		{in: "awaiting_fulfillment", want: workflows.AwaitingFulfillment},
		{in: "Compensating", want: workflows.Compensating},
		{in: "pending", want: workflows.Pending},
		{in: "canceled", wantErr: true},
		{in: "done", wantErr: true},
		{in: "awaiting fulfillment", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseStatus(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseStatus(%q) = %q, want an error", tt.in, got)
				}
				for _, s := range workflows.Statuses {
					if s.Listed() && !strings.Contains(err.Error(), string(s)) {
						t.Errorf("error %q does not list %s", err, s)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStatus(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	// Every status the workflow writes to visibility is accepted as
	// written; a forward step is refused with where to look instead.
	for _, s := range workflows.Statuses {
		got, err := parseStatus(string(s))
		switch {
		case s.Listed() && (err != nil || got != s):
			t.Errorf("parseStatus(%q) = %q, %v", s, got, err)
		case !s.Listed() && (err == nil || !strings.Contains(err.Error(), "starter status ID")):
			t.Errorf("parseStatus(%q) = %q, %v; want an error saying where to look", s, got, err)
		}
	}
}

func TestListFilter(t *testing.T) {
	got, err := listFilter("failed", " c-1 ", 0)
	want := orderclient.Filter{Status: workflows.Failed, CustomerID: "c-1", Limit: 0}
	if err != nil || got != want {
		t.Errorf("listFilter = %+v, %v; want %+v", got, err, want)
	}
	if _, err := listFilter("", "", -5); err == nil {
		t.Error("listFilter accepted a negative limit")
	}
}
