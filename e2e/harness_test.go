package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// skipEnv names the variable that, set to 1, skips the end-to-end test.
const skipEnv = "OPSLOOP_SKIP_E2E"

// reportEnv names a file the test writes its measurements to, as JSON.
const reportEnv = "OPSLOOP_E2E_REPORT"

const setupHint = "run scripts/setup.sh at the repository root (or set " + skipEnv + "=1 to skip the end-to-end test)"

// findRIE finds aws-lambda-rie where `go install` puts it (GOBIN, else
// GOPATH/bin), then on PATH.
func findRIE(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOBIN", "GOPATH").Output()
	if err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var dirs []string
		if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(lines[0]))
		}
		if len(lines) > 1 {
			for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
		for _, d := range dirs {
			bin := filepath.Join(d, "aws-lambda-rie")
			if fi, err := os.Stat(bin); err == nil && !fi.IsDir() {
				return bin, nil
			}
		}
	}
	if bin, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return bin, nil
	}
	return "", errors.New("aws-lambda-rie (the Lambda Runtime Interface Emulator) is not installed")
}

// buildFunctions builds each function's bootstrap for the host's
// architecture, as the deployment builds it for Lambda, and copies it to
// dir/<name>/bootstrap, out of the way of other builds. It runs
// scripts/build.sh, which builds every function into dist/, when the
// repository has it.
func buildFunctions(ctx context.Context, root, dir string, names []string) (map[string]string, error) {
	paths := map[string]string{}
	for _, n := range names {
		paths[n] = filepath.Join(dir, n, "bootstrap")
	}
	script := filepath.Join(root, "scripts", "build.sh")
	if _, err := os.Stat(script); err == nil {
		cmd := exec.CommandContext(ctx, script, runtime.GOARCH)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("scripts/build.sh %s: %w\n%s", runtime.GOARCH, err, out)
		}
		for _, n := range names {
			if err := copyFile(filepath.Join(root, "dist", n, "bootstrap"), paths[n]); err != nil {
				return nil, fmt.Errorf("scripts/build.sh %s: %w", runtime.GOARCH, err)
			}
		}
		return paths, nil
	}
	// Without the script, the same flags: static, stripped, with the
	// RPC-free Lambda runtime the provided.al2023 runtime takes.
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w",
				"-o", paths[n], "./functions/"+n)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build functions/%s: %w\n%s", n, err, out)
			}
		})
	}
	wg.Wait()
	return paths, errors.Join(errs...)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}

// function is one Lambda function running under the Runtime Interface
// Emulator.
type function struct {
	name      string
	bootstrap string
	rie       string
	env       []string
	size      int64
	// launches counts the emulator's starts: a port taken by another
	// process between choosing it and binding it means starting again.
	launches int
	cmd      *exec.Cmd
	exited   chan struct{}
	url      string
	out      *output
	started  time.Time
	// coldStart is the time from starting the emulator to the first
	// response: the emulator's start, the bootstrap's init and the first
	// invocation, as a cold start is on Lambda.
	coldStart time.Duration
	// listening is the time from starting the emulator until it accepted
	// a connection: the emulator's share of coldStart.
	listening time.Duration
	warm      []time.Duration
}

// startFunction runs bootstrap under rie with env (and nothing of the test's
// own environment), on free loopback ports.
func startFunction(t *testing.T, rie, name, bootstrap string, env []string) *function {
	t.Helper()
	fi, err := os.Stat(bootstrap)
	if err != nil {
		t.Fatalf("function %s: %v", name, err)
	}
	f := &function{name: name, bootstrap: bootstrap, rie: rie, env: env, size: fi.Size()}
	if err := f.launch(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killGroup(f.cmd)
		<-f.exited
		if t.Failed() {
			t.Logf("output of %s (tail):\n%s", name, f.out.tail(4096))
		}
	})
	return f
}

// launch starts the emulator on two loopback ports free a moment ago.
func (f *function) launch() error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	api, err := freeAddr()
	if err != nil {
		return err
	}
	f.launches++
	f.out, f.exited = &output{}, make(chan struct{})
	f.url = "http://" + addr + "/2015-03-31/functions/function/invocations"
	f.cmd = exec.Command(f.rie, "--log-level", "error", "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", api, f.bootstrap)
	f.cmd.Dir = filepath.Dir(f.bootstrap)
	f.cmd.Env = f.env
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	setProcAttr(f.cmd)
	f.started = time.Now()
	if err := f.cmd.Start(); err != nil {
		return fmt.Errorf("start %s under %s: %w", f.name, f.rie, err)
	}
	cmd, exited := f.cmd, f.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return nil
}

// invokeError is a function error as the emulator returns it.
type invokeError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *invokeError) Error() string { return e.Type + ": " + e.Message }

// invoke calls the function with payload and returns its response; a
// function error comes back as *invokeError.
func (f *function) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	cold := f.coldStart == 0
	if cold {
		if err := f.waitListening(ctx); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil && cold && f.lostPort() {
		return f.invoke(ctx, payload) // launched again on other ports
	}
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.name, err)
	}
	if cold {
		f.coldStart = time.Since(f.started)
	} else {
		f.warm = append(f.warm, time.Since(start))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke %s: HTTP %d: %s", f.name, resp.StatusCode, body)
	}
	var fe invokeError
	if json.Unmarshal(body, &fe) == nil && fe.Type != "" {
		return body, &fe
	}
	return body, nil
}

// lostPort reports whether the emulator exited because another process
// took one of its ports after it was chosen, and if so launches it again
// on other ports (a few times at most).
func (f *function) lostPort() bool {
	select {
	case <-f.exited:
	case <-time.After(time.Second):
		return false
	}
	if !strings.Contains(f.out.String(), "address already in use") || f.launches >= 5 {
		return false
	}
	return f.launch() == nil
}

// waitListening waits until the emulator accepts connections.
func (f *function) waitListening(ctx context.Context) error {
	host := strings.TrimPrefix(f.url, "http://")
	host = host[:strings.Index(host, "/")]
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, 100*time.Millisecond)
		if err == nil {
			c.Close()
			f.listening = time.Since(f.started)
			return nil
		}
		select {
		case <-f.exited:
			if f.lostPort() {
				host = strings.TrimPrefix(f.url, "http://")
				host = host[:strings.Index(host, "/")]
				continue
			}
			return fmt.Errorf("%s: the emulator exited: %s", f.name, f.out.tail(2048))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: the emulator does not listen on %s after 15s", f.name, host)
		}
	}
}

// metrics sums the EMF metrics the function wrote, by metric name, with
// the dimension values appended as name{dim=value}.
func (f *function) metrics() map[string]float64 {
	f.out.settle()
	sums := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(f.out.String()))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"_aws"`)) {
			continue
		}
		var doc map[string]any
		if json.Unmarshal(line, &doc) != nil {
			continue
		}
		meta, _ := doc["_aws"].(map[string]any)
		cms, _ := meta["CloudWatchMetrics"].([]any)
		for _, cm := range cms {
			cm, _ := cm.(map[string]any)
			var dims []string
			sets, _ := cm["Dimensions"].([]any)
			for _, set := range sets {
				names, _ := set.([]any)
				for _, d := range names {
					dims = append(dims, fmt.Sprintf("%v=%v", d, doc[fmt.Sprint(d)]))
				}
			}
			ms, _ := cm["Metrics"].([]any)
			for _, m := range ms {
				m, _ := m.(map[string]any)
				name := fmt.Sprint(m["Name"])
				v, _ := doc[name].(float64)
				key := name
				if len(dims) > 0 {
					key += "{" + strings.Join(dims, ",") + "}"
				}
				sums[key] += v
			}
		}
	}
	return sums
}

// logs returns the function's JSON log records with message msg.
func (f *function) logs(msg string) []map[string]any {
	f.out.settle()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(f.out.String()))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var doc map[string]any
		if json.Unmarshal(sc.Bytes(), &doc) == nil && doc["msg"] == msg {
			recs = append(recs, doc)
		}
	}
	return recs
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// output collects a process's output.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// settle waits until the output has stopped growing for a moment (at most
// two seconds): a function's log lines reach the pipe before its response,
// but are copied into the buffer asynchronously.
func (o *output) settle() {
	last := -1
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		o.mu.Lock()
		n := o.buf.Len()
		o.mu.Unlock()
		if n == last {
			return
		}
		last = n
	}
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) tail(n int) string {
	s := o.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
