// Command debbuild builds edgeagent's Debian packages (`make deb` runs it):
//
//	debbuild [-root DIR] [-out DIR] [-arch amd64,arm64,armhf]
//
// It prints the version, each binary's build time and each package's
// path and size.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/packaging/tools/build"
)

func main() {
	root := flag.String("root", "../..", "the repository root")
	out := flag.String("out", "../../dist", "directory for the .deb files")
	arch := flag.String("arch", "", "comma-separated Debian architectures (default: amd64,arm64,armhf)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var arches []string
	if *arch != "" {
		arches = strings.Split(*arch, ",")
	}
	start := time.Now()
	res, err := build.Build(ctx, build.Options{Root: *root, Out: *out, Arches: arches, Log: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "debbuild:", err)
		os.Exit(1)
	}
	fmt.Printf("%s in %.1fs\n", res.Describe(), time.Since(start).Seconds())
}
