package incidents

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Waitlist keeps the fingerprints of open incidents whose OpsItem OpsCenter
// refused for its quotas, so that a schedule tries them again (Retry)
// instead of waiting for their failures to repeat.
type Waitlist interface {
	Wait(ctx context.Context, fingerprint string) error
	Done(ctx context.Context, fingerprint string) error
	Waiting(ctx context.Context) ([]string, error)
}

// WithWaitlist keeps the incidents OpsCenter refused in w, for Retry.
func WithWaitlist(w Waitlist) Option { return func(m *Manager) { m.waitlist = w } }

func (m *Manager) wait(ctx context.Context, rec *Record) error {
	if m.waitlist == nil {
		return nil
	}
	if err := m.waitlist.Wait(ctx, rec.Fingerprint); err != nil {
		return fmt.Errorf("waitlist %s: %w", rec.Fingerprint, err)
	}
	return nil
}

// unwait takes a fingerprint whose OpsItem now exists off the waitlist. It
// is best effort: Retry drops fingerprints that need nothing.
func (m *Manager) unwait(ctx context.Context, rec *Record) {
	if m.waitlist == nil {
		return
	}
	if err := m.waitlist.Done(ctx, rec.Fingerprint); err != nil {
		m.log.WarnContext(ctx, "left on the waitlist", "fingerprint", rec.Fingerprint, "error", err)
	}
}

// RetryReport is what one Retry did.
type RetryReport struct {
	Waiting int `json:"waiting"`
	Opened  int `json:"opened"`
	// Refused is set when OpsCenter refused again: the quota still holds,
	// so the rest waits for the next schedule.
	Refused bool `json:"refused"`
	Dropped int  `json:"dropped"` // no longer needing an OpsItem
}

// Retry tries again to create the OpsItems OpsCenter refused for its
// quotas, for the incidents still open; it stops at the first refusal.
// The incidents function runs it on a schedule.
func (m *Manager) Retry(ctx context.Context) (RetryReport, error) {
	var rep RetryReport
	if m.waitlist == nil {
		return rep, nil
	}
	fps, err := m.waitlist.Waiting(ctx)
	if err != nil {
		return rep, fmt.Errorf("retry refused OpsItems: %w", err)
	}
	rep.Waiting = len(fps)
	for _, fp := range fps {
		out, err := m.retry(ctx, fp)
		switch {
		case errors.Is(err, ErrLimitExceeded):
			rep.Refused = true
			return rep, nil
		case err != nil:
			return rep, fmt.Errorf("retry OpsItem of %s: %w", fp, err)
		case out.Created:
			rep.Opened++
		case out.Action == NoIncident:
			rep.Dropped++
		}
	}
	return rep, nil
}

func (m *Manager) retry(ctx context.Context, fp string) (Outcome, error) {
	rec, err := m.get(ctx, fp)
	if err != nil {
		return Outcome{Fingerprint: fp}, err
	}
	if rec == nil || rec.Owed != CallCreate {
		return Outcome{Action: NoIncident, Fingerprint: fp}, m.waitlist.Done(ctx, fp)
	}
	if m.claimed(rec) {
		return m.outcome(Opened, rec), nil // a worker is creating it now
	}
	rec.LimitedAt, rec.Claimed = time.Time{}, m.now()
	if err := m.put(ctx, rec); err != nil {
		return m.outcome(Opened, rec), err
	}
	return m.create(ctx, rec)
}
