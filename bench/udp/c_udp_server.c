// C UDP echo server for bench/udp: the practical limit of one thread.
//
// usage: c_udp_server [--host 127.0.0.1] [--port 9000] [--batch 64]
//
// One non-blocking socket (SO_RCVBUF and SO_SNDBUF 4 MiB, as far as
// net.core.rmem_max/wmem_max allow), one level-triggered epoll. Each wakeup
// drains the socket with recvmmsg, BATCH datagrams per system call, and sends
// every batch straight back to its senders with one sendmmsg (waiting for
// EPOLLOUT if the send buffer is full, so nothing is dropped here).
// Prints "C udp echo server listening on HOST:PORT" when ready; SIGTERM and
// SIGINT exit 0, printing the datagrams echoed and system calls used.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_DGRAM 65536

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 9000, batch = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--batch") == 0) batch = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: c_udp_server [--host H] [--port P] [--batch N]\n");
      return 2;
    }
  }
  if (batch < 1 || batch > MAX_BATCH) batch = 64;
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return perror("socket"), 1;
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return fprintf(stderr, "bad host\n"), 2;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return perror("bind"), 1;
  socklen_t alen = sizeof addr;
  getsockname(fd, (struct sockaddr *)&addr, &alen);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);

  static struct mmsghdr msgs[MAX_BATCH];
  static struct iovec iov[MAX_BATCH];
  static struct sockaddr_in from[MAX_BATCH];
  char *bufs = malloc((size_t)batch * MAX_DGRAM);
  if (!bufs) return perror("malloc"), 1;

  printf("C udp echo server listening on %s:%d\n", host, ntohs(addr.sin_port));
  fflush(stdout);

  unsigned long long echoed = 0, calls = 0;
  while (!stop) {
    struct epoll_event out;
    int n = epoll_wait(ep, &out, 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return perror("epoll_wait"), 1;
    }
    for (;;) {
      for (int i = 0; i < batch; i++) {
        iov[i].iov_base = bufs + (size_t)i * MAX_DGRAM;
        iov[i].iov_len = MAX_DGRAM;
        msgs[i].msg_hdr = (struct msghdr){
            .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1};
      }
      int got = recvmmsg(fd, msgs, batch, MSG_DONTWAIT, NULL);
      calls++;
      if (got <= 0) break;  // EAGAIN: drained
      for (int i = 0; i < got; i++) iov[i].iov_len = msgs[i].msg_len;
      for (int sent = 0; sent < got;) {
        int s = sendmmsg(fd, msgs + sent, got - sent, 0);
        calls++;
        if (s > 0) {
          sent += s;
        } else if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          struct pollfd p = {.fd = fd, .events = POLLOUT};
          poll(&p, 1, 100);
        } else if (s < 0 && errno == EINTR) {
          if (stop) break;
        } else {
          sent++;  // this one cannot be sent (its sender vanished): skip it
        }
      }
      echoed += got;
      if (got < batch) break;  // fewer than asked: the queue is (almost surely) empty
    }
  }
  fprintf(stderr, "c_udp_server: %llu datagrams echoed in %llu recvmmsg/sendmmsg calls\n", echoed, calls);
  return 0;
}
