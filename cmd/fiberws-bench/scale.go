package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
)

// The scale scenario's two setups: one room spread evenly over two nodes
// (server children) whose hubs share a redisbroker on one Redis, and the
// same room on one node with the default in-memory hub.
const (
	scaleRedis  = "redis, 2 nodes"
	scaleMemory = "memory, 1 node"
)

// scale runs the scale scenario: the time until all of -scale-clients
// receivers have one broadcast triggered on node 1, and the rate at which
// a burst of -scale-burst messages published on node 1 reaches all of
// -scale-rate-members receivers, for both setups, alternating. Without
// Redis it prints a skip line, or fails when asked for by -only.
func (s *suite) scale(explicit bool) error {
	rs, err := openRedis(s.o.redisURL)
	if errors.Is(err, errNoRedis) && !explicit {
		fmt.Fprintf(os.Stderr, "fiberws-bench: scale skipped: %v\n", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	defer rs.stop()
	fmt.Fprintf(os.Stderr, "fiberws-bench: scale on Redis %s\n", rs.url)
	for round := 0; round < s.o.rounds; round++ {
		setups := []string{scaleRedis, scaleMemory}
		if round%2 == 1 {
			slices.Reverse(setups)
		}
		for _, setup := range setups {
			s.record(s.scaleFanOut(rs, setup, round))
		}
		for _, setup := range setups {
			s.record(s.scaleRate(rs, setup, round))
		}
	}
	return nil
}

// scaleNodes starts the nodes of setup with n receivers in the room (two
// nodes with half each on Redis, else one), waits until every node has
// its members (and, on Redis, is subscribed), and sends one broadcast
// from node 1 to all as a warm-up. conns are node 1's receivers first.
// With -profile, in round 0, the nodes profile from here until stop,
// into files named for name and the node.
func (s *suite) scaleNodes(rs *redisServer, setup, name string, n, round int) (nodes []*child, conns []*websocket.Conn, stop func(), err error) {
	var profiling []*child
	stop = func() {
		for i, c := range profiling {
			_, _ = c.get(fmt.Sprintf("/ctl/prof/stop?name=%s-node%d", name, i+1))
		}
		closeAll(conns)
		for _, c := range nodes {
			c.stop()
		}
	}
	parts, extra := []int{n}, []string(nil)
	if setup == scaleRedis {
		parts, extra = []int{n / 2, n - n/2}, []string{"-serve-redis", rs.url}
	}
	for _, part := range parts {
		c, cs, profDir, err := s.open(kindString, "/bc", part, 64, round, extra...)
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		nodes, conns = append(nodes, c), append(conns, cs...)
		if profDir != "" {
			profiling = append(profiling, c)
		}
		if err := c.waitMembers(part); err != nil {
			stop()
			return nil, nil, nil, err
		}
	}
	if setup == scaleRedis {
		if err := rs.waitSubscribers(len(nodes)); err != nil {
			stop()
			return nil, nil, nil, err
		}
	}
	if _, err := fanOut(nodes[0], conns, 1, ""); err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("warm-up broadcast: %w", err)
	}
	for i, c := range profiling {
		if _, err := c.get(fmt.Sprintf("/ctl/prof/start?name=%s-node%d", name, i+1)); err != nil {
			stop()
			return nil, nil, nil, err
		}
	}
	return nodes, conns, stop, nil
}

// scaleCPU is the CPU time of the nodes and of Redis so far.
func scaleCPU(rs *redisServer, nodes []*child) (servers, redis time.Duration, err error) {
	for _, c := range nodes {
		u, s, err := c.cpu()
		if err != nil {
			return 0, 0, err
		}
		servers += u + s
	}
	redis, err = rs.cpu()
	return servers, redis, err
}

// setCPU sets r's CPU per delivery from two scaleCPU readings.
func setCPU(r *result, deliveries int64, srv0, red0, srv1, red1 time.Duration) {
	n := float64(max(deliveries, 1))
	r.CPUus = us(srv1-srv0) / n
	r.RedisCPUus = us(red1-red0) / n
}

func (s *suite) scaleFanOut(rs *redisServer, setup string, round int) result {
	o := s.o
	r := result{Scenario: "scale-fanout", Server: setup, Round: round, Conns: o.scaleClients}
	fail := func(err error) result { r.Err = err.Error(); return r }
	nodes, conns, stop, err := s.scaleNodes(rs, setup, profName(r), o.scaleClients, round)
	if err != nil {
		return fail(err)
	}
	defer stop()
	srv0, red0, err := scaleCPU(rs, nodes)
	if err != nil {
		return fail(err)
	}
	times, err := fanOut(nodes[0], conns, o.bcRounds, "")
	if err != nil {
		return fail(err)
	}
	srv1, red1, err := scaleCPU(rs, nodes)
	if err != nil {
		return fail(err)
	}
	r.Msgs = int64(o.bcRounds * len(conns))
	setCPU(&r, r.Msgs, srv0, red0, srv1, red1)
	r.AllMs = ms(medianDuration(times))
	return r
}

func (s *suite) scaleRate(rs *redisServer, setup string, round int) result {
	o := s.o
	r := result{Scenario: "scale-rate", Server: setup, Round: round, Conns: o.scaleMembers}
	fail := func(err error) result { r.Err = err.Error(); return r }
	nodes, conns, stop, err := s.scaleNodes(rs, setup, profName(r), o.scaleMembers, round)
	if err != nil {
		return fail(err)
	}
	defer stop()
	srv0, red0, err := scaleCPU(rs, nodes)
	if err != nil {
		return fail(err)
	}
	k := o.scaleBurst
	type recv struct {
		last   time.Time
		got    int64
		failed int
		err    error
	}
	done := make(chan recv, 1)
	go func() {
		last, got, failed, err := receiveMessages(conns, k, ioTimeout, inSequence)
		done <- recv{last, got, failed, err}
	}()
	time.Sleep(20 * time.Millisecond) // let the readers block
	t0 := time.Now()
	body, err := nodes[0].get("/ctl/burst?n=" + strconv.Itoa(k) + "&size=62")
	if err != nil {
		return fail(err)
	}
	var burst burstResult
	if err := json.Unmarshal(body, &burst); err != nil {
		return fail(err)
	}
	got := <-done
	srv1, red1, err := scaleCPU(rs, nodes)
	if err != nil {
		return fail(err)
	}
	var errs []error
	if burst.Errors > 0 {
		errs = append(errs, fmt.Errorf("%d of %d publishes failed: %s", burst.Errors, k, burst.Err))
	}
	if got.err != nil {
		errs = append(errs, got.err)
	}
	if err := errors.Join(errs...); err != nil {
		r.Err = err.Error()
	}
	if got.last.IsZero() {
		return r // no receiver got them all
	}
	elapsed := got.last.Sub(t0)
	r.Msgs = int64(k)
	r.Seconds = elapsed.Seconds()
	r.MsgsPerSec = float64(k) / elapsed.Seconds()
	r.PublishMs = burst.Ms
	setCPU(&r, got.got, srv0, red0, srv1, red1)
	return r
}

// inSequence checks that message i of a burst is burst message i ("i-…").
func inSequence(i int, msg []byte) error {
	seq, _, _ := bytes.Cut(msg, []byte("-"))
	if n, err := strconv.Atoi(string(seq)); err != nil || n != i {
		return fmt.Errorf("message %d is %.20q: lost or out of order", i, msg)
	}
	return nil
}

// profName names the profiles of r's nodes: "scale-rate-redis", ….
func profName(r result) string {
	name, _, _ := strings.Cut(r.Server, ",")
	return r.Scenario + "-" + name
}
