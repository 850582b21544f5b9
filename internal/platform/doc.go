// Package platform holds, in its subpackages, the building blocks that
// know nothing of orders: the stores' one code path over SQLite and
// PostgreSQL (storedb, sqlitedb), the tests' PostgreSQL (pgtest), the
// business-or-transient error split (apperr), payload encryption (codec)
// and the connection settings (connect). None of them imports anything
// else of ordersaga, so each can be read, tested and reused on its own;
// TestPlatformImportsNoSaga keeps it so.
package platform
