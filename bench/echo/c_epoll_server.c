// An edge-triggered epoll echo server in C: the reference the native backend
// is measured against (bench/echo/run.ts builds it with gcc, as it builds
// loadgen). One thread, one epoll, every socket non-blocking and registered
// EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET; each connection reads until EAGAIN and
// writes back what it read, keeping what the kernel did not take until the
// next EPOLLOUT edge.
//
//   c_epoll_server [--port N] [--host 127.0.0.1]
//
// Prints "c_epoll_server listening on HOST:PORT"; SIGTERM/SIGINT exit 0.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
  int fd;
  char *out;       // bytes read but not yet written back
  size_t out_len;  // valid bytes in out
  size_t out_cap;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void drop(struct conn *c) {
  close(c->fd);  // also leaves the epoll set
  free(c->out);
  free(c);
}

// Writes pending output; returns -1 when the connection is dead.
static int flush(struct conn *c) {
  size_t off = 0;
  while (off < c->out_len) {
    ssize_t w = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
    if (w > 0) {
      off += (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      break;
    } else {
      return -1;
    }
  }
  memmove(c->out, c->out + off, c->out_len - off);
  c->out_len -= off;
  return 0;
}

// Reads until EAGAIN, echoing as it goes; returns -1 at EOF or on an error.
static int serve(struct conn *c, char *buf, size_t cap) {
  for (;;) {
    ssize_t n = read(c->fd, buf, cap);
    if (n > 0) {
      if (c->out_len + (size_t)n > c->out_cap) {
        size_t want = c->out_cap ? c->out_cap : 65536;
        while (want < c->out_len + (size_t)n) want *= 2;
        char *p = realloc(c->out, want);
        if (!p) return -1;
        c->out = p;
        c->out_cap = want;
      }
      memcpy(c->out + c->out_len, buf, (size_t)n);
      c->out_len += (size_t)n;
      if (flush(c) < 0) return -1;
    } else if (n == 0) {
      return -1;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return 0;
    } else {
      return -1;
    }
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 8080;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
      host = argv[++i];
    } else {
      fprintf(stderr, "usage: c_epoll_server [--port N] [--host ADDR]\n");
      return 2;
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "c_epoll_server: bad --host %s\n", host);
    return 2;
  }
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
    fprintf(stderr, "c_epoll_server: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("c_epoll_server listening on %s:%d\n", host, ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  enum { MAXEV = 256, BUF = 65536 };
  struct epoll_event events[MAXEV];
  static char buf[BUF];
  while (!stop) {
    int n = epoll_wait(ep, events, MAXEV, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          struct conn *nc = calloc(1, sizeof *nc);
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                    .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      uint32_t e = events[i].events;
      int dead = (e & EPOLLERR) != 0;
      if (!dead && (e & EPOLLOUT) && c->out_len) dead = flush(c) < 0;
      if (!dead && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) dead = serve(c, buf, BUF) < 0;
      if (dead) drop(c);
    }
  }
  return 0;
}
