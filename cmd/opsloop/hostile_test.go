package main

import (
	"strings"
	"testing"
)

// hostileAlarm is an alarm whose name (free text anyone who can create an
// alarm chooses) holds escape sequences that set the terminal's title and
// erase lines, a newline that forges an output line, and a C1 control.
const hostileAlarm = "testdata/hostile/alarm-ansi-name.json"

// TestOutputIsInert: no command prints an event's control characters raw.
func TestOutputIsInert(t *testing.T) {
	for _, args := range [][]string{
		{"rules", "test", hostileAlarm},
		{"rules", "test", "--json", hostileAlarm},
		{"replay", hostileAlarm},
		{"replay", "--json", hostileAlarm},
		{"problems", "list", hostileAlarm},
	} {
		code, out, errOut := runCLI(args...)
		if code != 0 {
			t.Errorf("%v: exit %d, stderr %s", args, code, errOut)
		}
		for _, bad := range []string{"\x1b", "\x07", "\u009b"} {
			if strings.Contains(out, bad) || strings.Contains(errOut, bad) {
				t.Errorf("%v prints %q raw:\n%s", args, bad, out)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "FORGED") {
				t.Errorf("%v: an event's newline forged the line %q", args, line)
			}
		}
	}
}
