package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNoRedis is startRedis's error when redis-server is not installed.
var errNoRedis = errors.New("redis-server not found in PATH (install it, e.g. apt-get install redis-server, or pass -redis URL)")

// redisServer is the Redis the scale scenario uses: one the tool started
// (pid set), or the one -redis names (pid 0).
type redisServer struct {
	url    string
	pid    int
	client *redis.Client // the tool's own, for waiting on subscriptions
	stop   func()
	log    func() string // the tail of its log
}

// openRedis connects to url, or, when url is "", starts redis-server on a
// free loopback port (without persistence, pinned with the server
// children when the tool pins), and waits until it answers PING.
func openRedis(url string) (*redisServer, error) {
	r := &redisServer{url: url, stop: func() {}, log: func() string { return "" }}
	if url == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, errNoRedis
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		_ = ln.Close()
		dir, err := os.MkdirTemp("", "fiberws-bench-redis")
		if err != nil {
			return nil, err
		}
		args := []string{bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"), "--loglevel", "warning"}
		if pinned() {
			if taskset, err := exec.LookPath("taskset"); err == nil {
				args = append([]string{taskset, "-c", "0"}, args...)
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		if err := cmd.Start(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("start redis-server: %w", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		r.url, r.pid = "redis://127.0.0.1:"+port+"/0", cmd.Process.Pid
		r.stop = func() {
			_ = cmd.Process.Kill()
			<-done
			_ = os.RemoveAll(dir)
		}
		r.log = func() string {
			b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return string(b[max(0, len(b)-2048):])
		}
	}
	opts, err := redis.ParseURL(r.url)
	if err != nil {
		r.stop()
		return nil, err
	}
	r.client = redis.NewClient(opts)
	stop := r.stop
	r.stop = func() { _ = r.client.Close(); stop() }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := r.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return r, nil
		}
		if time.Now().After(deadline) {
			log := r.log()
			r.stop()
			return nil, fmt.Errorf("redis at %s did not answer PING within 10s: %w\n%s", r.url, err, log)
		}
	}
}

// waitSubscribers waits (at most 10s) until n connections subscribe to
// the Redis channel of the bench room of this process's children (the
// redisbroker channel is PREFIX{ROOM}).
func (r *redisServer) waitSubscribers(n int) error {
	channel := redisPrefix(os.Getpid()) + "{" + room + "}"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		subs, err := r.client.PubSubNumSub(ctx, channel).Result()
		cancel()
		if err == nil && subs[channel] >= int64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes subscribed to %s (%v)", subs[channel], n, channel, err)
		}
	}
}

// cpu is the Redis server's CPU time so far, 0 for one the tool did not
// start.
func (r *redisServer) cpu() (time.Duration, error) {
	if r.pid == 0 {
		return 0, nil
	}
	u, s, err := procCPU(r.pid)
	return u + s, err
}
