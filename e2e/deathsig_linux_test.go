package e2e

import "syscall"

// setDeathSignal kills the emulator when the test process dies without
// stopping it; the bootstrap exits once its emulator is gone.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
