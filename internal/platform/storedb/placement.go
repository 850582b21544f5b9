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

// PlacementMigration is the migration, in each dialect, that gives every
// record of table the placement that wrote it (empty for the records before
// it, which only requests without a placement may use) and the workflow ID
// of its key, indexed as table_placement in byte order (see ByteOrder) for
// the audit's streams by placement. The backfill computes the workflow ID
// in SQL as KeyWorkflowID cuts it, so it is written once, here, beside
// KeyWorkflowID's rule. A store lists it in its Schema as it lists its own
// migrations; its text must never change, as a migration's must not.
func PlacementMigration(table string) (sqlite, postgres string) {
	return strings.ReplaceAll(placementSQLite, "{table}", table), strings.ReplaceAll(placementPostgres, "{table}", table)
}

const placementSQLite = `
ALTER TABLE {table} ADD COLUMN placement TEXT NOT NULL DEFAULT '';
ALTER TABLE {table} ADD COLUMN workflow_id TEXT NOT NULL DEFAULT '';
-- workflow_id is the key without its last '/' and what follows, as
-- storedb.KeyWorkflowID cuts it: rtrim drops the characters after the
-- last '/' (any but '/'), then the '/' itself goes.
UPDATE {table} SET workflow_id = CASE WHEN instr(key, '/') > 0
	THEN substr(rtrim(key, replace(key, '/', '')), 1, length(rtrim(key, replace(key, '/', ''))) - 1)
	ELSE key END;
CREATE INDEX {table}_placement ON {table} (placement, workflow_id, key);`

const placementPostgres = `
ALTER TABLE {table}
	ADD COLUMN placement   TEXT NOT NULL DEFAULT '',
	ADD COLUMN workflow_id TEXT NOT NULL DEFAULT '';
-- workflow_id is the key without its last '/' and what follows, as
-- storedb.KeyWorkflowID cuts it.
UPDATE {table} SET workflow_id = regexp_replace(key, '/[^/]*$', '');
CREATE INDEX {table}_placement ON {table} (placement COLLATE "C", workflow_id COLLATE "C", key COLLATE "C");`

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
	return stream(ctx, d, what, query, scan)
}

// StreamByPlacement streams the records of table, a table that
// PlacementMigration ran on, as Stream does, with columns read by scan, in
// the order the audit merges every store's stream in: by placement, then by
// the workflow ID of the key, then by key, comparing bytes as Go compares
// strings (ByteOrder), so that the table's placement index serves it. One
// order for every store is what lets the audit hold only the current record
// of each.
func StreamByPlacement[T any](ctx context.Context, d *DB, what, table, columns string, scan func(*sql.Rows) (T, error)) iter.Seq2[T, error] {
	query := `SELECT ` + columns + ` FROM ` + table + ` ORDER BY ` + d.ByteOrder("placement", "workflow_id", "key")
	return Stream(ctx, d, what, query, scan)
}

// Collect runs query with args and returns scan's record of each row, for
// a reader that wants the whole result at once: a short list, or the rows
// of one record. q is a DB or a Tx, so that a transaction reads what it
// holds. On any error, wrapped with what, it returns no records.
func Collect[T any](ctx context.Context, q Querier, what, query string, scan func(*sql.Rows) (T, error), args ...any) ([]T, error) {
	var out []T
	for v, err := range stream(ctx, q, what, query, scan, args...) {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// stream is Stream and Collect: the rows of query, one record at a time,
// with every error wrapped with what and ending the rows.
func stream[T any](ctx context.Context, q Querier, what, query string, scan func(*sql.Rows) (T, error), args ...any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rows, err := q.QueryContext(ctx, query, args...)
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
