/*
 * cfg_parse.c — the YAML walker: turns libyaml's document tree into struct cfg,
 * checking every key, type, range and per-entry rule, and reporting each
 * problem with its line through cfg_error without stopping.
 *
 * Main thread only. Each mapping is read the same way: map_get() checks the
 * keys against a table (unknown keys get the closest known one as a hint,
 * duplicates are refused) and returns the value nodes by table index; the
 * caller then converts each value with one of the get_* helpers, which never
 * touch the output on error. Rules that span entries (duplicate names,
 * addresses, overlapping ranges and address spaces) run afterwards in
 * cfg_match.c, on the recorded lines in struct cfg_ctx.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg_int.h"

#define PATH_LEN 160
#define MAX_KEYS 32

static yaml_node_t *
node_at(struct cfg_ctx *ctx, int id)
{
	return yaml_document_get_node(&ctx->doc, id);
}

static int
node_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static const char *
sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool
is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = sval(n);
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* What a node is, for "expected X, got Y" messages. */
static const char *
node_desc(const yaml_node_t *n, char *buf, size_t len)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		if (is_null(n))
			return "nothing";
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			snprintf(buf, len, "'%.60s'", sval(n));
		else
			snprintf(buf, len, "quoted string \"%.60s\"", sval(n));
		return buf;
	default:
		return "nothing";
	}
}

static void
type_error(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, const char *want)
{
	char buf[96];

	cfg_error(ctx, node_line(n), path, "expected %s, got %s", want,
	    node_desc(n, buf, sizeof(buf)));
}

/* Bounded append without snprintf: paths are truncated silently, never overrun. */
static size_t
path_cat(char *buf, size_t off, size_t cap, const char *s)
{
	while (*s != '\0' && off + 1 < cap)
		buf[off++] = *s++;
	buf[off] = '\0';
	return off;
}

static void
subpath(char *buf, const char *parent, const char *key)
{
	size_t off = 0;

	buf[0] = '\0';
	if (parent != NULL && *parent != '\0') {
		off = path_cat(buf, off, PATH_LEN, parent);
		off = path_cat(buf, off, PATH_LEN, ".");
	}
	path_cat(buf, off, PATH_LEN, key);
}

static void
itempath(char *buf, const char *parent, size_t i)
{
	snprintf(buf, PATH_LEN, "%s[%zu]", parent, i);
}

/* ---- key lookup with suggestions --------------------------------------------- */

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
	size_t row[65];

	if (la > 64 || lb > 64)
		return 64;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			tmp = row[j];
			row[j] = cur;
			prev = tmp;
		}
	}
	return row[lb];
}

static void
unknown_key(struct cfg_ctx *ctx, const yaml_node_t *k, const char *path,
    const char *const *keys, size_t nkeys)
{
	const char *key = sval(k), *best = NULL;
	size_t i, d, bestd = SIZE_MAX, klen = strlen(key), limit;
	char list[512];
	size_t off = 0;

	for (i = 0; i < nkeys; i++) {
		d = edit_distance(key, keys[i]);
		if (d < bestd) {
			bestd = d;
			best = keys[i];
		}
	}
	limit = klen / 3 > 2 ? klen / 3 : 2;
	if (best != NULL && (bestd <= limit || (klen >= 3 &&
	    (strncmp(best, key, klen) == 0 || strstr(key, best) != NULL)))) {
		cfg_error(ctx, node_line(k), path, "unknown key '%s' (did you mean '%s'?)",
		    key, best);
		return;
	}
	list[0] = '\0';
	for (i = 0; i < nkeys && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    i ? ", " : "", keys[i]);
	cfg_error(ctx, node_line(k), path, "unknown key '%s' (known keys: %s)", key, list);
}

/*
 * Check the keys of mapping `m` against `keys` and store each value node in
 * vals[] by index (NULL when absent). Returns -1 if m is not a mapping.
 */
static int
map_get(struct cfg_ctx *ctx, const yaml_node_t *m, const char *path,
    const char *const *keys, size_t nkeys, yaml_node_t **vals)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;
	int klines[MAX_KEYS] = { 0 };
	size_t i;

	for (i = 0; i < nkeys; i++)
		vals[i] = NULL;
	if (m->type != YAML_MAPPING_NODE) {
		type_error(ctx, m, path, "a mapping");
		return -1;
	}
	for (pair = m->data.mapping.pairs.start; pair < m->data.mapping.pairs.top; pair++) {
		k = node_at(ctx, pair->key);
		v = node_at(ctx, pair->value);
		if (k == NULL || v == NULL)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			cfg_error(ctx, node_line(k), path, "a key must be a plain name, got %s",
			    k->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
			continue;
		}
		for (i = 0; i < nkeys; i++)
			if (strcmp(sval(k), keys[i]) == 0)
				break;
		if (i == nkeys) {
			unknown_key(ctx, k, path, keys, nkeys);
			continue;
		}
		if (vals[i] != NULL) {
			char p[PATH_LEN];

			subpath(p, path, keys[i]);
			cfg_error(ctx, node_line(k), p, "duplicate key (first given at line %d)",
			    klines[i]);
			continue;
		}
		vals[i] = v;
		klines[i] = node_line(k);
	}
	return 0;
}

static void
missing(struct cfg_ctx *ctx, const yaml_node_t *m, const char *path, const char *key)
{
	cfg_error(ctx, node_line(m), path, "missing required key '%s'", key);
}

/* ---- scalar conversions --------------------------------------------------------- */

static int
get_scalar(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, const char *want)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		type_error(ctx, n, path, want);
		return -1;
	}
	return 0;
}

static int
get_str(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, size_t maxlen,
    char **out)
{
	char *s;

	if (get_scalar(ctx, n, path, "a string") == -1)
		return -1;
	if (n->data.scalar.length > maxlen) {
		cfg_error(ctx, node_line(n), path, "too long (%zu characters, at most %zu)",
		    n->data.scalar.length, maxlen);
		return -1;
	}
	if (strlen(sval(n)) != n->data.scalar.length) {
		cfg_error(ctx, node_line(n), path, "contains a NUL character");
		return -1;
	}
	if ((s = strdup(sval(n))) == NULL) {
		ctx->oom = true;
		return -1;
	}
	free(*out);
	*out = s;
	return 0;
}

/* Plain decimal digits only: "0x10", "+3", "1e3" and quoted numbers are refused. */
static int
parse_dec(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
get_uint(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, uint64_t min,
    uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (n->type != YAML_SCALAR_NODE || is_null(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		type_error(ctx, n, path, "an integer");
		return -1;
	}
	if (parse_dec(sval(n), &v) == -1) {
		if (sval(n)[0] == '-' && parse_dec(sval(n) + 1, &v) == 0)
			v = 0;		/* negative: out of range below */
		else if (strspn(sval(n), "0123456789") == strlen(sval(n)))
			v = UINT64_MAX;			/* too many digits */
		else {
			type_error(ctx, n, path, "an integer");
			return -1;
		}
	}
	if (sval(n)[0] == '-' || v < min || v > max) {
		cfg_error(ctx, node_line(n), path, "%s is out of range (%" PRIu64 "..%" PRIu64 ")",
		    sval(n), min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_bool(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, bool *out)
{
	const char *v;

	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		v = sval(n);
		if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0) {
			*out = false;
			return 0;
		}
	}
	type_error(ctx, n, path, "true or false");
	return -1;
}

static int
get_enum(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path,
    const char *const *names, size_t nnames, int *out)
{
	char list[256];
	size_t i, off = 0;

	if (get_scalar(ctx, n, path, "a name") == -1)
		return -1;
	for (i = 0; i < nnames; i++) {
		if (strcmp(sval(n), names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    i ? " | " : "", names[i]);
	}
	cfg_error(ctx, node_line(n), path, "'%s' is not one of %s", sval(n), list);
	return -1;
}

/*
 * An ASN: asplain (RFC 6793) or asdot "X.Y" (RFC 5396), or "any" when allowed.
 * Reserved numbers are left to the caller, which knows where the ASN is used.
 */
static int
get_asn(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, bool allow_any,
    uint32_t *out, bool *any)
{
	const char *s, *dot;
	uint64_t hi, lo, v;
	char tmp[16];

	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    strcmp(sval(n), "any") == 0) {
		if (!allow_any) {
			cfg_error(ctx, node_line(n), path, "'any' is not allowed here");
			return -1;
		}
		*any = true;
		*out = 0;
		return 0;
	}
	if (n->type != YAML_SCALAR_NODE || is_null(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		type_error(ctx, n, path, allow_any ? "an AS number or 'any'" : "an AS number");
		return -1;
	}
	s = sval(n);
	if ((dot = strchr(s, '.')) != NULL && (size_t)(dot - s) < sizeof(tmp)) {
		memcpy(tmp, s, (size_t)(dot - s));
		tmp[dot - s] = '\0';
		if (parse_dec(tmp, &hi) == 0 && parse_dec(dot + 1, &lo) == 0) {
			if (hi > 65535 || lo > 65535) {
				cfg_error(ctx, node_line(n), path,
				    "%s is out of range (asdot halves are 0..65535)", s);
				return -1;
			}
			*any = false;
			*out = (uint32_t)(hi << 16 | lo);
			return 0;
		}
	}
	if (parse_dec(s, &v) == -1) {
		if (s[0] == '-' && parse_dec(s + 1, &v) == 0)
			cfg_error(ctx, node_line(n), path, "%s is out of range (0..4294967295)", s);
		else
			type_error(ctx, n, path,
			    allow_any ? "an AS number or 'any'" : "an AS number");
		return -1;
	}
	if (v > UINT32_MAX) {
		cfg_error(ctx, node_line(n), path, "%s is out of range (0..4294967295)", s);
		return -1;
	}
	*any = false;
	*out = (uint32_t)v;
	return 0;
}

/* A unicast host address. */
static int
get_addr(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, struct cfg_addr *out)
{
	struct cfg_addr a;

	if (get_scalar(ctx, n, path, "an IP address") == -1)
		return -1;
	if (cfg_addr_parse(sval(n), &a) == -1) {
		if (strchr(sval(n), '/') != NULL)
			cfg_error(ctx, node_line(n), path,
			    "'%s' is a prefix, not an address", sval(n));
		else
			cfg_error(ctx, node_line(n), path, "'%s' is not an IP address", sval(n));
		return -1;
	}
	*out = a;
	return 0;
}

static bool
addr_unicast(const struct cfg_addr *a)
{
	static const uint8_t zero[16];

	if (memcmp(a->addr, zero, 16) == 0)
		return false;
	if (a->family == AF_INET)
		return a->addr[0] < 224;	/* not multicast, class E, broadcast */
	return a->addr[0] != 0xff;
}

static int
get_peer_addr(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path,
    struct cfg_addr *out)
{
	struct cfg_addr a;

	if (get_addr(ctx, n, path, &a) == -1)
		return -1;
	if (!addr_unicast(&a)) {
		cfg_error(ctx, node_line(n), path, "%s is not a unicast address", sval(n));
		return -1;
	}
	*out = a;
	return 0;
}

static int
get_prefix(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, struct cfg_addr *out)
{
	struct cfg_addr a;
	bool host;
	char buf[64];

	if (get_scalar(ctx, n, path, "a prefix") == -1)
		return -1;
	if (cfg_prefix_parse(sval(n), &a, &host) == -1) {
		if (strchr(sval(n), '/') == NULL && cfg_addr_parse(sval(n), &a) == 0)
			cfg_error(ctx, node_line(n), path,
			    "'%s' has no prefix length (write %s/%u)", sval(n), sval(n),
			    a.plen);
		else
			cfg_error(ctx, node_line(n), path, "'%s' is not a prefix", sval(n));
		return -1;
	}
	if (host) {
		struct cfg_addr m = a;
		unsigned int i;

		for (i = a.plen; i < 128; i++)
			m.addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
		cfg_addr_fmt(&m, buf, sizeof(buf));
		cfg_error(ctx, node_line(n), path, "%s has host bits set (did you mean %s?)",
		    sval(n), buf);
		return -1;
	}
	*out = a;
	return 0;
}

/* "addr:port", "[v6]:port", "addr" or "[v6]" (port 179). */
static int
get_listen(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, struct cfg_listen *out)
{
	char tmp[INET6_ADDRSTRLEN + 16], *host, *port = NULL, *end;
	const char *s;
	unsigned long p = CFG_DEFAULT_PORT;

	if (get_scalar(ctx, n, path, "\"address:port\"") == -1)
		return -1;
	s = sval(n);
	if (strlen(s) >= sizeof(tmp))
		goto bad;
	strcpy(tmp, s);
	if (tmp[0] == '[') {
		host = tmp + 1;
		if ((end = strchr(host, ']')) == NULL)
			goto bad;
		*end++ = '\0';
		if (*end == ':')
			port = end + 1;
		else if (*end != '\0')
			goto bad;
		if (strchr(host, ':') == NULL)
			goto bad;
	} else {
		host = tmp;
		if ((end = strchr(tmp, ':')) != NULL) {
			if (strchr(end + 1, ':') != NULL) {
				cfg_error(ctx, node_line(n), path,
				    "'%s': write IPv6 addresses in brackets, e.g. \"[::]:179\"", s);
				return -1;
			}
			*end = '\0';
			port = end + 1;
		}
	}
	if (port != NULL) {
		uint64_t v;

		if (parse_dec(port, &v) == -1 || v < 1 || v > 65535) {
			cfg_error(ctx, node_line(n), path, "'%s': bad port (1..65535)", s);
			return -1;
		}
		p = (unsigned long)v;
	}
	memset(out, 0, sizeof(*out));
	if (cfg_addr_parse(host, &out->addr) == -1)
		goto bad;
	out->port = (uint16_t)p;
	out->line = node_line(n);
	return 0;
 bad:
	cfg_error(ctx, node_line(n), path, "'%s' is not \"address:port\"", s);
	return -1;
}

static int
get_seq(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, size_t *len)
{
	if (is_null(n)) {
		*len = 0;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		type_error(ctx, n, path, "a list");
		return -1;
	}
	*len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

static yaml_node_t *
seq_item(struct cfg_ctx *ctx, const yaml_node_t *n, size_t i)
{
	return node_at(ctx, n->data.sequence.items.start[i]);
}

static int
note_space(struct cfg_ctx *ctx, const struct cfg_addr *a, int line, const char *path)
{
	struct cfg_space_ref *nv;

	if (ctx->nspaces == ctx->cspaces) {
		size_t ncap = ctx->cspaces ? ctx->cspaces * 2 : 16;

		if ((nv = realloc(ctx->spaces, ncap * sizeof(*nv))) == NULL) {
			ctx->oom = true;
			return -1;
		}
		ctx->spaces = nv;
		ctx->cspaces = ncap;
	}
	nv = &ctx->spaces[ctx->nspaces];
	nv->addr = *a;
	nv->line = line;
	path_cat(nv->path, 0, sizeof(nv->path), path);
	ctx->nspaces++;
	return 0;
}

/* A list of address spaces (hub or spoke): prefixes, recorded for overlap checks. */
static int
get_spaces(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path,
    struct cfg_addr **out, size_t *nout)
{
	char p[PATH_LEN];
	struct cfg_addr *v;
	size_t len, i, k = 0;

	if (get_seq(ctx, n, path, &len) == -1)
		return -1;
	if (len == 0) {
		*out = NULL;
		*nout = 0;
		return 0;
	}
	if ((v = calloc(len, sizeof(*v))) == NULL) {
		ctx->oom = true;
		return -1;
	}
	for (i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(ctx, n, i);

		itempath(p, path, i);
		if (it == NULL || get_prefix(ctx, it, p, &v[k]) == -1)
			continue;
		note_space(ctx, &v[k], node_line(it), p);
		k++;
	}
	*out = v;
	*nout = k;
	return 0;
}

static int
check_name(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, const char *s)
{
	const char *c;

	if (!isalnum((unsigned char)s[0])) {
		cfg_error(ctx, node_line(n), path, "'%s' must start with a letter or digit", s);
		return -1;
	}
	for (c = s; *c; c++) {
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.') {
			cfg_error(ctx, node_line(n), path,
			    "'%s' may hold only letters, digits, '-', '_' and '.'", s);
			return -1;
		}
	}
	return 0;
}

/* ---- local: -------------------------------------------------------------------- */

enum { TH_IO, TH_RIB, TH_N };
static const char *const thread_keys[TH_N] = { "io", "rib" };

enum { API_SOCKET, API_LISTEN, API_TOKEN, API_N };
static const char *const api_keys[API_N] = { "socket", "listen", "token" };

enum {
	L_ASN, L_ROUTER_ID, L_CLUSTER_ID, L_LISTEN, L_THREADS, L_TWO_OCTET, L_API,
	L_LOG_LEVEL, L_N
};
static const char *const local_keys[L_N] = {
	"asn", "router_id", "cluster_id", "listen", "threads", "two_octet_asn_only",
	"api", "log_level",
};

static const char *const log_level_names[] = { "debug", "info", "notice", "warn", "error" };

static int
get_ipv4_id(struct cfg_ctx *ctx, const yaml_node_t *n, const char *path, uint32_t *out)
{
	struct cfg_addr a;

	if (get_scalar(ctx, n, path, "an IPv4 address") == -1)
		return -1;
	if (cfg_addr_parse(sval(n), &a) == -1 || a.family != AF_INET) {
		cfg_error(ctx, node_line(n), path, "'%s' is not an IPv4 address", sval(n));
		return -1;
	}
	*out = (uint32_t)a.addr[0] << 24 | (uint32_t)a.addr[1] << 16 |
	    (uint32_t)a.addr[2] << 8 | a.addr[3];
	if (*out == 0) {
		/* RFC 6286 §2.1: a non-zero 4-octet identifier */
		cfg_error(ctx, node_line(n), path, "0.0.0.0 is not a valid identifier");
		return -1;
	}
	return 0;
}

static void
default_threads(struct cfg *c)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 2)
		ncpu = 2;
	if (ncpu > 512)
		ncpu = 512;
	c->io_threads = (unsigned int)ncpu / 2;
	c->rib_threads = (unsigned int)ncpu - c->io_threads;
}

static void
walk_api(struct cfg_ctx *ctx, const yaml_node_t *m, const char *path)
{
	struct cfg *c = ctx->cfg;
	yaml_node_t *v[API_N];
	char p[PATH_LEN];

	if (map_get(ctx, m, path, api_keys, API_N, v) == -1)
		return;
	if (v[API_SOCKET] != NULL) {
		subpath(p, path, "socket");
		if (get_str(ctx, v[API_SOCKET], p, 107, &c->api_socket) == 0 &&
		    c->api_socket[0] == '\0') {
			cfg_error(ctx, node_line(v[API_SOCKET]), p, "must not be empty");
		}
	}
	if (v[API_LISTEN] != NULL) {
		subpath(p, path, "listen");
		if (get_listen(ctx, v[API_LISTEN], p, &c->api_listen) == 0 &&
		    (c->api_listen_str = strdup(sval(v[API_LISTEN]))) == NULL)
			ctx->oom = true;
	}
	if (v[API_TOKEN] != NULL) {
		subpath(p, path, "token");
		if (get_str(ctx, v[API_TOKEN], p, 256, &c->api_token) == 0 &&
		    strlen(c->api_token) < 16) {
			cfg_error(ctx, node_line(v[API_TOKEN]), p,
			    "too short (at least 16 characters)");
		}
	}
	if (v[API_LISTEN] != NULL && v[API_TOKEN] == NULL) {
		cfg_error(ctx, node_line(v[API_LISTEN]), path,
		    "listen needs a token (the TCP API is authenticated)");
	}
}

static void
walk_local(struct cfg_ctx *ctx, const yaml_node_t *m)
{
	struct cfg *c = ctx->cfg;
	yaml_node_t *v[L_N], *tv[TH_N];
	char p[PATH_LEN];
	const char *why;
	uint64_t u;
	size_t len, i, k;
	bool any;
	int e;

	c->asn = CFG_DEFAULT_ASN;
	ctx->local_asn_ok = true;
	if (map_get(ctx, m, "local", local_keys, L_N, v) == -1) {
		ctx->local_asn_ok = false;
		return;
	}
	if (v[L_TWO_OCTET] != NULL)
		get_bool(ctx, v[L_TWO_OCTET], "local.two_octet_asn_only", &c->two_octet_asn_only);
	if (v[L_ASN] != NULL) {
		ctx->local_asn_ok = false;
		if (get_asn(ctx, v[L_ASN], "local.asn", false, &c->asn, &any) == 0) {
			if ((why = cfg_asn_reserved(c->asn, false)) != NULL)
				cfg_error(ctx, node_line(v[L_ASN]), "local.asn", "%" PRIu32 " is %s",
				    c->asn, why);
			else if (c->two_octet_asn_only && c->asn > 65535)
				cfg_error(ctx, node_line(v[L_ASN]), "local.asn",
				    "%" PRIu32 " is a 4-octet ASN (two_octet_asn_only is set)",
				    c->asn);
			else
				ctx->local_asn_ok = true;
		}
	}
	if (v[L_ROUTER_ID] != NULL)
		get_ipv4_id(ctx, v[L_ROUTER_ID], "local.router_id", &c->router_id);
	else
		missing(ctx, m, "local", "router_id");
	c->cluster_id = c->router_id;
	if (v[L_CLUSTER_ID] != NULL) {
		/* a dotted quad or a plain 32-bit number (RFC 4456 §7 CLUSTER_ID) */
		if (v[L_CLUSTER_ID]->type == YAML_SCALAR_NODE &&
		    v[L_CLUSTER_ID]->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strchr(sval(v[L_CLUSTER_ID]), '.') == NULL) {
			if (get_uint(ctx, v[L_CLUSTER_ID], "local.cluster_id", 1, UINT32_MAX,
			    &u) == 0)
				c->cluster_id = (uint32_t)u;
		} else
			get_ipv4_id(ctx, v[L_CLUSTER_ID], "local.cluster_id", &c->cluster_id);
	}

	if (v[L_LISTEN] == NULL) {
		if ((c->listen = calloc(1, sizeof(*c->listen))) == NULL) {
			ctx->oom = true;
			return;
		}
		c->listen[0].addr.family = AF_INET;
		c->listen[0].addr.plen = 32;
		c->listen[0].port = CFG_DEFAULT_PORT;
		c->nlisten = 1;
	} else if (get_seq(ctx, v[L_LISTEN], "local.listen", &len) == 0) {
		if (len == 0)
			cfg_error(ctx, node_line(v[L_LISTEN]), "local.listen",
			    "needs at least one address");
		else if ((c->listen = calloc(len, sizeof(*c->listen))) == NULL)
			ctx->oom = true;
		for (i = 0; c->listen != NULL && i < len; i++) {
			yaml_node_t *it = seq_item(ctx, v[L_LISTEN], i);
			struct cfg_listen *l = &c->listen[c->nlisten];

			itempath(p, "local.listen", i);
			if (it == NULL || get_listen(ctx, it, p, l) == -1)
				continue;
			for (k = 0; k < c->nlisten; k++) {
				if (cfg_addr_cmp(&c->listen[k].addr, &l->addr) == 0 &&
				    c->listen[k].port == l->port)
					break;
			}
			if (k < c->nlisten) {
				cfg_error(ctx, l->line, p, "'%s' is listed twice (line %d)",
				    sval(it), c->listen[k].line);
				continue;
			}
			c->nlisten++;
		}
	}

	default_threads(c);
	if (v[L_THREADS] != NULL &&
	    map_get(ctx, v[L_THREADS], "local.threads", thread_keys, TH_N, tv) == 0) {
		if (tv[TH_IO] != NULL && get_uint(ctx, tv[TH_IO], "local.threads.io", 1, 256,
		    &u) == 0)
			c->io_threads = (unsigned int)u;
		if (tv[TH_RIB] != NULL && get_uint(ctx, tv[TH_RIB], "local.threads.rib", 1, 256,
		    &u) == 0)
			c->rib_threads = (unsigned int)u;
	}

	if (v[L_API] != NULL)
		walk_api(ctx, v[L_API], "local.api");
	if (c->api_socket == NULL && (c->api_socket = strdup(CFG_DEFAULT_API_SOCKET)) == NULL)
		ctx->oom = true;

	c->log_level = CFG_LOG_INFO;
	if (v[L_LOG_LEVEL] != NULL && get_enum(ctx, v[L_LOG_LEVEL], "local.log_level",
	    log_level_names, sizeof(log_level_names) / sizeof(*log_level_names), &e) == 0)
		c->log_level = (enum cfg_log_level)e;
}

/* ---- hub: and spokes: ---------------------------------------------------------- */

enum { H_ADDRESS_SPACES, H_N };
static const char *const hub_keys[H_N] = { "address_spaces" };

enum { S_NAME, S_ADDRESS_SPACES, S_USE_RRS, S_N };
static const char *const spoke_keys[S_N] = { "name", "address_spaces",
    "use_remote_route_server" };

static void
walk_hub(struct cfg_ctx *ctx, const yaml_node_t *m)
{
	yaml_node_t *v[H_N];

	if (map_get(ctx, m, "hub", hub_keys, H_N, v) == -1)
		return;
	if (v[H_ADDRESS_SPACES] != NULL)
		get_spaces(ctx, v[H_ADDRESS_SPACES], "hub.address_spaces",
		    &ctx->cfg->hub_address_spaces, &ctx->cfg->nhub_address_spaces);
}

static void
walk_spokes(struct cfg_ctx *ctx, const yaml_node_t *n)
{
	struct cfg *c = ctx->cfg;
	yaml_node_t *v[S_N];
	char path[PATH_LEN], p[PATH_LEN];
	size_t len, i, k;

	if (get_seq(ctx, n, "spokes", &len) == -1 || len == 0)
		return;
	if ((c->spokes = calloc(len, sizeof(*c->spokes))) == NULL) {
		ctx->oom = true;
		return;
	}
	c->nspokes = len;
	for (i = 0; i < len; i++) {
		struct cfg_spoke *s = &c->spokes[i];
		yaml_node_t *it = seq_item(ctx, n, i);

		s->use_remote_route_server = true;
		itempath(path, "spokes", i);
		if (it == NULL || map_get(ctx, it, path, spoke_keys, S_N, v) == -1)
			continue;
		s->line = node_line(it);
		if (v[S_NAME] == NULL)
			missing(ctx, it, path, "name");
		else {
			subpath(p, path, "name");
			if (get_str(ctx, v[S_NAME], p, CFG_NAME_MAX, &s->name) == 0 &&
			    check_name(ctx, v[S_NAME], p, s->name) == 0) {
				for (k = 0; k < i; k++) {
					if (c->spokes[k].name != NULL &&
					    strcmp(c->spokes[k].name, s->name) == 0) {
						cfg_error(ctx, node_line(v[S_NAME]), p,
						    "duplicate name '%s' (spokes[%zu], line %d)",
						    s->name, k, c->spokes[k].line);
						break;
					}
				}
			}
		}
		if (v[S_ADDRESS_SPACES] == NULL)
			missing(ctx, it, path, "address_spaces");
		else {
			subpath(p, path, "address_spaces");
			k = 0;
			if (get_seq(ctx, v[S_ADDRESS_SPACES], p, &k) == 0 && k == 0)
				cfg_error(ctx, node_line(v[S_ADDRESS_SPACES]), p,
				    "needs at least one prefix");
			else if (k > 0)
				get_spaces(ctx, v[S_ADDRESS_SPACES], p, &s->address_spaces,
				    &s->naddress_spaces);
		}
		if (v[S_USE_RRS] != NULL) {
			subpath(p, path, "use_remote_route_server");
			get_bool(ctx, v[S_USE_RRS], p, &s->use_remote_route_server);
		}
	}
}

/* ---- peers: -------------------------------------------------------------------- */

enum {
	P_NAME, P_DESCRIPTION, P_ADDRESS, P_RANGE, P_ASN, P_ROLE, P_ENABLED, P_PASSIVE,
	P_HOLD, P_KEEPALIVE, P_PASSWORD, P_TTL_SECURITY, P_MULTIHOP, P_MAX_ROUTES,
	P_MAX_ROUTES_ACTION, P_TRANSPARENT, P_ROUTE_REFRESH, P_LOCAL_ADDRESS, P_N
};
static const char *const peer_keys[P_N] = {
	"name", "description", "address", "range", "asn", "role", "enabled", "passive",
	"hold_time", "keepalive", "password", "ttl_security", "multihop", "max_routes",
	"max_routes_action", "transparent", "route_refresh", "local_address",
};

static const char *const role_names[CFG_ROLE_COUNT] = {
	"nva", "vpn-gateway", "expressroute-gateway", "route-server", "rr-client",
};
static const char *const maxr_action_names[] = { "teardown", "warn" };

static void
peer_asn_rules(struct cfg_ctx *ctx, struct cfg_peer *pr, const yaml_node_t *an,
    const char *p)
{
	const struct cfg *c = ctx->cfg;
	const char *why;
	int line = node_line(an);

	if (pr->asn_any) {
		if (!pr->is_range)
			cfg_error(ctx, line, p, "'any' needs range: (a single address has one ASN)");
		else if (pr->ibgp)
			cfg_error(ctx, line, p,
			    "'any' is not allowed for rr-client peers (iBGP uses local.asn)");
		return;
	}
	if (pr->ibgp) {
		if (ctx->local_asn_ok && pr->asn != c->asn)
			cfg_error(ctx, line, p, "%" PRIu32 " differs from local.asn %" PRIu32
			    " (rr-client peers are iBGP)", pr->asn, c->asn);
		return;
	}
	if ((why = cfg_asn_reserved(pr->asn, true)) != NULL)
		cfg_error(ctx, line, p, "%" PRIu32 " is %s", pr->asn, why);
	else if (c->two_octet_asn_only && pr->asn > 65535)
		cfg_error(ctx, line, p, "%" PRIu32 " is a 4-octet ASN "
		    "(local.two_octet_asn_only is set)", pr->asn);
	else if (ctx->local_asn_ok && pr->asn == c->asn)
		cfg_error(ctx, line, p, "%" PRIu32 " equals local.asn, but role %s is eBGP "
		    "(use role rr-client for iBGP)", pr->asn, cfg_role_name(pr->role));
}

static void
walk_peer(struct cfg_ctx *ctx, const yaml_node_t *m, size_t idx)
{
	struct cfg *c = ctx->cfg;
	struct cfg_peer *pr = &c->peers[idx];
	yaml_node_t *v[P_N];
	char path[PATH_LEN], p[PATH_LEN];
	uint64_t u;
	bool b;
	int e, line = node_line(m);

	pr->line = line;
	pr->enabled = true;
	pr->route_refresh = true;
	pr->hold_time = CFG_DEFAULT_HOLD;
	pr->keepalive = CFG_DEFAULT_KEEPALIVE;
	pr->multihop = CFG_DEFAULT_MULTIHOP;
	pr->max_routes = CFG_DEFAULT_MAX_ROUTES;
	ctx->peer_lines[idx].name = line;
	ctx->peer_lines[idx].addr = line;
	itempath(path, "peers", idx);
	if (map_get(ctx, m, path, peer_keys, P_N, v) == -1)
		return;

#define PK(k) (subpath(p, path, peer_keys[k]), p)
	if (v[P_NAME] == NULL)
		missing(ctx, m, path, "name");
	else if (get_str(ctx, v[P_NAME], PK(P_NAME), CFG_NAME_MAX, &pr->name) == 0 &&
	    check_name(ctx, v[P_NAME], p, pr->name) == 0)
		ctx->peer_lines[idx].name = node_line(v[P_NAME]);
	if (v[P_DESCRIPTION] != NULL)
		get_str(ctx, v[P_DESCRIPTION], PK(P_DESCRIPTION), 255, &pr->description);

	if (v[P_ROLE] != NULL && get_enum(ctx, v[P_ROLE], PK(P_ROLE), role_names,
	    CFG_ROLE_COUNT, &e) == 0)
		pr->role = (enum cfg_role)e;
	pr->ibgp = pr->role == CFG_ROLE_RR_CLIENT;

	/* exactly one of address / range */
	if (v[P_ADDRESS] != NULL && v[P_RANGE] != NULL)
		cfg_error(ctx, node_line(v[P_RANGE]), path,
		    "address and range are exclusive: give one of them");
	else if (v[P_ADDRESS] == NULL && v[P_RANGE] == NULL)
		cfg_error(ctx, line, path, "missing required key 'address' (or 'range')");
	else if (v[P_ADDRESS] != NULL) {
		ctx->peer_lines[idx].addr = node_line(v[P_ADDRESS]);
		if (get_peer_addr(ctx, v[P_ADDRESS], PK(P_ADDRESS), &pr->addr) == 0)
			ctx->peer_lines[idx].addr_ok = true;
	} else {
		pr->is_range = true;
		ctx->peer_lines[idx].addr = node_line(v[P_RANGE]);
		if (get_prefix(ctx, v[P_RANGE], PK(P_RANGE), &pr->addr) == 0)
			ctx->peer_lines[idx].addr_ok = true;
	}

	if (v[P_ASN] != NULL) {
		if (get_asn(ctx, v[P_ASN], PK(P_ASN), true, &pr->asn, &pr->asn_any) == 0)
			peer_asn_rules(ctx, pr, v[P_ASN], p);
	} else if (pr->ibgp)
		pr->asn = c->asn;
	else
		missing(ctx, m, path, "asn");

	if (v[P_ENABLED] != NULL)
		get_bool(ctx, v[P_ENABLED], PK(P_ENABLED), &pr->enabled);
	pr->passive = pr->is_range;
	if (v[P_PASSIVE] != NULL && get_bool(ctx, v[P_PASSIVE], PK(P_PASSIVE), &b) == 0) {
		if (pr->is_range && !b)
			cfg_error(ctx, node_line(v[P_PASSIVE]), p,
			    "a range peer is always passive (there is no address to connect to)");
		pr->passive = b;
	}

	/* RFC 4271 §4.2 and §10: hold 0 or >= 3; keepalive below hold, 0 only with hold 0 */
	if (v[P_HOLD] != NULL && get_uint(ctx, v[P_HOLD], PK(P_HOLD), 0, 65535, &u) == 0) {
		if (u == 1 || u == 2)
			cfg_error(ctx, node_line(v[P_HOLD]), p,
			    "%" PRIu64 " is invalid (0, or 3..65535)", u);
		else {
			pr->hold_time = (uint16_t)u;
			if (v[P_KEEPALIVE] == NULL)
				pr->keepalive = u == 0 ? 0 :
				    (uint16_t)(u / 3 < CFG_DEFAULT_KEEPALIVE ? u / 3 :
				    CFG_DEFAULT_KEEPALIVE);
		}
	}
	if (v[P_KEEPALIVE] != NULL &&
	    get_uint(ctx, v[P_KEEPALIVE], PK(P_KEEPALIVE), 0, 65535, &u) == 0) {
		pr->keepalive = (uint16_t)u;
		if (pr->hold_time == 0 && u != 0)
			cfg_error(ctx, node_line(v[P_KEEPALIVE]), p,
			    "%" PRIu64 " with hold_time 0: keepalive must be 0 too", u);
		else if (pr->hold_time != 0 && u == 0)
			cfg_error(ctx, node_line(v[P_KEEPALIVE]), p,
			    "0 is allowed only with hold_time 0");
		else if (pr->hold_time != 0 && u >= pr->hold_time)
			cfg_error(ctx, node_line(v[P_KEEPALIVE]), p,
			    "%" PRIu64 " must be less than hold_time %u", u, pr->hold_time);
	}

	if (v[P_PASSWORD] != NULL &&
	    get_str(ctx, v[P_PASSWORD], PK(P_PASSWORD), CFG_PASSWORD_MAX, &pr->password) == 0 &&
	    pr->password[0] == '\0') {
		cfg_error(ctx, node_line(v[P_PASSWORD]), p, "must not be empty");
	}
	if (v[P_TTL_SECURITY] != NULL) {
		get_bool(ctx, v[P_TTL_SECURITY], PK(P_TTL_SECURITY), &pr->ttl_security);
		if (pr->ttl_security)
			pr->multihop = 1;	/* GTSM: directly connected unless told */
	}
	if (v[P_MULTIHOP] != NULL &&
	    get_uint(ctx, v[P_MULTIHOP], PK(P_MULTIHOP), 1, 255, &u) == 0)
		pr->multihop = (uint8_t)u;
	if (v[P_MAX_ROUTES] != NULL &&
	    get_uint(ctx, v[P_MAX_ROUTES], PK(P_MAX_ROUTES), 0, 100000000, &u) == 0)
		pr->max_routes = (uint32_t)u;
	if (v[P_MAX_ROUTES_ACTION] != NULL && get_enum(ctx, v[P_MAX_ROUTES_ACTION],
	    PK(P_MAX_ROUTES_ACTION), maxr_action_names, 2, &e) == 0)
		pr->max_routes_action = (enum cfg_max_routes_action)e;
	if (v[P_TRANSPARENT] != NULL &&
	    get_bool(ctx, v[P_TRANSPARENT], PK(P_TRANSPARENT), &pr->transparent) == 0 &&
	    pr->transparent && pr->ibgp)
		cfg_error(ctx, node_line(v[P_TRANSPARENT]), p,
		    "applies to eBGP peers only (rr-client peers are iBGP)");
	if (v[P_ROUTE_REFRESH] != NULL)
		get_bool(ctx, v[P_ROUTE_REFRESH], PK(P_ROUTE_REFRESH), &pr->route_refresh);
	if (v[P_LOCAL_ADDRESS] != NULL &&
	    get_peer_addr(ctx, v[P_LOCAL_ADDRESS], PK(P_LOCAL_ADDRESS),
	    &pr->local_address) == 0) {
		pr->has_local_address = true;
		if (pr->is_range)
			cfg_error(ctx, node_line(v[P_LOCAL_ADDRESS]), p,
			    "a range peer is passive: local_address is for active connects");
		else if (ctx->peer_lines[idx].addr_ok &&
		    pr->local_address.family != pr->addr.family)
			cfg_error(ctx, node_line(v[P_LOCAL_ADDRESS]), p,
			    "%s is not of the peer address's family", sval(v[P_LOCAL_ADDRESS]));
	}
#undef PK
}

static void
walk_peers(struct cfg_ctx *ctx, const yaml_node_t *n)
{
	struct cfg *c = ctx->cfg;
	size_t len, i;

	if (get_seq(ctx, n, "peers", &len) == -1 || len == 0)
		return;
	if ((c->peers = calloc(len, sizeof(*c->peers))) == NULL ||
	    (ctx->peer_lines = calloc(len, sizeof(*ctx->peer_lines))) == NULL) {
		ctx->oom = true;
		return;
	}
	c->npeers = len;
	for (i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(ctx, n, i);

		if (it != NULL)
			walk_peer(ctx, it, i);
	}
}

/* ---- top level ----------------------------------------------------------------- */

enum { T_LOCAL, T_HUB, T_SPOKES, T_BRANCH, T_PREF, T_PEERS, T_N };
static const char *const top_keys[T_N] = {
	"local", "hub", "spokes", "branch_to_branch", "routing_preference", "peers",
};
static const char *const pref_names[] = { "expressroute", "vpn", "aspath" };

void
cfg_walk(struct cfg_ctx *ctx)
{
	yaml_node_t *root, *v[T_N];
	int e;

	root = yaml_document_get_root_node(&ctx->doc);
	if (root == NULL || is_null(root)) {
		cfg_error(ctx, 0, NULL, "empty configuration (expected a mapping with "
		    "local: and peers:)");
		return;
	}
	if (root->type != YAML_MAPPING_NODE) {
		type_error(ctx, root, "top level", "a mapping with local: and peers:");
		return;
	}
	if (map_get(ctx, root, "", top_keys, T_N, v) == -1)
		return;
	/* local first: the peer rules depend on local.asn and two_octet_asn_only */
	if (v[T_LOCAL] != NULL)
		walk_local(ctx, v[T_LOCAL]);
	else {
		cfg_error(ctx, node_line(root), NULL, "missing required key 'local'");
		ctx->local_asn_ok = false;
	}
	if (v[T_HUB] != NULL)
		walk_hub(ctx, v[T_HUB]);
	if (v[T_SPOKES] != NULL)
		walk_spokes(ctx, v[T_SPOKES]);
	if (v[T_BRANCH] != NULL)
		get_bool(ctx, v[T_BRANCH], "branch_to_branch", &ctx->cfg->branch_to_branch);
	if (v[T_PREF] != NULL && get_enum(ctx, v[T_PREF], "routing_preference", pref_names,
	    sizeof(pref_names) / sizeof(*pref_names), &e) == 0)
		ctx->cfg->routing_preference = (enum cfg_routing_pref)e;
	if (v[T_PEERS] != NULL)
		walk_peers(ctx, v[T_PEERS]);
}
