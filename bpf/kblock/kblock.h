/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Layout shared by the cgroup connect program and its loader. Two generations of rules live side by
 * side (slots [0, KB_MAX_RULES) and [KB_MAX_RULES, 2*KB_MAX_RULES)): a reload fills the idle half,
 * then flips kb_config in one map update, so a connect never sees half a policy set.
 */
#ifndef KBLOCK_H
#define KBLOCK_H

#define KB_MAX_RULES 256
#define KB_MAX_RANGES 8
/* Per generation; the maps hold two generations. */
#define KB_MAX_CIDR4 8192
#define KB_MAX_CIDR6 8192
#define KB_MAX_PORTS 8192
#define KB_RINGBUF_BYTES (256 * 1024)

#define KB_PROTO_TCP 1
#define KB_PROTO_UDP 2

#define KB_SCOPE_ALL 0
#define KB_SCOPE_CGROUP 1
#define KB_SCOPE_BELOW 2

struct kb_rule {
	__u32 id; /* 0 = empty slot */
	__u8 protos; /* KB_PROTO_* bits; 0 = any */
	__u8 any_addr;
	__u8 any_port;
	__u8 nranges;
	__u32 scope;
	__u32 level; /* KB_SCOPE_BELOW: depth of the scope cgroup */
	__u64 cgroup_id;
	__u16 lo[KB_MAX_RANGES];
	__u16 hi[KB_MAX_RANGES];
	__u8 neg_port; /* deny ports NOT in the set */
	__u8 neg_addr; /* deny addresses NOT in the set */
	__u8 pad[6];
};

struct kb_config {
	__u32 base;
	__u32 count;
	__u32 exempt_tgid; /* the agent (the loader's parent): never denied, so a rule cannot cut it off */
	__u32 pad;
};

struct kb_cidr4_key {
	__u32 prefixlen; /* 32 (the slot) + address bits */
	__u32 slot;
	__u8 addr[4];
};

struct kb_cidr6_key {
	__u32 prefixlen;
	__u32 slot;
	__u8 addr[16];
};

struct kb_port_key {
	__u32 slot;
	__u32 port;
};

struct kb_denial {
	__u64 cgroup_id;
	__u64 ktime_ns;
	__u32 pid; /* thread id */
	__u32 tgid;
	__u32 uid;
	__u32 rule_id;
	__u32 family; /* 4 or 6 */
	__u32 protocol; /* IPPROTO_* */
	__u32 port;
	__u32 hook; /* 4 = connect4, 6 = connect6 (an IPv4-mapped destination has family 4) */
	__u8 addr[16];
	char comm[16];
};

#endif
