package review_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop"

	"github.com/opsloop/opsloop/internal/local/replay"
	"github.com/opsloop/opsloop/internal/repotest"
	"github.com/opsloop/opsloop/internal/review"
	"github.com/opsloop/opsloop/internal/rules"
)

// The browser tests open the report in headless Chromium, the browser a
// responder is likely to use: it renders, its charts draw with a size, and
// the browser reports nothing on its console.

// chromium finds the browser. Without one the tests fail, so a CI machine
// missing it cannot pass silently; OPSLOOP_SKIP_BROWSER=1 skips them.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("OPSLOOP_SKIP_BROWSER") == "1" {
		t.Skip("OPSLOOP_SKIP_BROWSER=1: browser tests skipped")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run scripts/setup.sh (Debian: apt-get install -y chromium), or set OPSLOOP_SKIP_BROWSER=1 to skip the browser tests")
	return ""
}

// headless runs the browser on a file and returns its stdout and the
// console messages it logged.
func headless(t *testing.T, bin, page string, args ...string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A browser that crashes (killed by a signal: on a loaded machine
	// Chromium sometimes does) is started again, at most twice; any other
	// failure fails the test.
	for attempt := 1; ; attempt++ {
		base := []string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
			"--disable-component-update", "--disable-quic", "--disable-sync", "--no-first-run", "--hide-scrollbars",
			"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
		}
		cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+page)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil {
			return stdout.String(), consoleMessages(stderr.String())
		}
		var exit *exec.ExitError
		if attempt < 3 && ctx.Err() == nil && errors.As(err, &exit) && !exit.Exited() {
			t.Logf("%s crashed (%v), starting it again", bin, err)
			continue
		}
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
}

// consoleMessages picks the page's console messages from the browser's
// log: Chromium logs each as "...:CONSOLE...] "message", source: ...".
// The report runs no script, so any message (a script error, an invalid
// SVG attribute) is a fault.
func consoleMessages(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			out = append(out, line)
		}
	}
	return out
}

// scenarioReport replays the scenario in which a security group change is
// followed by a recurring alarm, and writes its review.
func scenarioReport(t *testing.T) (string, *review.Review) {
	t.Helper()
	set, err := rules.LoadFS(opsloop.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join(repotest.Root(t), "events-samples", "scenarios", "sg-change-then-recurring-alarm")
	rep, err := replay.Run(context.Background(), set, []string{scenario}, nil)
	if err != nil {
		t.Fatalf("replay %s: %v", scenario, err)
	}
	r := review.Build(review.Input{
		From: rep.Learned.From, To: rep.Learned.To, Generated: rep.Learned.To, Rules: set,
		Incidents: rep.Learned.Incidents, Problems: rep.Problems, Activity: rep.Learned.Activity, Events: rep.Events,
	})
	path := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, r
}

// measure is added to a copy of the report, never to the report itself:
// it records what the browser laid out, for --dump-dom to show.
const measure = `<script>
(() => {
  const sized = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const charts = [...document.querySelectorAll('svg.chart')];
  const marks = [...document.querySelectorAll('svg.chart .bar, svg.chart .incident, svg.chart .cause')];
  document.body.setAttribute('data-check', JSON.stringify({
    charts: charts.length, sizedCharts: charts.filter(sized).length,
    marks: marks.length, sizedMarks: marks.filter(sized).length,
    resources: performance.getEntriesByType('resource').length,
    text: document.body.innerText.length,
  }));
})();
</script>`

type layout struct {
	Charts, SizedCharts, Marks, SizedMarks, Resources, Text int
}

var checkAttr = regexp.MustCompile(`data-check="([^"]*)"`)

func TestReportInBrowser(t *testing.T) {
	bin := chromium(t)
	page, r := scenarioReport(t)

	t.Run("charts draw", func(t *testing.T) {
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		probe := filepath.Join(t.TempDir(), "probe.html")
		if err := os.WriteFile(probe, bytes.Replace(src, []byte("</body>"), []byte(measure+"</body>"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, console := headless(t, bin, probe, "--window-size=1280,2000", "--dump-dom")
		m := checkAttr.FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("the browser's DOM has no measurement: %.500s", dom)
		}
		var got layout
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
			t.Fatalf("measurement %q: %v", m[1], err)
		}
		t.Logf("layout: %+v", got)
		if got.Charts != 6 || got.SizedCharts != got.Charts {
			t.Errorf("charts: %d, %d with a size; want 6, all", got.Charts, got.SizedCharts)
		}
		// Bars per severity, category and rule, per rule, per TTR bin,
		// and the problem's incidents and causes.
		if got.Marks < 20 || got.SizedMarks != got.Marks {
			t.Errorf("chart marks: %d, %d with a size; want at least 20, all", got.Marks, got.SizedMarks)
		}
		if got.Resources != 0 {
			t.Errorf("the page loaded %d resources, want none", got.Resources)
		}
		if got.Text < 1000 {
			t.Errorf("the page shows %d characters of text", got.Text)
		}
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
	})

	t.Run("renders", func(t *testing.T) {
		shot := filepath.Join(t.TempDir(), "report.png")
		_, console := headless(t, bin, page, "--window-size=1280,1600", "--screenshot="+shot)
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot is no PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1600 {
			t.Errorf("screenshot is %v, want 1280x1600", b)
		}
		// The severity chart's bars are drawn in their colours: medium
		// (the alarm) and high (the security group).
		for name, c := range map[string]color.RGBA{"medium": {0xf9, 0xab, 0x00, 0xff}, "high": {0xe8, 0x71, 0x0a, 0xff}} {
			if n := countColor(img, c); n < 200 {
				t.Errorf("screenshot has %d pixels of the %s bars' colour, want a drawn bar", n, name)
			}
		}
	})

	if r.Problems[0].SuspectedCauses[0].EventName != "AuthorizeSecurityGroupIngress" {
		t.Errorf("top cause = %+v, want the security group change", r.Problems[0].SuspectedCauses[0])
	}
}

func countColor(img image.Image, want color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(bl>>8) == want.B {
				n++
			}
		}
	}
	return n
}

// TestBrowserChecksCatchFaults shows the checks above can fail: a page
// with a script error and an invalid SVG attribute logs console messages.
func TestBrowserChecksCatchFaults(t *testing.T) {
	bin := chromium(t)
	bad := filepath.Join(t.TempDir(), "bad.html")
	src := `<!DOCTYPE html><html><body><svg class="chart" width="100" height="100"><rect width="-3" height="10"/></svg><script>missing();</script></body></html>`
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, console := headless(t, bin, bad, "--dump-dom")
	joined := strings.Join(console, "\n")
	for _, want := range []string{"negative value", "Uncaught ReferenceError"} {
		if !strings.Contains(joined, want) {
			t.Errorf("console of a faulty page lacks %q:\n%s", want, joined)
		}
	}
}
