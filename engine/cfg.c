/*
 * cfg.c — configuration lifecycle: load a YAML file (or buffer) with libyaml's
 * document API, hand the tree to the walker (cfg_parse.c), run the cross-peer
 * checks and build the lookup index (cfg_match.c); collect every error with
 * its line; free. Also the address and ASN helpers and the embedded default.
 *
 * Runs on the main thread (start, SIGHUP, API reload). The result is
 * immutable: a struct cfg is either fully valid or not returned at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cfg_int.h"

/* ---- error list --------------------------------------------------------------- */

void
cfg_errs_init(struct cfg_err_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
cfg_errs_fini(struct cfg_err_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].msg);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void
cfg_errs_print(const struct cfg_err_list *l, FILE *f)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		fprintf(f, "%s\n", l->v[i].msg);
}

static int
errs_add(struct cfg_err_list *l, int line, char *msg)
{
	struct cfg_err *nv;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 16;
		nv = realloc(l->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n].line = line;
	l->v[l->n].seq = (unsigned int)l->n;
	l->v[l->n].msg = msg;
	l->n++;
	return 0;
}

void
cfg_error(struct cfg_ctx *ctx, int line, const char *path, const char *fmt, ...)
{
	char problem[512], *msg;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);

	if (line > 0 && path != NULL && *path != '\0')
		r = asprintf(&msg, "%s:%d: %s: %s", ctx->name, line, path, problem);
	else if (line > 0)
		r = asprintf(&msg, "%s:%d: %s", ctx->name, line, problem);
	else if (path != NULL && *path != '\0')
		r = asprintf(&msg, "%s: %s: %s", ctx->name, path, problem);
	else
		r = asprintf(&msg, "%s: %s", ctx->name, problem);
	ctx->nerr++;
	if (r < 0) {
		ctx->oom = true;
		return;
	}
	if (errs_add(ctx->errs, line, msg) == -1) {
		free(msg);
		ctx->oom = true;
	}
}

static int
err_cmp(const void *a, const void *b)
{
	const struct cfg_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void
peer_fini(struct cfg_peer *p)
{
	free(p->name);
	free(p->description);
	if (p->password != NULL) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
	}
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->npeers; i++)
		peer_fini(&c->peers[i]);
	free(c->peers);
	for (i = 0; i < c->nspokes; i++) {
		free(c->spokes[i].name);
		free(c->spokes[i].address_spaces);
	}
	free(c->spokes);
	free(c->hub_address_spaces);
	free(c->listen);
	free(c->api_socket);
	free(c->api_listen_str);
	if (c->api_token != NULL) {
		explicit_bzero(c->api_token, strlen(c->api_token));
		free(c->api_token);
	}
	cfg_index_free(c->index);
	free(c->name);
	free(c);
}

static void
syntax_error(struct cfg_ctx *ctx, const yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	size_t i;
	int line;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		cfg_error(ctx, 0, NULL, "out of memory while reading YAML");
		return;
	case YAML_READER_ERROR:
		/* the reader knows only a byte offset: count the lines up to it */
		line = 1;
		for (i = 0; i < p->problem_offset && i < len; i++)
			line += buf[i] == '\n';
		cfg_error(ctx, line, NULL, "YAML read error: %s (at byte %zu)", problem,
		    p->problem_offset);
		return;
	default:
		break;
	}
	line = (int)p->problem_mark.line + 1;
	if (p->context != NULL)
		cfg_error(ctx, line, NULL, "YAML syntax error: %s, column %d (%s at line %d)",
		    problem, (int)p->problem_mark.column + 1, p->context,
		    (int)p->context_mark.line + 1);
	else
		cfg_error(ctx, line, NULL, "YAML syntax error: %s, column %d", problem,
		    (int)p->problem_mark.column + 1);
}

/* One file, one document: a second "---" document would be silently ignored. */
static void
extra_document(struct cfg_ctx *ctx, yaml_parser_t *p, const char *buf, size_t len)
{
	yaml_document_t next;
	yaml_node_t *root;

	if (!yaml_parser_load(p, &next)) {
		syntax_error(ctx, p, buf, len);
		return;
	}
	if ((root = yaml_document_get_root_node(&next)) != NULL)
		cfg_error(ctx, (int)next.start_mark.line + 1, NULL,
		    "a second YAML document: the configuration is one document");
	yaml_document_delete(&next);
}

int
cfg_parse_buf(const char *name, const char *buf, size_t len, struct cfg **out,
    struct cfg_err_list *errs)
{
	struct cfg_err_list local;
	struct cfg_ctx ctx;
	yaml_parser_t parser;
	bool have_doc = false;
	size_t first;
	int rv = -1;

	*out = NULL;
	if (errs == NULL) {
		cfg_errs_init(&local);
		errs = &local;
	}
	first = errs->n;
	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.errs = errs;

	if (!yaml_parser_initialize(&parser)) {
		cfg_error(&ctx, 0, NULL, "out of memory");
		goto done;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &ctx.doc)) {
		syntax_error(&ctx, &parser, buf, len);
		yaml_parser_delete(&parser);
		goto done;
	}
	have_doc = true;
	extra_document(&ctx, &parser, buf, len);
	yaml_parser_delete(&parser);

	if ((ctx.cfg = calloc(1, sizeof(*ctx.cfg))) == NULL ||
	    (ctx.cfg->name = strdup(name)) == NULL) {
		cfg_error(&ctx, 0, NULL, "out of memory");
		goto done;
	}
	cfg_walk(&ctx);
	if (!ctx.oom) {
		cfg_check_peers(&ctx);
		cfg_check_spaces(&ctx);
	}
	if (ctx.nerr == 0 && cfg_index_build(ctx.cfg) == -1)
		cfg_error(&ctx, 0, NULL, "out of memory");
	if (ctx.nerr == 0 && !ctx.oom) {
		*out = ctx.cfg;
		ctx.cfg = NULL;
		rv = 0;
	}
 done:
	if (have_doc)
		yaml_document_delete(&ctx.doc);
	free(ctx.peer_lines);
	free(ctx.spaces);
	cfg_free(ctx.cfg);
	if (errs->n - first > 1)
		qsort(errs->v + first, errs->n - first, sizeof(*errs->v), err_cmp);
	if (errs == &local) {
		cfg_errs_print(&local, stderr);
		cfg_errs_fini(&local);
	}
	return rv;
}

int
cfg_load(const char *path, struct cfg **out, struct cfg_err_list *errs)
{
	struct cfg_err_list local;
	struct cfg_ctx ctx;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int rv;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		rv = errno;
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				rv = ENOMEM;
				fclose(f);
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rv = errno ? errno : EIO;
		fclose(f);
		goto fail;
	}
	fclose(f);
	rv = cfg_parse_buf(path, buf ? buf : "", len, out, errs);
	free(buf);
	return rv;
 fail:
	free(buf);
	memset(&ctx, 0, sizeof(ctx));
	ctx.name = path;
	if (errs == NULL) {
		cfg_errs_init(&local);
		ctx.errs = &local;
	} else
		ctx.errs = errs;
	cfg_error(&ctx, 0, NULL, "cannot read: %s", strerror(rv));
	if (errs == NULL) {
		cfg_errs_print(&local, stderr);
		cfg_errs_fini(&local);
	}
	return -1;
}

/* ---- the embedded default: a demo hub on loopback ---------------------------- */

static const char default_yaml[] =
    "# routehub demo hub (cfg_default_yaml): everything on 127.0.0.0/8.\n"
    "local:\n"
    "  asn: 65515\n"
    "  router_id: 127.0.0.1\n"
    "  listen: [\"127.0.0.1:1179\"]\n"
    "  api: {socket: /tmp/routehub-demo.sock}\n"
    "  log_level: info\n"
    "hub:\n"
    "  address_spaces: [10.0.0.0/16]\n"
    "spokes:\n"
    "  - name: spoke1\n"
    "    address_spaces: [10.1.0.0/16]\n"
    "  - name: spoke2\n"
    "    address_spaces: [10.2.0.0/16]\n"
    "branch_to_branch: false\n"
    "routing_preference: expressroute\n"
    "peers:\n"
    "  - name: nva1\n"
    "    description: first NVA of an active/active pair\n"
    "    address: 127.0.0.2\n"
    "    asn: 65001\n"
    "    role: nva\n"
    "    passive: true\n"
    "  - name: nva2\n"
    "    description: second NVA of the pair; equal AS path length gives ECMP\n"
    "    address: 127.0.0.3\n"
    "    asn: 65002\n"
    "    role: nva\n"
    "    passive: true\n"
    "  - name: spokes\n"
    "    description: spoke agents (any ASN) connecting from 127.0.1.0/24\n"
    "    range: 127.0.1.0/24\n"
    "    asn: any\n"
    "    role: nva\n"
    "  - name: agents\n"
    "    description: iBGP host agents (route-reflector clients) from 127.0.2.0/24\n"
    "    range: 127.0.2.0/24\n"
    "    role: rr-client\n";

const char *
cfg_default_yaml(void)
{
	return default_yaml;
}

int
cfg_load_default(struct cfg **out, struct cfg_err_list *errs)
{
	return cfg_parse_buf("<default>", default_yaml, sizeof(default_yaml) - 1, out,
	    errs);
}

/* ---- names -------------------------------------------------------------------- */

const char *
cfg_role_name(enum cfg_role r)
{
	switch (r) {
	case CFG_ROLE_NVA:
		return "nva";
	case CFG_ROLE_VPN_GATEWAY:
		return "vpn-gateway";
	case CFG_ROLE_EXPRESSROUTE_GATEWAY:
		return "expressroute-gateway";
	case CFG_ROLE_ROUTE_SERVER:
		return "route-server";
	case CFG_ROLE_RR_CLIENT:
		return "rr-client";
	case CFG_ROLE_COUNT:
		break;
	}
	return "?";
}

const char *
cfg_log_level_name(enum cfg_log_level l)
{
	switch (l) {
	case CFG_LOG_DEBUG:
		return "debug";
	case CFG_LOG_INFO:
		return "info";
	case CFG_LOG_NOTICE:
		return "notice";
	case CFG_LOG_WARN:
		return "warn";
	case CFG_LOG_ERROR:
		return "error";
	}
	return "?";
}

const char *
cfg_routing_pref_name(enum cfg_routing_pref p)
{
	switch (p) {
	case CFG_PREF_EXPRESSROUTE:
		return "expressroute";
	case CFG_PREF_VPN:
		return "vpn";
	case CFG_PREF_ASPATH:
		return "aspath";
	}
	return "?";
}

const char *
cfg_diff_kind_name(enum cfg_diff_kind k)
{
	switch (k) {
	case CFG_DIFF_ADDED:
		return "added";
	case CFG_DIFF_REMOVED:
		return "removed";
	case CFG_DIFF_RESTART:
		return "restart";
	case CFG_DIFF_UPDATE:
		return "update";
	case CFG_DIFF_UNCHANGED:
		return "unchanged";
	}
	return "?";
}

/* ---- ASNs ------------------------------------------------------------------------ */

/*
 * Reserved ASNs. Everywhere: IANA's special-purpose registry (RFC 7607 AS 0,
 * RFC 6793 AS_TRANS, RFC 5398 documentation ranges, RFC 7300 last ASNs).
 * Peers only: the ASNs the reference route server keeps for itself
 * (route-server-faq.md, "What Autonomous System Numbers (ASNs) can I use?").
 */
const char *
cfg_asn_reserved(uint32_t asn, bool peer)
{
	if (asn == 0)
		return "reserved (AS 0, RFC 7607)";
	if (asn == 23456)
		return "reserved (AS_TRANS, RFC 6793)";
	if (asn >= 64496 && asn <= 64511)
		return "reserved for documentation (RFC 5398)";
	if (asn == 65535 || asn == 4294967295u)
		return "reserved (RFC 7300)";
	if (asn >= 65536 && asn <= 65551)
		return "reserved for documentation (RFC 5398)";
	if (!peer)
		return NULL;
	if (asn == 8074 || asn == 8075)
		return "reserved (Microsoft public ASN)";
	if (asn == 12076)
		return "reserved (ExpressRoute public ASN)";
	if (asn == 65515)
		return "reserved (used by the route server itself)";
	if (asn >= 65517 && asn <= 65520)
		return "reserved (used by the route server's gateways)";
	return NULL;
}

/* ---- addresses ----------------------------------------------------------------- */

int
cfg_addr_cmp(const struct cfg_addr *a, const struct cfg_addr *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if ((r = memcmp(a->addr, b->addr, sizeof(a->addr))) != 0)
		return r;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return 0;
}

int
cfg_addr_parse(const char *s, struct cfg_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, a->addr) != 1)
			return -1;
		a->family = AF_INET6;
		a->plen = 128;
		return 0;
	}
	if (inet_pton(AF_INET, s, a->addr) != 1)
		return -1;
	a->family = AF_INET;
	a->plen = 32;
	return 0;
}

int
cfg_prefix_parse(const char *s, struct cfg_addr *a, bool *host_bits)
{
	char tmp[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long plen;
	unsigned int i, max;

	*host_bits = false;
	if (strlen(s) >= sizeof(tmp))
		return -1;
	strcpy(tmp, s);
	if ((slash = strchr(tmp, '/')) == NULL)
		return -1;
	*slash++ = '\0';
	if (*slash < '0' || *slash > '9')
		return -1;
	errno = 0;
	plen = strtoul(slash, &end, 10);
	if (errno != 0 || *end != '\0' || (slash[0] == '0' && slash[1] != '\0'))
		return -1;
	if (cfg_addr_parse(tmp, a) == -1)
		return -1;
	max = a->family == AF_INET ? 32 : 128;
	if (plen > max)
		return -1;
	a->plen = (uint8_t)plen;
	for (i = 0; i < max; i++) {
		if (i >= plen && (a->addr[i / 8] & (0x80 >> (i % 8)))) {
			*host_bits = true;
			break;
		}
	}
	return 0;
}

void
cfg_addr_fmt(const struct cfg_addr *a, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];
	unsigned int full = a->family == AF_INET ? 32 : 128;

	if (inet_ntop(a->family, a->addr, s, sizeof(s)) == NULL)
		strcpy(s, "?");
	if (a->plen == full)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "%s/%u", s, a->plen);
}

bool
cfg_prefix_contains(const struct cfg_addr *pfx, const struct cfg_addr *a)
{
	unsigned int full = pfx->plen / 8, rest = pfx->plen % 8;
	uint8_t mask;

	if (pfx->family != a->family || a->plen < pfx->plen)
		return false;
	if (memcmp(pfx->addr, a->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((pfx->addr[full] ^ a->addr[full]) & mask) == 0;
}

bool
cfg_prefix_overlap(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return cfg_prefix_contains(a, b) || cfg_prefix_contains(b, a);
}

int
cfg_addr_from_sockaddr(const struct sockaddr *sa, struct cfg_addr *a)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	memset(a, 0, sizeof(*a));
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		memcpy(a->addr, &sin->sin_addr, 4);
		a->family = AF_INET;
		a->plen = 32;
		return 0;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (memcmp(sin6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
			memcpy(a->addr, sin6->sin6_addr.s6_addr + 12, 4);
			a->family = AF_INET;
			a->plen = 32;
			return 0;
		}
		memcpy(a->addr, sin6->sin6_addr.s6_addr, 16);
		a->family = AF_INET6;
		a->plen = 128;
		return 0;
	default:
		return -1;
	}
}
