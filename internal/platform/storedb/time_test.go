package storedb

import (
	"testing"
	"time"
)

func TestTimesSortAsTextInTimeOrder(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	// In time order; RFC3339Nano would print these as …05Z, …05.1Z,
	// …05.12Z and …05.123456789Z, which do not sort as text.
	times := []time.Time{
		base,
		base.Add(100 * time.Millisecond),
		base.Add(120 * time.Millisecond),
		base.Add(123456789 * time.Nanosecond),
		base.Add(time.Second),
	}
	for i := 1; i < len(times); i++ {
		prev, cur := FormatTime(times[i-1]), FormatTime(times[i])
		if !(prev < cur) {
			t.Errorf("%q (earlier) does not sort before %q", prev, cur)
		}
	}
	if got, want := FormatTime(base.In(time.FixedZone("CET", 3600))), "2025-03-01T12:00:05.000000000Z"; got != want {
		t.Errorf("FormatTime = %q, want %q (UTC)", got, want)
	}
}

func TestParseTimeReadsWhatFormatTimeWrote(t *testing.T) {
	want := time.Date(2025, 3, 1, 12, 0, 5, 120000000, time.UTC)
	got, err := ParseTime(FormatTime(want))
	if err != nil || !got.Equal(want) {
		t.Errorf("ParseTime(FormatTime(%v)) = %v, %v", want, got, err)
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("ParseTime of a time FormatTime did not write: no error")
	}
}
