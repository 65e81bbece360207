package main

import (
	"fmt"
	"slices"
	"strings"
)

// summary is the median of the rounds of one scenario and server, with
// its ratio to the raw counterpart; it is the last kind of JSON line.
type summary struct {
	Kind     string             `json:"kind"` // "summary"
	Scenario string             `json:"scenario"`
	Server   string             `json:"server"`
	Baseline string             `json:"baseline,omitempty"`
	Rounds   int                `json:"rounds"`
	Median   result             `json:"median"`
	Ratio    map[string]float64 `json:"ratio_to_baseline,omitempty"`
	// Peer is the server of the same side (raw or fiberws) without event
	// envelopes that an event server is compared with, for the target.
	Peer      string             `json:"peer,omitempty"`
	PeerRatio map[string]float64 `json:"ratio_to_peer,omitempty"`
	Errors    []string           `json:"errors,omitempty"`
}

// baselines maps a fiberws server to the raw server it is compared with.
var baselines = map[string]string{
	"fiberws string":       "raw contrib",
	"fiberws json":         "raw contrib+json",
	"fiberws event":        "raw contrib+event",
	"fiberws string +ping": "raw contrib +ping",
	"fiberws hub":          "raw loop",
	"fiberws loop":         "raw loop",
	scaleRedis:             scaleMemory,
}

// peers maps a server to the one of the same side without a feature: an
// event server to the JSON one (what the envelope, the routing and the
// acknowledgement's id cost on top of the same JSON), the string server
// with metrics to the one without.
var peers = map[string]string{
	"fiberws event":           "fiberws json",
	"raw contrib+event":       "raw contrib+json",
	"fiberws string +metrics": "fiberws string",
}

// peerTargets are the bars: server CPU per message within this factor of
// the peer's.
var peerTargets = map[string]float64{
	"fiberws event":           1.2,
	"fiberws string +metrics": 1.03,
}

func median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	v := slices.Clone(vals)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s *suite) summarize() (string, []summary) {
	type key struct{ scenario, server string }
	var order []key
	groups := map[key][]result{}
	for _, r := range s.results {
		k := key{r.Scenario, r.Server}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	med := map[key]result{}
	var out []summary
	for _, k := range order {
		rs := groups[k]
		pick := func(f func(result) float64) float64 {
			var v []float64
			for _, r := range rs {
				if r.Err == "" {
					v = append(v, f(r))
				}
			}
			return median(v)
		}
		m := result{Scenario: k.scenario, Server: k.server, Conns: rs[0].Conns, Size: rs[0].Size, Round: -1}
		m.Msgs = int64(pick(func(r result) float64 { return float64(r.Msgs) }))
		m.Seconds = pick(func(r result) float64 { return r.Seconds })
		m.MsgsPerSec = pick(func(r result) float64 { return r.MsgsPerSec })
		m.P50us = pick(func(r result) float64 { return r.P50us })
		m.P99us = pick(func(r result) float64 { return r.P99us })
		m.P999us = pick(func(r result) float64 { return r.P999us })
		m.ConnMin = pick(func(r result) float64 { return r.ConnMin })
		m.ConnMedian = pick(func(r result) float64 { return r.ConnMedian })
		m.ConnMax = pick(func(r result) float64 { return r.ConnMax })
		m.Spread = pick(func(r result) float64 { return r.Spread })
		m.CPUus = pick(func(r result) float64 { return r.CPUus })
		m.UserUS = pick(func(r result) float64 { return r.UserUS })
		m.Allocs = pick(func(r result) float64 { return r.Allocs })
		m.Bytes = pick(func(r result) float64 { return r.Bytes })
		m.KBPerConn = pick(func(r result) float64 { return r.KBPerConn })
		m.Goroutines = int(pick(func(r result) float64 { return float64(r.Goroutines) }))
		m.AllMs = pick(func(r result) float64 { return r.AllMs })
		m.PublishMs = pick(func(r result) float64 { return r.PublishMs })
		m.RedisCPUus = pick(func(r result) float64 { return r.RedisCPUus })
		med[k] = m
		sm := summary{Kind: "summary", Scenario: k.scenario, Server: k.server, Rounds: len(rs), Median: m}
		for _, r := range rs {
			if r.Err != "" {
				sm.Errors = append(sm.Errors, r.Err)
			}
		}
		out = append(out, sm)
	}
	ratios := func(m, b result) map[string]float64 {
		r := map[string]float64{}
		ratio := func(name string, a, b float64) {
			if a != 0 && b != 0 {
				r[name] = a / b
			}
		}
		ratio("msgs_per_sec", m.MsgsPerSec, b.MsgsPerSec)
		ratio("p50", m.P50us, b.P50us)
		ratio("p99", m.P99us, b.P99us)
		ratio("p999", m.P999us, b.P999us)
		ratio("spread", m.Spread, b.Spread)
		ratio("server_cpu_per_msg", m.CPUus, b.CPUus)
		ratio("server_user_per_msg", m.UserUS, b.UserUS)
		ratio("server_allocs_per_msg", m.Allocs, b.Allocs)
		ratio("server_bytes_per_msg", m.Bytes, b.Bytes)
		ratio("server_kb_per_conn", m.KBPerConn, b.KBPerConn)
		ratio("all_received", m.AllMs, b.AllMs)
		return r
	}
	for i := range out {
		sm := &out[i]
		if base, ok := baselines[sm.Server]; ok {
			if b, ok := med[key{sm.Scenario, base}]; ok {
				sm.Baseline, sm.Ratio = base, ratios(sm.Median, b)
			}
		}
		if peer, ok := peers[sm.Server]; ok {
			if b, ok := med[key{sm.Scenario, peer}]; ok {
				sm.Peer, sm.PeerRatio = peer, ratios(sm.Median, b)
			}
		}
	}
	return s.table(out), out
}

func (s *suite) table(sums []summary) string {
	var b strings.Builder
	o := s.o
	isEcho := func(sm summary) bool { return sm.Scenario == "pingpong" || sm.Scenario == "pipelined" }
	if slices.ContainsFunc(sums, isEcho) {
		fmt.Fprintf(&b, "\nEcho: %d conns × %d msgs × %d B (pipelined window %d); medians of %d round(s)\n\n", o.conns, o.msgs, o.size, o.window, o.rounds)
		fmt.Fprintln(&b, "| scenario | server | msgs/s | p50 µs | p99 µs | server CPU µs/msg | user µs/msg | allocs/msg | B/msg | vs raw: msgs/s | vs raw: CPU/msg |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|---|")
	}
	for _, sm := range sums {
		if !isEcho(sm) {
			continue
		}
		m := sm.Median
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.1f | %.1f | %.2f | %.2f | %.2f | %.0f | %s | %s |\n",
			sm.Scenario, sm.Server, m.MsgsPerSec, m.P50us, m.P99us, m.CPUus, m.UserUS, m.Allocs, m.Bytes,
			fmtRatio(sm.Ratio, "msgs_per_sec"), fmtRatio(sm.Ratio, "server_cpu_per_msg"))
	}
	fmt.Fprint(&b, "\nTail latency and fairness: per-connection messages per second (slowest, median, fastest) and their spread (fastest/slowest; 1 is fair)\n\n")
	fmt.Fprintln(&b, "| scenario | server | p50 µs | p99 µs | p99.9 µs | conn min msgs/s | conn median | conn max | spread | vs raw: p99 | vs raw: spread |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, sm := range sums {
		if !isEcho(sm) {
			continue
		}
		m := sm.Median
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %.2f | %s | %s |\n",
			sm.Scenario, sm.Server, m.P50us, m.P99us, m.P999us, m.ConnMin, m.ConnMedian, m.ConnMax, m.Spread,
			fmtRatio(sm.Ratio, "p99"), fmtRatio(sm.Ratio, "spread"))
	}
	var events []summary
	for _, sm := range sums {
		if isEcho(sm) && sm.Peer != "" {
			events = append(events, sm)
		}
	}
	if len(events) > 0 {
		fmt.Fprintf(&b, "\nFeatures vs the same server without them: events vs plain JSON (the same payload as an event's data, acknowledged with its id), Prometheus metrics on vs off (targets: server CPU/msg ≤ %.2fx and ≤ %.2fx)\n\n", peerTargets["fiberws event"], peerTargets["fiberws string +metrics"])
		fmt.Fprintln(&b, "| scenario | server | vs | server CPU µs/msg | vs: CPU µs/msg | CPU/msg ratio | target | user µs/msg ratio | msgs/s ratio | allocs/msg | vs: allocs/msg |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|---|")
		for _, sm := range events {
			var p result
			for _, x := range sums {
				if x.Scenario == sm.Scenario && x.Server == sm.Peer {
					p = x.Median
				}
			}
			target := ""
			if t, ok := peerTargets[sm.Server]; ok {
				target = fmt.Sprintf("≤ %.2fx", t)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %.2f | %s | %s | %s | %s | %.2f | %.2f |\n", sm.Scenario, sm.Server, sm.Peer,
				sm.Median.CPUus, p.CPUus, fmtRatio(sm.PeerRatio, "server_cpu_per_msg"), target, fmtRatio(sm.PeerRatio, "server_user_per_msg"),
				fmtRatio(sm.PeerRatio, "msgs_per_sec"), sm.Median.Allocs, p.Allocs)
		}
	}
	var idle, bc, scale []summary
	for _, sm := range sums {
		switch sm.Scenario {
		case "idle":
			idle = append(idle, sm)
		case "broadcast":
			bc = append(bc, sm)
		case "scale-fanout", "scale-rate":
			scale = append(scale, sm)
		}
	}
	if len(idle) > 0 {
		fmt.Fprintf(&b, "\nIdle: %d connections (ping interval %v for +ping)\n\n", o.idle, o.idlePing)
		fmt.Fprintln(&b, "| server | RSS kB/conn | goroutines | vs raw |")
		fmt.Fprintln(&b, "|---|---|---|---|")
		for _, sm := range idle {
			fmt.Fprintf(&b, "| %s | %.1f | %d | %s |\n", sm.Server, sm.Median.KBPerConn, sm.Median.Goroutines, fmtRatio(sm.Ratio, "server_kb_per_conn"))
		}
	}
	if len(bc) > 0 {
		fmt.Fprintf(&b, "\nBroadcast: one 62 B message to %d clients, median of %d\n\n", o.bcClients, o.bcRounds)
		fmt.Fprintln(&b, "| server | ms until all received | server CPU µs/delivery | vs raw: time | vs raw: CPU |")
		fmt.Fprintln(&b, "|---|---|---|---|---|")
		for _, sm := range bc {
			fmt.Fprintf(&b, "| %s | %.1f | %.2f | %s | %s |\n", sm.Server, sm.Median.AllMs, sm.Median.CPUus,
				fmtRatio(sm.Ratio, "all_received"), fmtRatio(sm.Ratio, "server_cpu_per_msg"))
		}
	}
	if len(scale) > 0 {
		fmt.Fprintf(&b, "\nScale: fanout = one 62 B message to %d clients (median of %d); rate = %d messages to a room of %d; medians of %d round(s)\n\n",
			o.scaleClients, o.bcRounds, o.scaleBurst, o.scaleMembers, o.rounds)
		fmt.Fprintln(&b, "| measurement | setup | ms until all received | msgs/s to all | publish ms | server CPU µs/delivery | Redis CPU µs/delivery | vs memory: time or msgs/s | vs memory: server CPU |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|")
		for _, sm := range scale {
			m := sm.Median
			allMs, rate, what := fmt.Sprintf("%.1f", m.AllMs), "", "all_received"
			if sm.Scenario == "scale-rate" {
				allMs, rate, what = fmt.Sprintf("%.0f", m.Seconds*1000), fmt.Sprintf("%.0f", m.MsgsPerSec), "msgs_per_sec"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.2f | %s | %s | %s |\n", strings.TrimPrefix(sm.Scenario, "scale-"), sm.Server,
				allMs, rate, fmtNonZero("%.0f", m.PublishMs), m.CPUus, fmtNonZero("%.2f", m.RedisCPUus), fmtRatio(sm.Ratio, what), fmtRatio(sm.Ratio, "server_cpu_per_msg"))
		}
	}
	for _, sm := range sums {
		for _, e := range sm.Errors {
			fmt.Fprintf(&b, "\nerror in %s / %s: %s", sm.Scenario, sm.Server, e)
		}
	}
	return b.String()
}

func fmtRatio(r map[string]float64, name string) string {
	if v, ok := r[name]; ok {
		return fmt.Sprintf("%.2fx", v)
	}
	return ""
}

func fmtNonZero(format string, v float64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf(format, v)
}
