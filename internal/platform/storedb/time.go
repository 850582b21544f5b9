package storedb

import "time"

// TimeLayout is how the stores write a time: RFC 3339 in UTC with a fixed
// nine-digit fraction, so that a column of times sorts as text in time
// order, in either dialect. (time.RFC3339Nano drops trailing zeros:
// "…05.1Z" would sort after "…05.12Z".)
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime is t as the stores write it: in UTC, in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Timestamp is the current time as the stores write it, for a record's
// created_at and updated_at.
func Timestamp() string { return FormatTime(time.Now()) }

// ParseTime reads a time that FormatTime wrote.
func ParseTime(s string) (time.Time, error) { return time.Parse(TimeLayout, s) }
