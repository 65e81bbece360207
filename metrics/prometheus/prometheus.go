package prometheus

import (
	"strconv"
	"sync"
	"time"

	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	prom "github.com/prometheus/client_golang/prometheus"
)

// Metrics is the fiberws metrics on one registry. Give it to a Server as
// an observer (Config.Observers, or a controller's Observers) and the
// hubs to WatchHub. One Metrics can serve several Servers: their routes
// share series by pattern.
type Metrics struct {
	active     *prom.GaugeVec
	closed     *prom.CounterVec
	rejections *prom.CounterVec
	received   *prom.CounterVec
	sent       *prom.CounterVec
	bytesIn    *prom.CounterVec
	bytesOut   *prom.CounterVec
	events     *prom.CounterVec
	handler    *prom.HistogramVec
	lifetime   *prom.HistogramVec
	hubs       *hubCollector
}

// New creates the metrics and registers them on cfg.Registerer; it fails
// when they are registered there already (one New per registry).
func New(config ...Config) (*Metrics, error) {
	cfg := configDefault(config...)
	route := []string{"route"}
	m := &Metrics{
		active: prom.NewGaugeVec(prom.GaugeOpts{Name: "fiberws_connections_active",
			Help: "Open WebSocket connections."}, route),
		closed: prom.NewCounterVec(prom.CounterOpts{Name: "fiberws_connections_closed_total",
			Help: "WebSocket connections closed, by close code and by who closed (server, client, timeout, shutdown)."}, []string{"route", "code", "closed_by"}),
		rejections: prom.NewCounterVec(prom.CounterOpts{Name: "fiberws_upgrade_rejections_total",
			Help: "Upgrade requests answered with an HTTP status instead of an upgrade (guards, origin, caps, 426)."}, []string{"route", "status"}),
		received: prom.NewCounterVec(prom.CounterOpts{Name: "fiberws_messages_received_total",
			Help: "Data messages received from clients."}, route),
		sent: prom.NewCounterVec(prom.CounterOpts{Name: "fiberws_messages_sent_total",
			Help: "Data messages sent to clients."}, route),
		bytesIn: prom.NewCounterVec(prom.CounterOpts{Name: "fiberws_message_bytes_received_total",
			Help: "Payload bytes of the data messages received."}, route),
		bytesOut: prom.NewCounterVec(prom.CounterOpts{Name: "fiberws_message_bytes_sent_total",
			Help: "Payload bytes of the data messages sent."}, route),
		events: prom.NewCounterVec(prom.CounterOpts{Name: "fiberws_events_total",
			Help: "Messages of event routes handled, by event name (ack: the clients' answers to asks)."}, []string{"route", "event"}),
		handler: prom.NewHistogramVec(prom.HistogramOpts{Name: "fiberws_handler_duration_seconds",
			Help: "Time the interceptors and the handler took for one message.", Buckets: cfg.HandlerBuckets}, route),
		lifetime: prom.NewHistogramVec(prom.HistogramOpts{Name: "fiberws_connection_duration_seconds",
			Help: "How long WebSocket connections lived.", Buckets: cfg.ConnectionBuckets}, route),
		hubs: newHubCollector(),
	}
	for _, c := range []prom.Collector{m.active, m.closed, m.rejections, m.received, m.sent, m.bytesIn, m.bytesOut, m.events, m.handler, m.lifetime, m.hubs} {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// WatchHub adds h's rooms, members and counters to the hub metrics, read
// at every scrape. Watch every hub once.
func (m *Metrics) WatchHub(h *hub.Hub) { m.hubs.add(h) }

// OnRequest is part of hooks.Observer; requests are counted when they end.
func (m *Metrics) OnRequest(hooks.Request) {}

// OnSummary counts the requests refused before the upgrade; connections
// are counted by their route's observer (Route).
func (m *Metrics) OnSummary(s hooks.Summary) {
	if s.ClosedBy == hooks.Rejected {
		m.rejections.WithLabelValues(s.Route, strconv.Itoa(s.Status)).Inc()
	}
}

// Route is part of hooks.LiveObserver: it resolves the route's series
// once, so a message costs a few atomic adds.
func (m *Metrics) Route(pattern string) hooks.RouteObserver {
	return &routeMetrics{
		m:        m,
		route:    pattern,
		active:   m.active.WithLabelValues(pattern),
		received: m.received.WithLabelValues(pattern),
		sent:     m.sent.WithLabelValues(pattern),
		bytesIn:  m.bytesIn.WithLabelValues(pattern),
		bytesOut: m.bytesOut.WithLabelValues(pattern),
		handler:  m.handler.WithLabelValues(pattern),
		lifetime: m.lifetime.WithLabelValues(pattern),
	}
}

// routeMetrics is one route's series.
type routeMetrics struct {
	m                                 *Metrics
	route                             string
	active                            prom.Gauge
	received, sent, bytesIn, bytesOut prom.Counter
	handler, lifetime                 prom.Observer
	events                            sync.Map // event name -> prom.Counter
}

func (r *routeMetrics) Opened()                 { r.active.Inc() }
func (r *routeMetrics) Received(n int)          { r.received.Inc(); r.bytesIn.Add(float64(n)) }
func (r *routeMetrics) Sent(n int)              { r.sent.Inc(); r.bytesOut.Add(float64(n)) }
func (r *routeMetrics) Handled(d time.Duration) { r.handler.Observe(d.Seconds()) }

func (r *routeMetrics) Event(name string) {
	c, ok := r.events.Load(name)
	if !ok {
		// Names are the route's registered events (and "ack"), so the
		// map and the series stay as small as the route.
		c, _ = r.events.LoadOrStore(name, r.m.events.WithLabelValues(r.route, name))
	}
	c.(prom.Counter).Inc()
}

func (r *routeMetrics) Closed(s hooks.Summary) {
	r.active.Dec()
	r.m.closed.WithLabelValues(r.route, strconv.Itoa(s.CloseCode), string(s.ClosedBy)).Inc()
	r.lifetime.Observe(s.Duration.Seconds())
}

// hubCollector reads the watched hubs' Stats at every scrape.
type hubCollector struct {
	mu   sync.Mutex
	hubs []*hub.Hub

	rooms, members, broadcasts, slow, brokerErrors *prom.Desc
}

func newHubCollector() *hubCollector {
	return &hubCollector{
		rooms:        prom.NewDesc("fiberws_hub_rooms", "Rooms with at least one member on this node.", nil, nil),
		members:      prom.NewDesc("fiberws_hub_members", "Connections in at least one room on this node.", nil, nil),
		broadcasts:   prom.NewDesc("fiberws_hub_broadcasts_total", "Messages published to rooms.", nil, nil),
		slow:         prom.NewDesc("fiberws_hub_slow_consumers_total", "Members dropped with 1008 slow consumer.", nil, nil),
		brokerErrors: prom.NewDesc("fiberws_broker_errors_total", "Broker calls that failed (publishes, presence announcements, subscriptions).", nil, nil),
	}
}

func (c *hubCollector) add(h *hub.Hub) {
	c.mu.Lock()
	c.hubs = append(c.hubs, h)
	c.mu.Unlock()
}

func (c *hubCollector) Describe(ch chan<- *prom.Desc) {
	for _, d := range []*prom.Desc{c.rooms, c.members, c.broadcasts, c.slow, c.brokerErrors} {
		ch <- d
	}
}

func (c *hubCollector) Collect(ch chan<- prom.Metric) {
	c.mu.Lock()
	hubs := append([]*hub.Hub(nil), c.hubs...)
	c.mu.Unlock()
	var sum hub.Stats
	for _, h := range hubs {
		st := h.Stats()
		sum.Rooms += st.Rooms
		sum.Members += st.Members
		sum.Broadcasts += st.Broadcasts
		sum.SlowConsumers += st.SlowConsumers
		sum.BrokerErrors += st.BrokerErrors
	}
	ch <- prom.MustNewConstMetric(c.rooms, prom.GaugeValue, float64(sum.Rooms))
	ch <- prom.MustNewConstMetric(c.members, prom.GaugeValue, float64(sum.Members))
	ch <- prom.MustNewConstMetric(c.broadcasts, prom.CounterValue, float64(sum.Broadcasts))
	ch <- prom.MustNewConstMetric(c.slow, prom.CounterValue, float64(sum.SlowConsumers))
	ch <- prom.MustNewConstMetric(c.brokerErrors, prom.CounterValue, float64(sum.BrokerErrors))
}
