/*
 * cfg_match.c — everything that looks at all peers at once: the cross-entry
 * rules (duplicate names and addresses, overlapping ranges and address
 * spaces), the lookup index behind cfg_peer_match / cfg_peer_find, and the
 * reload diff.
 *
 * The checks and the index build run on the main thread during a load. The
 * index is immutable afterwards, so cfg_peer_match may run on any io thread
 * (the accept path) without locks: two binary searches over sorted arrays,
 * O(log n) for thousands of peers.
 *
 * Rules decided here (docs/configuration.md, "Peer identity"):
 *   - peer names are unique;
 *   - an address belongs to at most one address: peer;
 *   - ranges never overlap (nor nest): an incoming connection maps to one
 *     range at most, so "the most specific range" is the only one;
 *   - an address: peer inside a range is allowed and wins over the range.
 * Because prefixes either nest or are disjoint, sorting them by start address
 * and keeping a stack of the enclosing ones finds every overlapping pair in one
 * pass (the stack is at most 129 deep: one entry per prefix length).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cfg_int.h"

/* ---- sorting helpers (qsort has no context argument: sort small records) --- */

struct peer_ref {
	const struct cfg_peer	*p;
	size_t			 idx;
};

static int
ref_addr_cmp(const void *a, const void *b)
{
	const struct peer_ref *x = a, *y = b;
	int r;

	if ((r = cfg_addr_cmp(&x->p->addr, &y->p->addr)) != 0)
		return r;
	return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int
ref_name_cmp(const void *a, const void *b)
{
	const struct peer_ref *x = a, *y = b;
	int r;

	if ((r = strcmp(x->p->name, y->p->name)) != 0)
		return r;
	return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static void
check_names(struct cfg_ctx *ctx, struct peer_ref *refs)
{
	const struct cfg *c = ctx->cfg;
	size_t i, n = 0, first = 0;

	for (i = 0; i < c->npeers; i++)
		if (c->peers[i].name != NULL)
			refs[n++] = (struct peer_ref){ &c->peers[i], i };
	qsort(refs, n, sizeof(*refs), ref_name_cmp);
	for (i = 1; i < n; i++) {
		char p[64];

		if (strcmp(refs[i].p->name, refs[first].p->name) != 0) {
			first = i;
			continue;
		}
		snprintf(p, sizeof(p), "peers[%zu].name", refs[i].idx);
		cfg_error(ctx, ctx->peer_lines[refs[i].idx].name, p,
		    "duplicate name '%s' (peers[%zu], line %d)", refs[i].p->name,
		    refs[first].idx, ctx->peer_lines[refs[first].idx].name);
	}
}

static void
check_addresses(struct cfg_ctx *ctx, struct peer_ref *refs)
{
	const struct cfg *c = ctx->cfg;
	size_t i, n = 0, first = 0;
	char a[64], p[64];

	for (i = 0; i < c->npeers; i++)
		if (!c->peers[i].is_range && ctx->peer_lines[i].addr_ok)
			refs[n++] = (struct peer_ref){ &c->peers[i], i };
	qsort(refs, n, sizeof(*refs), ref_addr_cmp);
	for (i = 1; i < n; i++) {
		if (cfg_addr_cmp(&refs[i].p->addr, &refs[first].p->addr) != 0) {
			first = i;
			continue;
		}
		cfg_addr_fmt(&refs[i].p->addr, a, sizeof(a));
		snprintf(p, sizeof(p), "peers[%zu].address", refs[i].idx);
		cfg_error(ctx, ctx->peer_lines[refs[i].idx].addr, p,
		    "%s is already used by peers[%zu] '%s' (line %d)", a, refs[first].idx,
		    refs[first].p->name ? refs[first].p->name : "?",
		    ctx->peer_lines[refs[first].idx].addr);
	}
}

static void
check_ranges(struct cfg_ctx *ctx, struct peer_ref *refs, struct peer_ref *stack)
{
	const struct cfg *c = ctx->cfg;
	const struct peer_ref *x, *y;
	size_t i, j, n = 0, top = 0;
	char a[64], b[64], p[64];

	for (i = 0; i < c->npeers; i++)
		if (c->peers[i].is_range && ctx->peer_lines[i].addr_ok)
			refs[n++] = (struct peer_ref){ &c->peers[i], i };
	qsort(refs, n, sizeof(*refs), ref_addr_cmp);
	for (i = 0; i < n; i++) {
		while (top > 0 && !cfg_prefix_contains(&stack[top - 1].p->addr, &refs[i].p->addr))
			top--;
		/* every entry left on the stack contains this one: report each pair */
		for (j = top; j > 0; j--) {
			/* report at the entry that comes later in the file */
			x = &stack[j - 1];
			y = &refs[i];
			if (x->idx > y->idx) {
				const struct peer_ref *t = x;

				x = y;
				y = t;
			}
			cfg_addr_fmt(&y->p->addr, a, sizeof(a));
			cfg_addr_fmt(&x->p->addr, b, sizeof(b));
			snprintf(p, sizeof(p), "peers[%zu].range", y->idx);
			cfg_error(ctx, ctx->peer_lines[y->idx].addr, p,
			    "%s overlaps %s of peers[%zu] '%s' (line %d); ranges must not overlap",
			    a, b, x->idx, x->p->name ? x->p->name : "?",
			    ctx->peer_lines[x->idx].addr);
		}
		stack[top++] = refs[i];
	}
}

void
cfg_check_peers(struct cfg_ctx *ctx)
{
	struct peer_ref *refs, *stack;
	size_t n = ctx->cfg->npeers;

	if (n == 0 || ctx->peer_lines == NULL)
		return;
	refs = calloc(n, sizeof(*refs));
	stack = calloc(n, sizeof(*stack));
	if (refs == NULL || stack == NULL) {
		ctx->oom = true;
		goto done;
	}
	check_names(ctx, refs);
	check_addresses(ctx, refs);
	check_ranges(ctx, refs, stack);
 done:
	free(refs);
	free(stack);
}

static int
space_cmp(const void *a, const void *b)
{
	const struct cfg_space_ref *x = a, *y = b;
	int r;

	if ((r = cfg_addr_cmp(&x->addr, &y->addr)) != 0)
		return r;
	return x->line < y->line ? -1 : (x->line > y->line);
}

/*
 * Address spaces of the hub and of every spoke must not overlap: a host's
 * effective route table could not tell which virtual network owns an address
 * (the reference refuses such peerings the same way).
 */
void
cfg_check_spaces(struct cfg_ctx *ctx)
{
	struct cfg_space_ref *s = ctx->spaces, **stack;
	const struct cfg_space_ref *x, *y;
	size_t i, j, top = 0;
	char a[64], b[64];

	if (ctx->nspaces < 2)
		return;
	if ((stack = calloc(ctx->nspaces, sizeof(*stack))) == NULL) {
		ctx->oom = true;
		return;
	}
	qsort(s, ctx->nspaces, sizeof(*s), space_cmp);
	for (i = 0; i < ctx->nspaces; i++) {
		while (top > 0 && !cfg_prefix_contains(&stack[top - 1]->addr, &s[i].addr))
			top--;
		for (j = top; j > 0; j--) {
			x = stack[j - 1];
			y = &s[i];
			if (x->line > y->line) {
				const struct cfg_space_ref *t = x;

				x = y;
				y = t;
			}
			cfg_addr_fmt(&y->addr, a, sizeof(a));
			cfg_addr_fmt(&x->addr, b, sizeof(b));
			cfg_error(ctx, y->line, y->path, "%s overlaps %s %s (line %d)", a, x->path,
			    b, x->line);
		}
		stack[top++] = &s[i];
	}
	free(stack);
}

/* ---- index --------------------------------------------------------------------- */

static int
ix_cmp(const void *a, const void *b)
{
	const struct cfg_ix_ent *x = a, *y = b;

	return cfg_addr_cmp(&x->key, &y->key);
}

static int
name_idx_cmp(const void *a, const void *b, void *arg)
{
	const struct cfg *c = arg;
	const uint32_t *x = a, *y = b;

	return strcmp(c->peers[*x].name, c->peers[*y].name);
}

int
cfg_index_build(struct cfg *c)
{
	struct cfg_index *ix;
	size_t i;

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return -1;
	c->index = ix;
	if (c->npeers == 0)
		return 0;
	ix->exact = calloc(c->npeers, sizeof(*ix->exact));
	ix->ranges = calloc(c->npeers, sizeof(*ix->ranges));
	ix->by_name = calloc(c->npeers, sizeof(*ix->by_name));
	if (ix->exact == NULL || ix->ranges == NULL || ix->by_name == NULL)
		return -1;
	for (i = 0; i < c->npeers; i++) {
		struct cfg_ix_ent *e;

		if (c->peers[i].is_range)
			e = &ix->ranges[ix->nranges++];
		else
			e = &ix->exact[ix->nexact++];
		e->key = c->peers[i].addr;
		e->peer = (uint32_t)i;
		ix->by_name[i] = (uint32_t)i;
	}
	qsort(ix->exact, ix->nexact, sizeof(*ix->exact), ix_cmp);
	qsort(ix->ranges, ix->nranges, sizeof(*ix->ranges), ix_cmp);
	qsort_r(ix->by_name, c->npeers, sizeof(*ix->by_name), name_idx_cmp, c);
	return 0;
}

void
cfg_index_free(struct cfg_index *ix)
{
	if (ix == NULL)
		return;
	free(ix->exact);
	free(ix->ranges);
	free(ix->by_name);
	free(ix);
}

/* Family and address bytes only: ranges are found by their start. */
static int
start_cmp(const struct cfg_addr *a, const struct cfg_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

const struct cfg_peer *
cfg_peer_match_addr(const struct cfg *c, const struct cfg_addr *a)
{
	const struct cfg_index *ix = c->index;
	size_t lo, hi, mid;
	int r;

	if (ix == NULL)
		return NULL;
	/* 1. exact address */
	lo = 0;
	hi = ix->nexact;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = start_cmp(&ix->exact[mid].key, a);
		if (r == 0)
			return &c->peers[ix->exact[mid].peer];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* 2. the last range starting at or before a; ranges are disjoint */
	lo = 0;
	hi = ix->nranges;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (start_cmp(&ix->ranges[mid].key, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && cfg_prefix_contains(&ix->ranges[lo - 1].key, a))
		return &c->peers[ix->ranges[lo - 1].peer];
	return NULL;
}

const struct cfg_peer *
cfg_peer_match(const struct cfg *c, const struct sockaddr *src)
{
	struct cfg_addr a;

	if (src == NULL || cfg_addr_from_sockaddr(src, &a) == -1)
		return NULL;
	return cfg_peer_match_addr(c, &a);
}

const struct cfg_peer *
cfg_peer_find(const struct cfg *c, const char *name)
{
	const struct cfg_index *ix = c->index;
	size_t lo = 0, hi, mid;
	int r;

	if (ix == NULL || name == NULL)
		return NULL;
	hi = c->npeers;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = strcmp(c->peers[ix->by_name[mid]].name, name);
		if (r == 0)
			return &c->peers[ix->by_name[mid]];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- reload diff --------------------------------------------------------------- */

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Settings carried in the OPEN, the TCP socket or the session's policy. */
static bool
peer_needs_restart(const struct cfg_peer *a, const struct cfg_peer *b)
{
	return a->is_range != b->is_range || cfg_addr_cmp(&a->addr, &b->addr) != 0 ||
	    a->asn_any != b->asn_any || a->asn != b->asn || a->role != b->role ||
	    a->enabled != b->enabled || a->passive != b->passive ||
	    a->transparent != b->transparent || a->route_refresh != b->route_refresh ||
	    a->ttl_security != b->ttl_security || a->hold_time != b->hold_time ||
	    a->keepalive != b->keepalive || a->multihop != b->multihop ||
	    !str_eq(a->password, b->password) ||
	    a->has_local_address != b->has_local_address ||
	    (a->has_local_address &&
	    cfg_addr_cmp(&a->local_address, &b->local_address) != 0);
}

static bool
peer_live_changed(const struct cfg_peer *a, const struct cfg_peer *b)
{
	return !str_eq(a->description, b->description) || a->max_routes != b->max_routes ||
	    a->max_routes_action != b->max_routes_action;
}

static bool
spaces_eq(const struct cfg_addr *a, size_t na, const struct cfg_addr *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (cfg_addr_cmp(&a[i], &b[i]) != 0)
			return false;
	return true;
}

static int
global_changes(const struct cfg *o, const struct cfg *n)
{
	int m = 0;
	size_t i;

	if (o->asn != n->asn || o->router_id != n->router_id || o->cluster_id != n->cluster_id ||
	    o->two_octet_asn_only != n->two_octet_asn_only)
		m |= CFG_CHG_LOCAL;
	if (o->nlisten != n->nlisten)
		m |= CFG_CHG_LISTEN;
	else
		for (i = 0; i < o->nlisten; i++)
			if (cfg_addr_cmp(&o->listen[i].addr, &n->listen[i].addr) != 0 ||
			    o->listen[i].port != n->listen[i].port)
				m |= CFG_CHG_LISTEN;
	if (o->io_threads != n->io_threads || o->rib_threads != n->rib_threads)
		m |= CFG_CHG_THREADS;
	if (!str_eq(o->api_socket, n->api_socket) ||
	    !str_eq(o->api_listen_str, n->api_listen_str) || !str_eq(o->api_token, n->api_token))
		m |= CFG_CHG_API;
	if (o->log_level != n->log_level)
		m |= CFG_CHG_LOG;
	if (o->branch_to_branch != n->branch_to_branch ||
	    o->routing_preference != n->routing_preference)
		m |= CFG_CHG_POLICY;
	if (!spaces_eq(o->hub_address_spaces, o->nhub_address_spaces, n->hub_address_spaces,
	    n->nhub_address_spaces) || o->nspokes != n->nspokes)
		m |= CFG_CHG_HUB;
	else
		for (i = 0; i < o->nspokes; i++)
			if (!str_eq(o->spokes[i].name, n->spokes[i].name) ||
			    o->spokes[i].use_remote_route_server !=
			    n->spokes[i].use_remote_route_server ||
			    !spaces_eq(o->spokes[i].address_spaces, o->spokes[i].naddress_spaces,
			    n->spokes[i].address_spaces, n->spokes[i].naddress_spaces))
				m |= CFG_CHG_HUB;
	return m;
}

int
cfg_diff(const struct cfg *o, const struct cfg *n, cfg_diff_cb cb, void *arg)
{
	const struct cfg_peer *op, *np;
	enum cfg_diff_kind k;
	int mask;
	size_t i;

	mask = global_changes(o, n);
	for (i = 0; i < o->npeers; i++) {
		op = &o->peers[i];
		if (cfg_peer_find(n, op->name) == NULL)
			cb(CFG_DIFF_REMOVED, op, NULL, arg);
	}
	for (i = 0; i < n->npeers; i++) {
		np = &n->peers[i];
		if ((op = cfg_peer_find(o, np->name)) == NULL)
			k = CFG_DIFF_ADDED;
		else if ((mask & CFG_CHG_LOCAL) || peer_needs_restart(op, np))
			k = CFG_DIFF_RESTART;
		else if (peer_live_changed(op, np))
			k = CFG_DIFF_UPDATE;
		else
			k = CFG_DIFF_UNCHANGED;
		cb(k, op, np, arg);
	}
	return mask;
}
