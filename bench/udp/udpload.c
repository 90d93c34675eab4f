// UDP echo load generator for bench/udp: single-threaded, non-blocking,
// level-triggered epoll, one connected socket per flow.
//
// usage: udpload HOST PORT FLOWS SIZE WINDOW SECONDS WARMUP [--timeout-ms T]
//
// Each of the FLOWS sockets (each its own source port) keeps WINDOW datagrams
// of SIZE bytes (>= 16) in flight for WARMUP + SECONDS seconds; statistics
// cover only the last SECONDS. A datagram carries its flow and sequence
// number and then bytes derived from both, and every byte of every reply is
// checked ("bad" counts the replies that differ, "late" the ones that came
// after being declared lost). A datagram not answered within T ms (default
// 200) is lost: it is counted and its slot is filled with a new one. At the
// end the generator stops sending and waits T ms for the last replies; what
// is still missing then is lost too. Replies are read with recvmmsg and their
// successors sent with one sendmmsg per flow and wakeup, so the generator
// outruns the servers it measures.
//
// Output: one JSON line on stdout: replies/s, the round-trip time's p50, p99
// and p99.9 in microseconds (exact, from every sample), sent, lost, late, bad,
// and the generator's own CPU use in cores. Diagnostics go to stderr. Exits 1
// if a reply was corrupt.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOW 256
#define HDR 12  // flow (4 bytes) + sequence (8 bytes)

typedef struct {
  uint64_t seq;      // 0: free slot
  uint64_t sent_ns;
  int measured;      // sent during the measured window
} slot_t;

typedef struct {
  int fd;
  uint32_t id;
  uint64_t next_seq;
  slot_t slot[MAX_WINDOW];
} flow_t;

static int size_, window_;
static uint64_t *samples;  // round-trip times of measured replies, ns
static size_t nsamples, max_samples;
static uint64_t sent_measured, replies, lost, late, bad;
static int measuring = 0, draining = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// The bytes after the header: xorshift64 seeded from the flow and sequence.
static void fill(uint8_t *p, uint32_t flow, uint64_t seq) {
  uint64_t x = (seq * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)flow << 32) ^ 0x2545f4914f6cdd1dull;
  for (int i = HDR; i < size_; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (uint8_t)x;
  }
}

static void make(uint8_t *p, uint32_t flow, uint64_t seq) {
  memcpy(p, &flow, 4);
  memcpy(p + 4, &seq, 8);
  fill(p, flow, seq);
}

static uint8_t *expect_buf;

// Checks one reply; returns its slot, or NULL (late or corrupt, counted).
static slot_t *check(flow_t *f, const uint8_t *p, int len) {
  uint32_t flow;
  uint64_t seq;
  if (len != size_) {
    bad++;
    return NULL;
  }
  memcpy(&flow, p, 4);
  memcpy(&seq, p + 4, 8);
  if (flow != f->id) {
    bad++;
    return NULL;
  }
  fill(expect_buf, flow, seq);
  if (memcmp(p + HDR, expect_buf + HDR, (size_t)(size_ - HDR)) != 0) {
    bad++;
    return NULL;
  }
  for (int i = 0; i < window_; i++)
    if (f->slot[i].seq == seq) return &f->slot[i];
  if (seq < f->next_seq) late++;
  else bad++;
  return NULL;
}

static uint8_t *sendbufs;  // window_ datagrams, for one flow's sendmmsg
static struct mmsghdr smsgs[MAX_WINDOW];
static struct iovec siov[MAX_WINDOW];

// Fills every free slot of `f` with a new datagram and sends them in one sendmmsg.
static void refill(flow_t *f, uint64_t t) {
  int n = 0;
  for (int i = 0; i < window_ && !draining; i++) {
    slot_t *s = &f->slot[i];
    if (s->seq) continue;
    s->seq = f->next_seq++;
    s->sent_ns = t;
    s->measured = measuring;
    if (measuring) sent_measured++;
    uint8_t *p = sendbufs + (size_t)n * (size_t)size_;
    make(p, f->id, s->seq);
    siov[n] = (struct iovec){.iov_base = p, .iov_len = (size_t)size_};
    smsgs[n].msg_hdr = (struct msghdr){.msg_iov = &siov[n], .msg_iovlen = 1};
    n++;
  }
  for (int done = 0; done < n;) {
    int r = sendmmsg(f->fd, smsgs + done, n - done, 0);
    if (r > 0) done += r;
    else if (r < 0 && errno == EINTR) continue;
    else break;  // the send buffer is full or the port refused: the rest time out as lost
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(double p) {
  if (nsamples == 0) return 0;
  size_t i = (size_t)(p * (double)(nsamples - 1) + 0.5);
  return (double)samples[i] / 1000.0;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: udpload HOST PORT FLOWS SIZE WINDOW SECONDS WARMUP [--timeout-ms T]\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  const char *host = argv[1];
  int port = atoi(argv[2]), nflows = atoi(argv[3]);
  size_ = atoi(argv[4]);
  window_ = atoi(argv[5]);
  double seconds = atof(argv[6]), warmup = atof(argv[7]);
  uint64_t timeout_ns = 200000000ull;
  for (int i = 8; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--timeout-ms") == 0) timeout_ns = (uint64_t)atoi(argv[i + 1]) * 1000000ull;
  }
  if (nflows < 1 || size_ < 16 || size_ > 65507 || window_ < 1 || window_ > MAX_WINDOW) {
    fprintf(stderr, "udpload: need FLOWS >= 1, 16 <= SIZE <= 65507, 1 <= WINDOW <= %d\n", MAX_WINDOW);
    return 2;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return fprintf(stderr, "bad host\n"), 2;

  max_samples = 32u << 20;
  samples = malloc(max_samples * sizeof *samples);
  expect_buf = malloc((size_t)size_);
  sendbufs = malloc((size_t)window_ * (size_t)size_);
  uint8_t *rbufs = malloc((size_t)window_ * 65536);
  flow_t *flows = calloc((size_t)nflows, sizeof *flows);
  if (!samples || !expect_buf || !sendbufs || !rbufs || !flows) return perror("malloc"), 1;

  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < nflows; i++) {
    flow_t *f = &flows[i];
    f->id = (uint32_t)i + 1;
    f->next_seq = 1;
    f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->fd < 0) return perror("socket"), 1;
    int big = 1 << 20;
    setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (connect(f->fd, (struct sockaddr *)&addr, sizeof addr) < 0) return perror("connect"), 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
    epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev);
  }

  static struct mmsghdr rmsgs[MAX_WINDOW];
  static struct iovec riov[MAX_WINDOW];
  struct epoll_event evs[1024];
  uint64_t start = now_ns();
  uint64_t measure_at = start + (uint64_t)(warmup * 1e9);
  uint64_t stop_at = measure_at + (uint64_t)(seconds * 1e9);
  uint64_t measured_from = 0, measured_to = 0, next_sweep = start;
  double cpu0 = 0;
  for (int i = 0; i < nflows; i++) refill(&flows[i], start);

  for (;;) {
    uint64_t t = now_ns();
    if (!measuring && !draining && t >= measure_at) {
      measuring = 1;
      measured_from = t;
      cpu0 = cpu_seconds();
    }
    if (measuring && t >= stop_at) {
      measuring = 0;
      draining = 1;  // stop sending; wait for the last replies
      measured_to = t;
      stop_at = t + timeout_ns;
    } else if (draining && t >= stop_at) {
      break;
    }
    if (t >= next_sweep) {  // declare the overdue ones lost and replace them
      next_sweep = t + timeout_ns / 4;
      for (int i = 0; i < nflows; i++) {
        flow_t *f = &flows[i];
        int freed = 0;
        for (int k = 0; k < window_; k++) {
          slot_t *s = &f->slot[k];
          if (s->seq && t - s->sent_ns > timeout_ns) {
            if (s->measured) lost++;
            s->seq = 0;
            freed = 1;
          }
        }
        if (freed) refill(f, t);
      }
    }
    int n = epoll_wait(ep, evs, 1024, (int)(timeout_ns / 4000000ull) + 1);
    if (n < 0 && errno != EINTR) return perror("epoll_wait"), 1;
    for (int e = 0; e < n; e++) {
      flow_t *f = evs[e].data.ptr;
      for (int i = 0; i < window_; i++) {
        riov[i] = (struct iovec){.iov_base = rbufs + (size_t)i * 65536, .iov_len = 65536};
        rmsgs[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1};
      }
      int got = recvmmsg(f->fd, rmsgs, window_, MSG_DONTWAIT, NULL);
      if (got <= 0) continue;  // ECONNREFUSED (no server yet) or nothing: the sweep resends
      uint64_t tr = now_ns();
      for (int i = 0; i < got; i++) {
        slot_t *s = check(f, riov[i].iov_base, (int)rmsgs[i].msg_len);
        if (!s) continue;
        if (s->measured && measuring) {
          replies++;
          if (nsamples < max_samples) samples[nsamples++] = tr - s->sent_ns;
        } else if (s->measured) {
          replies++;  // sent while measuring, answered while draining: not lost
          if (nsamples < max_samples) samples[nsamples++] = tr - s->sent_ns;
        }
        s->seq = 0;
      }
      refill(f, tr);
    }
  }
  for (int i = 0; i < nflows; i++)
    for (int k = 0; k < window_; k++)
      if (flows[i].slot[k].seq && flows[i].slot[k].measured) lost++;

  double cpu = cpu_seconds() - cpu0;
  double secs = (double)(measured_to - measured_from) / 1e9;
  qsort(samples, nsamples, sizeof *samples, cmp_u64);
  printf("{\"flows\":%d,\"size\":%d,\"window\":%d,\"seconds\":%.3f,\"replies\":%llu,"
         "\"replies_per_s\":%.1f,\"sent\":%llu,\"lost\":%llu,\"late\":%llu,\"bad\":%llu,"
         "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"loadgen_cpu\":%.3f}\n",
         nflows, size_, window_, secs, (unsigned long long)replies,
         secs > 0 ? (double)replies / secs : 0.0, (unsigned long long)sent_measured,
         (unsigned long long)lost, (unsigned long long)late, (unsigned long long)bad, pct(0.5),
         pct(0.99), pct(0.999), secs > 0 ? cpu / secs : 0.0);
  if (bad) fprintf(stderr, "udpload: %llu corrupt replies\n", (unsigned long long)bad);
  return bad ? 1 : 0;
}
