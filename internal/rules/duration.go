package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration accepts Go durations ("90s", "5m", "1h30m") and whole days or
// weeks ("7d", "2w"), which operators use for windows.
func ParseDuration(s string) (time.Duration, error) {
	if n, unit, ok := cutUnit(s); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("bad duration %q: want a positive whole number of days or weeks", s)
		}
		day := 24 * time.Hour
		if unit == 'w' {
			day *= 7
		}
		return time.Duration(v) * day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want e.g. \"90s\", \"5m\", \"1h\", \"7d\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("bad duration %q: must be positive", s)
	}
	return d, nil
}

// FormatDuration writes d as a rules file does, the way ParseDuration
// reads it back: whole days as "7d", else Go's form without trailing zero
// units ("1h30m", "40m").
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func cutUnit(s string) (string, byte, bool) {
	if len(s) < 2 {
		return "", 0, false
	}
	u := s[len(s)-1]
	if (u == 'd' || u == 'w') && !strings.ContainsAny(s[:len(s)-1], "hmsuµn") {
		return s[:len(s)-1], u, true
	}
	return "", 0, false
}
