package awstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ErrNoDynalite reports that dynalite is not installed in the repository.
var ErrNoDynalite = errors.New("dynalite is not installed: run scripts/setup.sh (or npm ci) at the repository root")

// SkipDynaliteEnv names the variable that, set to 1, makes tests that need
// dynalite skip instead of fail when it is not installed.
const SkipDynaliteEnv = "OPSLOOP_SKIP_DYNALITE"

// Dynalite is a running dynalite: a local DynamoDB keeping its data in
// memory, so a restart starts empty.
type Dynalite struct {
	bin  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *capped
}

// StartDynalite starts dynalite from the repository's node_modules on a
// free loopback port and waits until it answers.
func StartDynalite(ctx context.Context) (*Dynalite, error) {
	bin, err := dynaliteBin()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a port picked free can be taken before dynalite binds it
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("start dynalite: %w", err)
		}
		d := &Dynalite{bin: bin, port: port}
		if lastErr = d.start(ctx); lastErr == nil {
			return d, nil
		}
	}
	return nil, lastErr
}

// DynaliteForTest starts a dynalite that is stopped when t ends. When
// dynalite is not installed, t fails saying how to install it (or skips,
// when OPSLOOP_SKIP_DYNALITE=1).
func DynaliteForTest(t testing.TB) *Dynalite {
	t.Helper()
	d, err := StartDynalite(context.Background())
	RequireDynalite(t, err)
	t.Cleanup(func() { _ = d.Stop() })
	return d
}

// RequireDynalite ends t when err, from StartDynalite, is not nil: with a
// skip when dynalite is not installed and OPSLOOP_SKIP_DYNALITE=1, with a
// failure otherwise.
func RequireDynalite(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrNoDynalite) && os.Getenv(SkipDynaliteEnv) == "1" {
		t.Skipf("%v (skipped: %s=1)", err, SkipDynaliteEnv)
	}
	t.Fatalf("%v (set %s=1 to skip the tests that need it)", err, SkipDynaliteEnv)
}

// URL is dynalite's base URL, for BaseEndpoint.
func (d *Dynalite) URL() string { return "http://127.0.0.1:" + strconv.Itoa(d.port) }

// Client returns a DynamoDB client of the SDK pointed at dynalite.
func (d *Dynalite) Client(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: Region, BaseEndpoint: aws.String(d.URL()), Credentials: Credentials()}, optFns...)
}

// Logs returns the tail of dynalite's output.
func (d *Dynalite) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.logs == nil {
		return ""
	}
	return d.logs.String()
}

// Stop kills dynalite and waits for it to exit.
func (d *Dynalite) Stop() error {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop dynalite: %w", err)
	}
	<-done
	return nil
}

// Restart stops dynalite and starts it again on the same port, empty.
func (d *Dynalite) Restart(ctx context.Context) error {
	if err := d.Stop(); err != nil {
		return err
	}
	return d.start(ctx)
}

func (d *Dynalite) start(ctx context.Context) error {
	cmd := exec.Command(d.bin, "--host", "127.0.0.1", "--port", strconv.Itoa(d.port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	logs := &capped{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = logs, logs
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dynalite: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	d.mu.Lock()
	d.cmd, d.done, d.logs = cmd, done, logs
	d.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if d.ready(ctx) {
			return nil
		}
		select {
		case <-done:
			d.mu.Lock()
			d.cmd = nil
			d.mu.Unlock()
			return fmt.Errorf("start dynalite on port %d: exited: %s", d.port, logs.String())
		case <-ctx.Done():
			_ = d.Stop()
			return fmt.Errorf("start dynalite on port %d: %w: %s", d.port, ctx.Err(), logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ready reports whether dynalite answers an unsigned request; it rejects
// it, which proves it is serving.
func (d *Dynalite) ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL(), strings.NewReader("{}"))
	if err != nil {
		return false
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// dynaliteBin finds node_modules/.bin/dynalite in the repository root: the
// nearest directory above the working directory that holds go.mod.
func dynaliteBin() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find dynalite: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find dynalite: no go.mod above the working directory: %w", ErrNoDynalite)
		}
		dir = parent
	}
	bin := filepath.Join(dir, "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("find dynalite at %s: %w", filepath.Join("node_modules", ".bin", "dynalite"), ErrNoDynalite)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("find node for dynalite: %w", ErrNoDynalite)
	}
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// capped keeps the last max bytes written to it.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if over := c.buf.Len() - c.max; over > 0 {
		c.buf.Next(over)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
