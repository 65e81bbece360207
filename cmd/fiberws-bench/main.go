// Command fiberws-bench measures fiberws against a hand-written
// gofiber/contrib/websocket server, on loopback, in one invocation:
//
//   - echo ping-pong and pipelined: N connections × M messages × S bytes,
//     for a string route, a JSON route (the raw JSON server decodes and
//     encodes with go-json too) and an event route, the same JSON as an
//     event's data, acknowledged with its id (the raw event server decodes
//     the envelope with go-json);
//   - idle connections: server RSS per connection, with and without ping
//     keep-alive;
//   - broadcast of one message to C clients: fiberws hub vs a plain loop;
//   - scale: fan-out through Redis (hub/redisbroker) across two nodes vs
//     the in-memory hub on one node, for one broadcast to many clients and
//     a burst of messages to one room (needs redis-server, or -redis).
//
// Every server runs in a child process (this binary re-executed with
// -serve), pinned to CPU 0 while the client runs on CPU 1 (when taskset is
// available and there are two CPUs), so server CPU time (/proc/<pid>/stat),
// RSS and allocations (runtime.MemStats, read through a control endpoint
// of the child) are the server's alone. Runs of fiberws and raw alternate,
// and each figure is the median over the rounds.
//
//	go run ./cmd/fiberws-bench            # a few minutes
//	go run ./cmd/fiberws-bench -quick     # about 20 seconds
//
// Results are printed as a table and written as JSON lines (-out).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"
)

type options struct {
	conns, msgs, size, window, rounds int
	idle                              int
	idlePing                          time.Duration
	bcClients, bcRounds               int
	scaleClients, scaleMembers        int
	scaleBurst                        int
	redisURL                          string
	limit                             time.Duration
	only                              string
	out                               string
	profile                           string
	quick                             bool
	noPin                             bool
	wrap                              string
}

// serveWrap is -wrap split at spaces: the command every server child runs
// under (valgrind, say), nil for none.
var serveWrap []string

func main() {
	var (
		serveKind  = flag.String("serve", "", "internal: run a server child of this kind (raw, rawjson, rawevent, string, json, event, stringmetrics)")
		servePing  = flag.Duration("serve-ping", 0, "internal: keep-alive ping interval of the server child")
		serveProf  = flag.String("serve-prof", "", "internal: directory for the server child's profiles")
		serveRedis = flag.String("serve-redis", "", "internal: Redis URL for the server child's hub broker")
		o          options
	)
	flag.IntVar(&o.conns, "conns", 50, "echo: connections")
	flag.IntVar(&o.msgs, "msgs", 4000, "echo: messages per connection")
	flag.IntVar(&o.size, "size", 64, "echo: message size in bytes")
	flag.IntVar(&o.window, "window", 16, "pipelined echo: messages in flight per connection")
	flag.IntVar(&o.rounds, "rounds", 3, "A/B rounds per scenario (the median is reported)")
	flag.IntVar(&o.idle, "idle", 10000, "idle: connections")
	flag.DurationVar(&o.idlePing, "idle-ping", time.Second, "idle: keep-alive ping interval for the with-ping runs")
	flag.IntVar(&o.bcClients, "bc-clients", 5000, "broadcast: clients")
	flag.IntVar(&o.bcRounds, "bc-rounds", 5, "broadcast: messages per run (the median time is reported)")
	flag.IntVar(&o.scaleClients, "scale-clients", 5000, "scale: receivers of one broadcast, over two nodes")
	flag.IntVar(&o.scaleMembers, "scale-rate-members", 100, "scale: receivers of the burst, over two nodes")
	flag.IntVar(&o.scaleBurst, "scale-burst", 5000, "scale: messages of the burst")
	flag.StringVar(&o.redisURL, "redis", "", "scale: Redis URL to use (default: start redis-server on a free port)")
	flag.DurationVar(&o.limit, "limit", 60*time.Second, "upper bound on any single load run")
	flag.StringVar(&o.only, "only", "", "comma-separated scenarios to run: pingpong, pipelined, idle, broadcast, scale (default all)")
	flag.StringVar(&o.out, "out", "fiberws-bench.jsonl", "file for the JSON lines (\"-\": stdout, \"\": none)")
	flag.StringVar(&o.profile, "profile", "", "directory: write CPU and alloc profiles of the server children under load (slows them down)")
	flag.BoolVar(&o.quick, "quick", false, "small sizes: finishes in about 20 seconds")
	flag.BoolVar(&o.noPin, "nopin", false, "do not pin server and client to different CPUs")
	flag.StringVar(&o.wrap, "wrap", "", "run every server child under this command, split at spaces (e.g. \"valgrind --tool=callgrind --callgrind-out-file=/dev/null\"); the table's figures are then the wrapper's too")
	flag.Parse()
	serveWrap = strings.Fields(o.wrap)

	if *serveKind != "" {
		if err := serve(*serveKind, *servePing, *serveProf, *serveRedis); err != nil {
			fmt.Fprintln(os.Stderr, "fiberws-bench server:", err)
			os.Exit(1)
		}
		return
	}
	pinSelf(o.noPin)
	if o.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, p *int, v int) {
			if !set[name] {
				*p = v
			}
		}
		def("conns", &o.conns, 20)
		def("msgs", &o.msgs, 4000)
		def("rounds", &o.rounds, 1)
		def("idle", &o.idle, 2000)
		def("bc-clients", &o.bcClients, 1000)
		def("bc-rounds", &o.bcRounds, 3)
		def("scale-clients", &o.scaleClients, 1000)
		def("scale-burst", &o.scaleBurst, 1000)
		if !set["idle-ping"] {
			o.idlePing = 300 * time.Millisecond
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "fiberws-bench:", err)
		os.Exit(1)
	}
}

// pinSelf re-executes the client under "taskset -c 1" so that it and the
// server children (on CPU 0) do not share a core.
func pinSelf(noPin bool) {
	if noPin || os.Getenv("FIBERWS_BENCH_PINNED") != "" || runtime.NumCPU() < 2 {
		return
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	args := append([]string{"taskset", "-c", "1", exe}, os.Args[1:]...)
	env := append(os.Environ(), "FIBERWS_BENCH_PINNED=1")
	_ = syscall.Exec(taskset, args, env) // returns only on failure
}

func pinned() bool { return os.Getenv("FIBERWS_BENCH_PINNED") != "" }

// child is a running server process.
type child struct {
	kind  string
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
	pid   int
}

// startChild starts a server child of kind; extra are more of its flags.
func startChild(kind string, ping time.Duration, profDir string, extra ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{exe, "-serve", kind, "-serve-ping", ping.String()}
	if profDir != "" {
		args = append(args, "-serve-prof", profDir)
	}
	args = append(args, extra...)
	args = append(slices.Clone(serveWrap), args...)
	if pinned() {
		if taskset, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{taskset, "-c", "0"}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{kind: kind, cmd: cmd, stdin: stdin, pid: cmd.Process.Pid}
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "READY ")
		if !ok {
			c.stop()
			return nil, fmt.Errorf("server %s did not start: %q", kind, line)
		}
		c.addr = addr
	case <-time.After(childWait()):
		c.stop()
		return nil, fmt.Errorf("server %s did not start within %v", kind, childWait())
	}
	return c, nil
}

// stop closes the child's stdin (it exits on EOF) and waits, bounded,
// killing it if it does not go.
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(childWait() / 2):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// childWait bounds a child's start (and half of it its exit): longer under
// a -wrap command, which may be slow to start and to finish.
func childWait() time.Duration {
	if serveWrap != nil {
		return 2 * time.Minute
	}
	return 10 * time.Second
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (c *child) get(path string) ([]byte, error) {
	resp, err := httpClient.Get("http://" + c.addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, body)
	}
	return body, nil
}

func (c *child) stats(path string) (stats, error) {
	var s stats
	body, err := c.get(path)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(body, &s)
}

// cpu is the child's user and system CPU time so far.
func (c *child) cpu() (user, sys time.Duration, err error) { return procCPU(c.pid) }

// procCPU is process pid's user and system CPU time so far.
func procCPU(pid int) (user, sys time.Duration, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name, which is in parentheses.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// utime and stime are fields 14 and 15 of the line, 12 and 13 here.
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("parse %s", data)
	}
	const hz = 100 // USER_HZ, 100 on Linux
	return time.Duration(ut) * time.Second / hz, time.Duration(st) * time.Second / hz, nil
}

// rss is the child's resident set size in bytes.
func (c *child) rss() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", c.pid)
}

// result is one measured run, one JSON line.
type result struct {
	Scenario   string  `json:"scenario"`
	Server     string  `json:"server"`
	Round      int     `json:"round"`
	Conns      int     `json:"conns"`
	Size       int     `json:"size,omitempty"`
	Msgs       int64   `json:"msgs,omitempty"`
	Seconds    float64 `json:"seconds,omitempty"`
	MsgsPerSec float64 `json:"msgs_per_sec,omitempty"`
	P50us      float64 `json:"p50_us,omitempty"`
	P99us      float64 `json:"p99_us,omitempty"`
	P999us     float64 `json:"p999_us,omitempty"`
	// ConnMin, ConnMedian and ConnMax are the slowest, median and fastest
	// connection's messages per second; Spread is ConnMax/ConnMin (1:
	// every connection served alike).
	ConnMin    float64 `json:"conn_min_msgs_per_sec,omitempty"`
	ConnMedian float64 `json:"conn_median_msgs_per_sec,omitempty"`
	ConnMax    float64 `json:"conn_max_msgs_per_sec,omitempty"`
	Spread     float64 `json:"conn_spread,omitempty"`
	CPUus      float64 `json:"server_cpu_us_per_msg,omitempty"`
	UserUS     float64 `json:"server_user_us_per_msg,omitempty"`
	Allocs     float64 `json:"server_allocs_per_msg,omitempty"`
	Bytes      float64 `json:"server_bytes_per_msg,omitempty"`
	KBPerConn  float64 `json:"server_kb_per_conn,omitempty"`
	Goroutines int     `json:"server_goroutines,omitempty"`
	AllMs      float64 `json:"all_received_ms,omitempty"`
	PublishMs  float64 `json:"publish_ms,omitempty"`
	RedisCPUus float64 `json:"redis_cpu_us_per_msg,omitempty"`
	Err        string  `json:"error,omitempty"`
}

type suite struct {
	o       options
	results []result
	jsonl   io.Writer
}

func (s *suite) record(r result) {
	s.results = append(s.results, r)
	if s.jsonl != nil {
		line, _ := json.Marshal(r)
		fmt.Fprintf(s.jsonl, "%s\n", line)
	}
	fmt.Fprintf(os.Stderr, "  %-10s %-16s round %d: %s\n", r.Scenario, r.Server, r.Round, brief(r))
}

func brief(r result) string {
	switch {
	case r.Err != "":
		return "error: " + r.Err
	case r.KBPerConn != 0:
		return fmt.Sprintf("%.1f kB/conn", r.KBPerConn)
	case r.AllMs != 0:
		return fmt.Sprintf("%.1f ms until all received, %.2f µs server CPU per delivery%s", r.AllMs, r.CPUus, redisCPU(r))
	case r.PublishMs != 0:
		return fmt.Sprintf("%.0f msgs/s to all (published in %.0f ms), %.2f µs server CPU per delivery%s", r.MsgsPerSec, r.PublishMs, r.CPUus, redisCPU(r))
	}
	return fmt.Sprintf("%.0f msgs/s, %.2f µs CPU/msg, %.2f allocs/msg", r.MsgsPerSec, r.CPUus, r.Allocs)
}

func redisCPU(r result) string {
	if r.RedisCPUus == 0 {
		return ""
	}
	return fmt.Sprintf(" + %.2f µs Redis", r.RedisCPUus)
}

func run(o options) error {
	s := &suite{o: o}
	switch o.out {
	case "":
	case "-":
		s.jsonl = os.Stdout
	default:
		f, err := os.Create(o.out)
		if err != nil {
			return err
		}
		defer f.Close()
		s.jsonl = f
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		abs, err := filepath.Abs(o.profile)
		if err != nil {
			return err
		}
		s.o.profile = abs
	}
	want := func(name string) bool {
		return o.only == "" || slices.Contains(strings.Split(o.only, ","), name)
	}
	where := "not pinned"
	if pinned() {
		where = "client on CPU 1, servers on CPU 0"
	}
	fmt.Fprintf(os.Stderr, "fiberws-bench: %s, %s\n", where, runtime.Version())
	start := time.Now()
	for _, sc := range []string{"pingpong", "pipelined"} {
		if !want(sc) {
			continue
		}
		for round := 0; round < o.rounds; round++ {
			// Alternate the order of A and B from round to round; the
			// JSON and event servers run as one group, reversed.
			groups := [][]string{{kindRaw, kindString, kindStringMetrics}, {kindRawJSON, kindJSON, kindRawEvent, kindEvent}}
			for _, g := range groups {
				g = slices.Clone(g)
				if round%2 == 1 {
					slices.Reverse(g)
				}
				for _, kind := range g {
					s.record(s.echo(sc, kind, round))
				}
			}
		}
	}
	if want("idle") {
		for round := 0; round < max(1, o.rounds-1); round++ {
			for _, ping := range []bool{false, true} {
				a, b := kindRaw, kindString
				if round%2 == 1 {
					a, b = b, a
				}
				for _, kind := range []string{a, b} {
					s.record(s.idle(kind, ping, round))
				}
			}
		}
	}
	if want("broadcast") {
		for round := 0; round < max(1, o.rounds-1); round++ {
			kinds := []string{kindRaw, kindString, bcLoop}
			if round%2 == 1 {
				slices.Reverse(kinds)
			}
			for _, kind := range kinds {
				s.record(s.broadcast(kind, round))
			}
		}
	}
	if want("scale") {
		if err := s.scale(o.only != ""); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "fiberws-bench: done in %v\n", time.Since(start).Round(time.Second))
	table, summary := s.summarize()
	fmt.Println(table)
	if s.jsonl != nil {
		for _, line := range summary {
			b, _ := json.Marshal(line)
			fmt.Fprintf(s.jsonl, "%s\n", b)
		}
	}
	return nil
}

func serverName(kind string) string {
	switch kind {
	case kindRaw:
		return "raw contrib"
	case kindRawJSON:
		return "raw contrib+json"
	case kindString:
		return "fiberws string"
	case kindJSON:
		return "fiberws json"
	case kindRawEvent:
		return "raw contrib+event"
	case kindEvent:
		return "fiberws event"
	case kindStringMetrics:
		return "fiberws string +metrics"
	}
	return kind
}

// open starts a server child of kind (extra: more of its flags) and dials
// n connections (par at a time) to path on it. profDir is where the child
// writes profiles: set in round 0 with -profile only (a negative round
// never profiles). The caller stops the child and closes the connections.
func (s *suite) open(kind, path string, n, par, round int, extra ...string) (c *child, conns []*websocket.Conn, profDir string, err error) {
	if s.o.profile != "" && round == 0 {
		profDir = s.o.profile
	}
	if c, err = startChild(kind, 0, profDir, extra...); err != nil {
		return nil, nil, "", err
	}
	if conns, err = dialAll("ws://"+c.addr+path, n, par, nil); err != nil {
		c.stop()
		return nil, nil, "", err
	}
	return c, conns, profDir, nil
}

func (s *suite) echo(scenario, kind string, round int) result {
	o := s.o
	r := result{Scenario: scenario, Server: serverName(kind), Round: round, Conns: o.conns, Size: o.size}
	fail := func(err error) result { r.Err = err.Error(); return r }
	c, conns, profDir, err := s.open(kind, "/ws", o.conns, 16, round)
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	defer closeAll(conns)
	load := newEchoLoad(kind, o.size)
	// Warm up: pools, stacks, the scheduler.
	if w := pingPong(conns, 100, load, o.limit); w.err != nil {
		return fail(fmt.Errorf("warm-up: %w", w.err))
	}
	name := scenario + "-" + kind
	if profDir != "" {
		if _, err := c.get("/ctl/prof/start?name=" + name); err != nil {
			return fail(err)
		}
	}
	before, err := c.stats("/ctl/stats")
	if err != nil {
		return fail(err)
	}
	u0, s0, err := c.cpu()
	if err != nil {
		return fail(err)
	}
	var lr loadResult
	if scenario == "pingpong" {
		lr = pingPong(conns, o.msgs, load, o.limit)
	} else {
		lr = pipelined(conns, o.msgs, o.window, load, o.limit)
	}
	u1, s1, err := c.cpu()
	if err != nil {
		return fail(err)
	}
	after, err := c.stats("/ctl/stats")
	if err != nil {
		return fail(err)
	}
	if profDir != "" {
		if _, err := c.get("/ctl/prof/stop?name=" + name); err != nil {
			return fail(err)
		}
	}
	if lr.err != nil {
		r.Err = lr.err.Error()
	}
	n := float64(max(lr.msgs, 1))
	r.Msgs = lr.msgs
	r.Seconds = lr.elapsed.Seconds()
	r.MsgsPerSec = float64(lr.msgs) / lr.elapsed.Seconds()
	r.P50us = us(percentile(lr.lat, 0.50))
	r.P99us = us(percentile(lr.lat, 0.99))
	r.P999us = us(percentile(lr.lat, 0.999))
	if k := len(lr.perConn); k > 0 && lr.perConn[0] > 0 {
		r.ConnMin, r.ConnMedian, r.ConnMax = lr.perConn[0], lr.perConn[k/2], lr.perConn[k-1]
		r.Spread = r.ConnMax / r.ConnMin
	}
	r.CPUus = us((u1-u0)+(s1-s0)) / n
	r.UserUS = us(u1-u0) / n
	// The stats request itself allocates a little; it is the same for all.
	r.Allocs = float64(after.Mallocs-before.Mallocs) / n
	r.Bytes = float64(after.TotalAlloc-before.TotalAlloc) / n
	return r
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// newEchoLoad is the echo load of kind: a payload of about size bytes,
// text, or JSON for the JSON servers; for the event servers, the same JSON
// as the data of event frames (which are longer by the envelope, about 30
// bytes).
func newEchoLoad(kind string, size int) echoLoad {
	switch kind {
	case kindRawJSON, kindJSON:
		return echoLoad{msg: jsonPayload(size)}
	case kindRawEvent, kindEvent:
		head := append([]byte(`{"event":"`+echoEvent+`","data":`), jsonPayload(size)...)
		return echoLoad{head: append(head, `,"id":`...)}
	}
	return echoLoad{msg: []byte(strings.Repeat("x", size))}
}

// jsonPayload is a payload of about size bytes as JSON.
func jsonPayload(size int) []byte {
	p := payload{ID: 42, User: "bench", TS: 1700000000000}
	base, _ := json.Marshal(p)
	p.Text = strings.Repeat("x", max(0, size-len(base)))
	b, _ := json.Marshal(p)
	return b
}

func (s *suite) idle(kind string, ping bool, round int) result {
	o := s.o
	name := serverName(kind)
	var interval time.Duration
	if ping {
		name += " +ping"
		interval = o.idlePing
	}
	r := result{Scenario: "idle", Server: name, Round: round, Conns: o.idle}
	fail := func(err error) result { r.Err = err.Error(); return r }
	c, err := startChild(kind, interval, "")
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	if _, err := c.stats("/ctl/gc"); err != nil {
		return fail(err)
	}
	rss0, err := c.rss()
	if err != nil {
		return fail(err)
	}
	holder := newIdleHolder()
	conns, err := dialAll("ws://"+c.addr+"/ws", o.idle, 64, holder.hold)
	if err != nil {
		holder.release(nil)
		return fail(err)
	}
	defer holder.release(conns)
	// Let a few keep-alive rounds pass.
	settle := time.Second
	if ping {
		settle = max(settle, 3*interval)
	}
	time.Sleep(settle)
	st, err := c.stats("/ctl/gc")
	if err != nil {
		return fail(err)
	}
	rss1, err := c.rss()
	if err != nil {
		return fail(err)
	}
	if n := holder.failed.Load(); n > 0 {
		r.Err = fmt.Sprintf("%d connections dropped while idle", n)
	}
	r.KBPerConn = float64(rss1-rss0) / float64(o.idle) / 1024
	r.Goroutines = st.Goroutines
	return r
}

// bcLoop is the broadcast variant "fiberws loop": fiberws sessions written
// to by a plain SendPrepared loop, no hub; it separates the cost of the
// hub's queues and writers from that of fiberws's write path.
const bcLoop = "loop"

func (s *suite) broadcast(kind string, round int) result {
	o := s.o
	name, query := "raw loop", ""
	switch kind {
	case kindString:
		name = "fiberws hub"
	case bcLoop:
		name, kind, query = "fiberws loop", kindString, "&mode=loop"
	}
	r := result{Scenario: "broadcast", Server: name, Round: round, Conns: o.bcClients}
	fail := func(err error) result { r.Err = err.Error(); return r }
	c, conns, profDir, err := s.open(kind, "/bc", o.bcClients, 64, round)
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	defer closeAll(conns)
	if err := c.waitMembers(len(conns)); err != nil {
		return fail(err)
	}
	if profDir != "" {
		pname := "broadcast-" + strings.ReplaceAll(name, " ", "-")
		if _, err := c.get("/ctl/prof/start?name=" + pname); err != nil {
			return fail(err)
		}
		defer func() { _, _ = c.get("/ctl/prof/stop?name=" + pname) }()
	}
	u0, s0, err := c.cpu()
	if err != nil {
		return fail(err)
	}
	times, err := fanOut(c, conns, o.bcRounds, query)
	if err != nil {
		return fail(err)
	}
	u1, s1, err := c.cpu()
	if err != nil {
		return fail(err)
	}
	r.Msgs = int64(o.bcRounds * len(conns))
	// Server CPU per delivery (the control requests are included).
	r.CPUus = us((u1-u0)+(s1-s0)) / float64(r.Msgs)
	r.UserUS = us(u1-u0) / float64(r.Msgs)
	r.AllMs = ms(medianDuration(times))
	return r
}

// waitMembers waits (at most 10s) until the child's hub or raw set has n
// members.
func (c *child) waitMembers(n int) error {
	for deadline := time.Now().Add(10 * time.Second); ; {
		body, err := c.get("/ctl/members")
		if err != nil {
			return err
		}
		if got, _ := strconv.Atoi(string(body)); got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %s of %d members joined", body, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fanOut triggers rounds broadcasts of a 62-byte message on trigger (query
// is added to the request), each once the previous one reached every
// connection in conns, and returns for each the time from the trigger
// until the last connection had it.
func fanOut(trigger *child, conns []*websocket.Conn, rounds int, query string) ([]time.Duration, error) {
	var times []time.Duration
	for i := 0; i < rounds; i++ {
		type recv struct {
			last time.Time
			err  error
		}
		done := make(chan recv, 1)
		go func() {
			last, _, err := receiveBroadcast(conns, ioTimeout)
			done <- recv{last, err}
		}()
		time.Sleep(20 * time.Millisecond) // let the readers block
		t0 := time.Now()
		if _, err := trigger.get("/ctl/broadcast?msg=" + strconv.Itoa(i) + "-" + strings.Repeat("x", 60) + query); err != nil {
			return nil, err
		}
		got := <-done
		if got.err != nil {
			return nil, got.err
		}
		times = append(times, got.last.Sub(t0))
	}
	return times, nil
}

func medianDuration(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
