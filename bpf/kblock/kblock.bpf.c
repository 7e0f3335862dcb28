// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup/connect4 and cgroup/connect6: deny a connect() the loaded `block` rules name, before any
 * packet leaves (the syscall returns EPERM), and report the denial through a ring buffer. Rules live
 * in maps the loader updates while the programs stay attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "kblock.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kb_config);
} kb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KB_MAX_RULES);
	__type(key, __u32);
	__type(value, struct kb_rule);
} kb_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * KB_MAX_CIDR4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kb_cidr4_key);
	__type(value, __u8);
} kb_cidr4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * KB_MAX_CIDR6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kb_cidr6_key);
	__type(value, __u8);
} kb_cidr6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * KB_MAX_PORTS);
	__type(key, struct kb_port_key);
	__type(value, __u8);
} kb_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KB_RINGBUF_BYTES);
} kb_events SEC(".maps");

/* Denials the ring buffer had no room for (the connect is still denied). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kb_lost SEC(".maps");

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

struct kb_target {
	__u8 addr[16];
	__u32 family; /* 4 or 6 */
	__u32 hook; /* 4 or 6 */
	__u16 port;
	__u8 protos; /* KB_PROTO_* bit of this socket, 0 = neither */
};

static __always_inline int cgroup_in_scope(const struct kb_rule *r, __u64 cgid)
{
	if (r->scope == KB_SCOPE_CGROUP)
		return cgid == r->cgroup_id;
	if (r->scope == KB_SCOPE_BELOW)
		return cgid != r->cgroup_id &&
		       bpf_get_current_ancestor_cgroup_id(r->level) == r->cgroup_id;
	return 1;
}

static __always_inline int port_matches(const struct kb_rule *r, __u32 slot, __u16 port)
{
	if (r->any_port)
		return 1;
	int in = 0;
	struct kb_port_key pk = { .slot = slot, .port = port };
	if (bpf_map_lookup_elem(&kb_ports, &pk))
		in = 1;
	__u32 n = r->nranges < KB_MAX_RANGES ? r->nranges : KB_MAX_RANGES;
	for (__u32 j = 0; j < KB_MAX_RANGES && !in; j++) {
		if (j >= n)
			break;
		if (port >= r->lo[j] && port <= r->hi[j])
			in = 1;
	}
	return r->neg_port ? !in : in;
}

static __always_inline int addr_matches(const struct kb_rule *r, __u32 slot, const struct kb_target *t)
{
	if (r->any_addr)
		return 1;
	int in;
	if (t->family == 4) {
		struct kb_cidr4_key k = { .prefixlen = 64, .slot = slot };
		__builtin_memcpy(k.addr, t->addr, 4);
		in = bpf_map_lookup_elem(&kb_cidr4, &k) != NULL;
	} else {
		struct kb_cidr6_key k = { .prefixlen = 160, .slot = slot };
		__builtin_memcpy(k.addr, t->addr, 16);
		in = bpf_map_lookup_elem(&kb_cidr6, &k) != NULL;
	}
	return r->neg_addr ? !in : in;
}

static __always_inline void report(const struct kb_target *t, __u32 rule_id, __u32 protocol, __u64 cgid)
{
	struct kb_denial *d = bpf_ringbuf_reserve(&kb_events, sizeof(*d), 0);
	if (!d) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&kb_lost, &zero);
		if (lost)
			*lost += 1;
		return;
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	d->cgroup_id = cgid;
	d->ktime_ns = bpf_ktime_get_ns();
	d->pid = (__u32)pid_tgid;
	d->tgid = pid_tgid >> 32;
	d->uid = (__u32)bpf_get_current_uid_gid();
	d->rule_id = rule_id;
	d->family = t->family;
	d->protocol = protocol;
	d->port = t->port;
	d->hook = t->hook;
	__builtin_memcpy(d->addr, t->addr, 16);
	bpf_get_current_comm(d->comm, sizeof(d->comm));
	bpf_ringbuf_submit(d, 0);
}

struct kb_walk {
	struct kb_target *t;
	__u64 cgid;
	__u32 base;
	__u32 count;
	__u32 protocol;
	__u32 denied;
};

/* One rule per bpf_loop step: the verifier checks the body once, not once per rule. */
static long check_rule(__u32 i, void *data)
{
	struct kb_walk *w = data;
	if (i >= w->count)
		return 1;
	__u32 slot = w->base + i;
	struct kb_rule *r = bpf_map_lookup_elem(&kb_rules, &slot);
	if (!r || r->id == 0)
		return 0;
	if (r->protos && !(r->protos & w->t->protos))
		return 0;
	if (!cgroup_in_scope(r, w->cgid))
		return 0;
	if (!port_matches(r, slot, w->t->port))
		return 0;
	if (!addr_matches(r, slot, w->t))
		return 0;
	report(w->t, r->id, w->protocol, w->cgid);
	w->denied = 1;
	return 1;
}

/* 1 = allow, 0 = deny (EPERM). */
static __always_inline int decide(struct kb_target *t, __u32 protocol)
{
	__u32 zero = 0;
	struct kb_config *c = bpf_map_lookup_elem(&kb_config, &zero);
	if (!c || c->count == 0)
		return 1;
	if (c->exempt_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == c->exempt_tgid)
		return 1;
	struct kb_walk w = {
		.t = t,
		.cgid = bpf_get_current_cgroup_id(),
		.base = c->base ? KB_MAX_RULES : 0,
		.count = c->count < KB_MAX_RULES ? c->count : KB_MAX_RULES,
		.protocol = protocol,
	};
	bpf_loop(KB_MAX_RULES, check_rule, &w, 0);
	return w.denied ? 0 : 1;
}

static __always_inline __u8 proto_bit(__u32 protocol)
{
	if (protocol == IPPROTO_TCP)
		return KB_PROTO_TCP;
	if (protocol == IPPROTO_UDP)
		return KB_PROTO_UDP;
	return 0;
}

SEC("cgroup/connect4")
int kb_connect4(struct bpf_sock_addr *ctx)
{
	struct kb_target t = {};
	__u32 ip = ctx->user_ip4;
	__builtin_memcpy(t.addr, &ip, 4);
	t.family = 4;
	t.hook = 4;
	t.port = bpf_ntohs((__u16)ctx->user_port);
	__u32 protocol = ctx->protocol;
	t.protos = proto_bit(protocol);
	return decide(&t, protocol);
}

SEC("cgroup/connect6")
int kb_connect6(struct bpf_sock_addr *ctx)
{
	struct kb_target t = {};
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
	__u32 protocol = ctx->protocol;
	t.hook = 6;
	t.port = bpf_ntohs((__u16)ctx->user_port);
	t.protos = proto_bit(protocol);
	/*
	 * An IPv4-mapped address (::ffff:a.b.c.d) reaches an IPv4 host through an AF_INET6 socket: it is
	 * decided (and reported) as that IPv4 address, or an IPv4 rule would be bypassed this way.
	 */
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0x0000ffff)) {
		__builtin_memcpy(t.addr, &w3, 4);
		t.family = 4;
		return decide(&t, protocol);
	}
	__builtin_memcpy(t.addr, &w0, 4);
	__builtin_memcpy(t.addr + 4, &w1, 4);
	__builtin_memcpy(t.addr + 8, &w2, 4);
	__builtin_memcpy(t.addr + 12, &w3, 4);
	t.family = 6;
	return decide(&t, protocol);
}
