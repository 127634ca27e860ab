package main

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandTree is the CLI surface: every command path (hidden ones and cobra's
// help and completion included) and each command's own flags with shorthand,
// type, default and whether hidden. Taken from the binary before cmd/shiplog
// was split into one file per command; a command or flag lost, renamed or
// given another default fails TestCommandTree.
const commandTree = `
"shiplog" hidden=false
  --config - string="" hidden=false
  --cpuprofile - string="" hidden=true
  --log-file - string="" hidden=false
  --memprofile - string="" hidden=true
  --quiet -q bool="false" hidden=false
  --verbose -v count="0" hidden=false
"shiplog apply" hidden=false
  --exit-when-caught-up - bool="false" hidden=false
  --from-kafka - bool="false" hidden=false
"shiplog check" hidden=false
"shiplog completion" hidden=false
"shiplog completion bash" hidden=false
  --no-descriptions - bool="false" hidden=false
"shiplog completion fish" hidden=false
  --no-descriptions - bool="false" hidden=false
"shiplog completion powershell" hidden=false
  --no-descriptions - bool="false" hidden=false
"shiplog completion zsh" hidden=false
  --no-descriptions - bool="false" hidden=false
"shiplog crash" hidden=true
"shiplog cutover" hidden=false
  --max-lag - duration="1s" hidden=false
  --on-ready - string="" hidden=false
  --set-source-read-only - bool="false" hidden=false
  --timeout - duration="1m0s" hidden=false
  --verify - bool="true" hidden=false
  --verify-scope - string="window" hidden=false
"shiplog deltalog" hidden=false
"shiplog deltalog uninstall" hidden=false
"shiplog help" hidden=false
"shiplog migrate" hidden=false
"shiplog migrate data" hidden=false
  --auto - bool="false" hidden=false
  --reset - bool="false" hidden=false
"shiplog migrate delta" hidden=false
  --exit-when-caught-up - bool="false" hidden=false
  --ignore-emptied-tables - bool="false" hidden=false
  --skip-ddl - bool="false" hidden=false
"shiplog migrate settings" hidden=false
  --auto - bool="false" hidden=false
  --reset - bool="false" hidden=false
"shiplog replay" hidden=false
  --apply-to - string="" hidden=false
  --format - string="jsonl" hidden=false
  --from-beginning - bool="false" hidden=false
  --from-offsets - string="" hidden=false
  --from-time - string="" hidden=false
  --key - stringSlice="[]" hidden=false
  --op - stringSlice="[]" hidden=false
  --since - string="" hidden=false
  --table - stringSlice="[]" hidden=false
  --until - string="" hidden=false
"shiplog run" hidden=false
  --auto - bool="false" hidden=false
"shiplog runs" hidden=false
  --format - string="table" hidden=false
  --limit - int="20" hidden=false
"shiplog status" hidden=false
"shiplog verify" hidden=false
  --chunk-rows - int="1000" hidden=false
  --format - string="text" hidden=false
  --only-pks - bool="false" hidden=false
  --recheck - duration="2s" hidden=false
  --tables - stringSlice="[]" hidden=false
`

// TestCommandTree walks the command tree newRoot builds and compares it,
// line by line, with commandTree.
func TestCommandTree(t *testing.T) {
	root := newRoot(&app{stdout: io.Discard, stderr: io.Discard})
	// cobra adds these two at Execute; add them now so they are compared too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var got []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		got = append(got, fmt.Sprintf("%q hidden=%v", c.CommandPath(), c.Hidden))
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			got = append(got, fmt.Sprintf("  --%s -%s %s=%q hidden=%v", f.Name, f.Shorthand, f.Value.Type(), f.DefValue, f.Hidden))
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	want := strings.Split(strings.TrimSpace(commandTree), "\n")
	inWant, inGot := qualified(want), qualified(got)
	for l := range inGot {
		if !inWant[l] {
			t.Errorf("unexpected: %s", l)
		}
	}
	for l := range inWant {
		if !inGot[l] {
			t.Errorf("missing:    %s", l)
		}
	}
	if !t.Failed() && strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("same commands and flags in another order; got:\n%s", strings.Join(got, "\n"))
	}
}

// qualified is the set of tree lines with each flag line prefixed by its
// command's line, so that a flag is told apart from its namesakes.
func qualified(lines []string) map[string]bool {
	out := map[string]bool{}
	cmd := ""
	for _, l := range lines {
		if !strings.HasPrefix(l, " ") {
			cmd = l
			out[l] = true
			continue
		}
		out[cmd+l] = true
	}
	return out
}
