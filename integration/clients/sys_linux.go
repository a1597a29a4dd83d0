package clients

import "syscall"

// sysProcAttr makes the kernel kill a host client when the test process
// dies (a -timeout panic, a kill), so none outlives the run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
