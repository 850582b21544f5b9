package storedb

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"
	"time"
)

// CheckPlacement refuses a request of any placement but the one that
// recorded key: it returns an error wrapping conflict, the store's key
// conflict, that names the owner. Order IDs, and so keys, come back when an
// order ID is reused after Temporal forgot its first order; without this
// check the second order would return, change or undo the first one's
// records. The placement "" (records and orders from before placements)
// matches only itself. recordedAt is the record's stored created_at.
func CheckPlacement(conflict error, key, orderID, owner, requester, recordedAt string) error {
	if owner == requester {
		return nil
	}
	whose := "recorded before placements, at " + messageTime(recordedAt)
	if owner != "" {
		whose = fmt.Sprintf("placement %s, recorded %s", owner, messageTime(recordedAt))
	}
	return fmt.Errorf("%w: %s belongs to another placement of order %q (%s); order IDs cannot be reused",
		conflict, key, orderID, whose)
}

// messageTime is a stored timestamp to the second, for messages; one that
// does not parse is shown as stored.
func messageTime(stamp string) string {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return stamp
	}
	return t.UTC().Format(time.RFC3339)
}

// ByteOrder is an ORDER BY list of columns compared byte by byte, as Go
// compares strings, in either dialect: SQLite's default (BINARY), and
// PostgreSQL's "C" collation whatever the database's own, which the
// stores' placement indexes are built with.
func (d *DB) ByteOrder(columns ...string) string {
	if d.dialect != Postgres {
		return strings.Join(columns, ", ")
	}
	collated := make([]string, len(columns))
	for i, c := range columns {
		collated[i] = c + ` COLLATE "C"`
	}
	return strings.Join(collated, ", ")
}

// Stream runs query and yields scan's record of each row as the loop asks
// for it, so that a reader of a whole table (the audit) holds one record at
// a time. It holds one connection until the loop ends; the rows are one
// consistent snapshot. An error, wrapped with what, ends the stream.
func Stream[T any](ctx context.Context, d *DB, what, query string, scan func(*sql.Rows) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rows, err := d.QueryContext(ctx, query)
		if err != nil {
			yield(zero, fmt.Errorf("%s: %w", what, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				yield(zero, fmt.Errorf("%s: %w", what, err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(zero, fmt.Errorf("%s: %w", what, err))
		}
	}
}
