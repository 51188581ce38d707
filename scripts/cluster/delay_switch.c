/* delay_switch: a user-space Ethernet switch between TAP devices that delays and rate-limits frames, for kernels
 * without sch_netem (scripts/cluster/netns-cluster.sh, CLUSTER_LINK=switch; docs/cluster.md "No netem here").
 *
 *   delay_switch --settings FILE [--ready FILE] [--queue-bytes N] [--spin-us US] PORT PORT...
 *   PORT: NETNS:IFNAME (a TAP named IFNAME created inside the network namespace file NETNS, e.g.
 *         /run/netns/cbs1:eth0) or -:IFNAME (in the switch's own namespace).
 *   FILE (--settings): one line "RATE_BITS_PER_S DELAY_NS" (0 0: no shaping), read at start and on SIGHUP.
 *
 * Every port is a link of RATE bit/s in each direction; a frame's first bit reaches the other end DELAY after it
 * left (cut-through). A frame of B bytes read from port i at time a and sent to port o leaves at
 *   up   = max(a, uplink_busy[i]) + B*8/RATE         (serialised on the sender's link; uplink_busy[i] = up)
 *   out  = max(up + DELAY, downlink_busy[o] + B*8/RATE) (serialised on the receiver's link; downlink_busy[o] = out)
 * so one message of S bytes alone takes DELAY + S*8/RATE end to end (the planner's latency + size / bandwidth),
 * two senders into one node share its link, and one node sending to two shares its own. Departures per output port
 * are increasing, so each output port is a FIFO; a timerfd (absolute CLOCK_MONOTONIC, 1 ns timer slack) wakes the
 * loop for the earliest head, armed early by its own learnt wake-up latency, the rest spun (at most --spin-us, 50 by
 * default; 0: no spinning, frames leave a wake-up late). A port queue holds at most --queue-bytes (default 8 MiB):
 * beyond, frames are dropped (counted). MAC addresses are learnt from source addresses; broadcast, multicast and
 * unknown destinations are flooded. SIGTERM/SIGINT: counters to stderr, exit 0 (the TAPs, not persistent, vanish
 * with the process); SIGUSR1: counters to stderr. The lateness counters are per setting: SIGHUP prints and resets
 * them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PORTS = 64, MAX_MACS = 1024, FRAME_MAX = 65536 + 64, READ_BATCH = 32 };
/* Every frame read or written carries a virtio-net header first: the TAPs take checksum and TCP segmentation
 * offloads, so TCP hands the switch 64 KB segments with their checksum left to do (as a NIC would get them) whatever
 * the MTU, and the switch passes the header on unchanged; the receiving stack takes them as they are. */
enum { VNET_HEADER = sizeof(struct virtio_net_hdr) };

struct frame {
  struct frame *next;
  int64_t departure_ns;
  size_t length;
  unsigned char data[];
};

struct port {
  char name[128];
  int fd;
  struct frame *head, *tail; /* FIFO of frames waiting to leave through this port, departures increasing */
  size_t queued_bytes, max_queued_bytes;
  int64_t uplink_busy_ns, downlink_busy_ns;
  uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, drops, write_errors;
};

struct mac_entry {
  unsigned char mac[6];
  int port;
};

static struct port ports[MAX_PORTS];
static int port_count;
static struct mac_entry macs[MAX_MACS];
static int mac_count;
static int64_t rate_bits_per_s; /* 0: unlimited */
static int64_t delay_ns;
static size_t queue_limit_bytes = 8u << 20;
static int64_t spin_limit_ns = 50000; /* --spin-us: the most a frame's departure is waited for by spinning */
static int64_t wake_latency_ns = 20000; /* how late the timer's wake-ups are, a moving average */
/* How late frames left against their departure time: the timer's and the loop's jitter. */
static uint64_t late_count, late_over_10us, late_over_100us;
static int64_t late_sum_ns, late_max_ns;

static void die(const char *what) {
  fprintf(stderr, "delay_switch: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void read_settings(const char *path) {
  FILE *f = fopen(path, "r");
  long long rate, delay;
  if (!f) die(path);
  if (fscanf(f, "%lld %lld", &rate, &delay) != 2 || rate < 0 || delay < 0) {
    fprintf(stderr, "delay_switch: %s: expected 'RATE_BITS_PER_S DELAY_NS'\n", path);
    exit(1);
  }
  fclose(f);
  rate_bits_per_s = rate;
  delay_ns = delay;
  fprintf(stderr, "delay_switch: rate %lld bit/s, one-way delay %lld ns\n", rate, delay);
}

/* open_tap: create the TAP IFNAME inside the namespace NETNS ("-": ours) and return its non-blocking fd. The tun
 * device is created in the namespace /dev/net/tun was opened in, so open it there and come back. */
static int open_tap(const char *netns, const char *ifname) {
  int home = -1, fd;
  struct ifreq request;
  if (strcmp(netns, "-") != 0) {
    int target = open(netns, O_RDONLY | O_CLOEXEC);
    if (target < 0) die(netns);
    home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) die("/proc/self/ns/net");
    if (setns(target, CLONE_NEWNET) != 0) die(netns);
    close(target);
  }
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("/dev/net/tun");
  memset(&request, 0, sizeof request);
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  snprintf(request.ifr_name, IFNAMSIZ, "%s", ifname);
  if (ioctl(fd, TUNSETIFF, &request) != 0) die(ifname);
  {
    int header_size = VNET_HEADER;
    if (ioctl(fd, TUNSETVNETHDRSZ, &header_size) != 0) die("TUNSETVNETHDRSZ");
    if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) != 0) die("TUNSETOFFLOAD");
  }
  if (home >= 0) {
    if (setns(home, CLONE_NEWNET) != 0) die("back to our namespace");
    close(home);
  }
  return fd;
}

static void print_timing(void) {
  fprintf(stderr,
          "delay_switch: frames sent late against their departure time: mean %.1f us, max %.1f us, %" PRIu64
          " of %" PRIu64 " over 10 us, %" PRIu64 " over 100 us; timer wake-up latency %.1f us\n",
          late_count ? (double)late_sum_ns / (double)late_count / 1e3 : 0.0, (double)late_max_ns / 1e3,
          late_over_10us, late_count, late_over_100us, (double)wake_latency_ns / 1e3);
}

static void print_counters(void) {
  int i;
  for (i = 0; i < port_count; ++i) {
    const struct port *p = &ports[i];
    fprintf(stderr,
            "delay_switch: port %s: rx %" PRIu64 " frames %" PRIu64 " B, tx %" PRIu64 " frames %" PRIu64
            " B, dropped %" PRIu64 " (queue full), write errors %" PRIu64 ", max queue %zu B\n",
            p->name, p->rx_frames, p->rx_bytes, p->tx_frames, p->tx_bytes, p->drops, p->write_errors,
            p->max_queued_bytes);
  }
  print_timing();
}

static int port_of_mac(const unsigned char *mac) {
  int i;
  for (i = 0; i < mac_count; ++i)
    if (memcmp(macs[i].mac, mac, 6) == 0) return macs[i].port;
  return -1;
}

static void learn_mac(const unsigned char *mac, int port) {
  int i;
  if (mac[0] & 1) return; /* a group address is never a source */
  for (i = 0; i < mac_count; ++i)
    if (memcmp(macs[i].mac, mac, 6) == 0) {
      macs[i].port = port;
      return;
    }
  if (mac_count < MAX_MACS) {
    memcpy(macs[mac_count].mac, mac, 6);
    macs[mac_count++].port = port;
  }
}

static int64_t serialisation_ns(size_t bytes) {
  return rate_bits_per_s ? (int64_t)((double)bytes * 8e9 / (double)rate_bits_per_s) : 0;
}

static void enqueue(int out, const unsigned char *data, size_t length, int64_t uplink_done_ns) {
  struct port *p = &ports[out];
  int64_t departure = uplink_done_ns + delay_ns,
          wire_free = p->downlink_busy_ns + serialisation_ns(length - VNET_HEADER);
  struct frame *f;
  if (p->queued_bytes + length > queue_limit_bytes) {
    ++p->drops;
    return;
  }
  f = malloc(sizeof *f + length);
  if (!f) {
    ++p->drops;
    return;
  }
  if (wire_free > departure) departure = wire_free;
  p->downlink_busy_ns = departure;
  f->next = NULL;
  f->departure_ns = departure;
  f->length = length;
  memcpy(f->data, data, length);
  if (p->tail)
    p->tail->next = f;
  else
    p->head = f;
  p->tail = f;
  p->queued_bytes += length;
  if (p->queued_bytes > p->max_queued_bytes) p->max_queued_bytes = p->queued_bytes;
}

/* switch_frame: one frame read from port `in` at `arrival_ns`: learn, find the output port(s), schedule. */
static void switch_frame(int in, const unsigned char *data, size_t length, int64_t arrival_ns) {
  struct port *p = &ports[in];
  int64_t uplink_done;
  int out, o;
  const unsigned char *ethernet = data + VNET_HEADER;
  size_t wire_bytes;
  if (length < VNET_HEADER + 14) return;
  wire_bytes = length - VNET_HEADER;
  ++p->rx_frames;
  p->rx_bytes += wire_bytes;
  learn_mac(ethernet + 6, in);
  uplink_done = (arrival_ns > p->uplink_busy_ns ? arrival_ns : p->uplink_busy_ns) + serialisation_ns(wire_bytes);
  p->uplink_busy_ns = uplink_done;
  out = (ethernet[0] & 1) ? -1 : port_of_mac(ethernet);
  if (out == in) return;
  if (out >= 0) {
    enqueue(out, data, length, uplink_done);
    return;
  }
  for (o = 0; o < port_count; ++o)
    if (o != in) enqueue(o, data, length, uplink_done);
}

/* send_due: every queued frame whose departure time has come; returns the earliest remaining departure. */
static int64_t send_due(int64_t now) {
  int64_t next = INT64_MAX;
  int i;
  for (i = 0; i < port_count; ++i) {
    struct port *p = &ports[i];
    while (p->head && p->head->departure_ns <= now) {
      struct frame *f = p->head;
      int64_t late = now - f->departure_ns;
      if (write(p->fd, f->data, f->length) == (ssize_t)f->length) {
        ++p->tx_frames;
        p->tx_bytes += f->length - VNET_HEADER;
      } else {
        ++p->write_errors;
      }
      ++late_count;
      late_sum_ns += late;
      if (late > late_max_ns) late_max_ns = late;
      late_over_10us += late > 10000;
      late_over_100us += late > 100000;
      p->queued_bytes -= f->length;
      p->head = f->next;
      if (!p->head) p->tail = NULL;
      free(f);
      now = now_ns();
    }
    if (p->head && p->head->departure_ns < next) next = p->head->departure_ns;
  }
  return next;
}

static void arm_timer(int timer_fd, int64_t when_ns) {
  struct itimerspec spec;
  memset(&spec, 0, sizeof spec);
  if (when_ns != INT64_MAX) {
    spec.it_value.tv_sec = when_ns / 1000000000;
    spec.it_value.tv_nsec = when_ns % 1000000000;
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &spec, NULL) != 0) die("timerfd_settime");
}

static void add_port(const char *spec) {
  const char *colon = strrchr(spec, ':');
  char netns[4096];
  struct port *p;
  if (!colon || colon == spec || !colon[1] || strlen(colon + 1) >= IFNAMSIZ || (size_t)(colon - spec) >= sizeof netns) {
    fprintf(stderr, "delay_switch: port '%s': expected NETNS:IFNAME (NETNS a namespace file or -)\n", spec);
    exit(2);
  }
  if (port_count == MAX_PORTS) {
    fprintf(stderr, "delay_switch: more than %d ports\n", MAX_PORTS);
    exit(2);
  }
  memcpy(netns, spec, (size_t)(colon - spec));
  netns[colon - spec] = 0;
  p = &ports[port_count++];
  snprintf(p->name, sizeof p->name, "%s", spec);
  p->fd = open_tap(netns, colon + 1);
}

int main(int argc, char **argv) {
  const char *settings = NULL, *ready = NULL;
  static unsigned char buffer[FRAME_MAX];
  struct epoll_event event, events[MAX_PORTS + 2];
  sigset_t signals;
  int i, epoll_fd, timer_fd, signal_fd, running = 1;
  int64_t armed = -1, armed_at = INT64_MAX;

  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--settings") == 0 && i + 1 < argc)
      settings = argv[++i];
    else if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
      ready = argv[++i];
    else if (strcmp(argv[i], "--spin-us") == 0 && i + 1 < argc)
      spin_limit_ns = strtoll(argv[++i], NULL, 10) * 1000;
    else if (strcmp(argv[i], "--queue-bytes") == 0 && i + 1 < argc)
      queue_limit_bytes = strtoull(argv[++i], NULL, 10);
    else if (argv[i][0] == '-' && argv[i][1] == '-') {
      fprintf(stderr, "delay_switch: unknown option %s\n", argv[i]);
      return 2;
    } else
      add_port(argv[i]);
  }
  if (!settings || port_count < 2 || queue_limit_bytes < FRAME_MAX) {
    fprintf(stderr,
            "usage: delay_switch --settings FILE [--ready FILE] [--queue-bytes N>=%d] [--spin-us US] PORT PORT...\n",
            FRAME_MAX);
    return 2;
  }
  read_settings(settings);
  /* Timer slack: a normal task's timers may fire up to 50 us late by default; we want them on time. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  sigprocmask(SIG_BLOCK, &signals, NULL);
  signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (signal_fd < 0 || timer_fd < 0 || epoll_fd < 0) die("signalfd/timerfd/epoll");
  for (i = 0; i < port_count + 2; ++i) {
    event.events = EPOLLIN;
    event.data.u32 = (uint32_t)i; /* ports 0..n-1, then the timer, then the signals */
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, i < port_count ? ports[i].fd : i == port_count ? timer_fd : signal_fd,
                  &event) != 0)
      die("epoll_ctl");
  }
  if (ready) {
    FILE *f = fopen(ready, "w");
    if (!f || fclose(f) != 0) die(ready);
  }

  while (running) {
    int n, e;
    int64_t woke;
    int64_t now = now_ns(), next = send_due(now);
    /* The timer is armed wake_latency_ns early (its typical lateness, learnt) and the rest is spun, so that frames
     * leave on time rather than a wake-up late; a frame due within that margin is waited for by spinning. */
    if (next != INT64_MAX && next - now <= wake_latency_ns + 5000 && next - now <= spin_limit_ns) {
      while (now_ns() < next) {
      }
      continue;
    }
    if (next != armed) {
      armed_at = next == INT64_MAX ? INT64_MAX : next - (spin_limit_ns > 0 ? wake_latency_ns : 0);
      arm_timer(timer_fd, armed_at);
      armed = next;
    }
    n = epoll_wait(epoll_fd, events, MAX_PORTS + 2, -1);
    woke = now_ns();
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (e = 0; e < n; ++e) {
      uint32_t id = events[e].data.u32;
      if ((int)id < port_count) {
        int k;
        for (k = 0; k < READ_BATCH; ++k) {
          ssize_t got = read(ports[id].fd, buffer, sizeof buffer);
          if (got <= 0) break;
          switch_frame((int)id, buffer, (size_t)got, now_ns());
        }
      } else if ((int)id == port_count) {
        uint64_t expirations;
        if (read(timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd read");
        if (armed_at != INT64_MAX) {
          int64_t lateness = woke - armed_at;
          if (lateness > 200000) lateness = 200000; /* a preempted wake-up says nothing of the next one */
          wake_latency_ns += (lateness - wake_latency_ns) / 8;
        }
        armed = -1;
      } else {
        struct signalfd_siginfo info;
        while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
          if (info.ssi_signo == SIGHUP) {
            print_timing(); /* of the setting that ends */
            read_settings(settings);
            late_count = late_over_10us = late_over_100us = 0; /* the timing counters are per setting */
            late_sum_ns = late_max_ns = 0;
          } else if (info.ssi_signo == SIGUSR1)
            print_counters();
          else
            running = 0;
        }
      }
    }
  }
  print_counters();
  return 0;
}
