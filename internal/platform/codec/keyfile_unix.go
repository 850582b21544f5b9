//go:build unix

package codec

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a key file that users other than its owner and its
// group can read or write, as ssh refuses such a private key: anyone who
// reads it can decrypt every order. The group may read it, as a Kubernetes
// secret mounted for the pod's fsGroup (mode 0440) is read.
func checkPrivate(path string, info fs.FileInfo) error {
	if perm := info.Mode().Perm(); perm&0o007 != 0 {
		return fmt.Errorf("codec key file %s is open to other users (mode %04o): run chmod 600 %s (for a Kubernetes secret, set defaultMode: 0440)", path, perm, path)
	}
	return nil
}

// keepOwner gives f the owner and group of like, the file it replaces, so
// that an edit made as root does not lock out the service that reads it.
func keepOwner(f *os.File, like fs.FileInfo) error {
	want, ok := like.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if got, ok := info.Sys().(*syscall.Stat_t); ok && got.Uid == want.Uid && got.Gid == want.Gid {
		return nil
	}
	if err := f.Chown(int(want.Uid), int(want.Gid)); err != nil {
		return fmt.Errorf("keep the file's owner %d:%d (edit it as its owner): %w", want.Uid, want.Gid, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
