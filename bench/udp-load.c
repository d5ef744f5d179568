/*
 * UDP load generator for `npm run bench -- resolve`: cheap enough to share the machine with the server it
 * measures. It keeps a bounded number of Handle resolution requests in flight over a few non-blocking
 * sockets connected to 127.0.0.1 (and nowhere else), one reply triggers the next request, and it reports
 * throughput and latency percentiles as one JSON line on stdout.
 *
 * The request bytes are not hand-made: bench/resolve.ts encodes one request with the project's own codec
 * and passes it as hex together with where its handle name sits; every request copies that template,
 * replaces the name with `<prefix><random n>` and the request id, and patches the two lengths that follow
 * the name's size (envelope message length at byte 16, header body length at byte 40).
 *
 * usage: udp-load <port> <template-hex> <name-offset> <name-prefix> <handles> <sockets> <in-flight>
 *                 <warmup-s> <seconds> <max-requests> <mode: handle|echo>
 * mode `handle` counts a reply as an error unless its response code (byte 24) is 1 (success); mode `echo`
 * expects the request back unchanged (the baseline: a UDP echo server under the same generator).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PKT 2048
#define MAX_SOCKETS 64
#define MAX_IN_FLIGHT 65536
#define HIST_US 200000 /* latency histogram: 1 µs buckets up to 200 ms, the rest in the last bucket */
#define LOST_AFTER_NS 1000000000LL

static uint8_t tmpl[MAX_PKT];
static size_t tmpl_len, name_off, name_len;
static const char *name_prefix;
static uint64_t n_handles;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static int echo_mode;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Builds the request for a random handle into `out`; returns its length. */
static size_t build(uint8_t *out, uint32_t request_id) {
  char name[256];
  int nl = snprintf(name, sizeof name, "%s%llu", name_prefix, (unsigned long long)(next_rand() % n_handles));
  size_t tail = tmpl_len - (name_off + name_len);
  memcpy(out, tmpl, name_off - 4);
  put_u32(out + name_off - 4, (uint32_t)nl);
  memcpy(out + name_off, name, (size_t)nl);
  memcpy(out + name_off + nl, tmpl + name_off + name_len, tail);
  size_t len = name_off + (size_t)nl + tail;
  int32_t delta = (int32_t)nl - (int32_t)name_len;
  put_u32(out + 8, request_id);
  put_u32(out + 16, get_u32(tmpl + 16) + (uint32_t)delta);
  put_u32(out + 40, get_u32(tmpl + 40) + (uint32_t)delta);
  return len;
}

struct slot {
  uint32_t id; /* outstanding request id; ids are slot + k * in_flight so the slot is id % in_flight */
  int sock;
  int64_t sent;
  size_t len;
  uint8_t pkt[MAX_PKT];
};

static struct slot *slots;
static uint32_t in_flight;
static uint64_t sent_total, max_requests;

static int fire(struct slot *s) {
  if (sent_total >= max_requests) return 0;
  s->id += in_flight;
  s->len = build(s->pkt, s->id);
  s->sent = now_ns();
  sent_total++;
  for (;;) {
    ssize_t r = send(s->sock, s->pkt, s->len, 0);
    if (r >= 0) return 1;
    if (errno == EINTR) continue;
    /* A full socket buffer or a refused port: leave the slot outstanding; the lost-request sweep refires it. */
    return 1;
  }
}

static uint8_t *hex_decode(const char *hex, size_t *len) {
  size_t n = strlen(hex) / 2;
  if (n > MAX_PKT - 300) return NULL;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return NULL;
    tmpl[i] = (uint8_t)v;
  }
  *len = n;
  return tmpl;
}

int main(int argc, char **argv) {
  if (argc != 12) {
    fprintf(stderr, "usage: udp-load <port> <template-hex> <name-offset> <name-prefix> <handles> <sockets> <in-flight> <warmup-s> <seconds> <max-requests> <handle|echo>\n");
    return 2;
  }
  int port = atoi(argv[1]);
  if (!hex_decode(argv[2], &tmpl_len)) {
    fprintf(stderr, "udp-load: the template must be the hex of one request under %d bytes\n", MAX_PKT - 300);
    return 2;
  }
  name_off = (size_t)atol(argv[3]);
  name_prefix = argv[4];
  n_handles = strtoull(argv[5], NULL, 10);
  int n_sockets = atoi(argv[6]);
  in_flight = (uint32_t)atoi(argv[7]);
  double warmup = atof(argv[8]);
  double seconds = atof(argv[9]);
  max_requests = strtoull(argv[10], NULL, 10);
  echo_mode = strcmp(argv[11], "echo") == 0;
  if (port <= 0 || port > 65535 || name_off < 48 || name_off > tmpl_len || n_handles == 0 || n_sockets < 1 || n_sockets > MAX_SOCKETS ||
      in_flight < 1 || in_flight > MAX_IN_FLIGHT || seconds <= 0 || seconds > 600 || warmup < 0 || warmup > 60) {
    fprintf(stderr, "udp-load: argument out of range (port 1-65535, 1-%d sockets, 1-%d in flight, seconds 0-600, warmup 0-60)\n", MAX_SOCKETS, MAX_IN_FLIGHT);
    return 2;
  }
  name_len = get_u32(tmpl + name_off - 4);
  if (name_off + name_len > tmpl_len) {
    fprintf(stderr, "udp-load: the name length at offset %zu runs past the template\n", name_off - 4);
    return 2;
  }

  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only, by construction */

  int ep = epoll_create1(0);
  int socks[MAX_SOCKETS];
  for (int i = 0; i < n_sockets; i++) {
    socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int buf = 4 << 20;
    setsockopt(socks[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(socks[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (socks[i] < 0 || connect(socks[i], (struct sockaddr *)&to, sizeof to) != 0) {
      perror("udp-load: socket/connect");
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, socks[i], &ev);
  }

  slots = calloc(in_flight, sizeof *slots);
  uint32_t *hist = calloc(HIST_US + 1, sizeof *hist);
  if (!slots || !hist) return 1;
  for (uint32_t i = 0; i < in_flight; i++) {
    slots[i].id = i - in_flight; /* the first fire adds in_flight back */
    slots[i].sock = socks[i % (uint32_t)n_sockets];
  }
  for (uint32_t i = 0; i < in_flight; i++) fire(&slots[i]);

  int64_t t0 = now_ns();
  int64_t measure_from = t0 + (int64_t)(warmup * 1e9);
  int64_t measure_to = measure_from + (int64_t)(seconds * 1e9);
  int64_t next_sweep = t0 + 100000000LL;
  uint64_t completed = 0, errors = 0, lost = 0, stray = 0;
  uint8_t rbuf[MAX_PKT];
  struct epoll_event evs[MAX_SOCKETS];
  int measuring = 0;

  for (;;) {
    int64_t now = now_ns();
    if (now >= measure_to) break;
    measuring = now >= measure_from;
    if (now >= next_sweep) {
      for (uint32_t i = 0; i < in_flight; i++) {
        if (now - slots[i].sent < LOST_AFTER_NS) continue;
        if (measuring) lost++;
        fire(&slots[i]);
      }
      next_sweep = now + 100000000LL;
    }
    int n = epoll_wait(ep, evs, MAX_SOCKETS, 50);
    for (int e = 0; e < n; e++) {
      int s = socks[evs[e].data.u32];
      for (;;) {
        ssize_t r = recv(s, rbuf, sizeof rbuf, 0);
        if (r < 0) break; /* EAGAIN, or ECONNREFUSED when nothing listens: the sweep counts those as lost */
        if (r < 48) {
          stray++;
          continue;
        }
        uint32_t id = get_u32(rbuf + 8);
        struct slot *sl = &slots[id % in_flight];
        if (sl->id != id || sl->sock != s) {
          stray++; /* a late reply to a request already given up as lost */
          continue;
        }
        int64_t t = now_ns();
        if (t >= measure_from) {
          completed++;
          int64_t us = (t - sl->sent) / 1000;
          hist[us > HIST_US ? HIST_US : us]++;
          int ok = echo_mode ? ((size_t)r == sl->len) : (get_u32(rbuf + 24) == 1 && get_u32(rbuf + 20) == 1);
          if (!ok) errors++;
        }
        if (!fire(sl)) sl->sent = INT64_MAX / 2;
      }
    }
    if (sent_total >= max_requests) break;
  }
  double secs = (double)(now_ns() - measure_from) / 1e9;
  if (secs <= 0) secs = 1e-9;
  double p[3] = {0.5, 0.99, 0.999};
  double v[3] = {0, 0, 0};
  uint64_t acc = 0;
  int k = 0;
  for (uint32_t us = 0; us <= HIST_US && k < 3; us++) {
    acc += hist[us];
    while (k < 3 && completed > 0 && (double)acc >= p[k] * (double)completed) v[k++] = us / 1000.0;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("{\"completed\":%llu,\"seconds\":%.4f,\"lost\":%llu,\"errors\":%llu,\"stray\":%llu,\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"cpuSeconds\":%.3f}\n",
         (unsigned long long)completed, secs, (unsigned long long)lost, (unsigned long long)errors, (unsigned long long)stray, v[0], v[1], v[2], cpu);
  for (int i = 0; i < n_sockets; i++) close(socks[i]);
  return 0;
}
