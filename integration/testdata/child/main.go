// Command child is the real process the harness's self-test runs through
// package proc: it logs on both streams, reads its environment, answers
// SIGHUP, exits on SIGTERM/SIGINT with a chosen code (or ignores SIGTERM),
// and can hold memory so its RSS shows.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	exit := flag.Int("exit", -1, "exit at once with this code (after a last line without a newline)")
	termCode := flag.Int("term-code", 0, "exit code after SIGTERM or SIGINT")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	lines := flag.Int("lines", 0, "print this many numbered lines on stdout at start")
	holdMB := flag.Int("hold-mb", 0, "allocate and touch this many MiB, and keep them")
	flag.Parse()

	var held []byte
	if *holdMB > 0 {
		held = make([]byte, *holdMB<<20)
		for i := range held {
			held[i] = byte(i)
		}
	}
	for i := 1; i <= *lines; i++ {
		fmt.Printf("line %d\n", i)
	}
	if *exit >= 0 {
		fmt.Print("exiting without a newline")
		os.Exit(*exit)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintf(os.Stderr, "child ready pid=%d greeting=%q held=%dMiB\n", os.Getpid(), os.Getenv("CHILD_GREETING"), len(held)>>20)
	for sig := range sigs {
		switch {
		case sig == syscall.SIGHUP:
			fmt.Println("reloaded")
		case sig == syscall.SIGTERM && *ignoreTerm:
			fmt.Println("ignoring SIGTERM")
		default:
			fmt.Printf("stopping on %v\n", sig)
			runtime.KeepAlive(held)
			os.Exit(*termCode)
		}
	}
}
