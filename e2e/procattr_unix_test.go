//go:build unix

package e2e

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the emulator in a process group of its own, so that
// killGroup ends the bootstrap it started too.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
