// Echo load generator for bench/echo: single-threaded, non-blocking,
// edge-triggered epoll.
//
// usage: loadgen HOST PORT CONNS SIZE DEPTH SECONDS WARMUP
//                [--connect-only] [--idle M] [--window W] [--connect-timeout S]
//                [--attempt-timeout S] [--server-pid PID] [--perf-ctl CTL,ACK]
//        loadgen --exec PROGRAM [ARGS...]
//
// Every connection first sends a 1-byte probe and waits for its echo, so a
// connection only counts as "established" once the server has accepted it and
// echoed on it. Then each of the CONNS active connections keeps DEPTH messages
// of SIZE bytes in flight for WARMUP + SECONDS seconds; statistics cover only
// the last SECONDS. Every echoed byte is checked against the connection's
// deterministic byte stream. The --idle M connections are probed and then held
// open without traffic. --connect-only opens CONNS connections as fast as
// possible (at most W connects pending at once when --window is given), reports
// the time until all have echoed their probe, and closes them. A connect
// refused, reset, or not echoed within --attempt-timeout (default 10 s) is
// retried; --connect-timeout (default 60 s) bounds the whole connect phase.
//
// With --server-pid, the server's CPU time (user + system, all threads, from
// /proc/PID/stat) is read exactly when the measured window opens and closes,
// and reported as "server_cpu_s" (-1 when it could not be read), its main
// thread's alone as "server_main_cpu_s": the window
// then holds no warm-up, connection set-up or tear-down, and no sampling
// interval's worth of slack.
//
// With --perf-ctl CTL,ACK (the FIFOs of `perf stat --delay=-1 --control
// fifo:CTL,ACK`), perf's counters are enabled when the window opens and
// disabled when it closes, each command waited for until perf acknowledges
// it. "window_start_ns" and "window_end_ns" are the window's bounds on
// CLOCK_MONOTONIC (the clock of a V8 CPU profile's timestamps, in µs there).
//
// Output: one JSON line on stdout. Diagnostics go to stderr.
//
// --exec runs PROGRAM with PR_SET_PDEATHSIG=SIGKILL, so it dies with the
// process that spawned it (used by run.ts to make sure servers never outlive
// the benchmark).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define PERIOD 251u             // pattern period (prime, so it never lines up with SIZE)
#define RBUF_SIZE (256u * 1024u) // one read buffer shared by all connections
#define MAX_EVENTS 1024

enum { ST_FREE, ST_WAIT_RETRY, ST_CONNECTING, ST_PROBING, ST_READY, ST_DEAD };

typedef struct {
  int fd;
  int state;
  int active;          // 1: traffic connection, 0: idle connection
  uint32_t phase;      // pattern phase of this connection
  uint64_t send_off;   // stream bytes written
  uint64_t send_target;// stream bytes queued (written or not)
  uint64_t recv_off;   // stream bytes received and verified
  uint64_t queued;     // messages queued since the probe
  uint64_t done;       // messages completed since the probe
  uint64_t count;      // messages completed during measurement
  uint64_t attempt_ns; // when the current connect attempt started / retry due
  uint64_t *sent_at;   // DEPTH send timestamps (ring)
} conn_t;

static uint8_t *pattern;   // PERIOD + max write chunk bytes of pseudo-random data
static size_t pattern_len;
static conn_t *conns;
static int nconns_total;
static int epfd;
static struct sockaddr_in addr;
static uint64_t size_, depth_;
static int measuring = 0;

// Histogram: log-linear over nanoseconds, 64 sub-buckets per power of two
// (better than 1.6 % resolution).
#define SUB_BITS 6
#define SUB (1u << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS) * SUB + SUB)
static uint64_t hist[NBUCKETS];
static uint64_t hist_n;

static inline int bucket_of(uint64_t v) {
  if (v < SUB) return (int)v;
  int e = 63 - __builtin_clzll(v);          // e >= SUB_BITS
  int sub = (int)((v >> (e - SUB_BITS)) & (SUB - 1));
  return (e - SUB_BITS + 1) * SUB + sub;
}
static inline uint64_t bucket_value(int b) {  // midpoint of bucket b
  if (b < (int)SUB) return (uint64_t)b;
  int e = b / SUB - 1 + SUB_BITS;
  uint64_t sub = (uint64_t)(b % SUB);
  uint64_t lo = (1ull << e) | (sub << (e - SUB_BITS));
  uint64_t width = 1ull << (e - SUB_BITS);
  return lo + width / 2;
}
static double percentile_us(double q) {
  if (hist_n == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)hist_n);
  if (rank >= hist_n) rank = hist_n - 1;
  uint64_t seen = 0;
  for (int b = 0; b < (int)NBUCKETS; b++) {
    seen += hist[b];
    if (seen > rank) return (double)bucket_value(b) / 1000.0;
  }
  return 0;
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(void);
static void die(const char *what);

// perf stat's control FIFOs (--perf-ctl): -1 when not used.
static int perf_ctl_fd = -1, perf_ack_fd = -1;

// Opens "CTL,ACK" (perf has them open already: it was started first).
static void perf_open(const char *spec) {
  char ctl[512];
  const char *comma = strchr(spec, ',');
  if (comma == NULL || (size_t)(comma - spec) >= sizeof ctl) usage();
  memcpy(ctl, spec, (size_t)(comma - spec));
  ctl[comma - spec] = 0;
  perf_ctl_fd = open(ctl, O_WRONLY | O_CLOEXEC);
  perf_ack_fd = open(comma + 1, O_RDONLY | O_CLOEXEC);
  if (perf_ctl_fd < 0 || perf_ack_fd < 0) die("open --perf-ctl");
}

// Sends perf `cmd` ("enable", "disable") and waits for its "ack".
static void perf_command(const char *cmd) {
  if (perf_ctl_fd < 0) return;
  char line[32], ack[16];
  int n = snprintf(line, sizeof line, "%s\n", cmd);
  if (write(perf_ctl_fd, line, (size_t)n) != n) die("write --perf-ctl");
  if (read(perf_ack_fd, ack, sizeof ack) <= 0) die("read --perf-ctl ack");
}

// CPU seconds (user + system, every thread) of process `pid` from
// /proc/PID/stat, or -1 (no pid given, or the file could not be read).
static double stat_cpu_s(const char *path);
static double proc_cpu_s(int pid) {
  if (pid <= 0) return -1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  return stat_cpu_s(path);
}

// The same for the process's main thread alone (its thread id is its pid).
static double main_thread_cpu_s(int pid) {
  if (pid <= 0) return -1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, pid);
  return stat_cpu_s(path);
}

// utime + stime in seconds from a /proc stat file, or -1.
static double stat_cpu_s(const char *path) {
  char buf[1024];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  // Fields after the command name (which may hold spaces): state is field 3,
  // utime 14 and stime 15.
  char *p = strrchr(buf, ')');
  if (p == NULL) return -1;
  unsigned long long utime = 0, stime = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
             &stime) != 2)
    return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

// The byte at stream offset p of connection c is
//   pattern[(p + phase_c) % PERIOD]
// with phase_c = (c * 97 + 13) % PERIOD: consecutive connections get different
// phases, so bytes echoed to the wrong connection or reordered are detected.
static inline const uint8_t *stream_at(const conn_t *c, uint64_t off) {
  return pattern + (off + c->phase) % PERIOD;
}

static uint64_t conn_errors, mismatch_bytes, connect_retries;

static void conn_close(conn_t *c, int new_state) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = new_state;
}

static void conn_start(conn_t *c, uint64_t now) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) die("socket (raise ulimit -n)");
    die("socket");
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->attempt_ns = now;
  c->send_off = c->send_target = c->recv_off = 0;
  c->queued = c->done = c->count = 0;
  int r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  if (r == 0 || errno == EINPROGRESS) {
    // Register after connect(): an unconnected TCP socket polls as EPOLLHUP.
    // If the connect already completed, EPOLLOUT is reported at once.
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    c->state = ST_CONNECTING;
  } else if (errno == EAGAIN || errno == ECONNREFUSED || errno == EADDRNOTAVAIL ||
             errno == ETIMEDOUT || errno == EINTR) {
    connect_retries++;
    conn_close(c, ST_WAIT_RETRY);
    c->attempt_ns = now + 10 * 1000000ull;  // retry in 10 ms
  } else {
    die("connect");
  }
}

static void retry_later(conn_t *c, uint64_t now) {
  connect_retries++;
  conn_close(c, ST_WAIT_RETRY);
  c->attempt_ns = now + 10 * 1000000ull;
}

// Write queued bytes until done or EAGAIN. Returns -1 if the connection died.
static int flush(conn_t *c) {
  while (c->send_off < c->send_target) {
    uint64_t left = c->send_target - c->send_off;
    size_t chunk = left > pattern_len - PERIOD ? pattern_len - PERIOD : (size_t)left;
    ssize_t n = write(c->fd, stream_at(c, c->send_off), chunk);
    if (n > 0) {
      c->send_off += (uint64_t)n;
      if ((size_t)n < chunk) return 0;  // socket buffer full: wait for EPOLLOUT edge
    } else if (n < 0 && errno == EAGAIN) {
      return 0;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
  return 0;
}

static void queue_message(conn_t *c, uint64_t now) {
  c->sent_at[c->queued % depth_] = now;
  c->queued++;
  c->send_target += size_;
}

static void count_mismatch(const conn_t *c, const uint8_t *got, size_t n, uint64_t off) {
  for (size_t i = 0; i < n; i++) {
    if (got[i] != *stream_at(c, off + i)) mismatch_bytes++;
  }
}

static uint8_t rbuf[RBUF_SIZE];

// Handle readable data on a connection in ST_PROBING or ST_READY.
// Returns number of connections that became ready (0/1), or -1 on death.
static int on_readable(conn_t *c, int *became_ready) {
  for (;;) {
    ssize_t n = read(c->fd, rbuf, RBUF_SIZE);
    if (n > 0) {
      uint64_t now = now_ns();
      if (c->state == ST_PROBING) {
        // Probe is stream byte 0.
        if (rbuf[0] != *stream_at(c, 0)) mismatch_bytes++;
        c->recv_off = 1;
        c->state = ST_READY;
        *became_ready = 1;
        if (n > 1) {  // the server echoed more than we sent
          mismatch_bytes += (uint64_t)(n - 1);
        }
        if ((size_t)n < RBUF_SIZE) return 0;
        continue;
      }
      if (c->recv_off + (uint64_t)n > c->send_off) {
        // More bytes came back than were sent: count the excess as errors.
        uint64_t excess = c->recv_off + (uint64_t)n - c->send_off;
        mismatch_bytes += excess;
        n -= (ssize_t)excess;
      }
      if (memcmp(rbuf, stream_at(c, c->recv_off), (size_t)n) != 0) {
        count_mismatch(c, rbuf, (size_t)n, c->recv_off);
      }
      c->recv_off += (uint64_t)n;
      if (c->active) {
        uint64_t before = c->queued;
        // Message i occupies stream bytes [1 + i*S, 1 + (i+1)*S).
        while (c->done < c->queued && c->recv_off >= 1 + (c->done + 1) * size_) {
          if (measuring) {
            uint64_t lat = now - c->sent_at[c->done % depth_];
            hist[bucket_of(lat)]++;
            hist_n++;
            c->count++;
          }
          c->done++;
        }
        while (c->queued < c->done + depth_) queue_message(c, now);
        if (c->queued != before && flush(c) < 0) return -1;
      }
      if ((size_t)n < RBUF_SIZE) return 0;  // drained (edge-triggered: next edge on new data)
    } else if (n == 0) {
      return -1;  // EOF
    } else if (errno == EAGAIN) {
      return 0;
    } else if (errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
}

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen HOST PORT CONNS SIZE DEPTH SECONDS WARMUP [--connect-only] "
          "[--idle M] [--window W] [--connect-timeout S] [--attempt-timeout S]\n"
          "       loadgen --exec PROGRAM [ARGS...]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "--exec") == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 1;  // parent already gone
    execvp(argv[2], argv + 2);
    perror("loadgen --exec");
    return 127;
  }
  if (argc < 8) usage();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  const char *host = argv[1];
  int port = atoi(argv[2]);
  int nactive = atoi(argv[3]);
  size_ = (uint64_t)strtoull(argv[4], NULL, 10);
  depth_ = (uint64_t)strtoull(argv[5], NULL, 10);
  double seconds = atof(argv[6]);
  double warmup = atof(argv[7]);
  int connect_only = 0, nidle = 0, window = 0, server_pid = 0;
  const char *perf_ctl = NULL;
  double connect_timeout = 60.0, attempt_timeout_s = 10.0;
  for (int i = 8; i < argc; i++) {
    if (strcmp(argv[i], "--connect-only") == 0) connect_only = 1;
    else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc) nidle = atoi(argv[++i]);
    else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc) window = atoi(argv[++i]);
    else if (strcmp(argv[i], "--connect-timeout") == 0 && i + 1 < argc)
      connect_timeout = atof(argv[++i]);
    else if (strcmp(argv[i], "--attempt-timeout") == 0 && i + 1 < argc)
      attempt_timeout_s = atof(argv[++i]);
    else if (strcmp(argv[i], "--server-pid") == 0 && i + 1 < argc)
      server_pid = atoi(argv[++i]);
    else if (strcmp(argv[i], "--perf-ctl") == 0 && i + 1 < argc)
      perf_ctl = argv[++i];
    else usage();
  }
  if (nactive < 0 || nidle < 0 || (nactive + nidle) == 0 || port <= 0 || port > 65535) usage();
  if (!connect_only && (size_ == 0 || depth_ == 0)) usage();
  if (connect_only) { size_ = size_ ? size_ : 1; depth_ = depth_ ? depth_ : 1; }

  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
      fprintf(stderr, "loadgen: cannot resolve %s\n", host);
      return 2;
    }
    addr.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
  }

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  // Pattern: PERIOD bytes of xorshift noise, repeated so that any window of
  // up to max_chunk bytes starting at offset < PERIOD is contiguous.
  size_t max_chunk = 256 * 1024;
  pattern_len = PERIOD + max_chunk;
  pattern = malloc(pattern_len);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < PERIOD; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    pattern[i] = (uint8_t)(x >> 24);
  }
  for (size_t i = PERIOD; i < pattern_len; i++) pattern[i] = pattern[i % PERIOD];

  nconns_total = connect_only ? nactive : nactive + nidle;
  conns = calloc((size_t)nconns_total, sizeof(conn_t));
  uint64_t *stamps = calloc((size_t)nconns_total * depth_, sizeof(uint64_t));
  if (!conns || !stamps) die("calloc");
  for (int i = 0; i < nconns_total; i++) {
    conns[i].fd = -1;
    conns[i].state = ST_FREE;
    conns[i].active = !connect_only && i < nactive;
    conns[i].phase = (uint32_t)(((uint64_t)i * 97u + 13u) % PERIOD);
    conns[i].sent_at = stamps + (size_t)i * depth_;
  }

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  struct epoll_event events[MAX_EVENTS];

  // ---- Phase 1: connect + probe every connection ----
  uint64_t t0 = now_ns();
  // Restart an attempt (connect + probe echo) that is stuck this long.
  uint64_t attempt_timeout = (uint64_t)(attempt_timeout_s * 1e9);
  uint64_t deadline = t0 + (uint64_t)(connect_timeout * 1e9);
  int next_free = 0, pending = 0, ready = 0, established = 0;
  uint64_t t_established = 0;
  uint64_t last_sweep = t0;
  while (ready < nconns_total && !stop_flag) {
    uint64_t now = now_ns();
    if (now > deadline) break;
    // Start new connects (bounded by the window).
    while (next_free < nconns_total && (window <= 0 || pending < window)) {
      conn_t *c = &conns[next_free++];
      conn_start(c, now);
      pending++;
    }
    // Periodically: retry due connections, restart stuck attempts.
    if (now - last_sweep > 5 * 1000000ull) {
      last_sweep = now;
      for (int i = 0; i < next_free; i++) {
        conn_t *c = &conns[i];
        if (c->state == ST_WAIT_RETRY && now >= c->attempt_ns) {
          conn_start(c, now);
        } else if (c->state == ST_CONNECTING && now - c->attempt_ns > attempt_timeout) {
          retry_later(c, now);
        } else if (c->state == ST_PROBING && now - c->attempt_ns > attempt_timeout) {
          // Established on our side but never served (e.g. the handshake's
          // final ACK was dropped on accept-queue overflow): start over.
          established--;
          retry_later(c, now);
        }
      }
    }
    int n = epoll_wait(epfd, events, MAX_EVENTS, 5);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    now = now_ns();
    for (int k = 0; k < n; k++) {
      conn_t *c = &conns[events[k].data.u32];
      uint32_t ev = events[k].events;
      if (c->fd < 0) continue;
      if (c->state == ST_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
          retry_later(c, now);
          continue;
        }
        established++;
        if (established == nconns_total) t_established = now;
        c->state = ST_PROBING;
        c->send_target = 1;
        if (flush(c) < 0) {
          established--;
          retry_later(c, now);
          continue;
        }
        // The probe reply may already be here: fall through to reading.
        ev |= EPOLLIN;
      }
      if (c->state == ST_PROBING && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
        int became = 0;
        if (on_readable(c, &became) < 0) {
          // Reset before the probe came back (e.g. accept-queue overflow): retry.
          established--;
          retry_later(c, now);
          continue;
        }
        if (became) {
          ready++;
          pending--;
        }
      } else if (c->state == ST_READY && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
        // Unexpected data or close on an idle, probed connection.
        int became = 0;
        if (on_readable(c, &became) < 0) {
          conn_errors++;
          conn_close(c, ST_DEAD);
        }
      }
    }
  }
  uint64_t t_ready = now_ns();
  int connect_failed = nconns_total - ready;
  double connect_ms = (double)(t_ready - t0) / 1e6;
  double established_ms = t_established ? (double)(t_established - t0) / 1e6 : connect_ms;
  if (connect_failed > 0) {
    fprintf(stderr, "loadgen: %d of %d connections not ready after %.0f ms\n", connect_failed,
            nconns_total, connect_ms);
  }

  if (connect_only) {
    printf("{\"conns\":%d,\"size\":0,\"depth\":0,\"seconds\":0,\"msgs_per_s\":0,\"mb_per_s\":0,"
           "\"p50_us\":0,\"p99_us\":0,\"p999_us\":0,\"per_conn_min\":0,\"per_conn_max\":0,"
           "\"jain\":0,\"errors\":%llu,\"connect_ms\":%.3f,\"established_ms\":%.3f,"
           "\"connect_failed\":%d,\"connect_retries\":%llu,\"mismatch_bytes\":%llu,"
           "\"conn_errors\":%llu}\n",
           nactive, (unsigned long long)(mismatch_bytes + conn_errors + (uint64_t)connect_failed),
           connect_ms, established_ms, connect_failed, (unsigned long long)connect_retries,
           (unsigned long long)mismatch_bytes, (unsigned long long)conn_errors);
    fflush(stdout);
    for (int i = 0; i < nconns_total; i++) conn_close(&conns[i], ST_DEAD);
    return 0;
  }

  // ---- Phase 2: traffic ----
  uint64_t start = now_ns();
  for (int i = 0; i < nactive; i++) {
    conn_t *c = &conns[i];
    if (c->state != ST_READY) continue;
    for (uint64_t d = 0; d < depth_; d++) queue_message(c, start);
    if (flush(c) < 0) {
      conn_errors++;
      conn_close(c, ST_DEAD);
    }
  }
  uint64_t warm_end = start + (uint64_t)(warmup * 1e9);
  uint64_t end = warm_end + (uint64_t)(seconds * 1e9);
  uint64_t measure_start = warm_end;
  struct rusage ru0, ru1;
  double srv0 = -1, main0 = -1;
  if (perf_ctl != NULL) perf_open(perf_ctl);
  if (warmup <= 0) {
    perf_command("enable");
    measuring = 1;
    getrusage(RUSAGE_SELF, &ru0);
    srv0 = proc_cpu_s(server_pid);
    main0 = main_thread_cpu_s(server_pid);
  }
  for (;;) {
    uint64_t now = now_ns();
    if (!measuring && now >= warm_end) {
      perf_command("enable");
      now = now_ns();
      measuring = 1;
      measure_start = now;
      getrusage(RUSAGE_SELF, &ru0);
      srv0 = proc_cpu_s(server_pid);
      main0 = main_thread_cpu_s(server_pid);
    }
    if (now >= end || stop_flag) break;
    uint64_t until = (measuring ? end : warm_end) - now;
    int timeout_ms = (int)(until / 1000000ull) + 1;
    if (timeout_ms > 100) timeout_ms = 100;
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int k = 0; k < n; k++) {
      conn_t *c = &conns[events[k].data.u32];
      uint32_t ev = events[k].events;
      if (c->state != ST_READY) continue;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        int became = 0;
        if (on_readable(c, &became) < 0) {
          conn_errors++;
          conn_close(c, ST_DEAD);
          continue;
        }
      }
      if ((ev & EPOLLOUT) && c->send_off < c->send_target) {
        if (flush(c) < 0) {
          conn_errors++;
          conn_close(c, ST_DEAD);
        }
      }
    }
  }
  uint64_t stop = now_ns();
  double srv1 = proc_cpu_s(server_pid);
  double main1 = main_thread_cpu_s(server_pid);
  perf_command("disable");
  getrusage(RUSAGE_SELF, &ru1);
  double server_cpu = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
  double main_cpu = main0 >= 0 && main1 >= 0 ? main1 - main0 : -1;
  double elapsed = (double)(stop - measure_start) / 1e9;
  if (elapsed <= 0) elapsed = 1e-9;
  double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
               (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;

  uint64_t total = 0, cmin = UINT64_MAX, cmax = 0;
  double sum = 0, sumsq = 0;
  for (int i = 0; i < nactive; i++) {
    uint64_t v = conns[i].count;  // dead/never-ready connections count as 0
    total += v;
    if (v < cmin) cmin = v;
    if (v > cmax) cmax = v;
    sum += (double)v;
    sumsq += (double)v * (double)v;
  }
  if (nactive == 0) cmin = 0;
  double jain = sumsq > 0 ? (sum * sum) / ((double)nactive * sumsq) : 0;
  double mps = (double)total / elapsed;
  uint64_t errors = mismatch_bytes + conn_errors + (uint64_t)connect_failed;
  printf("{\"conns\":%d,\"size\":%llu,\"depth\":%llu,\"seconds\":%.3f,\"msgs_per_s\":%.1f,"
         "\"mb_per_s\":%.3f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
         "\"per_conn_min\":%llu,\"per_conn_max\":%llu,\"jain\":%.5f,\"errors\":%llu,"
         "\"connect_ms\":%.3f,\"idle\":%d,\"msgs\":%llu,\"loadgen_cpu\":%.3f,"
         "\"connect_failed\":%d,\"connect_retries\":%llu,\"mismatch_bytes\":%llu,"
         "\"conn_errors\":%llu,\"server_cpu_s\":%.3f,\"server_main_cpu_s\":%.3f,\"window_start_ns\":%llu,"
         "\"window_end_ns\":%llu}\n",
         nactive, (unsigned long long)size_, (unsigned long long)depth_, elapsed, mps,
         mps * (double)size_ / 1e6, percentile_us(0.50), percentile_us(0.99),
         percentile_us(0.999), (unsigned long long)cmin, (unsigned long long)cmax, jain,
         (unsigned long long)errors, connect_ms, nidle, (unsigned long long)total, cpu / elapsed,
         connect_failed, (unsigned long long)connect_retries, (unsigned long long)mismatch_bytes,
         (unsigned long long)conn_errors, server_cpu, main_cpu, (unsigned long long)measure_start,
         (unsigned long long)stop);
  fflush(stdout);
  for (int i = 0; i < nconns_total; i++) conn_close(&conns[i], ST_DEAD);
  return 0;
}
