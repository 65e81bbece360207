// Command fiberws-attack runs one hostile-client attack of package
// internal/attack against a WebSocket server and prints a one-line
// summary of what the server did. It is for testing your own servers
// only; docs/RELIABILITY.md cites it as the reproduction command of each
// attack, e.g.
//
//	go run ./cmd/fiberws-attack -attack partial -addr 127.0.0.1:8080 -path /chat/messages -n 1000 -size 1048576
//
// The attacks (-attack):
//
//   - silent: -n TCP connections that send nothing; reports how many are
//     still open after -hold and when the server closed the first.
//   - slowloris: -n connections each sending an upgrade request for -path
//     one byte every -every; reports how many the server closed by -hold
//     and the longest one lived.
//   - partial: -n upgrades that each send all but the last byte of one
//     -size-byte binary frame and stall; reports upgrades, closes within
//     -hold and the close codes.
//   - continuation: one upgrade that opens a fragmented message and sends
//     empty continuation frames as fast as it can; reports frames sent and
//     when (and with which close code) the server closed it.
//   - stuck: -n upgrades to a room -path that never read, pinging every
//     -probe-every to notice their drop; reports drop times and how many
//     are still connected at -hold.
//   - pingflood: one upgrade that never reads and sends pings as fast as
//     it can; reports when the server dropped it.
//   - oneip: -n upgrades from -local-ip held silently, then one probe
//     upgrade from -probe-ip; reports 101s, other statuses and the probe.
//   - joinstorm: -n well-behaved clients connecting one after the other
//     to -path ("{i}" replaced by the index) and reading everything;
//     reports bytes received and the time to connect them all.
//
// The run stops after -hold (counted from the start), or at Ctrl+C; it
// exits 1 when the attack could not run and 2 on bad flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/fiberws/fiberws/internal/attack"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("fiberws-attack", flag.ContinueOnError)
	name := fs.String("attack", "", "attack to run: "+strings.Join(attack.Names(), ", "))
	addr := fs.String("addr", "127.0.0.1:8080", "server host:port (also the Host header)")
	path := fs.String("path", attack.DefaultPath, "request path, query included; {i} is replaced by a number unique to each connection")
	n := fs.Int("n", attack.DefaultN, "number of connections (continuation and pingflood use one)")
	size := fs.Int("size", attack.DefaultSize, "partial: frame size in bytes")
	every := fs.Duration("every", attack.DefaultEvery, "slowloris: interval between two bytes")
	probeEvery := fs.Duration("probe-every", attack.DefaultProbeEvery, "stuck: interval between two pings")
	publishEvery := fs.Duration("publish", 0, "stuck: also send a message into the room every interval from one reading client (0: none)")
	message := fs.String("message", "", "stuck: the message -publish sends (default: -size bytes)")
	hold := fs.Duration("hold", attack.DefaultHold, "how long the attack keeps going, from its start")
	probeIP := fs.String("probe-ip", "", "oneip: local IP of the probe upgrade (e.g. 127.0.0.2); empty skips it")
	localIP := fs.String("local-ip", "", "local IP to dial the attack connections from (e.g. 127.0.0.1)")
	ioTimeout := fs.Duration("io-timeout", attack.DefaultIOTimeout, "bound of every single dial, handshake and write")
	parallel := fs.Int("parallel", attack.DefaultParallel, "connections set up at a time")
	quiet := fs.Bool("quiet", false, "do not log progress to stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fiberws-attack -attack NAME [flags]\n\nFor testing your own servers only.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fiberws-attack: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *name == "" {
		fmt.Fprintln(os.Stderr, "fiberws-attack: -attack is required")
		fs.Usage()
		return 2
	}

	if !slices.Contains(attack.Names(), *name) {
		fmt.Fprintf(os.Stderr, "fiberws-attack: unknown attack %q (want one of %s)\n", *name, strings.Join(attack.Names(), ", "))
		return 2
	}

	cfg := attack.Config{
		Addr:       *addr,
		Path:       *path,
		N:          *n,
		LocalIP:    *localIP,
		ProbeIP:    *probeIP,
		Size:       *size,
		Every:      *every,
		ProbeEvery: *probeEvery,
		Publish:    *publishEvery,
		Message:    *message,
		Hold:       *hold,
		IOTimeout:  *ioTimeout,
		Parallel:   *parallel,
	}
	if !*quiet {
		logger := log.New(os.Stderr, "", log.Ltime|log.Lmicroseconds)
		cfg.Logf = logger.Printf
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The attack ends itself at -hold; the margin only bounds a run that
	// would not (closing, a last handshake or write in flight).
	h, io := *hold, *ioTimeout
	if h <= 0 {
		h = attack.DefaultHold
	}
	if io <= 0 {
		io = attack.DefaultIOTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, h+io+5*time.Second)
	defer cancel()

	r, err := attack.Run(ctx, *name, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fiberws-attack:", err)
		if r.Attempted > 0 {
			fmt.Println(r)
		}
		return 1
	}
	fmt.Println(r)
	return 0
}
