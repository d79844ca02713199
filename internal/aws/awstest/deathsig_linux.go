package awstest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the child when the test process dies without
// stopping it, so no dynalite outlives a crashed test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
