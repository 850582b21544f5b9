package ordersaga_test

// These tests keep README.md and docs/*.md honest: every relative link
// reaches a file, and a heading when it names one; every `starter <sub>`,
// `worker <sub>` and `make <target>` they show exists; and the README stays
// short enough to read in ten minutes. Each finding is one line naming the
// file, the line and what is wrong.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// readmeMaxLines is what a newcomer reads in ten minutes; the rest belongs
// in docs/.
const readmeMaxLines = 250

// docFiles are the Markdown files the tests check: README.md and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return append([]string{"README.md"}, files...)
}

// mdDoc is a Markdown file split into what the checks look at.
type mdDoc struct {
	path  string
	lines []string
	// prose is the file with fenced code blocks and inline code spans
	// blanked out (newlines kept, so offsets still give line numbers).
	prose string
	// code is every inline code span and every line of a fenced block.
	code []codeText
}

// codeText is a piece of code and the line it starts on.
type codeText struct {
	line int
	text string
}

var fenceRE = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")

func readDoc(t *testing.T, path string) *mdDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	d := &mdDoc{path: path, lines: strings.Split(string(data), "\n")}

	// Fenced code blocks: each line is code, and not prose.
	prose := make([]string, len(d.lines))
	fence := ""
	for i, line := range d.lines {
		m := fenceRE.FindStringSubmatch(line)
		switch {
		case fence == "" && m != nil:
			fence = m[1]
		case fence != "" && m != nil && m[1][0] == fence[0] && len(m[1]) >= len(fence) &&
			strings.TrimSpace(line) == m[1]:
			fence = ""
		case fence != "":
			d.code = append(d.code, codeText{line: i + 1, text: shellCommentRE.ReplaceAllString(line, "")})
		default:
			prose[i] = line
		}
	}

	// Inline code spans, paragraph by paragraph (a span cannot cross a
	// blank line): a run of n backticks up to the next run of exactly n.
	text := []byte(strings.Join(prose, "\n"))
	for start := 0; start < len(text); {
		end := start
		for end < len(text) {
			nl := strings.Index(string(text[end:]), "\n")
			if nl < 0 {
				end = len(text)
				break
			}
			end += nl + 1
			next := end
			for next < len(text) && (text[next] == ' ' || text[next] == '\t') {
				next++
			}
			if next >= len(text) || text[next] == '\n' {
				break
			}
		}
		d.code = append(d.code, codeSpans(text, start, end)...)
		start = end
	}
	d.prose = string(text)
	sort.SliceStable(d.code, func(i, j int) bool { return d.code[i].line < d.code[j].line })
	return d
}

// codeSpans finds the code spans in text[start:end], appends nothing for
// unmatched backticks, and blanks each span's content in text.
func codeSpans(text []byte, start, end int) []codeText {
	var spans []codeText
	run := func(i int) int {
		n := 0
		for i+n < end && text[i+n] == '`' {
			n++
		}
		return n
	}
	for i := start; i < end; {
		if text[i] != '`' {
			i++
			continue
		}
		n := run(i)
		closing := -1
		for j := i + n; j < end; {
			if text[j] != '`' {
				j++
				continue
			}
			m := run(j)
			if m == n {
				closing = j
				break
			}
			j += m
		}
		if closing < 0 {
			i += n
			continue
		}
		content := strings.ReplaceAll(string(text[i+n:closing]), "\n", " ")
		spans = append(spans, codeText{line: lineOf(text, i), text: content})
		for k := i; k < closing+n; k++ {
			if text[k] != '\n' {
				text[k] = ' '
			}
		}
		i = closing + n
	}
	return spans
}

func lineOf(text []byte, offset int) int {
	return 1 + strings.Count(string(text[:offset]), "\n")
}

var (
	atxHeadingRE    = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextRE        = regexp.MustCompile(`^ {0,3}(?:=+|-+)[ \t]*$`)
	htmlAnchorRE    = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	inlineLinkRE    = regexp.MustCompile(`!?\[([^\]]*)\]\(([^()\s]*)(?:\s+"[^"]*")?\)`)
	referenceLinkRE = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	schemeRE        = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// anchors are the fragment names GitHub gives the headings of d, with -1,
// -2, … for repeated ones, and any explicit <a name|id> anchors.
func (d *mdDoc) anchors() map[string]bool {
	proseLines := strings.Split(d.prose, "\n")
	seen := map[string]int{}
	out := map[string]bool{}
	add := func(heading string) {
		slug := githubSlug(heading)
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	for i, line := range proseLines {
		if atxHeadingRE.MatchString(line) {
			// The heading's text as written, code spans included (the
			// prose copy has them blanked).
			add(atxHeadingRE.FindStringSubmatch(d.lines[i])[1])
			continue
		}
		if i > 0 && setextRE.MatchString(line) && strings.TrimSpace(proseLines[i-1]) != "" &&
			!atxHeadingRE.MatchString(proseLines[i-1]) && !strings.Contains(proseLines[i-1], "|") {
			add(d.lines[i-1])
		}
	}
	for _, m := range htmlAnchorRE.FindAllStringSubmatch(d.prose, -1) {
		out[m[1]] = true
	}
	return out
}

// githubSlug is GitHub's anchor for a heading: the rendered text (links and
// images by their text, emphasis and code marks dropped) lowercased, every
// character that is not a letter, mark, digit, '_', '-' or space dropped,
// and spaces turned into '-'.
func githubSlug(heading string) string {
	heading = inlineLinkRE.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocsLinks: every relative link in README.md and docs/*.md points at a
// file that exists and, when it has an #anchor into a Markdown file, at a
// heading of that file.
func TestDocsLinks(t *testing.T) {
	docs := map[string]*mdDoc{}
	doc := func(path string) *mdDoc {
		if docs[path] == nil {
			docs[path] = readDoc(t, path)
		}
		return docs[path]
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if anchors[path] == nil {
			anchors[path] = doc(path).anchors()
		}
		return anchors[path]
	}

	checked := 0
	for _, path := range docFiles(t) {
		d := doc(path)
		type link struct {
			offset int
			target string
		}
		var links []link
		for _, m := range inlineLinkRE.FindAllStringSubmatchIndex(d.prose, -1) {
			links = append(links, link{m[4], d.prose[m[4]:m[5]]})
		}
		for _, m := range referenceLinkRE.FindAllStringSubmatchIndex(d.prose, -1) {
			links = append(links, link{m[2], d.prose[m[2]:m[3]]})
		}
		for _, l := range links {
			where := fmt.Sprintf("%s:%d", path, lineOf([]byte(d.prose), l.offset))
			target := l.target
			if target == "" {
				t.Errorf("%s: empty link target", where)
				continue
			}
			if schemeRE.MatchString(target) || strings.HasPrefix(target, "//") {
				continue // an absolute URL: not ours to check offline
			}
			checked++
			file, anchor, _ := strings.Cut(target, "#")
			if unescaped, err := urlUnescape(file); err == nil {
				file = unescaped
			}
			resolved := path
			if file != "" {
				if strings.HasPrefix(file, "/") {
					resolved = filepath.FromSlash(strings.TrimPrefix(file, "/"))
				} else {
					resolved = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
				}
				if _, err := os.Stat(resolved); err != nil {
					t.Errorf("%s: link %q: %s does not exist", where, target, filepath.ToSlash(resolved))
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(resolved, ".md") {
				continue
			}
			if !anchorsOf(resolved)[anchor] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", where, target, filepath.ToSlash(resolved), anchor)
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no relative links in README.md and docs/*.md: the link scanner is broken")
	}
	t.Logf("checked %d relative links", checked)
}

// urlUnescape undoes %XX escapes in a link's path (a space as %20).
func urlUnescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

var (
	// Where one shell command ends and the next begins.
	commandSepRE = regexp.MustCompile(`\|\||&&|\$\(|[|;(&]`)
	// What may come before a command's name: variable assignments, sudo,
	// env, exec, time.
	commandPrefixRE = regexp.MustCompile(`^(?:(?:[A-Za-z_][A-Za-z0-9_]*=\S*|sudo|env|exec|time)\s+)*`)
	// A command at the start of a shell command: its name (optionally
	// ./bin/ or bin/) and its words.
	commandRE = regexp.MustCompile(`^(?:\./)?(?:bin/)?(starter|worker|make)(\s.*)?$`)
	// bin/starter and bin/worker name the binaries wherever they stand.
	binPathRE = regexp.MustCompile(`(?:^|[^\w/.-])(?:\./)?bin/(starter|worker)(\s.*)?$`)
	// A subcommand's or a target's name.
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	// A shell comment in a code block: prose, not a command.
	shellCommentRE = regexp.MustCompile(`(?:^|\s)#.*$`)
)

// command is a command shown in a code span or block: starter, worker or
// make, and the subcommand or target it names.
type command struct {
	name, first string
}

// commandsIn finds the commands in one code span or code line. A bare
// `starter`, `worker` or `make` counts only where a shell would run it (at
// the start, after an operator, after variable assignments or sudo/env),
// so that `temporal worker deployment`, an error message quoted in a code
// span ("this worker requires encryption") or a compose service name is
// not read as ours; bin/starter and bin/worker count wherever they stand.
// The first word after the name is the subcommand, unless it is an option
// (then none is named); make's options and variables may come before its
// target. A placeholder (<sub>, ID) names nothing.
func commandsIn(text string) []command {
	var out []command
	start := 0
	seps := append(commandSepRE.FindAllStringIndex(text, -1), []int{len(text), len(text)})
	for _, sep := range seps {
		segment := strings.TrimSpace(text[start:sep[0]])
		start = sep[1]
		segment = segment[len(commandPrefixRE.FindString(segment)):]
		m := commandRE.FindStringSubmatch(segment)
		if m == nil {
			m = binPathRE.FindStringSubmatch(segment)
		}
		if m == nil {
			continue
		}
		for _, w := range strings.Fields(m[2]) {
			if strings.HasPrefix(w, "-") || strings.Contains(w, "=") {
				if m[1] == "make" {
					continue
				}
				break
			}
			w = strings.TrimRight(w, ".,:")
			if nameRE.MatchString(w) {
				out = append(out, command{m[1], w})
			}
			break
		}
	}
	return out
}

// TestDocsCommands: every `starter <sub>`, `worker <sub>` (or bin/…) and
// `make <target>` shown in a code span or a code block of README.md and
// docs/*.md names a subcommand the binary has and a target of the Makefile.
func TestDocsCommands(t *testing.T) {
	subcommands := map[string]map[string]bool{
		"starter": cobraCommands(t, "starter"),
		"worker":  cobraCommands(t, "worker"),
	}
	targets := makeTargets(t, "Makefile")
	checked := 0

	for _, path := range docFiles(t) {
		d := readDoc(t, path)
		for _, c := range d.code {
			for _, cmd := range commandsIn(c.text) {
				checked++
				switch cmd.name {
				case "make":
					if !targets[cmd.first] {
						t.Errorf("%s:%d: `make %s`: the Makefile has no target %q", path, c.line, cmd.first, cmd.first)
					}
				default:
					if !subcommands[cmd.name][cmd.first] {
						t.Errorf("%s:%d: `%s %s`: %s has no subcommand %q (it has %s)",
							path, c.line, cmd.name, cmd.first, cmd.name, cmd.first, keys(subcommands[cmd.name]))
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no starter, worker or make commands in README.md and docs/*.md: the command scanner is broken")
	}
	t.Logf("checked %d commands", checked)
}

// cobraCommands reads the names (and aliases) of the cobra commands defined
// in dir and its subdirectories, test files and testdata aside, from the
// Use and Aliases fields of every cobra.Command literal. go/parser rather
// than a regular expression: it sees only real struct fields of a
// cobra.Command, never a "Use:" in a comment, an Example string or a test
// fixture, and does not care how the fields are aligned or quoted. The set
// is flat: a nested subcommand's name (`worker codec-key add`'s "add")
// counts as one of the binary's names, so a reference is checked for its
// first word only. cobra adds "help" and "completion" itself.
func cobraCommands(t *testing.T, dir string) map[string]bool {
	t.Helper()
	names := map[string]bool{"help": true, "completion": true}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path != dir && (e.Name() == "testdata" || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		cobraName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/spf13/cobra" {
				cobraName = "cobra"
				if imp.Name != nil {
					cobraName = imp.Name.Name
				}
			}
		}
		if cobraName == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Command" {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != cobraName {
				return true
			}
			for _, elt := range lit.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key, ok := kv.Key.(*ast.Ident)
				if !ok {
					continue
				}
				switch key.Name {
				case "Use":
					if s, ok := stringLit(kv.Value); ok {
						if fields := strings.Fields(s); len(fields) > 0 && fields[0] != filepath.Base(dir) {
							names[fields[0]] = true
						}
					}
				case "Aliases":
					if al, ok := kv.Value.(*ast.CompositeLit); ok {
						for _, a := range al.Elts {
							if s, ok := stringLit(a); ok {
								names[s] = true
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s's commands: %v", dir, err)
	}
	if len(names) <= 2 {
		t.Fatalf("found no cobra commands in %s/**/*.go: the command reader is broken", dir)
	}
	return names
}

func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// makeTargets reads the explicit targets of a Makefile: every name before
// a rule's ':' (not ':=' or '::='), variables and special targets aside.
func makeTargets(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rule := regexp.MustCompile(`^([^\s#:=][^:=]*?)\s*::?(?:[^=]|$)`)
	targets := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		m := rule.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, name := range strings.Fields(m[1]) {
			if strings.Contains(name, "$") || strings.Contains(name, "%") || strings.HasPrefix(name, ".") && strings.ToUpper(name) == name {
				continue
			}
			targets[name] = true
		}
	}
	if !targets["test"] {
		t.Fatalf("%s: found no target test: the Makefile reader is broken", path)
	}
	return targets
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// TestREADMELength: README.md stays what a newcomer reads in ten minutes.
func TestREADMELength(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(data), "\n")
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	if n > readmeMaxLines {
		t.Errorf("README.md:%d: %d lines, more than %d: move the detail to docs/ and link to it", readmeMaxLines+1, n, readmeMaxLines)
	}
}
