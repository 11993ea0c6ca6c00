// Package snapshot keeps the last scan's inventory of each registry on
// disk, so the console can open on it at once while a fresh scan runs. A
// snapshot is never a basis for deleting: the console confirms deletions
// only against a fresh scan.
package snapshot

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// format is bumped when the inventory's shape changes; an old snapshot is
// then ignored.
const format = 2

type file struct {
	Format    int
	Inventory *model.Inventory
}

// Path is where the snapshot of registry lives under dir (the state
// directory): one file per registry.
func Path(dir, registry string) string {
	sum := sha256.Sum256([]byte(registry))
	return filepath.Join(dir, "inventory-"+hex.EncodeToString(sum[:8])+".gob.gz")
}

// Save writes inv to path through a temporary file renamed into place, so
// a reader never sees half a snapshot.
func Save(path string, inv *model.Inventory) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".inventory-*")
	if err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	if err := gob.NewEncoder(zw).Encode(file{Format: format, Inventory: inv}); err != nil {
		tmp.Close()
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	if err := errors.Join(zw.Close(), tmp.Chmod(0o600), tmp.Close()); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	return nil
}

// Load reads the snapshot at path; (nil, nil) when there is none or it is
// of another format.
func Load(path string) (*model.Inventory, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	var s file
	if err := gob.NewDecoder(zr).Decode(&s); err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	if s.Format != format || s.Inventory == nil {
		return nil, nil
	}
	return s.Inventory, nil
}
