package pkgtest

import (
	"io/fs"
	"os"
	"path/filepath"
)

// dropBytecode removes every __pycache__ directory under stage, the
// working directory one phase leaves to the next. A .pyc there whose
// header copies its source's time and size (or an unchecked hash-based
// one) is loaded in place of the source by every later interpreter, so a
// package that plants one at install would run code in the import and
// test phases that no file of the report shows. Each phase starts with
// no bytecode of an earlier one: Python compiles the sources it imports
// (moat's hook keeps it from writing the result back, so none is carried
// on either). The install phase's planting is itself a finding
// (observe.Bytecode). Links are never followed (WalkDir and RemoveAll
// do not), and stage is moat's private copy.
func dropBytecode(stage string) error {
	var caches []string
	err := filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory: its siblings go on
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			caches = append(caches, p)
			return filepath.SkipDir
		}
		return nil
	})
	for _, p := range caches {
		if e := os.RemoveAll(p); e != nil && err == nil {
			err = e
		}
	}
	return err
}
