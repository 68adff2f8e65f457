package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus metrics of one Server, in a registry of its
// own (GET /v1/metrics).
type metrics struct {
	runs     *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	rejected prometheus.Counter
	handler  http.Handler
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moat_runs_total", Help: "Finished runs by status, backend and whether the warm pool served them."},
			[]string{"status", "backend", "pooled"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "moat_run_duration_seconds", Help: "Time from a worker taking a run to its result.",
			Buckets: []float64{.002, .005, .01, .015, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"backend", "pooled"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "moat_runs_rejected_total", Help: "Runs refused because the queue was full or the server was closing."}),
	}
	reg.MustRegister(m.runs, m.latency, m.rejected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "moat_queue_length", Help: "Runs waiting for a worker."},
			func() float64 { return float64(s.queued.Load()) }),
	)
	if p := s.cfg.Pool; p != nil {
		// Labelled with the pool's backend (and image, for a container
		// pool's), so that each pool shows as its own.
		pl := prometheus.Labels{"backend": s.poolBackend()}
		if img := p.Template().Image; img != "" {
			pl["image"] = img
		}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "moat_pool_ready", ConstLabels: pl, Help: "Prepared sandboxes waiting for a run."},
				func() float64 { return float64(p.Stats().Ready) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "moat_pool_size", ConstLabels: pl, Help: "Prepared sandboxes the pool keeps."},
				func() float64 { return float64(p.Stats().Size) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "moat_pool_hits_total", ConstLabels: pl, Help: "Runs served by a prepared sandbox."},
				func() float64 { return float64(p.Stats().Hits) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "moat_pool_misses_total", ConstLabels: pl, Help: "Runs of the pool's backend that went cold (no fit, none ready, stale)."},
				func() float64 { return float64(p.Stats().Misses) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "moat_pool_stale_total", ConstLabels: pl, Help: "Prepared sandboxes that died while they waited."},
				func() float64 { return float64(p.Stats().Stale) }),
		)
	}
	if p := s.cfg.ZygotePool; p != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "moat_zygote_ready", Help: "Zygote children waiting for a run."},
				func() float64 { return float64(p.Stats().Ready) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "moat_zygote_hits_total", Help: "Runs served by a zygote child."},
				func() float64 { return float64(p.Stats().Hits) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "moat_zygote_misses_total", Help: "Native runs that no zygote child took (no fit, none ready, stale)."},
				func() float64 { return float64(p.Stats().Misses) }),
		)
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(backend, status string, pooled bool, d time.Duration) {
	p := strconv.FormatBool(pooled)
	m.runs.WithLabelValues(status, backend, p).Inc()
	m.latency.WithLabelValues(backend, p).Observe(d.Seconds())
}
