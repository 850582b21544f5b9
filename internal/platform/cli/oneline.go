package cli

import "strings"

// OneLine is err's message on one line, as both commands print it when
// they fail ("worker: ...", "starter: ..."), so that a script reading
// stderr gets one line per failure. Wrapped errors and cobra's suggestions
// break lines: each line is trimmed, blank ones are dropped and the rest
// are joined with a space. Spacing within a line is kept, as in a quoted
// flag value.
func OneLine(err error) string {
	var parts []string
	for _, line := range strings.FieldsFunc(err.Error(), isLineBreak) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}

// isLineBreak reports whether r ends a line on a terminal or in a log.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}
