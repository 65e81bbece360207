// Package prometheus exports live metrics of fiberws Servers and hubs to
// Prometheus (github.com/prometheus/client_golang).
//
//	m, err := prometheus.New() // registers on prometheus.DefaultRegisterer
//	srv := fiberws.New(fiberws.Config{Observers: []hooks.Observer{m}})
//	m.WatchHub(rooms)
//	app.Get("/metrics", adaptor.HTTPHandler(promhttp.Handler()))
//
// Counters move as messages flow, not when connections close: the Metrics
// is a hooks.LiveObserver, told of every message of the routes it
// observes. Route labels are route patterns ("/ws/:room"), never request
// paths, so the number of series is bounded by the routes, whatever
// clients ask for; event labels are the registered event names.
//
// The metrics (labels in braces):
//
//	fiberws_connections_active{route}                         gauge
//	fiberws_connections_closed_total{route,code,closed_by}    counter
//	fiberws_upgrade_rejections_total{route,status}            counter
//	fiberws_messages_received_total{route}                    counter
//	fiberws_messages_sent_total{route}                        counter
//	fiberws_message_bytes_received_total{route}               counter
//	fiberws_message_bytes_sent_total{route}                   counter
//	fiberws_events_total{route,event}                         counter
//	fiberws_handler_duration_seconds{route}                   histogram
//	fiberws_connection_duration_seconds{route}                histogram
//	fiberws_hub_rooms, fiberws_hub_members                    gauges
//	fiberws_hub_broadcasts_total                              counter
//	fiberws_hub_slow_consumers_total                          counter
//	fiberws_broker_errors_total                               counter
//
// The hub metrics add up every hub WatchHub was given.
package prometheus
