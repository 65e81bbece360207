package prometheus_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	fwprom "github.com/fiberws/fiberws/metrics/prometheus"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

type room struct{ rooms *hub.Hub }

func (room) Prefix() string { return "" }

func (c room) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/ws/:room", func(ctx context.Context, conn *fiberws.Conn[string], msg string) (string, error) {
			if msg == "join" {
				_, err := c.rooms.Join(ctx, conn.Params("room"), conn)
				return "joined", err
			}
			if msg == "shout" {
				return "shouted", hub.Broadcast(ctx, c.rooms, conn.Params("room"), "everyone!")
			}
			return "echo: " + msg, nil
		}, fiberws.WithGuards(hooks.GuardFunc(func(c *fiber.Ctx) error {
			if c.Query("deny") != "" {
				return fiber.ErrBadRequest
			}
			return nil
		}))),
		fiberws.Events("/events",
			fiberws.On("add", func(_ context.Context, _ *fiberws.EventConn, in [2]int) (int, error) { return in[0] + in[1], nil })),
	}
}

// scrape reads the exposition over HTTP, as Prometheus does, and parses it.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value is the sample of family name whose labels include want, or -1.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

type check struct {
	name   string
	labels map[string]string
	want   float64
}

// settle scrapes until every check holds (a counter moves right after the
// write the client saw), failing with the last values after a bound.
func settle(t *testing.T, url string, checks []check) map[string]*dto.MetricFamily {
	t.Helper()
	var f map[string]*dto.MetricFamily
	deadline := time.Now().Add(fiberwstest.DefaultTimeout)
	for {
		f = scrape(t, url)
		bad := 0
		for _, c := range checks {
			if value(f, c.name, c.labels) != c.want {
				bad++
			}
		}
		if bad == 0 {
			return f
		}
		if time.Now().After(deadline) {
			for _, c := range checks {
				if got := value(f, c.name, c.labels); got != c.want {
					t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
				}
			}
			return f
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLiveMetrics(t *testing.T) {
	reg := prom.NewRegistry()
	m, err := fwprom.New(fwprom.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fwprom.New(fwprom.Config{Registerer: reg}); err == nil {
		t.Error("a second New on one registry: no error")
	}
	rooms := hub.New()
	defer rooms.Close()
	m.WatchHub(rooms)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := fiberws.New(fiberws.Config{Observers: []hooks.Observer{m}})
	if err := srv.Register(app, room{rooms: rooms}); err != nil {
		t.Fatal(err)
	}
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	ts := fiberwstest.Serve(t, app)
	metrics := ts.HTTPURL("/metrics")
	r1 := map[string]string{"route": "/ws/:room"}

	a := ts.Dial(t, "/ws/one")
	b := ts.Dial(t, "/ws/two")
	a.SendText("hello")
	if got := a.ReadText(); got != "echo: hello" {
		t.Fatal(got)
	}
	for _, c := range []*fiberwstest.Client{a, b} {
		c.SendText("join")
		if got := c.ReadText(); got != "joined" {
			t.Fatal(got)
		}
	}
	// While both are open: live values, labelled by pattern, not path.
	checks := []check{
		{"fiberws_connections_active", r1, 2},
		{"fiberws_messages_received_total", r1, 3},
		{"fiberws_messages_sent_total", r1, 3},
		{"fiberws_message_bytes_received_total", r1, float64(len("hello") + 2*len("join"))},
		{"fiberws_message_bytes_sent_total", r1, float64(len("echo: hello") + 2*len("joined"))},
		{"fiberws_handler_duration_seconds", r1, 3},
		{"fiberws_hub_rooms", nil, 2},
		{"fiberws_hub_members", nil, 2},
		{"fiberws_hub_broadcasts_total", nil, 0},
	}
	f := settle(t, metrics, checks)
	for _, fam := range f {
		for _, mm := range fam.Metric {
			for _, l := range mm.Label {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), "one") {
					t.Errorf("%s has a raw path as its route label: %s", fam.GetName(), l.GetValue())
				}
			}
		}
	}

	// A broadcast, a rejection, events, and closes.
	a.SendText("shout")
	// The reply and the broadcast, in either order.
	if got := []string{a.ReadText(), a.ReadText()}; !slices.Contains(got, "everyone!") || !slices.Contains(got, "shouted") {
		t.Fatalf("after shout: %q", got)
	}
	if c, res, err := ts.TryDial("/ws/one?deny=1"); err == nil || res == nil || res.StatusCode != 400 {
		if c != nil {
			c.Conn().Close()
		}
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("denied dial: status %d, error %v", status, err)
	}
	e := ts.Dial(t, "/events")
	e.SendText(`{"event":"add","data":[2,40],"id":1}`)
	if got := e.ReadText(); got != `{"event":"add","data":42,"id":1}` {
		t.Fatal(got)
	}
	e.SendText(`{"event":"nope","id":2}`)
	_ = e.ReadText() // the error reply
	a.Close(1000, "bye")
	e.Close(4000, "done")
	checks = []check{
		{"fiberws_connections_active", r1, 1},
		{"fiberws_connections_active", map[string]string{"route": "/events"}, 0},
		{"fiberws_hub_broadcasts_total", nil, 1},
		{"fiberws_upgrade_rejections_total", map[string]string{"route": "/ws/:room", "status": "400"}, 1},
		{"fiberws_connections_closed_total", map[string]string{"route": "/ws/:room", "code": "1000", "closed_by": "client"}, 1},
		{"fiberws_connections_closed_total", map[string]string{"route": "/events", "code": "4000", "closed_by": "client"}, 1},
		{"fiberws_connection_duration_seconds", r1, 1},
		{"fiberws_events_total", map[string]string{"route": "/events", "event": "add"}, 1},
		{"fiberws_messages_received_total", map[string]string{"route": "/events"}, 2},
		{"fiberws_hub_members", nil, 1},
	}
	f = settle(t, metrics, checks)
	// Unknown events make no series.
	if got := value(f, "fiberws_events_total", map[string]string{"event": "nope"}); got != -1 {
		t.Errorf("unknown event counted: %v", got)
	}
	b.Close(1000, "")
}

// The Grafana dashboard asks only for metrics that exist.
func TestDashboardMetricsExist(t *testing.T) {
	reg := prom.NewRegistry()
	m, err := fwprom.New(fwprom.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// Make every vector have a series, so Gather lists it.
	ro := m.Route("/x")
	ro.Opened()
	ro.Received(1)
	ro.Sent(1)
	ro.Handled(time.Millisecond)
	ro.Event("e")
	ro.Closed(hooks.Summary{CloseCode: 1000, ClosedBy: hooks.ByClient})
	m.OnSummary(hooks.Summary{Route: "/x", Status: 403, ClosedBy: hooks.Rejected})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = true
	}
	if len(have) != 15 {
		t.Errorf("%d metrics, want the 15 of the package doc: %v", len(have), have)
	}
	dashboard, err := os.ReadFile("../../docs/grafana/fiberws.json")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`fiberws_[a-z_]+`).FindAllString(string(dashboard), -1)
	seen := map[string]bool{}
	for _, name := range used {
		name = strings.TrimSuffix(name, "_bucket")
		seen[name] = true
		if !have[name] {
			t.Errorf("the dashboard asks for %s, which does not exist", name)
		}
	}
	for name := range have {
		if !seen[name] {
			t.Errorf("the dashboard shows nothing of %s", name)
		}
	}
}
