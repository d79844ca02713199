package rules

import (
	"time"
	_ "time/tzdata" // silences name time zones; Lambda images need not ship tzdata

	"github.com/opsloop/opsloop/internal/pattern"
)

// Silence is a maintenance window: events matching Pattern while it is active
// are recorded but open no incident.
type Silence struct {
	Name    string
	Comment string
	Pattern *pattern.Pattern
	// Start and End bound a one-off silence; zero for recurring ones.
	Start, End time.Time
	// Schedule makes the silence recur; nil for one-off silences.
	Schedule *Schedule
	File     string
	Line     int
}

// Schedule is a weekly recurring interval in a time zone. An interval whose
// To is not after From runs past midnight into the next day.
type Schedule struct {
	Days     []time.Weekday // days the interval starts on; empty means every day
	From, To time.Duration  // offsets from midnight
	Location *time.Location
}

// Active reports whether the silence applies at t (an event's time).
func (s *Silence) Active(t time.Time) bool {
	if s.Schedule == nil {
		return !t.Before(s.Start) && t.Before(s.End)
	}
	return s.Schedule.contains(t)
}

func (sc *Schedule) contains(t time.Time) bool {
	local := t.In(sc.Location)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, sc.Location)
	// The interval may have started today or, past midnight, yesterday.
	for _, start := range []time.Time{midnight, midnight.AddDate(0, 0, -1)} {
		if !sc.onDay(start.Weekday()) {
			continue
		}
		from := start.Add(sc.From)
		length := sc.To - sc.From
		if length <= 0 {
			length += 24 * time.Hour
		}
		if !local.Before(from) && local.Before(from.Add(length)) {
			return true
		}
	}
	return false
}

func (sc *Schedule) onDay(d time.Weekday) bool {
	if len(sc.Days) == 0 {
		return true
	}
	for _, x := range sc.Days {
		if x == d {
			return true
		}
	}
	return false
}
