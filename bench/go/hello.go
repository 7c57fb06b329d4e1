// SPDX-License-Identifier: MIT
//
// hello.go is the Go peer of czero's /hello in `make bench` (bench/run.sh): a net/http server that
// answers GET /hello with {"message":"hello"} as application/json. With -chain the handler is
// wrapped in a chain that does the same kinds of work as go-zero's default REST chain, in
// go-zero's order (rest/engine.go bindRoute): trace ids, access log, prometheus-style counters and
// histogram, max-conns semaphore, SRE breaker bookkeeping, CPU-based shedding check,
// http.TimeoutHandler, recover, metrics, MaxBytesReader and a gunzip check. It is our own code on
// the standard library only, not go-zero itself: it exists to price that work, not to reproduce
// every detail. Run it with GOMAXPROCS=1 so it is measured on one core like the other peers.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	mrand "math/rand"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults from go-zero rest/config.go (RestConf): MaxConns 10000, MaxBytes 1048576,
// Timeout 3000 ms, CpuThreshold 900 (per mille).
var (
	addr         = flag.String("addr", "127.0.0.1:18082", "listen address")
	chain        = flag.Bool("chain", false, "wrap /hello in a go-zero-like middleware chain")
	logPath      = flag.String("log", "access.log", "access log file (with -chain)")
	maxConns     = flag.Int("maxconns", 10000, "max concurrent requests (with -chain)")
	maxBytes     = flag.Int64("maxbytes", 1048576, "max request body bytes (with -chain)")
	timeout      = flag.Duration("timeout", 3*time.Second, "request timeout (with -chain)")
	cpuThreshold = flag.Int64("cputhreshold", 900, "shedding CPU threshold, ‰ (with -chain)")
)

var helloBody = []byte(`{"message":"hello"}`)

type message struct {
	Message string `json:"message"`
}

// plainHello is the bare net/http baseline: a constant body, no framework work.
func plainHello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(helloBody)
}

// chainHello marshals like go-zero's httpx.OkJson does for a generated handler.
func chainHello(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(message{Message: "hello"})
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// ---- trace: W3C ids taken from traceparent or generated, echoed in the response like go-zero's
// TracingHandler does with propagator.Inject.

type ctxKey int

const traceKey ctxKey = 0

type traceIDs struct{ trace, span string }

// idSource mirrors the OpenTelemetry SDK's default id generator: math/rand behind a mutex.
var (
	idMu     sync.Mutex
	idSource = mrand.New(mrand.NewSource(time.Now().UnixNano()))
)

func randHex(n int) string {
	b := make([]byte, n)
	idMu.Lock()
	idSource.Read(b)
	idMu.Unlock()
	return hex.EncodeToString(b)
}

func traceHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids := traceIDs{span: randHex(8)}
		if tp := r.Header.Get("Traceparent"); len(tp) == 55 && tp[2] == '-' {
			ids.trace = tp[3:35]
		} else {
			ids.trace = randHex(16)
		}
		w.Header().Set("Traceparent", "00-"+ids.trace+"-"+ids.span+"-01")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), traceKey, ids)))
	})
}

// ---- access log: one JSON line per request through a bufio.Writer (64 KiB, flushed every
// second), the shape of go-zero's logx file output.

type accessLog struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newAccessLog(path string) (*accessLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	l := &accessLog{w: bufio.NewWriterSize(f, 64<<10)}
	go func() {
		for range time.Tick(time.Second) {
			l.mu.Lock()
			l.w.Flush()
			l.mu.Unlock()
		}
	}()
	return l, nil
}

type logEntry struct {
	Timestamp string `json:"@timestamp"`
	Caller    string `json:"caller"`
	Content   string `json:"content"`
	Duration  string `json:"duration"`
	Level     string `json:"level"`
	Span      string `json:"span,omitempty"`
	Trace     string `json:"trace,omitempty"`
}

func (l *accessLog) write(e *logEntry) {
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.w.Write(line)
	l.w.WriteByte('\n')
	l.mu.Unlock()
}

// statusWriter records the status code for the handlers that run after the response.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func logHandler(al *accessLog) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			next.ServeHTTP(sw, r)
			d := time.Since(start)
			ids, _ := r.Context().Value(traceKey).(traceIDs)
			level := "info"
			if sw.code >= 500 {
				level = "error"
			}
			al.write(&logEntry{
				Timestamp: start.Format("2006-01-02T15:04:05.000Z07:00"),
				Caller:    "handler/loghandler.go:160",
				Content: fmt.Sprintf("[HTTP] %d - %s %s - %s - %s", sw.code, r.Method,
					r.RequestURI, r.RemoteAddr, r.UserAgent()),
				Duration: strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms",
				Level:    level,
				Span:     ids.span,
				Trace:    ids.trace,
			})
		})
	}
}

// ---- prometheus: per-route request counter by code and a duration histogram, in process.
// Buckets are go-zero's rest/handler/prometheushandler.go ones, in milliseconds.

var promBuckets = []float64{5, 10, 25, 50, 100, 250, 500, 1000}

type promRoute struct {
	mu      sync.Mutex
	codes   map[int]uint64
	buckets []uint64
	sum     float64
	count   uint64
}

func prometheusHandler(next http.Handler) http.Handler {
	pr := &promRoute{codes: map[int]uint64{}, buckets: make([]uint64, len(promBuckets)+1)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		ms := float64(time.Since(start).Microseconds()) / 1000
		i := 0
		for i < len(promBuckets) && ms > promBuckets[i] {
			i++
		}
		pr.mu.Lock()
		pr.codes[sw.code]++
		pr.buckets[i]++
		pr.sum += ms
		pr.count++
		pr.mu.Unlock()
	})
}

// ---- max conns: a semaphore; over the limit answers 503 at once.

func maxConnsHandler(n int) func(http.Handler) http.Handler {
	sem := make(chan struct{}, n)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				next.ServeHTTP(w, r)
			default:
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
	}
}

// ---- rolling window shared by breaker and shedder (go-zero core/collection/rollingwindow.go).

type bucket struct {
	sum   float64
	count int64
}

type rollingWindow struct {
	mu       sync.Mutex
	buckets  []bucket
	interval time.Duration
	offset   int
	last     time.Time
}

func newRollingWindow(n int, interval time.Duration) *rollingWindow {
	return &rollingWindow{buckets: make([]bucket, n), interval: interval, last: time.Now()}
}

func (rw *rollingWindow) advance(now time.Time) {
	span := int(now.Sub(rw.last) / rw.interval)
	if span <= 0 {
		return
	}
	if span > len(rw.buckets) {
		span = len(rw.buckets)
	}
	for i := 0; i < span; i++ {
		rw.buckets[(rw.offset+1+i)%len(rw.buckets)] = bucket{}
	}
	rw.offset = (rw.offset + span) % len(rw.buckets)
	rw.last = rw.last.Add(time.Duration(span) * rw.interval)
}

func (rw *rollingWindow) add(v float64) {
	rw.mu.Lock()
	rw.advance(time.Now())
	rw.buckets[rw.offset].sum += v
	rw.buckets[rw.offset].count++
	rw.mu.Unlock()
}

func (rw *rollingWindow) reduce(fn func(b *bucket)) {
	rw.mu.Lock()
	rw.advance(time.Now())
	for i := range rw.buckets {
		fn(&rw.buckets[i])
	}
	rw.mu.Unlock()
}

// ---- breaker: Google SRE adaptive throttling, go-zero core/breaker/googlebreaker.go constants
// (window 10 s in 40 buckets, k = 1.5, protection = 5). 5xx counts as failure.

type breaker struct {
	stat *rollingWindow
	k    float64
}

func breakerHandler(next http.Handler) http.Handler {
	b := &breaker{stat: newRollingWindow(40, 10*time.Second/40), k: 1.5}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var accepts, total float64
		b.stat.reduce(func(bk *bucket) { accepts += bk.sum; total += float64(bk.count) })
		drop := math.Max(0, (total-5-b.k*accepts)/(total+1))
		if drop > 0 && mrand.Float64() < drop {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.code < 500 {
			b.stat.add(1)
		} else {
			b.stat.add(0)
		}
	})
}

// ---- shedding: go-zero core/load/adaptiveshedder.go shape (window 5 s in 50 buckets, flying
// EWMA beta 0.9, maxFlight = maxPass * minRt / 100 with 100 ms buckets, minRt 1000 ms when
// idle) fed by a CPU usage sampler like core/stat/usage.go (250 ms, EWMA beta 0.95).

var cpuUsage int64 // per mille of one core, EWMA

func sampleCPU() {
	var lastTicks, lastNs int64
	for range time.Tick(250 * time.Millisecond) {
		data, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			continue
		}
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fields) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks, now := ut+st, time.Now().UnixNano()
		if lastNs != 0 {
			// 100 ticks per second (USER_HZ). Like go-zero (core/stat/internal/cpu_linux.go)
			// usage is per mille of all the CPUs the process may use, so one saturated
			// core on a 2-CPU machine reads 500.
			cur := (ticks - lastTicks) * 1e10 / (now - lastNs) / int64(runtime.NumCPU())
			old := atomic.LoadInt64(&cpuUsage)
			atomic.StoreInt64(&cpuUsage, int64(float64(old)*0.95+float64(cur)*0.05))
		}
		lastTicks, lastNs = ticks, now
	}
}

type shedder struct {
	threshold   int64
	flying      int64
	avgFlying   uint64 // math.Float64bits
	passCounter *rollingWindow
	rtCounter   *rollingWindow
	droppedAt   int64
}

func (s *shedder) overloaded() bool {
	return atomic.LoadInt64(&cpuUsage) >= s.threshold
}

// stillHot keeps shedding for go-zero's coolOffDuration (1 s) after the last drop.
func (s *shedder) stillHot() bool {
	at := atomic.LoadInt64(&s.droppedAt)
	return at != 0 && time.Now().UnixNano()-at < int64(time.Second)
}

func (s *shedder) highThru() bool {
	var maxPass, minRt float64 = 1, 1000
	s.passCounter.reduce(func(b *bucket) {
		if b.sum > maxPass {
			maxPass = b.sum
		}
	})
	s.rtCounter.reduce(func(b *bucket) {
		if b.count > 0 {
			if avg := b.sum / float64(b.count); avg < minRt {
				minRt = avg
			}
		}
	})
	avg := math.Float64frombits(atomic.LoadUint64(&s.avgFlying))
	return avg > maxPass*minRt/100 && float64(atomic.LoadInt64(&s.flying)) > maxPass*minRt/100
}

func sheddingHandler(threshold int64) func(http.Handler) http.Handler {
	s := &shedder{threshold: threshold, passCounter: newRollingWindow(50, 100*time.Millisecond),
		rtCounter: newRollingWindow(50, 100*time.Millisecond)}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (s.overloaded() || s.stillHot()) && s.highThru() {
				atomic.StoreInt64(&s.droppedAt, time.Now().UnixNano())
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			atomic.AddInt64(&s.flying, 1)
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			next.ServeHTTP(sw, r)
			// Like go-zero's promise: avgFlying moves when a request ends; only a
			// non-5xx answer counts as a pass with its response time (ms, rounded up).
			flying := atomic.AddInt64(&s.flying, -1)
			old := math.Float64frombits(atomic.LoadUint64(&s.avgFlying))
			atomic.StoreUint64(&s.avgFlying, math.Float64bits(old*0.9+float64(flying)*0.1))
			if sw.code < 500 {
				s.rtCounter.add(math.Ceil(float64(time.Since(start).Microseconds()) / 1000))
				s.passCounter.add(1)
			}
		})
	}
}

// ---- recover, metrics, max bytes, gunzip.

func recoverHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				log.Printf("panic: %v", v)
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type metrics struct {
	mu     sync.Mutex
	count  uint64
	total  time.Duration
	maxDur time.Duration
}

func metricHandler(m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			next.ServeHTTP(w, r)
			d := time.Since(start)
			m.mu.Lock()
			m.count++
			m.total += d
			if d > m.maxDur {
				m.maxDur = d
			}
			m.mu.Unlock()
		})
	}
}

func maxBytesHandler(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

func gunzipHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Content-Encoding"), "gzip") {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			r.Body = zr
		}
		next.ServeHTTP(w, r)
	})
}

func buildChain(h http.Handler, al *accessLog) http.Handler {
	m := &metrics{}
	// Outermost first, go-zero rest/engine.go order.
	mws := []func(http.Handler) http.Handler{
		traceHandler,
		logHandler(al),
		prometheusHandler,
		maxConnsHandler(*maxConns),
		breakerHandler,
		sheddingHandler(*cpuThreshold),
		func(next http.Handler) http.Handler { return http.TimeoutHandler(next, *timeout, "") },
		recoverHandler,
		metricHandler(m),
		maxBytesHandler(*maxBytes),
		gunzipHandler,
	}
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

func main() {
	flag.Parse()
	mux := http.NewServeMux()
	var al *accessLog
	if *chain {
		var err error
		if al, err = newAccessLog(*logPath); err != nil {
			log.Fatalf("open %s: %v", *logPath, err)
		}
		go sampleCPU()
		mux.Handle("/hello", buildChain(http.HandlerFunc(chainHello), al))
	} else {
		mux.HandleFunc("/hello", plainHello)
	}
	srv := &http.Server{Addr: *addr, Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		if al != nil {
			al.mu.Lock()
			al.w.Flush()
			al.mu.Unlock()
		}
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
