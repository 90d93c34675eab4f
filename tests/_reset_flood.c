// A reset flood beside established echo clients, measured per second.
//
// usage: reset_flood PORT GOOD BEFORE CONTROL ATTACK AFTER RATE [PACE [SERVER_PID [WINDOW [MODE]]]]
//
// GOOD established clients each echo 1 KiB messages against 127.0.0.1:PORT
// (one message in flight, every byte verified) for BEFORE + CONTROL + ATTACK
// + AFTER seconds, each at most PACE messages a second (0, the default: as
// fast as the server answers; a client that falls behind its pace sends the
// messages it owes back to back). Two phases have a second process open up
// to RATE connections a second (at most WINDOW, default 1000, connecting at
// once):
// - CONTROL seconds of ordinary connections: each sends 16 bytes, reads the
//   echo, and closes normally (the same churn without the attack);
// - ATTACK seconds of the attack: each connection that connects sends 16
//   bytes, sets SO_LINGER 0 and closes: the kernel sends RST.
// With MODE "blast" (the default is "reset"), the ATTACK seconds are instead
// RATE connections that each send 64 KiB writes as fast as the server takes
// them and read back (and drop) whatever it echoes: fast senders, not a
// flood of connections ("attacks" then counts the 64 KiB echoed).
// When the attacker has exited, a fresh client connects and echoes one
// line, while the established clients go on.
//
// With SERVER_PID, every 50 ms it samples the server's main thread
// (/proc/PID/schedstat: time on a CPU, and time runnable but waiting for
// one) and resident set (/proc/PID/status VmRSS), and its own run-queue
// wait and the longest gap between two turns of its own loop: whether the
// machine, rather than the server, withheld a second's service.
//
// Output: one JSON line on stdout: per-second message counts of every good
// client ("seconds": [[c0, c1, ...], ...], second 0 first), per-second
// samples ("server_cpu_ms", "server_wait_ms", "rss_kb" (the largest),
// "self_wait_ms", "gap_ms"), "lost" (good clients whose connection failed,
// with the reason), "controls" (ordinary connections echoed and closed),
// "attacks" (connections opened and reset), "attack_failed" (attack
// connects refused or timed out), "fresh_ms" (-1: no echo within 10 s) and
// "fresh_others" (the most messages one established client completed while
// the fresh client waited). Single-threaded, non-blocking, epoll.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 1024
#define MAX_SECONDS 600
#define DRAIN_NS 300000000u

typedef struct {
  int fd;
  int dead;        // a good client whose connection failed
  size_t sent;     // bytes of the current message written
  size_t got;      // bytes of the current message read back
  uint32_t round;  // messages completed
  int waiting;     // paced: the next message is due at next_ns
  uint64_t next_ns;
  uint32_t *per_second;
} conn_t;

static struct sockaddr_in addr;
static int epfd;
static uint64_t pace_ns; // 0: unpaced; else the interval between a client's messages

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int open_conn(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static uint8_t byte_of(const conn_t *c, size_t i) { return (uint8_t)(c->round * 7 + i); }

// Writes what is left of the current message; 0 on success, -1 on error.
static int pump_send(conn_t *c) {
  static uint8_t out[MSG];
  if (c->sent == MSG) return 0;
  for (size_t i = 0; i < MSG; i++) out[i] = byte_of(c, i);
  ssize_t n = send(c->fd, out + c->sent, MSG - c->sent, MSG_NOSIGNAL);
  if (n < 0) return errno == EAGAIN ? 0 : -1;
  c->sent += (size_t)n;
  return 0;
}

// Reads and verifies echoed bytes; completes rounds. -1 on error, EOF or a wrong byte.
static int pump_recv(conn_t *c, int second, const char **why) {
  uint8_t in[MSG];
  for (;;) {
    ssize_t n = recv(c->fd, in, MSG - c->got, 0);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      *why = strerror(errno);
      return -1;
    }
    if (n == 0) {
      *why = "EOF";
      return -1;
    }
    for (ssize_t i = 0; i < n; i++) {
      if (in[i] != byte_of(c, c->got + (size_t)i)) {
        *why = "wrong byte";
        return -1;
      }
    }
    c->got += (size_t)n;
    if (c->got == MSG) {
      c->per_second[second]++;
      c->round++;
      c->sent = c->got = 0;
      if (pace_ns != 0) {
        c->next_ns += pace_ns;
        if (now_ns() < c->next_ns) {
          c->waiting = 1;
          return 0;
        }
      }
      if (pump_send(c) < 0) {
        *why = strerror(errno);
        return -1;
      }
    }
  }
}

static void reset_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}


// The flood (a child process): RATE connections a second until `end`
// (CLOCK_MONOTONIC, which the fork shares). Each that connects sends 16
// bytes; then, `graceful`, reads the echo and closes normally, else is reset
// at once. Graceful connections stop being opened DRAIN_NS before the end,
// so that those in flight finish as ordinary ones do instead of all closing
// at once as the attack begins. Writes "opened done failed" to `out` when
// done.
static void flood_loop(int rate, uint64_t end, int window, int graceful, int out) {
  int ep = epoll_create1(0);
  struct epoll_event evs[512];
  uint64_t start = now_ns();
  uint64_t opened = 0, done = 0, failed = 0;
  int connecting = 0;
  for (;;) {
    uint64_t t = now_ns();
    int draining = graceful && t + DRAIN_NS >= end;
    if (t >= end || (draining && connecting == 0)) break;
    uint64_t due = (uint64_t)rate * (t - start) / 1000000000u;
    while (opened < due && connecting < window && !draining) {
      int fd = open_conn();
      opened++;
      if (fd < 0) {
        failed++;
        continue;
      }
      // data.u64: the fd, and bit 32 once the 16 bytes are sent (graceful: awaiting the echo)
      struct epoll_event ev = {EPOLLOUT, {.u64 = (uint64_t)fd}};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      connecting++;
    }
    int n = epoll_wait(ep, evs, 512, 1);
    for (int i = 0; i < n; i++) {
      int fd = (int)(evs[i].data.u64 & 0xffffffffu);
      if (evs[i].data.u64 >> 32) {
        char in[16];
        if (recv(fd, in, sizeof in, 0) > 0) done++;
        else failed++;
        close(fd);
        connecting--;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      int sent = err == 0 && send(fd, "hello, attack!\n\n", 16, MSG_NOSIGNAL) == 16;
      if (sent && graceful) {
        struct epoll_event ev = {EPOLLIN, {.u64 = (uint64_t)fd | (1ull << 32)}};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        continue;
      }
      if (sent) done++;
      else failed++;
      if (graceful) close(fd);
      else reset_close(fd);
      connecting--;
    }
  }
  char line[128];
  int len = snprintf(line, sizeof line, "%llu %llu %llu", (unsigned long long)opened,
                     (unsigned long long)done, (unsigned long long)failed);
  if (write(out, line, (size_t)len) != len) _exit(1);
  _exit(0);
}

// The blast (a child process, MODE "blast"): `conns` connections that send
// 64 KiB writes back to back until `end`, reading and dropping the echo.
// Writes "opened done failed" to `out` (done: 64 KiB units echoed; failed:
// connections that failed).
static void blast_loop(int conns, uint64_t end, int out) {
  static char chunk[65536];
  static char sink[65536];
  memset(chunk, 'x', sizeof chunk);
  int ep = epoll_create1(0);
  struct epoll_event evs[64];
  uint64_t opened = 0, echoed = 0, failed = 0;
  for (int i = 0; i < conns; i++) {
    int fd = open_conn();
    opened++;
    if (fd < 0) {
      failed++;
      continue;
    }
    struct epoll_event ev = {EPOLLIN | EPOLLOUT, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  while (now_ns() < end) {
    int n = epoll_wait(ep, evs, 64, 10);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
        failed++;
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
        continue;
      }
      if (evs[i].events & EPOLLIN) {
        ssize_t r;
        while ((r = recv(fd, sink, sizeof sink, 0)) > 0) echoed += (uint64_t)r;
      }
      if (evs[i].events & EPOLLOUT) {
        while (send(fd, chunk, sizeof chunk, MSG_NOSIGNAL) > 0) {
        }
      }
    }
  }
  char line[128];
  int len = snprintf(line, sizeof line, "%llu %llu %llu", (unsigned long long)opened,
                     (unsigned long long)(echoed / sizeof chunk), (unsigned long long)failed);
  if (write(out, line, (size_t)len) != len) _exit(1);
  _exit(0);
}

typedef struct {
  int started;
  pid_t pid;
  int pipefd;
  unsigned long long opened, done, failed;
} flood_t;

static void flood_start(flood_t *f, int rate, uint64_t end, int window, int graceful, int blast) {
  int p[2];
  if (pipe(p) < 0 || (f->pid = fork()) < 0) {
    perror("fork");
    exit(1);
  }
  if (f->pid == 0) {
    close(p[0]);
    if (blast) blast_loop(rate, end, p[1]);
    flood_loop(rate, end, window, graceful, p[1]);
  }
  close(p[1]);
  f->pipefd = p[0];
  f->started = 1;
}

// Reaps a flood process; with `wait` 0, only if it has exited. 1 once reaped.
static int flood_reap(flood_t *f, int wait) {
  if (f->pid <= 0) return 1;
  if (waitpid(f->pid, NULL, wait ? 0 : WNOHANG) != f->pid) return 0;
  char line[128] = {0};
  if (read(f->pipefd, line, sizeof line - 1) > 0) sscanf(line, "%llu %llu %llu", &f->opened, &f->done, &f->failed);
  close(f->pipefd);
  f->pid = 0;
  return 1;
}

// Reads "a b c ..." from a /proc file: the `field`-th number (0-based), or -1.
static long long proc_field(int fd, int field) {
  char buf[256];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = buf;
  for (int i = 0; i < field; i++) {
    p = strchr(p, ' ');
    if (p == NULL) return -1;
    p++;
  }
  return strtoll(p, NULL, 10);
}

static long long rss_kb(int fd) {
  char buf[4096];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strstr(buf, "VmRSS:");
  return p == NULL ? -1 : strtoll(p + 6, NULL, 10);
}

// Per-second samples of the server and of this process.
typedef struct {
  int sched, status, self;           // /proc fds (-1: not sampled)
  long long run, wait, self_wait;    // last readings, ns
  double cpu_ms[MAX_SECONDS], wait_ms[MAX_SECONDS], self_wait_ms[MAX_SECONDS], gap_ms[MAX_SECONDS];
  long long rss[MAX_SECONDS];
} samples_t;

static samples_t S;

static void sample(int second) {
  if (S.sched >= 0) {
    long long run = proc_field(S.sched, 0), wait = proc_field(S.sched, 1);
    if (run >= 0 && S.run >= 0) S.cpu_ms[second] += (double)(run - S.run) / 1e6;
    if (wait >= 0 && S.wait >= 0) S.wait_ms[second] += (double)(wait - S.wait) / 1e6;
    S.run = run;
    S.wait = wait;
    long long kb = rss_kb(S.status);
    if (kb > S.rss[second]) S.rss[second] = kb;
  }
  long long self_wait = proc_field(S.self, 1);
  if (self_wait >= 0 && S.self_wait >= 0) S.self_wait_ms[second] += (double)(self_wait - S.self_wait) / 1e6;
  S.self_wait = self_wait;
}

static void print_series(const char *name, const double *v, int total) {
  printf(",\"%s\":[", name);
  for (int s = 0; s < total; s++) printf("%s%.1f", s ? "," : "", v[s]);
  printf("]");
}

// The fresh client: one line echoed on a new connection after the flood.
#define FRESH "fresh client\n"
#define FRESH_LEN 13
static struct {
  int fd, sent, got;
  uint64_t start_ns;
  uint32_t *start_rounds;
  double ms;
  uint32_t others;
} fresh = {.fd = -1, .ms = -1};

static void fresh_start(conn_t *goods, int good) {
  fresh.start_ns = now_ns();
  fresh.start_rounds = calloc((size_t)good, sizeof(uint32_t));
  for (int i = 0; i < good; i++) fresh.start_rounds[i] = goods[i].round;
  fresh.fd = open_conn();
  if (fresh.fd < 0) return;
  struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLET, {.ptr = &fresh}};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fresh.fd, &ev);
}

// Progress on the fresh connection; 1 when it is done (echoed, or failed).
static int fresh_pump(conn_t *goods, int good) {
  if (!fresh.sent) {
    ssize_t n = send(fresh.fd, FRESH, FRESH_LEN, MSG_NOSIGNAL);
    if (n < 0) return errno != EAGAIN && errno != ENOTCONN;
    if (n != FRESH_LEN) return 1;
    fresh.sent = 1;
  }
  char in[FRESH_LEN];
  for (;;) {
    ssize_t n = recv(fresh.fd, in + fresh.got, FRESH_LEN - (size_t)fresh.got, 0);
    if (n < 0) return errno != EAGAIN;
    if (n == 0) return 1;
    fresh.got += (int)n;
    if (fresh.got < FRESH_LEN) continue;
    if (memcmp(in, FRESH, FRESH_LEN) == 0) {
      fresh.ms = (double)(now_ns() - fresh.start_ns) / 1e6;
      for (int i = 0; i < good; i++) {
        uint32_t d = goods[i].round - fresh.start_rounds[i];
        if (d > fresh.others) fresh.others = d;
      }
    }
    return 1;
  }
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: reset_flood PORT GOOD BEFORE CONTROL ATTACK AFTER RATE [PACE [SERVER_PID [WINDOW [MODE]]]]\n");
    return 2;
  }
  int port = atoi(argv[1]), good = atoi(argv[2]);
  int before = atoi(argv[3]), control = atoi(argv[4]), attack = atoi(argv[5]), after = atoi(argv[6]);
  int rate = atoi(argv[7]);
  int pace = argc > 8 ? atoi(argv[8]) : 0;
  int server = argc > 9 ? atoi(argv[9]) : 0;
  int window = argc > 10 ? atoi(argv[10]) : 1000;
  int blast = argc > 11 && strcmp(argv[11], "blast") == 0;
  pace_ns = pace > 0 ? 1000000000u / (uint64_t)pace : 0;
  int total = before + control + attack + after;
  if (good < 1 || total < 1 || total + 10 > MAX_SECONDS) return 2;
  struct rlimit rl = {65536, 65536};
  setrlimit(RLIMIT_NOFILE, &rl);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  epfd = epoll_create1(0);

  S.sched = S.status = -1;
  S.run = S.wait = S.self_wait = -1;
  if (server > 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", server);
    S.sched = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/status", server);
    S.status = open(path, O_RDONLY | O_CLOEXEC);
    if (S.sched < 0 || S.status < 0) {
      perror("server /proc");
      return 1;
    }
  }
  S.self = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);

  conn_t *goods = calloc((size_t)good, sizeof *goods);
  const char **lost = calloc((size_t)good, sizeof *lost);
  for (int i = 0; i < good; i++) {
    goods[i].per_second = calloc(MAX_SECONDS, sizeof(uint32_t));
    goods[i].fd = open_conn();
    if (goods[i].fd < 0) {
      perror("connect");
      return 1;
    }
    struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLET, {.ptr = &goods[i]}};
    epoll_ctl(epfd, EPOLL_CTL_ADD, goods[i].fd, &ev);
  }

  uint64_t start = now_ns(), last = start, next_sample = start;
  int last_second = 0;
  for (int i = 0; i < good; i++) goods[i].next_ns = start;
  flood_t controls = {0}, attacks = {0};
  int fresh_done = 0;
  struct epoll_event evs[512];
  sample(0);
  for (;;) {
    uint64_t now = now_ns(), t = now - start;
    int second = (int)(t / 1000000000u);
    // A gap belongs to every second it spans (a second without a turn of the loop too).
    double gap = (double)(now - last) / 1e6;
    for (int k = last_second; k <= second && k < MAX_SECONDS; k++) {
      if (gap > S.gap_ms[k]) S.gap_ms[k] = gap;
    }
    last = now;
    last_second = second;
    if (now >= next_sample) {
      sample(second);
      next_sample += 50000000u;
    }
    // The run ends after its seconds, once the fresh client is done (at most 10 s more).
    if (second >= total && (fresh_done || second >= total + 10)) break;
    if (!controls.started && second >= before && control > 0) {
      flood_start(&controls, rate, start + (uint64_t)(before + control) * 1000000000u, window, 1,
                  0);
    }
    if (!attacks.started && second >= before + control && attack > 0) {
      flood_start(&attacks, rate, start + (uint64_t)(before + control + attack) * 1000000000u,
                  window, 0, blast);
    }
    if (fresh.fd < 0 && !fresh_done && second >= before + control + attack &&
        flood_reap(&controls, 0) && flood_reap(&attacks, 0)) {
      fresh_start(goods, good);
      if (fresh.fd < 0) fresh_done = 1;
    }
    int n = epoll_wait(epfd, evs, 512, pace_ns != 0 ? 1 : 10);
    if (pace_ns != 0) {
      now = now_ns();
      for (int i = 0; i < good; i++) {
        conn_t *c = &goods[i];
        if (!c->waiting || c->dead || now < c->next_ns) continue;
        c->waiting = 0;
        if (pump_send(c) < 0) {
          c->dead = 1;
          lost[i] = strerror(errno);
          epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        }
      }
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == &fresh) {
        if (!fresh_done && fresh_pump(goods, good)) {
          fresh_done = 1;
          epoll_ctl(epfd, EPOLL_CTL_DEL, fresh.fd, NULL);
          close(fresh.fd);
        }
        continue;
      }
      conn_t *c = evs[i].data.ptr;
      if (c->dead) continue;
      const char *why = NULL;
      if (!c->waiting && pump_send(c) < 0) why = strerror(errno);
      else pump_recv(c, second < MAX_SECONDS ? second : MAX_SECONDS - 1, &why);
      if (why != NULL) {
        c->dead = 1;
        lost[c - goods] = why;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
      }
    }
  }
  flood_reap(&controls, 1);
  flood_reap(&attacks, 1);

  printf("{\"good\":%d,\"before\":%d,\"control\":%d,\"attack\":%d,\"after\":%d,\"rate\":%d,", good,
         before, control, attack, after, rate);
  printf("\"controls\":%llu,\"attacks\":%llu,\"attack_failed\":%llu,", controls.done, attacks.done,
         blast ? attacks.failed : attacks.opened - attacks.done);
  printf("\"fresh_ms\":%.2f,\"fresh_others\":%u,\"lost\":[", fresh.ms, fresh.others);
  int first = 1;
  for (int i = 0; i < good; i++) {
    if (lost[i] == NULL) continue;
    printf("%s{\"client\":%d,\"why\":\"%s\"}", first ? "" : ",", i, lost[i]);
    first = 0;
  }
  printf("],\"seconds\":[");
  for (int s = 0; s < total; s++) {
    printf("%s[", s ? "," : "");
    for (int i = 0; i < good; i++) printf("%s%u", i ? "," : "", goods[i].per_second[s]);
    printf("]");
  }
  printf("]");
  print_series("server_cpu_ms", S.cpu_ms, total);
  print_series("server_wait_ms", S.wait_ms, total);
  print_series("self_wait_ms", S.self_wait_ms, total);
  print_series("gap_ms", S.gap_ms, total);
  printf(",\"rss_kb\":[");
  for (int s = 0; s < total; s++) printf("%s%lld", s ? "," : "", S.rss[s]);
  printf("]}\n");
  return 0;
}
