package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// figuresEnv names a directory the reliability and storm tests write their
// figures to, one JSON file each, for scripts/bench.sh and
// docs/performance.md.
const figuresEnv = "OPSLOOP_E2E_FIGURES"

// writeFigures writes v as name.json into the directory OPSLOOP_E2E_FIGURES
// names, if any.
func writeFigures(t *testing.T, name string, v any) {
	t.Helper()
	dir := os.Getenv(figuresEnv)
	if dir == "" {
		return
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Errorf("figures %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("figures %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(out, '\n'), 0o644); err != nil {
		t.Errorf("figures %s: %v", name, err)
	}
}

// coldStarts are the cold starts of every instance of a pool, in ms.
type coldStarts struct {
	Function    string    `json:"function"`
	BinaryBytes int64     `json:"binaryBytes"`
	ColdStartMs []float64 `json:"coldStartMs"`
	EmulatorMs  []float64 `json:"emulatorMs"`
}

func (p *pool) coldStarts() coldStarts {
	c := coldStarts{Function: p.name}
	for _, f := range p.all {
		if f.coldStart == 0 {
			continue
		}
		c.BinaryBytes = f.size
		c.ColdStartMs = append(c.ColdStartMs, ms(f.coldStart))
		c.EmulatorMs = append(c.EmulatorMs, ms(f.listening))
	}
	slices.Sort(c.ColdStartMs)
	slices.Sort(c.EmulatorMs)
	return c
}

func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }
