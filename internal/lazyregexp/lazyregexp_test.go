package lazyregexp

import (
	"sync"
	"testing"
)

func TestCompiledOnFirstUse(t *testing.T) {
	re := New(`^[a-z]{1,3}-([0-9]+)$`)
	var wg sync.WaitGroup
	for range 8 { // concurrent first uses compile once, without a race
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !re.MatchString("ab-12") || re.MatchString("abcd-1") {
				t.Error("wrong match")
			}
		}()
	}
	wg.Wait()
	if m := re.FindStringSubmatch("x-42"); len(m) != 2 || m[1] != "42" {
		t.Errorf("FindStringSubmatch = %q", m)
	}
	if re.String() != `^[a-z]{1,3}-([0-9]+)$` {
		t.Errorf("String = %q", re.String())
	}
}

func TestMalformedPanicsWhenUsed(t *testing.T) {
	re := New(`(`) // no panic here
	defer func() {
		if recover() == nil {
			t.Error("a malformed expression did not panic on use")
		}
	}()
	re.MatchString("x")
}
