// Package testproc runs a program of this module as a separate process for
// a test: built once per test binary, started (optionally under a lowered
// open-files limit, with prlimit), its listening address read from its
// output, stopped when the test ends. Tests of what an attack does to a
// whole server (file descriptors, memory) measure the real program this
// way, without the test's own clients in the same process.
package testproc

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireTool skips the test when name is not on the PATH, saying how to
// install it; under CI (FIBERWS_CI=1) it fails instead, so a missing tool
// cannot pass unnoticed.
func RequireTool(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("FIBERWS_CI") == "1" {
		t.Fatalf("%s is not installed (%s); FIBERWS_CI=1 requires it", name, install)
	}
	t.Skipf("%s is not installed: %s (set FIBERWS_CI=1 to make this a failure)", name, install)
	return ""
}

var (
	buildMu sync.Mutex
	built   = map[string]string{} // package dir -> binary
)

// Build compiles the main package in dir (relative to the test's working
// directory) once per test binary and returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	RequireTool(t, "go", "https://go.dev/dl")
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[abs]; ok {
		return bin
	}
	// One directory per package, reused by every run: builds are cached
	// by go, and nothing piles up in the temp directory.
	out := filepath.Join(os.TempDir(), "fiberws-testproc", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(abs))), 36))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(out, filepath.Base(abs))
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = abs
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testproc: go build %s: %v\n%s", dir, err, msg)
	}
	built[abs] = bin
	return bin
}

// Proc is a running program.
type Proc struct {
	// Addr is the host:port it listens on.
	Addr string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

// Options shape how Start runs the program.
type Options struct {
	// NoFile, when positive, runs it under prlimit --nofile=NoFile:NoFile.
	NoFile int
}

var addrPattern = regexp.MustCompile(`(?:localhost|127\.0\.0\.1):(\d+)`)

// Start runs bin with args (which should make it listen on a free
// loopback port), waits (at most 10s) until its output names the address
// it listens on, and stops it when the test ends. Its output is printed
// if the test fails.
func Start(t testing.TB, bin string, opts Options, args ...string) *Proc {
	t.Helper()
	name, argv := bin, args
	if opts.NoFile > 0 {
		prlimit := RequireTool(t, "prlimit", "apt-get install util-linux")
		n := strconv.Itoa(opts.NoFile)
		name, argv = prlimit, append([]string{"--nofile=" + n + ":" + n, bin}, args...)
	}
	p := &Proc{cmd: exec.Command(name, argv...), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testproc: start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.Alive() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), p.out.tail(8<<10))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := addrPattern.FindStringSubmatch(p.out.String()); m != nil {
			p.Addr = "127.0.0.1:" + m[1]
			return p
		}
		if !p.Alive() {
			t.Fatalf("testproc: %s exited before listening (%v):\n%s", bin, p.err, p.out.tail(8<<10))
		}
		if time.Now().After(deadline) {
			t.Fatalf("testproc: %s named no address within 10s:\n%s", bin, p.out.tail(8<<10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Alive reports whether the program is still running.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop sends the program SIGTERM and waits, at most timeout, for it to
// exit: it returns the exit error (nil for status 0) and false if the
// program is still running after timeout (it is then killed when the
// test ends).
func (p *Proc) Stop(timeout time.Duration) (exitErr error, exited bool) {
	if p.Alive() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Output is everything the program printed so far.
func (p *Proc) Output() string { return p.out.String() }

// PeakRSS is the program's peak resident memory so far (VmHWM, Linux),
// in bytes; ok is false where /proc does not tell.
func (p *Proc) PeakRSS() (bytes int64, ok bool) {
	// prlimit execs the program, so the pid is the program's either way.
	pid := p.cmd.Process.Pid
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
