package seccomp

import "strings"

// MaxScriptLine bounds the "#!" line ScriptLine reads (Linux reads at most
// 256 bytes of it: BINPRM_BUF_SIZE).
const MaxScriptLine = 256

// ScriptInterpreter returns the interpreter a script's "#!" line names, as
// the kernel reads it (binfmt_script: blanks after "#!" skipped, the name
// ends at the next blank; what follows is one argument), "" if the line
// names none. The kernel runs that file with the script, without an exec
// of its own that a witness would see: its hash (read with the script's,
// Event.ScriptSHA256) says what ran the script.
func ScriptInterpreter(line string) string {
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	rest = strings.TrimLeft(rest, " \t")
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
