//go:build !linux

package proc

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

func rss(int) (int64, error) { return 0, errNoRSS }
