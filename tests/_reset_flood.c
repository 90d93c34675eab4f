// A reset flood beside established echo clients, measured per second.
//
// usage: reset_flood PORT GOOD BEFORE ATTACK AFTER RATE [PACE [WINDOW]]
//
// GOOD established clients each echo 1 KiB messages against 127.0.0.1:PORT
// (one message in flight, every byte verified) for BEFORE + ATTACK + AFTER
// seconds, each at most PACE messages a second (0, the default: as fast as
// the server answers). During the ATTACK seconds an attacker opens up to RATE connections
// a second (at most WINDOW, default 1000, connecting at once), and on each
// one that connects sends 16 bytes, sets SO_LINGER 0 and closes it: the
// kernel sends RST. After the attack a fresh client connects and times its
// first echo.
//
// Output: one JSON line on stdout: per-second message counts of every good
// client ("seconds": [[c0, c1, ...], ...], second 0 first), "phase" of each
// second ("before" / "attack" / "after"), "lost" (good clients whose
// connection failed, with the reason), "attacks" (connections opened and
// reset), "attack_failed" (attack connects refused or timed out), "fresh_ms"
// (-1: no echo within 10 s). Single-threaded, non-blocking, epoll.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

// One echo on a new blocking-style connection; returns ms, or -1 after 10 s.
static double fresh_echo(void) {
  uint64_t start = now_ns();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  double ms = -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      send(fd, "fresh client\n", 13, MSG_NOSIGNAL) == 13) {
    char in[13];
    size_t got = 0;
    while (got < 13) {
      ssize_t n = recv(fd, in + got, 13 - got, 0);
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (got == 13 && memcmp(in, "fresh client\n", 13) == 0) ms = (now_ns() - start) / 1e6;
  }
  close(fd);
  return ms;
}


// The attacker (a child process): RATE connections a second for ATTACK
// seconds; each that connects sends 16 bytes and is reset. Writes
// "opened reset failed" to `out` when done.
static void attack_loop(int rate, int attack, int window, int out) {
  int ep = epoll_create1(0);
  struct epoll_event evs[512];
  uint64_t start = now_ns(), end = start + (uint64_t)attack * 1000000000u;
  uint64_t opened = 0, resets = 0, failed = 0;
  int connecting = 0;
  for (;;) {
    uint64_t t = now_ns();
    if (t >= end) break;
    uint64_t due = (uint64_t)rate * (t - start) / 1000000000u;
    while (opened < due && connecting < window) {
      int fd = open_conn();
      opened++;
      if (fd < 0) {
        failed++;
        continue;
      }
      struct epoll_event ev = {EPOLLOUT, {.fd = fd}};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      connecting++;
    }
    int n = epoll_wait(ep, evs, 512, 1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd, err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0 && send(fd, "hello, attack!\n\n", 16, MSG_NOSIGNAL) == 16) resets++;
      else failed++;
      reset_close(fd);
      connecting--;
    }
  }
  char line[128];
  int len = snprintf(line, sizeof line, "%llu %llu %llu", (unsigned long long)opened,
                     (unsigned long long)resets, (unsigned long long)failed);
  if (write(out, line, (size_t)len) != len) _exit(1);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: reset_flood PORT GOOD BEFORE ATTACK AFTER RATE [PACE [WINDOW]]\n");
    return 2;
  }
  int port = atoi(argv[1]), good = atoi(argv[2]);
  int before = atoi(argv[3]), attack = atoi(argv[4]), after = atoi(argv[5]);
  int rate = atoi(argv[6]);
  int pace = argc > 7 ? atoi(argv[7]) : 0;
  int window = argc > 8 ? atoi(argv[8]) : 1000;
  pace_ns = pace > 0 ? 1000000000u / (uint64_t)pace : 0;
  int total = before + attack + after;
  if (good < 1 || total < 1 || total > MAX_SECONDS) return 2;
  struct rlimit rl = {65536, 65536};
  setrlimit(RLIMIT_NOFILE, &rl);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  epfd = epoll_create1(0);

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

  uint64_t start = now_ns();
  for (int i = 0; i < good; i++) goods[i].next_ns = start;
  unsigned long long opened = 0, resets = 0, failed = 0;
  int pipefd[2] = {-1, -1};
  pid_t attacker = -1;
  struct epoll_event evs[512];
  for (;;) {
    uint64_t t = now_ns() - start;
    int second = (int)(t / 1000000000u);
    if (second >= total) break;
    if (attacker < 0 && second >= before && attack > 0) {
      if (pipe(pipefd) < 0 || (attacker = fork()) < 0) {
        perror("fork");
        return 1;
      }
      if (attacker == 0) {
        close(pipefd[0]);
        attack_loop(rate, attack, window, pipefd[1]);
      }
      close(pipefd[1]);
    }
    int n = epoll_wait(epfd, evs, 512, pace_ns != 0 ? 1 : 10);
    if (pace_ns != 0) {
      uint64_t now = now_ns();
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
      conn_t *c = evs[i].data.ptr;
      if (c->dead) continue;
      const char *why = NULL;
      if (!c->waiting && pump_send(c) < 0) why = strerror(errno);
      else pump_recv(c, second, &why);
      if (why != NULL) {
        c->dead = 1;
        lost[c - goods] = why;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
      }
    }
  }
  if (attacker > 0) {
    char line[128] = {0};
    if (read(pipefd[0], line, sizeof line - 1) > 0) sscanf(line, "%llu %llu %llu", &opened, &resets, &failed);
    waitpid(attacker, NULL, 0);
  }
  double fresh = fresh_echo();

  printf("{\"good\":%d,\"before\":%d,\"attack\":%d,\"after\":%d,\"rate\":%d,", good, before,
         attack, after, rate);
  printf("\"attacks\":%llu,\"attack_failed\":%llu,\"fresh_ms\":%.1f,\"lost\":[", resets,
         failed + (opened - resets - failed), fresh);
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
  printf("]}\n");
  return 0;
}
