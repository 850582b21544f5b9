// Package platform holds, in its subpackages, the building blocks that
// know nothing of orders: the stores' one code path over SQLite and
// PostgreSQL (storedb, sqlitedb), a throwaway PostgreSQL server (pgserver)
// and the tests' helpers on it (pgtest), child processes started and
// watched (proc), the business-or-transient error split (apperr), payload
// encryption (codec), the connection settings (connect) and what both
// binaries' command lines share (cli). None of them imports anything
// else of ordersaga, so each can be read, tested and reused on its own;
// TestPlatformImportsNoSaga keeps it so.
package platform
