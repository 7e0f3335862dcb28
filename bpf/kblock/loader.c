// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kblock-loader: loads kblock.bpf.o (embedded skeleton), attaches cgroup/connect4 and connect6 to one
 * cgroup v2 directory through bpf_link, and then serves its parent over stdio:
 *   stdin  — rule sets, one token line per item (begin / rule / cidr4 / cidr6 / port / commit);
 *            plain tokens rather than JSON so that no JSON parser is needed in C.
 *   stdout — JSON lines: ready, committed, error, deny, lost.
 * bpf_link attachments compose with other programs on the cgroup (like BPF_F_ALLOW_MULTI) and are
 * owned by this process's file descriptors: they are detached when it exits, however it exits. It
 * exits on stdin EOF (the parent died or closed the pipe), SIGTERM or SIGINT, and when its parent
 * dies (PR_SET_PDEATHSIG).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kblock.h"
#include "kblock.skel.h"

#define LINE_MAX_BYTES 1024

static volatile sig_atomic_t stopping;
static struct kblock *skel;
static int active; /* generation the programs read (kb_config.base) */
static int building = -1; /* generation being filled, -1 = none */
static unsigned nrules, ncidr4, ncidr6, nports;
static int txn_failed;
static uint64_t lost_reported;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void emit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void error_line(const char *message, int line_no)
{
	emit("{\"type\":\"error\",\"line\":%d,\"message\":\"%s\"}", line_no, message);
}

/* comm is chosen by the process (prctl PR_SET_NAME): every byte outside printable ASCII is escaped. */
static void json_string(char *out, size_t cap, const char *in, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && in[i] && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
}

static int on_denial(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size < sizeof(struct kb_denial))
		return 0;
	const struct kb_denial *d = data;
	char addr[INET6_ADDRSTRLEN] = "";
	char comm[16 * 6 + 1];
	inet_ntop(d->family == 4 ? AF_INET : AF_INET6, d->addr, addr, sizeof(addr));
	json_string(comm, sizeof(comm), d->comm, sizeof(d->comm));
	emit("{\"type\":\"deny\",\"ktimeNs\":\"%llu\",\"pid\":%u,\"tgid\":%u,\"uid\":%u,\"comm\":\"%s\","
	     "\"cgroupId\":\"%llu\",\"hook\":%u,\"family\":%u,\"protocol\":%u,\"addr\":\"%s\",\"port\":%u,\"ruleId\":%u}",
	     (unsigned long long)d->ktime_ns, d->pid, d->tgid, d->uid, comm, (unsigned long long)d->cgroup_id,
	     d->hook, d->family, d->protocol, addr, d->port, d->rule_id);
	return 0;
}

static void report_lost(void)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || ncpu > 4096)
		return;
	uint64_t values[4096];
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.kb_lost), &zero, values))
		return;
	uint64_t total = 0;
	for (int i = 0; i < ncpu; i++)
		total += values[i];
	if (total > lost_reported) {
		emit("{\"type\":\"lost\",\"count\":%llu}", (unsigned long long)(total - lost_reported));
		lost_reported = total;
	}
}

/* Removes every entry of one generation (its rules, CIDRs and ports). */
static void clear_generation(int gen)
{
	uint32_t lo = (uint32_t)gen * KB_MAX_RULES, hi = lo + KB_MAX_RULES;
	struct kb_rule empty = { 0 };
	for (uint32_t s = lo; s < hi; s++)
		bpf_map_update_elem(bpf_map__fd(skel->maps.kb_rules), &s, &empty, BPF_ANY);
	/* Deleting while iterating restarts from the start: collect first, then delete. */
	int fds[3] = { bpf_map__fd(skel->maps.kb_cidr4), bpf_map__fd(skel->maps.kb_cidr6),
		       bpf_map__fd(skel->maps.kb_ports) };
	for (int m = 0; m < 3; m++) {
		union {
			struct kb_cidr4_key c4;
			struct kb_cidr6_key c6;
			struct kb_port_key p;
		} key, next;
		int first = 1;
		for (;;) {
			if (bpf_map_get_next_key(fds[m], first ? NULL : &key, &next))
				break;
			first = 0;
			key = next;
			uint32_t slot = m == 2 ? next.p.slot : m == 0 ? next.c4.slot : next.c6.slot;
			if (slot >= lo && slot < hi) {
				bpf_map_delete_elem(fds[m], &next);
				first = 1; /* the iterator position is gone */
			}
		}
	}
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static void handle_line(char *line, int line_no)
{
	char *argv[4 + 2 * KB_MAX_RANGES + 8];
	int argc = 0;
	for (char *tok = strtok(line, " \t"); tok && argc < (int)(sizeof(argv) / sizeof(argv[0])); tok = strtok(NULL, " \t"))
		argv[argc++] = tok;
	if (argc == 0)
		return;
	if (!strcmp(argv[0], "begin")) {
		building = !active;
		clear_generation(building);
		nrules = ncidr4 = ncidr6 = nports = 0;
		txn_failed = 0;
		return;
	}
	if (building < 0) {
		error_line("no begin before this line", line_no);
		return;
	}
	if (txn_failed && strcmp(argv[0], "commit"))
		return;
	uint32_t slot = (uint32_t)building * KB_MAX_RULES + nrules - 1;
	if (!strcmp(argv[0], "rule")) {
		/* rule <id> <protos> <scope> <cgroup_id> <level> <any_addr> <any_port> <neg_addr> <neg_port> [lo hi]... */
		uint64_t v[9];
		if (argc < 10 || (argc - 10) % 2 || (argc - 10) / 2 > KB_MAX_RANGES) {
			error_line("rule: wrong number of fields", line_no);
			txn_failed = 1;
			return;
		}
		uint64_t max[9] = { UINT32_MAX, 3, 2, UINT64_MAX, 1024, 1, 1, 1, 1 };
		for (int i = 0; i < 9; i++)
			if (parse_u64(argv[1 + i], max[i], &v[i]) || (i == 0 && v[0] == 0)) {
				error_line("rule: bad field", line_no);
				txn_failed = 1;
				return;
			}
		if (nrules >= KB_MAX_RULES) {
			error_line("rule: rule map full", line_no);
			txn_failed = 1;
			return;
		}
		struct kb_rule r = { .id = (uint32_t)v[0], .protos = (uint8_t)v[1], .scope = (uint32_t)v[2],
				     .cgroup_id = v[3], .level = (uint32_t)v[4], .any_addr = (uint8_t)v[5],
				     .any_port = (uint8_t)v[6], .neg_addr = (uint8_t)v[7], .neg_port = (uint8_t)v[8] };
		for (int i = 10; i + 1 < argc; i += 2) {
			uint64_t lo, hi;
			if (parse_u64(argv[i], 65535, &lo) || parse_u64(argv[i + 1], 65535, &hi) || lo > hi) {
				error_line("rule: bad port range", line_no);
				txn_failed = 1;
				return;
			}
			r.lo[r.nranges] = (uint16_t)lo;
			r.hi[r.nranges] = (uint16_t)hi;
			r.nranges++;
		}
		slot = (uint32_t)building * KB_MAX_RULES + nrules;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.kb_rules), &slot, &r, BPF_ANY)) {
			error_line("rule: map update failed", line_no);
			txn_failed = 1;
			return;
		}
		nrules++;
		return;
	}
	if (!strcmp(argv[0], "commit")) {
		if (txn_failed) {
			/* The programs keep reading the previous generation. */
			clear_generation(building);
			building = -1;
			emit("{\"type\":\"rejected\"}");
			return;
		}
		struct kb_config c = { .base = (uint32_t)building, .count = nrules, .exempt_tgid = (uint32_t)getppid() };
		uint32_t zero = 0;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.kb_config), &zero, &c, BPF_ANY)) {
			error_line("commit: config update failed", line_no);
			building = -1;
			return;
		}
		int previous = active;
		active = building;
		building = -1;
		clear_generation(previous);
		emit("{\"type\":\"committed\",\"rules\":%u,\"cidr4\":%u,\"cidr6\":%u,\"ports\":%u}", nrules, ncidr4,
		     ncidr6, nports);
		return;
	}
	if (nrules == 0) {
		error_line("entry before any rule", line_no);
		txn_failed = 1;
		return;
	}
	uint8_t one = 1;
	if (!strcmp(argv[0], "port") && argc == 2) {
		uint64_t p;
		if (parse_u64(argv[1], 65535, &p) || nports >= KB_MAX_PORTS) {
			error_line(nports >= KB_MAX_PORTS ? "port: map full" : "port: bad port", line_no);
			txn_failed = 1;
			return;
		}
		struct kb_port_key k = { .slot = slot, .port = (uint32_t)p };
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.kb_ports), &k, &one, BPF_ANY)) {
			error_line("port: map update failed", line_no);
			txn_failed = 1;
			return;
		}
		nports++;
		return;
	}
	if ((!strcmp(argv[0], "cidr4") || !strcmp(argv[0], "cidr6")) && argc == 3) {
		int v6 = argv[0][4] == '6';
		uint64_t bits;
		unsigned char addr[16];
		if (parse_u64(argv[1], v6 ? 128 : 32, &bits) || inet_pton(v6 ? AF_INET6 : AF_INET, argv[2], addr) != 1) {
			error_line("cidr: bad prefix", line_no);
			txn_failed = 1;
			return;
		}
		if ((v6 ? ncidr6 : ncidr4) >= (v6 ? KB_MAX_CIDR6 : KB_MAX_CIDR4)) {
			error_line("cidr: map full", line_no);
			txn_failed = 1;
			return;
		}
		int rc;
		if (v6) {
			struct kb_cidr6_key k = { .prefixlen = 32 + (uint32_t)bits, .slot = slot };
			memcpy(k.addr, addr, 16);
			rc = bpf_map_update_elem(bpf_map__fd(skel->maps.kb_cidr6), &k, &one, BPF_ANY);
			ncidr6++;
		} else {
			struct kb_cidr4_key k = { .prefixlen = 32 + (uint32_t)bits, .slot = slot };
			memcpy(k.addr, addr, 4);
			rc = bpf_map_update_elem(bpf_map__fd(skel->maps.kb_cidr4), &k, &one, BPF_ANY);
			ncidr4++;
		}
		if (rc) {
			error_line("cidr: map update failed", line_no);
			txn_failed = 1;
		}
		return;
	}
	error_line("unknown line", line_no);
	txn_failed = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kblock-loader <cgroup-v2-dir>\n");
		return 2;
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1; /* the parent is already gone */
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int cg = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		fprintf(stderr, "cannot open cgroup %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	skel = kblock__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading the BPF object failed: %s\n", strerror(errno));
		return 1;
	}
	struct bpf_link *l4 = bpf_program__attach_cgroup(skel->progs.kb_connect4, cg);
	struct bpf_link *l6 = l4 ? bpf_program__attach_cgroup(skel->progs.kb_connect6, cg) : NULL;
	if (!l4 || !l6) {
		fprintf(stderr, "attaching to cgroup %s failed: %s\n", argv[1], strerror(errno));
		bpf_link__destroy(l4);
		kblock__destroy(skel);
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.kb_events), on_denial, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "ring buffer setup failed: %s\n", strerror(errno));
		return 1;
	}
	emit("{\"type\":\"ready\"}");

	char buf[LINE_MAX_BYTES];
	size_t used = 0;
	int discarding = 0, line_no = 0;
	struct pollfd pfd[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
				 { .fd = ring_buffer__epoll_fd(rb), .events = POLLIN } };
	while (!stopping) {
		int n = poll(pfd, 2, 1000);
		if (n < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			ring_buffer__consume(rb);
		report_lost();
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = read(STDIN_FILENO, buf + used, sizeof(buf) - 1 - used);
			if (got <= 0) {
				if (got < 0 && errno == EINTR)
					continue;
				break; /* EOF: the parent is gone or done */
			}
			used += (size_t)got;
			char *start = buf, *nl;
			while ((nl = memchr(start, '\n', used - (size_t)(start - buf)))) {
				*nl = 0;
				line_no++;
				if (!discarding)
					handle_line(start, line_no);
				discarding = 0;
				start = nl + 1;
			}
			used -= (size_t)(start - buf);
			memmove(buf, start, used);
			if (used == sizeof(buf) - 1) {
				/* A line longer than any valid one: refused, and the transaction with it. */
				if (!discarding) {
					error_line("line too long", line_no + 1);
					txn_failed = 1;
				}
				discarding = 1;
				used = 0;
			}
		}
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	bpf_link__destroy(l6);
	bpf_link__destroy(l4);
	kblock__destroy(skel);
	return 0;
}
