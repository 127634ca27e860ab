// Package arch holds the test that ARCHITECTURE.md's package table is true:
// every package of the module is listed there, and imports only what its row
// allows.
package arch

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/shiplog/shiplog/"

// rules reads the package table of ARCHITECTURE.md: package -> the shiplog
// packages it may import (nil: anything).
func rules(t *testing.T, doc string) map[string][]string {
	t.Helper()
	row := regexp.MustCompile("^\\| `([a-z0-9/]+)`(?:, `([a-z0-9/]+)`)? \\| .* \\| (.*) \\|$")
	tick := regexp.MustCompile("`([a-z0-9/]+)`")
	out := map[string][]string{}
	for _, line := range strings.Split(doc, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var allowed []string
		switch may := m[3]; {
		case may == "anything":
			allowed = nil
		case may == "nothing" || strings.HasPrefix(may, "nothing "):
			allowed = []string{}
		case strings.HasPrefix(may, "everything above except"):
			allowed = []string{"*above*"}
		default:
			allowed = []string{}
			for _, tm := range tick.FindAllStringSubmatch(may, -1) {
				allowed = append(allowed, tm[1])
			}
		}
		out[m[1]] = allowed
		if m[2] != "" {
			out[m[2]] = allowed
		}
	}
	return out
}

func TestArchitectureTableIsTrue(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	allowed := rules(t, string(doc))
	if len(allowed) < 10 {
		t.Fatalf("ARCHITECTURE.md: found %d package rows; the table's format changed?", len(allowed))
	}
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	listed, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	// The packages in table order: "everything above" is the rows before.
	var order []string
	for _, line := range strings.Split(string(doc), "\n") {
		if m := regexp.MustCompile("^\\| `([a-z0-9/]+)`").FindStringSubmatch(line); m != nil {
			order = append(order, m[1])
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(listed)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		may, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in ARCHITECTURE.md's package table: add a row (its one job, what it may import)", pkg)
			continue
		}
		if may == nil {
			continue
		}
		if len(may) == 1 && may[0] == "*above*" {
			i := slices.Index(order, pkg)
			may = append([]string(nil), order[:i]...)
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if !slices.Contains(may, dep) {
				t.Errorf("%s imports %s, which ARCHITECTURE.md does not allow it (it may import: %s): move the code or change the rule and say why",
					pkg, dep, strings.Join(may, ", "))
			}
		}
	}
}
