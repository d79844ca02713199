package incidents

import "errors"

// PermanentError is an error that handling the same signal again cannot
// fix: the caller records and counts it instead of retrying.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string { return e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as one that retrying cannot fix. Adapters use it for
// refusals such as invalid parameters; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	var pe *PermanentError
	if errors.As(err, &pe) {
		return err
	}
	return &PermanentError{Err: err}
}

// Retryable reports whether err is worth retrying: any error not marked
// permanent, such as throttling, timeouts or a lost race.
func Retryable(err error) bool {
	var pe *PermanentError
	return err != nil && !errors.As(err, &pe)
}
