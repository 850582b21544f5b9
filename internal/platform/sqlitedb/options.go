package sqlitedb

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Options are how Open opens a database. The zero value commits with
// SynchronousFull and leaves the pool unbounded.
type Options struct {
	// Synchronous is when a commit waits for the disk.
	Synchronous Synchronous
	// MaxConns bounds the pool's connections (LimitPool); 0 leaves it
	// unbounded.
	MaxConns int
}

// Synchronous is how far a commit goes before it returns: SQLite's
// synchronous setting, in write-ahead-log mode.
type Synchronous int

const (
	// SynchronousFull syncs the write-ahead log to the disk at every
	// commit, so that a commit that returned survives a power loss or a
	// kernel crash: an activity that reported a charge has recorded it.
	// The default.
	SynchronousFull Synchronous = iota
	// SynchronousNormal syncs only at checkpoints. Commits are cheaper,
	// but the last ones before a power loss or a kernel crash roll back
	// (a crash of the process alone loses none): an order can complete
	// in Temporal with no charge in the store. Only for measuring what
	// SynchronousFull costs.
	SynchronousNormal
)

// ParseSynchronous reads "full" or "normal", in any case.
func ParseSynchronous(s string) (Synchronous, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "full":
		return SynchronousFull, nil
	case "normal":
		return SynchronousNormal, nil
	}
	return 0, fmt.Errorf("%q is not a synchronous setting: use full or normal", s)
}

// String is the setting as ParseSynchronous reads it.
func (s Synchronous) String() string {
	if s == SynchronousNormal {
		return "normal"
	}
	return "full"
}

// Set parses s into the setting, for a command-line flag.
func (s *Synchronous) Set(v string) error {
	parsed, err := ParseSynchronous(v)
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}

// Type names the flag's values in a command's help.
func (s *Synchronous) Type() string { return "full|normal" }

func (s Synchronous) pragma() string { return strings.ToUpper(s.String()) }

// ConnMaxIdleTime is how long a pooled connection stays open unused: a
// service whose load fell gives its connections back to the server.
const ConnMaxIdleTime = time.Minute

// LimitPool bounds db to n connections at once; n of 0 or less leaves it
// unbounded. Up to n of them stay open between transactions, so that a busy
// service does not reconnect for every transaction, until they have been
// idle for ConnMaxIdleTime. A caller beyond the bound waits for a
// connection, up to its context's deadline.
func LimitPool(db *sql.DB, n int) {
	if n <= 0 {
		return
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(ConnMaxIdleTime)
}

// Modes of what Open creates. SQLite gives a database's -wal and -shm files
// the mode of the database file.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// createPrivate creates the database file at path with FileMode, if it is
// not there, before SQLite opens it (SQLite would create it 0644 less the
// umask), and takes the group's and others' access away from an existing
// database file and its -wal and -shm files.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := makePrivate(p); err != nil {
			return err
		}
	}
	return nil
}

// makePrivate clears the group and other permission bits of the file at
// path, if it exists.
func makePrivate(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the mode of %s: %w", path, err)
	}
	perm := info.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, perm&^0o077); err != nil {
		return fmt.Errorf("%s is open to other users (mode %04o) and cannot be made private (%w): as its owner, chmod 600 it", path, perm, err)
	}
	return nil
}
