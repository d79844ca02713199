package incidents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/opsloop/opsloop/internal/lazyregexp"
)

// Automations start SSM Automation executions, as automation.Client does.
type Automations interface {
	// Start runs document with params; token makes a repeated start of
	// the same run start nothing new. It returns the execution id.
	Start(ctx context.Context, document string, params map[string]string, token string) (string, error)
}

// WithAutomations starts the runbooks a rule marks autoRun when their
// incident's OpsItem is created. Without it none is started.
func WithAutomations(a Automations) Option { return func(m *Manager) { m.automations = a } }

// DataAutoRun is the OperationalData key that says what autoRun started,
// or why it did not.
const DataAutoRun = "opsloop:autoRun"

// safeParameter is what an event may put in a parameter of an automation
// that runs by itself: ids, names and ARNs, never text that a document
// could read as more (a list, a script, a path up).
var safeParameter = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.:/@+=,-]{0,511}$`)

// autoRun starts the autoRun runbooks of a new incident and notes on its
// OpsItem what started, or why not. A failure is reported there and
// logged, not retried: the OpsItem still offers the runbook.
func (m *Manager) autoRun(ctx context.Context, rec *Record) {
	if m.automations == nil {
		return
	}
	var notes []string
	for _, rb := range rec.first().Runbooks {
		if !rb.AutoRun {
			continue
		}
		if bad := unsafeParameters(rb.Parameters); bad != "" {
			notes = append(notes, fmt.Sprintf("%s not started: parameter %s is not an id, name or ARN", rb.Document, bad))
			m.log.WarnContext(ctx, "automation not started", "fingerprint", rec.Fingerprint, "document", rb.Document, "parameter", bad)
			continue
		}
		id, err := m.automations.Start(ctx, rb.Document, rb.Parameters, runToken(rec.OpsItemID, rb.Document))
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s not started: %v", rb.Document, err))
			m.log.WarnContext(ctx, "automation not started", "fingerprint", rec.Fingerprint, "document", rb.Document, "error", err)
			continue
		}
		notes = append(notes, fmt.Sprintf("%s started: execution %s", rb.Document, id))
		m.log.InfoContext(ctx, "automation started", "fingerprint", rec.Fingerprint, "opsitem_id", rec.OpsItemID, "document", rb.Document, "execution_id", id)
	}
	if len(notes) == 0 {
		return
	}
	u := Update{OperationalData: map[string]Data{DataAutoRun: {Value: truncateBytes(strings.Join(notes, "\n"), MaxDataValue, Ellipsis)}}}
	if err := m.ops.Update(ctx, rec.OpsItemID, u); err != nil {
		m.log.WarnContext(ctx, "autoRun not noted on the OpsItem", "opsitem_id", rec.OpsItemID, "error", err)
	}
}

// unsafeParameters names a parameter whose value autoRun must not pass.
func unsafeParameters(params map[string]string) string {
	for name, v := range params {
		if !safeParameter.MatchString(v) {
			return name
		}
	}
	return ""
}

// runToken is the idempotency token of an OpsItem's run of document, in
// the UUID form StartAutomationExecution takes.
func runToken(opsItemID, document string) string {
	sum := sha256.Sum256([]byte(opsItemID + "\x00" + document))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
