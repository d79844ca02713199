package lambdaenv

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/opsloop/opsloop/internal/metrics"
)

// Locked serialises writes to w, so that log records and metric lines
// written from several goroutines stay whole lines.
func Locked(w io.Writer) io.Writer { return &lockedWriter{w: w} }

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// NewLogger returns a JSON logger writing to w at level, one of Lambda's
// log levels ("DEBUG", "INFO", "WARN", "ERROR", any case); other values mean
// INFO. Lambda sets AWS_LAMBDA_LOG_LEVEL when the function's logging
// configuration names a level.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToUpper(level) {
	case "TRACE", "DEBUG":
		l = slog.LevelDebug
	case "WARN":
		l = slog.LevelWarn
	case "ERROR", "FATAL":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// RequestID is the Lambda request id of the invocation, for log records.
func RequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// Metrics writes metrics as CloudWatch Embedded Metric Format lines.
// It is safe for concurrent use.
type Metrics struct {
	w   io.Writer
	log *slog.Logger
	now func() time.Time
}

// NewMetrics returns Metrics writing to w, which must take concurrent
// writes: share one Locked writer between the logger and the metrics.
// Failures to write are logged to log, never returned, since a lost metric
// must not fail an event.
func NewMetrics(w io.Writer, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Metrics{w: w, log: log, now: time.Now}
}

// Put writes one line holding samples, with dimensions dims (nil for none).
func (m *Metrics) Put(dims map[string]string, samples ...metrics.Sample) {
	if m == nil || len(samples) == 0 {
		return
	}
	if err := metrics.Write(m.w, m.now(), dims, samples...); err != nil {
		m.log.Error("metrics not written", "error", err)
	}
}

// Count writes one count, with dimensions dims (nil for none).
func (m *Metrics) Count(name string, dims map[string]string, n int) {
	m.Put(dims, metrics.Sample{Name: name, Unit: metrics.Count, Value: float64(n)})
}

// maxExcerpt bounds the input quoted in a log record about it.
const maxExcerpt = 512

// Excerpt quotes the start of b for a log record: valid UTF-8, at most
// maxExcerpt bytes.
func Excerpt(b []byte) string {
	if len(b) > maxExcerpt {
		cut := maxExcerpt
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		return strings.ToValidUTF8(string(b[:cut]), "\uFFFD") + "…"
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
