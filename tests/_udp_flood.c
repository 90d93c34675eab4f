// A UDP flood for tests/hostile_udp_flood_test.ts: sends 64-byte datagrams
// to 127.0.0.1:PORT from one socket, 64 per sendmmsg, as fast as the kernel
// takes them, for SECONDS seconds (or until killed), and never reads the
// replies (they are dropped at its socket once its buffer is full). Faster
// than a server that answers each datagram, so the server's receive queue
// never empties.
//
// usage: udp_flood PORT SECONDS
// Prints the datagrams sent on exit.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: udp_flood PORT SECONDS\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return perror("socket"), 2;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) return perror("connect"), 2;
  static char payload[64];
  memset(payload, 'x', sizeof payload);
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = sizeof payload;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  double end = now() + atof(argv[2]);
  unsigned long long sent = 0;
  while (now() < end) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n > 0) sent += (unsigned long long)n;
    // ECONNREFUSED: an ICMP error for an earlier datagram (the server is gone
    // or not yet bound); ENOBUFS/EAGAIN: the kernel is full. Keep going.
  }
  printf("%llu\n", sent);
  return 0;
}
