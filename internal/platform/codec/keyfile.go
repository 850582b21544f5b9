package codec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A key file is read by processes that may start at any moment, so it is
// never written in place: an edit writes a temporary file next to it and
// renames it over the file, and a process that starts mid-edit reads the
// ring before or after the edit, never half of it.

// newFileHeader opens a key file that AddKeyToFile creates, for the person
// who opens it later.
var newFileHeader = []string{
	"# ordersaga payload encryption keys, oldest first: id=base64key, one a line.",
	"# Every key decrypts; the last key not marked " + DecryptOnly + " encrypts.",
	"# Rotate with 'worker codec-key add', roll every process, then",
	"# 'worker codec-key promote', and roll them again.",
}

// readKeyFile reads a key file that is not open to other users (see
// checkPrivate). The check is made on the file that was opened, so a
// symlink's target is what is checked, as ssh does for its keys.
func readKeyFile(path string) (string, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("read the codec key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("read the codec key file: %w", err)
	}
	if err := checkPrivate(path, info); err != nil {
		return "", nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", nil, fmt.Errorf("read the codec key file %s: %w", path, err)
	}
	return string(b), info, nil
}

// keyFile is a key file read for an edit: its lines as written, comments
// included, and its keys with the line each is on.
type keyFile struct {
	name    string      // the path as given, for messages
	path    string      // the file to write: name with its symlinks resolved
	info    fs.FileInfo // nil for a file not created yet
	lines   []string
	entries []entry
}

// openKeyFile reads the key file at name for an edit. A missing file is an
// empty one, which saving creates, when create is set.
func openKeyFile(name string, create bool) (*keyFile, error) {
	path, err := filepath.EvalSymlinks(name)
	if errors.Is(err, fs.ErrNotExist) && create {
		if _, lerr := os.Lstat(name); lerr == nil {
			return nil, fmt.Errorf("codec key file %s is a symlink to a missing file: point it at the key file, or give the key file's own path", name)
		}
		return &keyFile{name: name, path: name, lines: slices.Clone(newFileHeader)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the codec key file: %w", err)
	}
	text, info, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	kf := &keyFile{name: name, path: path, info: info}
	if text != "" {
		kf.lines = strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	}
	if kf.entries, err = parseEntries(kf.lines); err != nil {
		return nil, fmt.Errorf("codec key file %s: %w", name, err)
	}
	return kf, nil
}

// mark marks the i-th key decrypt-only, or unmarks it, and rewrites its
// line. It reports whether the key changed.
func (kf *keyFile) mark(i int, decryptOnly bool) bool {
	if kf.entries[i].key.decryptOnly == decryptOnly {
		return false
	}
	kf.entries[i].key.decryptOnly = decryptOnly
	n := kf.entries[i].line
	var line []string
	for _, e := range kf.entries {
		if e.line == n {
			line = append(line, e.key.Line())
		}
	}
	kf.lines[n] = strings.Join(line, ", ")
	return true
}

// save checks that the edited ring reads, then replaces the file with it,
// and returns its keys.
func (kf *keyFile) save() ([]Key, error) {
	text := strings.Join(kf.lines, "\n") + "\n"
	keys, err := ParseKeys("codec key file "+kf.name, text)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(kf.path, []byte(text), kf.info); err != nil {
		return nil, fmt.Errorf("write the codec key file %s: %w", kf.name, err)
	}
	return keys, nil
}

// AddKeyToFile appends k to the key file at path marked decrypt-only, so
// that no process encrypts with it before every process can decrypt with
// it, and returns the ring as written. A file without keys gets k as its
// encrypting key; a missing file is created, with mode 0600.
func AddKeyToFile(path string, k Key) ([]Key, error) {
	kf, err := openKeyFile(path, true)
	if err != nil {
		return nil, err
	}
	k.decryptOnly = len(kf.entries) > 0
	kf.lines = append(kf.lines, k.Line())
	return kf.save()
}

// PromoteKeyInFile makes key id of the key file at path the one that
// encrypts: it removes the key's decrypt-only mark and marks the keys
// written after it that were not, so that it is the last key not marked.
// An empty id names the file's last key. It returns the ring and whether
// the file changed: promoting the key that encrypts already changes
// nothing.
func PromoteKeyInFile(path, id string) (keys []Key, changed bool, err error) {
	if id != "" {
		if err := validateID(id); err != nil {
			return nil, false, err
		}
	}
	kf, err := openKeyFile(path, false)
	if err != nil {
		return nil, false, err
	}
	i, err := kf.find(id)
	if err != nil {
		return nil, false, err
	}
	changed = kf.mark(i, false)
	for j := i + 1; j < len(kf.entries); j++ {
		changed = kf.mark(j, true) || changed
	}
	if !changed {
		keys, err := ParseKeys("codec key file "+kf.name, strings.Join(kf.lines, "\n"))
		return keys, false, err
	}
	keys, err = kf.save()
	return keys, err == nil, err
}

// find returns the index of key id, or of the last key when id is empty.
func (kf *keyFile) find(id string) (int, error) {
	if len(kf.entries) == 0 {
		return 0, fmt.Errorf("codec key file %s holds no key: add one with 'worker codec-key add'", kf.name)
	}
	if id == "" {
		return len(kf.entries) - 1, nil
	}
	i := slices.IndexFunc(kf.entries, func(e entry) bool { return e.key.id == id })
	if i < 0 {
		// Not quoted: an ID that is not in the ring may be a pasted key.
		return 0, fmt.Errorf("codec key file %s has no key with that ID: 'worker codec-key list' shows its keys", kf.name)
	}
	return i, nil
}

// writeFileAtomic replaces the file at path with data: it writes a
// temporary file in the same directory (mode 0600, or like's mode and owner
// when the file exists), syncs it, renames it over path and syncs the
// directory, so that the file holds either its old or its new content,
// even after a crash.
func writeFileAtomic(path string, data []byte, like fs.FileInfo) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if like != nil {
		if err := tmp.Chmod(like.Mode().Perm()); err != nil {
			return err
		}
		if err := keepOwner(tmp, like); err != nil {
			return err
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
