/*
 * api.c — the control API server: HTTP/1.1 + JSON over a Unix socket (and
 * optionally TCP with a bearer token), Prometheus text at /metrics.
 *
 * Threads: api_start()/api_stop() run on the main thread. libmicrohttpd runs
 * one internal polling thread per listener and calls handle() there, one
 * request at a time per listener. That thread is a control-plane thread: it
 * reads the daemon only through daemon_peers() (a snapshot gathered from the
 * io threads), daemon_routes() / daemon_rib_summary() / daemon_rib_counts()
 * (answers the RIB shards copy out on their own threads, engine/routes.c),
 * daemon_stats(), daemon_cfg(), and changes it only through the reload
 * callback. Nothing here is shared between requests except the immutable
 * struct rh_api.
 *
 * Every answer is built whole in memory (JSON through jansson, metrics
 * through a memstream) and handed to MHD, which sends it with a
 * Content-Length. Errors are JSON objects {"error": "..."} with the HTTP
 * status saying what kind: 400 bad configuration on reload or bad query
 * parameters, 401 missing or wrong token, 404 unknown path or peer, 405
 * wrong method, 503 the io threads or the shards did not answer in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "routehub/api.h"
#include "routehub/bgp.h"
#include "routehub/fsm.h"
#include "routehub/io.h"
#include "routehub/log.h"

#ifndef RH_VERSION
#define RH_VERSION "unknown"
#endif

#define API_PEERS_TIMEOUT_MS 2000 /* io threads answer in microseconds when healthy */
#define API_RIB_TIMEOUT_MS   5000 /* shards answer between two bursts of updates */
#define API_CONN_LIMIT       32
#define API_CONN_TIMEOUT_S   10

struct api_lst {
	struct rh_api *a;
	struct MHD_Daemon *mhd;
	int tcp; /* requests need the token */
};

struct rh_api {
	struct rh_daemon *d;
	struct api_lst unix_l, tcp_l;
	char *socket_path; /* NULL when no Unix listener */
	char *token;
	api_reload_fn reload;
	void *reload_arg;
	uint64_t started_ms; /* CLOCK_MONOTONIC */
};

/* One answer, built by a handler. */
struct api_resp {
	unsigned status;
	char *body; /* malloc'ed */
	size_t len;
	const char *ctype;
	const char *allow; /* Allow header of a 405 */
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* jemalloc's control interface: routehubd links jemalloc; the tests (and
 * the sanitizer builds) use the C library's malloc, where this is NULL. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

/* ---- answers ------------------------------------------------------------------ */

/* Takes j. A body that cannot be serialised is a 500 without one. */
static void
resp_json(struct api_resp *r, unsigned status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

	json_decref(j);
	r->ctype = "application/json";
	if (!s) {
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r->body = NULL;
		r->len = 0;
		return;
	}
	r->len = strlen(s);
	/* One more byte for the newline that makes `curl` output end a line. */
	r->body = realloc(s, r->len + 2);
	if (!r->body) {
		r->body = s;
	} else {
		r->body[r->len++] = '\n';
		r->body[r->len] = '\0';
	}
	r->status = status;
}

static void resp_error(struct api_resp *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
resp_error(struct api_resp *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_json(r, status, json_pack("{s:s}", "error", msg));
}

/* ---- peers -------------------------------------------------------------------- */

/* 1 (Idle) .. 6 (Established) as RFC 4271 §8.2.2 lists them; 0 if unknown. */
static int
state_code(const char *name)
{
	for (int s = FSM_ST_IDLE; s < FSM_ST_MAX; s++)
		if (strcmp(fsm_state_name(s), name) == 0)
			return s - FSM_ST_IDLE + 1;
	return 0;
}

static int
peer_cmp(const void *x, const void *y)
{
	const struct daemon_peer_info *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->address, b->address);
}

/* The snapshot, sorted by name then address; 503 in r on failure. */
static int
peers_get(struct rh_api *a, struct daemon_peer_info **v, size_t *n, struct api_resp *r)
{
	if (daemon_peers(a->d, v, n, API_PEERS_TIMEOUT_MS) < 0) {
		resp_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		           "the io threads did not answer within %u ms", API_PEERS_TIMEOUT_MS);
		return -1;
	}
	if (*n > 1)
		qsort(*v, *n, sizeof(**v), peer_cmp);
	return 0;
}

/* c: the configuration in force, for the peer's max_routes. */
static json_t *
peer_json(const struct cfg *c, const struct daemon_peer_info *p)
{
	const struct cfg_peer *cp = cfg_peer_find(c, p->name);
	static const struct {
		uint32_t bit;
		const char *name;
	} capn[] = {
	    {BGP_CAPF_AS4, "as4"},
	    {BGP_CAPF_EXTMSG, "extended-message"},
	    {BGP_CAPF_RREFRESH, "route-refresh"},
	    {BGP_CAPF_ERR, "enhanced-route-refresh"},
	    {BGP_CAPF_GR, "graceful-restart"},
	};
	json_t *j, *caps = json_array();
	char id[INET_ADDRSTRLEN];
	uint32_t nid = htonl(p->peer_id);

	for (size_t i = 0; i < sizeof(capn) / sizeof(capn[0]); i++)
		if (p->caps & capn[i].bit)
			json_array_append_new(caps, json_string(capn[i].name));
	inet_ntop(AF_INET, &nid, id, sizeof(id));
	j = json_pack(
	    "{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:o, s:i, s:i, s:b, s:b, s:I, s:s, s:o}", "name",
	    p->name, "address", p->address, "role", p->role, "state", p->state, "state_code",
	    state_code(p->state), "asn", (json_int_t)p->asn, "peer_asn", (json_int_t)p->peer_asn,
	    "peer_id", p->peer_id ? json_string(id) : json_null(), "hold_time", p->hold_time,
	    "keepalive", p->keepalive, "dynamic", p->dynamic, "ibgp", p->ibgp, "uptime_ms",
	    (json_int_t)p->uptime_ms, "last_error", p->last_error, "capabilities", caps);
	if (!j)
		return NULL;
	json_object_set_new(j, "msgs_in", json_integer((json_int_t)p->msgs_in));
	json_object_set_new(j, "msgs_out", json_integer((json_int_t)p->msgs_out));
	json_object_set_new(j, "updates_in", json_integer((json_int_t)p->updates_in));
	json_object_set_new(j, "prefixes_announced",
	                    json_integer((json_int_t)p->prefixes_announced));
	json_object_set_new(j, "prefixes_withdrawn",
	                    json_integer((json_int_t)p->prefixes_withdrawn));
	json_object_set_new(j, "treat_as_withdraw", json_integer((json_int_t)p->treat_as_withdraw));
	json_object_set_new(j, "attr_discards", json_integer((json_int_t)p->attr_discards));
	json_object_set_new(j, "eor_in", json_integer((json_int_t)p->eor_in));
	json_object_set_new(j, "refresh_in", json_integer((json_int_t)p->refresh_in));
	json_object_set_new(j, "established", json_integer(p->established));
	json_object_set_new(j, "flaps", json_integer(p->flaps));
	/* The Adj-RIB-In size, exact when the peer has a max_routes (as
	 * "received" of /v1/rib); over the limit only with
	 * max_routes_action warn, which keeps the session and the routes. */
	json_object_set_new(j, "routes_received",
	                    p->routes_counted ? json_integer((json_int_t)p->routes_held)
	                                      : json_null());
	json_object_set_new(j, "max_routes", cp ? json_integer(cp->max_routes) : json_null());
	json_object_set_new(j, "max_routes_exceeded",
	                    json_boolean(cp && cp->max_routes && p->routes_counted &&
	                                 p->routes_held > cp->max_routes));
	return j;
}

/* ---- handlers ------------------------------------------------------------------ */

static void
h_status(struct rh_api *a, struct MHD_Connection *conn, const char *arg, struct api_resp *r)
{
	const struct cfg *c = daemon_cfg(a->d);
	struct daemon_peer_info *v = NULL;
	struct daemon_stats st;
	json_t *by_state, *j;
	uint32_t rid = htonl(c->router_id);
	char id[INET_ADDRSTRLEN];
	size_t n = 0, up = 0;

	(void)conn;
	(void)arg;
	if (peers_get(a, &v, &n, r) < 0)
		return;
	by_state = json_object();
	for (int s = FSM_ST_IDLE; s < FSM_ST_MAX; s++)
		json_object_set_new(by_state, fsm_state_name(s), json_integer(0));
	for (size_t i = 0; i < n; i++) {
		json_t *k = json_object_get(by_state, v[i].state);
		if (k)
			json_integer_set(k, json_integer_value(k) + 1);
		up += strcmp(v[i].state, "Established") == 0;
	}
	free(v);
	daemon_stats(a->d, &st);
	inet_ntop(AF_INET, &rid, id, sizeof(id));
	j = json_pack("{s:s, s:I, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:o}, s:{s:I, s:I}}", "version",
	              RH_VERSION, "asn", (json_int_t)c->asn, "router_id", id, "config", c->name,
	              "uptime_s", (json_int_t)((mono_ms() - a->started_ms) / 1000), "peers",
	              "configured", (json_int_t)c->npeers, "sessions", (json_int_t)n, "established",
	              (json_int_t)up, "by_state", by_state, "connections", "accepted",
	              (json_int_t)st.accepted, "refused", (json_int_t)st.refused_unknown);
	resp_json(r, MHD_HTTP_OK, j);
}

static void
h_peers(struct rh_api *a, struct MHD_Connection *conn, const char *arg, struct api_resp *r)
{
	struct daemon_peer_info *v = NULL;
	json_t *arr;
	size_t n = 0;

	(void)conn;
	(void)arg;
	if (peers_get(a, &v, &n, r) < 0)
		return;
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, peer_json(daemon_cfg(a->d), &v[i]));
	free(v);
	resp_json(r, MHD_HTTP_OK, arr);
}

/*
 * NAME is a configured entry's name or a session's address. A static peer
 * answers one object; a range entry answers the array of its dynamic
 * neighbours (empty while nobody is connected), so a script can tell the two
 * apart by the configuration it wrote.
 */
static void
h_peer(struct rh_api *a, struct MHD_Connection *conn, const char *name, struct api_resp *r)
{
	const struct cfg_peer *cp = cfg_peer_find(daemon_cfg(a->d), name);
	struct daemon_peer_info *v = NULL;
	json_t *arr;
	size_t n = 0;

	(void)conn;
	if (peers_get(a, &v, &n, r) < 0)
		return;
	if (cp && cp->is_range) {
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].name, name) == 0)
				json_array_append_new(arr, peer_json(daemon_cfg(a->d), &v[i]));
		resp_json(r, MHD_HTTP_OK, arr);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(cp ? v[i].name : v[i].address, name) == 0) {
			resp_json(r, MHD_HTTP_OK, peer_json(daemon_cfg(a->d), &v[i]));
			goto done;
		}
	}
	if (cp)
		resp_error(r, MHD_HTTP_NOT_FOUND, "peer '%s' is configured but has no session yet",
		           name);
	else
		resp_error(r, MHD_HTTP_NOT_FOUND, "no peer named '%s' (nor with that address)",
		           name);
done:
	free(v);
}

static void
h_reload(struct rh_api *a, struct MHD_Connection *conn, const char *arg, struct api_resp *r)
{
	struct cfg_err_list errs;
	json_t *lines;
	int rv;

	(void)conn;
	(void)arg;
	cfg_errs_init(&errs);
	rv = a->reload ? a->reload(a->reload_arg, &errs) : daemon_reload_errs(a->d, &errs);
	if (rv == 0) {
		resp_json(r, MHD_HTTP_OK,
		          json_pack("{s:b, s:s}", "reloaded", 1, "config", daemon_cfg(a->d)->name));
	} else if (errs.n == 0) {
		resp_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
		           "reload failed inside the daemon (see its log)");
	} else {
		lines = json_array();
		for (size_t i = 0; i < errs.n; i++)
			json_array_append_new(lines, json_string(errs.v[i].msg));
		resp_json(r, MHD_HTTP_BAD_REQUEST,
		          json_pack("{s:s, s:o}", "error",
		                    "configuration refused; the running one is unchanged", "errors",
		                    lines));
	}
	cfg_errs_fini(&errs);
}

/* POST /v1/reset/NAME?mode=in|out|hard&message=TEXT: operator resets. NAME
 * is a peer entry's name (a range: all its dynamic neighbours) or a peer's
 * address. */
static void
h_reset(struct rh_api *a, struct MHD_Connection *conn, const char *name, struct api_resp *r)
{
	const char *mode = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "mode");
	const char *msg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "message");
	const struct cfg_peer *cp = cfg_peer_find(daemon_cfg(a->d), name);
	struct daemon_peer_info *v = NULL;
	enum daemon_reset m;
	size_t n = 0;
	int sessions = 0;

	if (!mode || strcmp(mode, "in") == 0)
		m = DAEMON_RESET_IN;
	else if (strcmp(mode, "out") == 0)
		m = DAEMON_RESET_OUT;
	else if (strcmp(mode, "hard") == 0)
		m = DAEMON_RESET_HARD;
	else {
		resp_error(r, MHD_HTTP_BAD_REQUEST, "mode=%s: expected in, out or hard", mode);
		return;
	}
	if (msg && strlen(msg) > 255) {
		resp_error(r, MHD_HTTP_BAD_REQUEST,
		           "message: at most 255 octets (RFC 8203 shutdown communication)");
		return;
	}
	if (peers_get(a, &v, &n, r) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (strcmp(cp ? v[i].name : v[i].address, name) == 0 &&
		    strcmp(v[i].state, "Established") == 0)
			sessions++;
	free(v);
	if (!cp && sessions == 0) {
		resp_error(r, MHD_HTTP_NOT_FOUND,
		           "no peer named '%s' (nor an established one "
		           "with that address)",
		           name);
		return;
	}
	if (daemon_peer_reset(a->d, cp ? name : NULL, cp ? NULL : name, m,
	                      msg ? msg : "reset by the operator") < 0) {
		resp_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "reset could not be queued");
		return;
	}
	resp_json(r, MHD_HTTP_OK,
	          json_pack("{s:s, s:s, s:i}", "peer", name, "mode",
	                    m == DAEMON_RESET_IN    ? "soft in"
	                    : m == DAEMON_RESET_OUT ? "soft out"
	                                            : "hard",
	                    "sessions", sessions));
}

/* ---- routes ------------------------------------------------------------------------ */

static const char *
af_name(uint8_t af)
{
	return af == BGP_AF_IPV4 ? "ipv4" : "ipv6";
}

static void
pfx_fmt(const struct rib_prefix *p, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->af == BGP_AF_IPV4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(out, len, "%s/%u", a, p->len);
}

static void
id_fmt(uint32_t id, char *out, size_t len)
{
	uint32_t n = htonl(id);

	inet_ntop(AF_INET, &n, out, (socklen_t)len);
}

/*
 * "10.1.0.0/16", "2001:db8::/32". With addr_ok a bare address is a host
 * prefix (full length). Host bits past the length: an error when strict
 * (the user typed a prefix that is not one), cleared otherwise.
 */
static int
pfx_parse(const char *s, int addr_ok, int strict, struct rib_prefix *p, char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t al = slash ? (size_t)(slash - s) : strlen(s);
	unsigned full, len;

	memset(p, 0, sizeof(*p));
	if (al == 0 || al >= sizeof(a))
		goto bad;
	memcpy(a, s, al);
	a[al] = '\0';
	if (inet_pton(AF_INET, a, p->addr) == 1) {
		p->af = BGP_AF_IPV4;
		full = 32;
	} else if (inet_pton(AF_INET6, a, p->addr) == 1) {
		p->af = BGP_AF_IPV6;
		full = 128;
	} else {
		goto bad;
	}
	if (!slash) {
		if (!addr_ok) {
			snprintf(err, errlen, "'%s' is not a prefix: give ADDRESS/LENGTH", s);
			return -1;
		}
		len = full;
	} else {
		const char *l = slash + 1;
		if (!*l || strlen(l) > 3 || strspn(l, "0123456789") != strlen(l) ||
		    (len = (unsigned)atoi(l)) > full) {
			snprintf(err, errlen, "'%s': the length must be 0 to %u", s, full);
			return -1;
		}
	}
	p->len = (uint8_t)len;
	for (unsigned i = len; i < full; i++) {
		uint8_t bit = (uint8_t)(0x80 >> (i % 8));
		if (!(p->addr[i / 8] & bit))
			continue;
		if (strict) {
			struct rib_prefix m = *p;
			char want[64];
			for (unsigned k = len; k < full; k++)
				m.addr[k / 8] &= (uint8_t) ~(0x80 >> (k % 8));
			pfx_fmt(&m, want, sizeof(want));
			snprintf(err, errlen, "'%s' has host bits set past /%u (did you mean %s?)",
			         s, len, want);
			return -1;
		}
		p->addr[i / 8] &= (uint8_t)~bit;
	}
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 %s", s, addr_ok ? "address" : "prefix");
	return -1;
}

static const char *
origin_name(uint8_t o)
{
	return o == BGP_ORIGIN_IGP ? "igp" : o == BGP_ORIGIN_EGP ? "egp" : "incomplete";
}

static const char *
peer_type_name(uint8_t t)
{
	return t == RIB_PEER_EBGP ? "ebgp" : t == RIB_PEER_IBGP ? "ibgp" : "rr-client";
}

/* RFC 4360 §3-4 and RFC 5668: route target and route origin of the three
 * common layouts as "rt:ADMIN:VALUE"; anything else as its 8 octets in hex. */
static void
ext_fmt(uint64_t v, char *out, size_t len)
{
	uint8_t type = (uint8_t)(v >> 56) & 0xbf, sub = (uint8_t)(v >> 48);
	const char *kind = sub == 0x02 ? "rt" : sub == 0x03 ? "soo" : NULL;
	char ip[INET_ADDRSTRLEN];

	if (kind && type == 0x00) {
		snprintf(out, len, "%s:%u:%u", kind, (unsigned)(v >> 32) & 0xffff,
		         (unsigned)(v & 0xffffffff));
	} else if (kind && type == 0x01) {
		id_fmt((uint32_t)(v >> 16), ip, sizeof(ip));
		snprintf(out, len, "%s:%s:%u", kind, ip, (unsigned)(v & 0xffff));
	} else if (kind && type == 0x02) {
		snprintf(out, len, "%s:%u:%u", kind, (unsigned)(v >> 16), (unsigned)(v & 0xffff));
	} else {
		snprintf(out, len, "0x%016llx", (unsigned long long)v);
	}
}

static json_t *
path_json(const struct daemon_route_path *p)
{
	const struct attr_info *in = &p->info;
	json_t *j, *comm = json_array(), *large = json_array(), *ext = json_array(),
	           *clusters = json_array();
	char id[INET_ADDRSTRLEN], s[64];

	for (size_t i = 0; i < p->ncommunities; i++) {
		snprintf(s, sizeof(s), "%u:%u", p->communities[i] >> 16,
		         p->communities[i] & 0xffff);
		json_array_append_new(comm, json_string(s));
	}
	for (size_t i = 0; i < p->nlarge_communities; i++) {
		snprintf(s, sizeof(s), "%u:%u:%u", p->large_communities[i][0],
		         p->large_communities[i][1], p->large_communities[i][2]);
		json_array_append_new(large, json_string(s));
	}
	for (size_t i = 0; i < p->next_communities; i++) {
		ext_fmt(p->ext_communities[i], s, sizeof(s));
		json_array_append_new(ext, json_string(s));
	}
	for (size_t i = 0; i < p->ncluster_list; i++) {
		id_fmt(p->cluster_list[i], s, sizeof(s));
		json_array_append_new(clusters, json_string(s));
	}
	id_fmt(p->peer_router_id, id, sizeof(id));
	j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:b, s:b, s:b}", "peer", p->peer,
	              "peer_address", p->peer_address, "peer_asn", (json_int_t)p->peer_asn,
	              "peer_router_id", id, "peer_type", peer_type_name(p->peer_type), "path_id",
	              (json_int_t)p->path_id, "best", p->best, "ecmp", p->ecmp, "stale", p->stale);
	if (!j) {
		json_decref(comm);
		json_decref(large);
		json_decref(ext);
		json_decref(clusters);
		return NULL;
	}
	json_object_set_new(j, "origin", json_string(origin_name(in->origin)));
	json_object_set_new(j, "as_path", json_string(p->as_path ? p->as_path : ""));
	json_object_set_new(j, "as_path_len", json_integer(in->aspath_len));
	json_object_set_new(j, "next_hop", *p->next_hop ? json_string(p->next_hop) : json_null());
	if (*p->next_hop_local)
		json_object_set_new(j, "next_hop_local", json_string(p->next_hop_local));
	json_object_set_new(j, "med", in->flags & ATTR_F_MED ? json_integer(in->med) : json_null());
	json_object_set_new(j, "local_pref",
	                    in->flags & ATTR_F_LOCAL_PREF ? json_integer(in->local_pref)
	                                                  : json_null());
	json_object_set_new(j, "communities", comm);
	json_object_set_new(j, "large_communities", large);
	json_object_set_new(j, "ext_communities", ext);
	if (in->flags & ATTR_F_ORIGINATOR) {
		id_fmt(in->originator_id, s, sizeof(s));
		json_object_set_new(j, "originator_id", json_string(s));
	} else {
		json_object_set_new(j, "originator_id", json_null());
	}
	json_object_set_new(j, "cluster_list", clusters);
	json_object_set_new(j, "atomic_aggregate", json_boolean(in->flags & ATTR_F_ATOMIC_AGGR));
	if (p->has_aggregator) {
		id_fmt(p->aggregator_id, s, sizeof(s));
		json_object_set_new(
		    j, "aggregator",
		    json_pack("{s:I, s:s}", "asn", (json_int_t)p->aggregator_as, "id", s));
	} else {
		json_object_set_new(j, "aggregator", json_null());
	}
	return j;
}

static json_t *
route_json(const struct daemon_route *rt)
{
	json_t *paths = json_array();
	char pfx[64];

	for (unsigned i = 0; i < rt->npaths; i++)
		json_array_append_new(paths, path_json(&rt->paths[i]));
	pfx_fmt(&rt->pfx, pfx, sizeof(pfx));
	return json_pack("{s:s, s:s, s:i, s:i, s:o}", "prefix", pfx, "af", af_name(rt->pfx.af),
	                 "paths_total", rt->paths_total, "ecmp_paths", rt->ecmp_paths, "paths",
	                 paths);
}

/* The query parameters of /v1/routes; each at most once. */
struct route_params {
	const char *prefix, *match, *af, *limit, *from, *peer;
	char err[256];
};

static enum MHD_Result
route_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct route_params *rp = cls;
	struct {
		const char *name;
		const char **slot;
	} known[] = {
	    {"prefix", &rp->prefix}, {"match", &rp->match}, {"af", &rp->af},
	    {"limit", &rp->limit},   {"from", &rp->from},   {"peer", &rp->peer},
	};

	(void)kind;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(key, known[i].name) != 0)
			continue;
		if (*known[i].slot)
			snprintf(rp->err, sizeof(rp->err), "parameter '%s' given twice", key);
		else if (!value || !*value)
			snprintf(rp->err, sizeof(rp->err), "parameter '%s' needs a value", key);
		else
			*known[i].slot = value;
		return rp->err[0] ? MHD_NO : MHD_YES;
	}
	snprintf(rp->err, sizeof(rp->err),
	         "unknown parameter '%.64s' (known: prefix, match, peer, af, limit, from)", key);
	return MHD_NO;
}

/* Parameters into a query; 400 in r when they make no sense. */
static int
route_query(const struct route_params *rp, struct daemon_route_query *q, struct rib_prefix *from,
            struct api_resp *r)
{
	char err[256];
	int af = DAEMON_AF_ANY;

	memset(q, 0, sizeof(*q));
	if (!!rp->prefix + !!rp->match + !!rp->peer > 1) {
		resp_error(r, MHD_HTTP_BAD_REQUEST, "give at most one of prefix, match and peer");
		return -1;
	}
	if (rp->af) {
		if (strcmp(rp->af, "ipv4") == 0) {
			af = BGP_AF_IPV4;
		} else if (strcmp(rp->af, "ipv6") == 0) {
			af = BGP_AF_IPV6;
		} else {
			resp_error(r, MHD_HTTP_BAD_REQUEST, "af must be ipv4 or ipv6, not '%.64s'",
			           rp->af);
			return -1;
		}
	}
	if (rp->prefix || rp->match) {
		if (rp->limit || rp->from) {
			resp_error(r, MHD_HTTP_BAD_REQUEST,
			           "limit and from page a listing (af= or peer=), not %s=",
			           rp->prefix ? "prefix" : "match");
			return -1;
		}
		q->mode = rp->prefix ? DAEMON_ROUTES_PREFIX : DAEMON_ROUTES_MATCH;
		if (pfx_parse(rp->prefix ? rp->prefix : rp->match, !rp->prefix, !!rp->prefix,
		              &q->pfx, err, sizeof(err)) < 0) {
			resp_error(r, MHD_HTTP_BAD_REQUEST, "%s=%s",
			           rp->prefix ? "prefix" : "match", err);
			return -1;
		}
		if (af != DAEMON_AF_ANY && af != q->pfx.af) {
			resp_error(r, MHD_HTTP_BAD_REQUEST, "af=%s does not match %s", rp->af,
			           rp->prefix ? rp->prefix : rp->match);
			return -1;
		}
		return 0;
	}
	q->mode = rp->peer ? DAEMON_ROUTES_PEER : DAEMON_ROUTES_ALL;
	q->af = (uint8_t)af;
	q->limit = DAEMON_ROUTES_LIMIT;
	if (rp->limit) {
		char *e;
		unsigned long l;

		errno = 0;
		l = strtoul(rp->limit, &e, 10);
		if (*e || errno || rp->limit[0] == '-' || l < 1 || l > DAEMON_ROUTES_LIMIT_MAX) {
			resp_error(r, MHD_HTTP_BAD_REQUEST, "limit must be 1 to %u, not '%.32s'",
			           DAEMON_ROUTES_LIMIT_MAX, rp->limit);
			return -1;
		}
		q->limit = l;
	}
	if (rp->from) {
		if (pfx_parse(rp->from, 0, 0, from, err, sizeof(err)) < 0) {
			resp_error(r, MHD_HTTP_BAD_REQUEST, "from=%s", err);
			return -1;
		}
		if (af != DAEMON_AF_ANY && af != from->af) {
			resp_error(r, MHD_HTTP_BAD_REQUEST, "af=%s does not match from=%s", rp->af,
			           rp->from);
			return -1;
		}
		q->from = from;
	}
	return 0;
}

/*
 * GET /v1/routes?prefix=P | match=ADDR | peer=NAME | af=ipv4|ipv6 [limit=N]
 * [from=P]. peer= takes a configured name (a range entry: all its dynamic
 * neighbours) or a session's address, like /v1/peers/NAME.
 */
static void
h_routes(struct rh_api *a, struct MHD_Connection *conn, const char *arg, struct api_resp *r)
{
	struct route_params rp;
	struct daemon_route_query q;
	struct daemon_route_result res;
	struct daemon_peer_info *v = NULL;
	struct rib_prefix from;
	uint32_t *ids = NULL;
	json_t *arr, *j;
	size_t n = 0;

	(void)arg;
	memset(&rp, 0, sizeof(rp));
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, route_param, &rp);
	if (rp.err[0]) {
		resp_error(r, MHD_HTTP_BAD_REQUEST, "%s", rp.err);
		return;
	}
	if (route_query(&rp, &q, &from, r) < 0)
		return;
	if (peers_get(a, &v, &n, r) < 0)
		return;
	q.peers = v;
	q.npeers = n;
	if (rp.peer) {
		const struct cfg_peer *cp = cfg_peer_find(daemon_cfg(a->d), rp.peer);
		size_t found = 0;

		if (!(ids = calloc(n ? n : 1, sizeof(*ids)))) {
			resp_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			if (strcmp(cp ? v[i].name : v[i].address, rp.peer) != 0)
				continue;
			found++;
			if (v[i].rib_id)
				ids[q.npeer_ids++] = v[i].rib_id;
		}
		if (!cp && !found) {
			resp_error(r, MHD_HTTP_NOT_FOUND,
			           "no peer named '%s' (nor with that address)", rp.peer);
			goto done;
		}
		q.peer_ids = ids;
	}
	if (daemon_routes(a->d, &q, &res, API_RIB_TIMEOUT_MS) < 0) {
		resp_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		           "the RIB shards did not answer within %u ms (or memory ran out)",
		           API_RIB_TIMEOUT_MS);
		goto done;
	}
	arr = json_array();
	for (size_t i = 0; i < res.n; i++)
		json_array_append_new(arr, route_json(&res.v[i]));
	j = json_pack("{s:o, s:I, s:b}", "routes", arr, "count", (json_int_t)res.n, "more",
	              res.more);
	if (j) {
		char nx[64];
		pfx_fmt(&res.next, nx, sizeof(nx));
		json_object_set_new(j, "next", res.more ? json_string(nx) : json_null());
	}
	daemon_routes_free(&res);
	resp_json(r, MHD_HTTP_OK, j);
done:
	free(ids);
	free(v);
}

/* GET /v1/rib: exact counts (one walk of the RIB) and routes per peer. */
static void
h_rib(struct rh_api *a, struct MHD_Connection *conn, const char *arg, struct api_resp *r)
{
	struct daemon_rib_summary s;
	struct daemon_peer_info *v = NULL;
	json_t *peers, *j;
	size_t n = 0;

	(void)conn;
	(void)arg;
	if (peers_get(a, &v, &n, r) < 0)
		return;
	if (daemon_rib_summary(a->d, &s, API_RIB_TIMEOUT_MS) < 0) {
		free(v);
		resp_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		           "the RIB shards did not answer within %u ms (or memory ran out)",
		           API_RIB_TIMEOUT_MS);
		return;
	}
	peers = json_array();
	for (size_t i = 0; i < n; i++) {
		uint64_t acc[BGP_AF_MAX] = {0};
		if (v[i].rib_id && v[i].rib_id < s.nby_peer)
			memcpy(acc, s.by_peer[v[i].rib_id], sizeof(acc));
		json_array_append_new(
		    peers,
		    json_pack("{s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I}}", "name", v[i].name,
		              "address", v[i].address, "state", v[i].state, "received",
		              v[i].routes_counted ? json_integer((json_int_t)v[i].routes_held)
		                                  : json_null(),
		              "accepted", "ipv4", (json_int_t)acc[BGP_AF_IPV4], "ipv6",
		              (json_int_t)acc[BGP_AF_IPV6], "total",
		              (json_int_t)(acc[BGP_AF_IPV4] + acc[BGP_AF_IPV6])));
	}
	j = json_pack(
	    "{s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:I, s:o}", "prefixes", "ipv4",
	    (json_int_t)s.prefixes[BGP_AF_IPV4], "ipv6", (json_int_t)s.prefixes[BGP_AF_IPV6],
	    "total", (json_int_t)(s.prefixes[BGP_AF_IPV4] + s.prefixes[BGP_AF_IPV6]), "paths",
	    "ipv4", (json_int_t)s.paths[BGP_AF_IPV4], "ipv6", (json_int_t)s.paths[BGP_AF_IPV6],
	    "total", (json_int_t)(s.paths[BGP_AF_IPV4] + s.paths[BGP_AF_IPV6]), "attribute_sets",
	    (json_int_t)s.attr_sets, "peers", peers);
	daemon_rib_summary_free(&s);
	free(v);
	resp_json(r, MHD_HTTP_OK, j);
}

/* Prometheus label value: backslash, double quote and newline escaped. */
static void
prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
h_metrics(struct rh_api *a, struct MHD_Connection *conn, const char *arg, struct api_resp *r)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
		int u32;
	} per_peer[] = {
#define PP(n, t, h, f, w) {n, t, h, offsetof(struct daemon_peer_info, f), w}
	    PP("routehub_peer_uptime_seconds", "gauge",
	       "Seconds since the session was established (0: down).", uptime_ms, 0),
	    PP("routehub_peer_messages_received_total", "counter", "BGP messages received.",
	       msgs_in, 0),
	    PP("routehub_peer_messages_sent_total", "counter", "BGP messages sent.", msgs_out, 0),
	    PP("routehub_peer_updates_received_total", "counter", "UPDATE messages received.",
	       updates_in, 0),
	    PP("routehub_peer_prefixes_announced_total", "counter",
	       "Prefixes announced by the peer.", prefixes_announced, 0),
	    PP("routehub_peer_prefixes_withdrawn_total", "counter",
	       "Prefixes withdrawn by the peer.", prefixes_withdrawn, 0),
	    PP("routehub_peer_treat_as_withdraw_total", "counter",
	       "UPDATEs treated as withdraw (RFC 7606).", treat_as_withdraw, 0),
	    PP("routehub_peer_attribute_discards_total", "counter",
	       "Attributes discarded (RFC 7606).", attr_discards, 0),
	    PP("routehub_peer_established_total", "counter",
	       "Times the session reached Established.", established, 1),
	    PP("routehub_peer_flaps_total", "counter", "Times an established session went down.",
	       flaps, 1),
#undef PP
	};
	struct daemon_peer_info *v = NULL;
	struct daemon_stats st;
	struct daemon_rib_counts rc;
	char *buf = NULL;
	size_t n = 0, len = 0;
	FILE *f;

	(void)conn;
	(void)arg;
	if (peers_get(a, &v, &n, r) < 0)
		return;
	daemon_stats(a->d, &st);
	if (!(f = open_memstream(&buf, &len))) {
		free(v);
		resp_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	prom_head(f, "routehub_build_info", "gauge", "routehubd version; always 1.");
	fprintf(f, "routehub_build_info{version=\"%s\"} 1\n", RH_VERSION);
	prom_head(f, "routehub_uptime_seconds", "gauge", "Seconds since the control API started.");
	fprintf(f, "routehub_uptime_seconds %llu\n",
	        (unsigned long long)((mono_ms() - a->started_ms) / 1000));
	prom_head(f, "routehub_connections_accepted_total", "counter",
	          "Incoming connections handed to a configured peer.");
	fprintf(f, "routehub_connections_accepted_total %llu\n", (unsigned long long)st.accepted);
	prom_head(f, "routehub_connections_refused_total", "counter",
	          "Incoming connections closed: no configured (enabled) peer matched.");
	fprintf(f, "routehub_connections_refused_total %llu\n",
	        (unsigned long long)st.refused_unknown);
	if (daemon_rib_counts(a->d, &rc) == 0) {
		prom_head(f, "routehub_rib_prefixes", "gauge",
		          "Prefixes in the RIB (the shards' counters), by address family.");
		fprintf(f, "routehub_rib_prefixes{af=\"ipv4\"} %llu\n",
		        (unsigned long long)rc.prefixes[BGP_AF_IPV4]);
		fprintf(f, "routehub_rib_prefixes{af=\"ipv6\"} %llu\n",
		        (unsigned long long)rc.prefixes[BGP_AF_IPV6]);
		prom_head(f, "routehub_rib_paths", "gauge", "Paths in the RIB, every peer's.");
		fprintf(f, "routehub_rib_paths %llu\n", (unsigned long long)rc.paths);
		prom_head(f, "routehub_attr_sets", "gauge",
		          "Distinct interned path attribute sets alive.");
		fprintf(f, "routehub_attr_sets %llu\n", (unsigned long long)rc.attr_sets);
	}

	{
		size_t alive, peak;
		io_buf_stats(&alive, &peak);
		prom_head(f, "routehub_send_buffer_bytes", "gauge",
		          "Encoded messages alive (queued or in flight), in bytes.");
		fprintf(f, "routehub_send_buffer_bytes %zu\n", alive);
		prom_head(f, "routehub_send_buffer_peak_bytes", "gauge",
		          "The most encoded messages alive at once since start, in bytes.");
		fprintf(f, "routehub_send_buffer_peak_bytes %zu\n", peak);
	}
	/* jemalloc's view: allocated (live objects) vs resident (what RSS
	 * pays), so that fragmentation and unpurged pages show. */
	if (mallctl) {
		static const char *const kinds[] = {"allocated", "active",   "resident",
		                                    "mapped",    "retained", "metadata"};
		uint64_t epoch = 1;
		size_t sz = sizeof(epoch);
		mallctl("epoch", &epoch, &sz, &epoch, sz);
		prom_head(f, "routehub_memory_bytes", "gauge",
		          "The allocator's counters (jemalloc stats.*).");
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			char name[32];
			size_t val = 0, vsz = sizeof(val);
			snprintf(name, sizeof(name), "stats.%s", kinds[k]);
			if (mallctl(name, &val, &vsz, NULL, 0) == 0)
				fprintf(f, "routehub_memory_bytes{kind=\"%s\"} %zu\n", kinds[k],
				        val);
		}
		/* freed pages the allocator has not given back yet (all arenas) */
		{
			size_t pd = 0, psz = sizeof(pd), page = 4096, qsz = sizeof(page);
			mallctl("arenas.page", &page, &qsz, NULL, 0);
			if (mallctl("stats.arenas.4096.pdirty", &pd, &psz, NULL, 0) == 0)
				fprintf(f, "routehub_memory_bytes{kind=\"dirty\"} %zu\n",
				        pd * page);
		}
	}

	prom_head(f, "routehub_peer_state", "gauge",
	          "RFC 4271 state: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, "
	          "6 Established.");
	for (size_t i = 0; i < n; i++) {
		fputs("routehub_peer_state{peer=\"", f);
		prom_label(f, v[i].name);
		fputs("\",address=\"", f);
		prom_label(f, v[i].address);
		fprintf(f, "\"} %d\n", state_code(v[i].state));
	}
	prom_head(f, "routehub_peer_up", "gauge", "1 when the session is Established.");
	for (size_t i = 0; i < n; i++) {
		fputs("routehub_peer_up{peer=\"", f);
		prom_label(f, v[i].name);
		fputs("\",address=\"", f);
		prom_label(f, v[i].address);
		fprintf(f, "\"} %d\n", strcmp(v[i].state, "Established") == 0);
	}
	for (size_t m = 0; m < sizeof(per_peer) / sizeof(per_peer[0]); m++) {
		prom_head(f, per_peer[m].name, per_peer[m].type, per_peer[m].help);
		for (size_t i = 0; i < n; i++) {
			const char *base = (const char *)&v[i] + per_peer[m].off;
			unsigned long long x;
			uint32_t x32;
			uint64_t x64;

			if (per_peer[m].u32) {
				memcpy(&x32, base, sizeof(x32));
				x = x32;
			} else {
				memcpy(&x64, base, sizeof(x64));
				x = x64;
			}
			if (per_peer[m].off == offsetof(struct daemon_peer_info, uptime_ms))
				x /= 1000;
			fprintf(f, "%s{peer=\"", per_peer[m].name);
			prom_label(f, v[i].name);
			fputs("\",address=\"", f);
			prom_label(f, v[i].address);
			fprintf(f, "\"} %llu\n", x);
		}
	}
	free(v);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		resp_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	r->status = MHD_HTTP_OK;
	r->body = buf;
	r->len = len;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- routing -------------------------------------------------------------------- */

struct route {
	const char *path; /* exact, or a prefix when it ends with '/' */
	const char *method;
	void (*fn)(struct rh_api *, struct MHD_Connection *, const char *arg, struct api_resp *);
};

static const struct route routes[] = {
    {"/v1/status", "GET", h_status}, {"/v1/peers", "GET", h_peers},
    {"/v1/peers/", "GET", h_peer},   {"/v1/routes", "GET", h_routes},
    {"/v1/rib", "GET", h_rib},       {"/v1/reload", "POST", h_reload},
    {"/v1/reset/", "POST", h_reset}, {"/metrics", "GET", h_metrics},
};

static void
dispatch(struct rh_api *a, struct MHD_Connection *conn, const char *url, const char *method,
         struct api_resp *r)
{
	/* HEAD is GET without a body; MHD drops the body itself. */
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];
		size_t pl = strlen(rt->path);
		const char *arg = NULL;

		if (rt->path[pl - 1] == '/') {
			if (strncmp(url, rt->path, pl) != 0 || url[pl] == '\0' ||
			    strchr(url + pl, '/') != NULL)
				continue;
			arg = url + pl;
		} else if (strcmp(url, rt->path) != 0) {
			continue;
		}
		if (strcmp(m, rt->method) != 0) {
			resp_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
			           "%s %s: method not allowed (use %s)", method, url, rt->method);
			r->allow = strcmp(rt->method, "GET") == 0 ? "GET, HEAD" : rt->method;
			return;
		}
		rt->fn(a, conn, arg, r);
		return;
	}
	resp_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
}

/* Compares the whole header in time independent of where it differs. */
static int
token_ok(const char *want, const char *hdr)
{
	static const char pfx[] = "Bearer ";
	size_t wl = strlen(want), hl;
	unsigned char diff = 0;

	if (!hdr || strncmp(hdr, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	hdr += sizeof(pfx) - 1;
	hl = strlen(hdr);
	for (size_t i = 0; i < wl; i++)
		diff |= (unsigned char)want[i] ^ (unsigned char)(i < hl ? hdr[i] : 0);
	return diff == 0 && hl == wl;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_len, void **req)
{
	static int started; /* address used as the "headers seen" marker */
	struct api_lst *l = cls;
	struct api_resp r = {.status = 0};
	struct MHD_Response *mr;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	/* First call: headers only. Then the body arrives in pieces; nothing we
	 * serve takes a body, so it is consumed and dropped. */
	if (*req == NULL) {
		*req = &started;
		return MHD_YES;
	}
	if (*upload_len != 0) {
		*upload_len = 0;
		return MHD_YES;
	}
	if (l->tcp &&
	    !token_ok(l->a->token, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                                       MHD_HTTP_HEADER_AUTHORIZATION))) {
		resp_error(&r, MHD_HTTP_UNAUTHORIZED,
		           "missing or wrong token (send Authorization: Bearer TOKEN)");
	} else {
		dispatch(l->a, conn, url, method, &r);
	}
	if (!r.body) {
		r.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r.body = strdup("{\"error\": \"out of memory\"}\n");
		r.len = r.body ? strlen(r.body) : 0;
		r.ctype = "application/json";
	}
	mr = MHD_create_response_from_buffer(r.len, r.body ? r.body : (void *)"",
	                                     r.body ? MHD_RESPMEM_MUST_FREE
	                                            : MHD_RESPMEM_PERSISTENT);
	if (!mr) {
		free(r.body);
		return MHD_NO;
	}
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r.ctype);
	if (r.allow)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r.allow);
	if (r.status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(conn, r.status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static void
mhd_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)arg;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("api: %s", msg);
}

/* ---- listeners --------------------------------------------------------------------- */

/* mkdir -p of path's parent directory. */
static int
mkdir_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *s;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!(s = strrchr(dir, '/')) || s == dir)
		return 0;
	*s = '\0';
	for (s = dir + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create directory %s: %s", dir,
			         strerror(errno));
			return -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int
unix_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd = -1;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long (at most %zu bytes)", path,
		         sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (mkdir_parent(path, err, errlen) < 0)
		return -1;
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; not removing it",
			         path);
			return -1;
		}
		/* A socket somebody still answers on belongs to a live daemon. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			snprintf(err, errlen,
			         "%s is in use by another process (another routehubd?)", path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove stale socket %s: %s", path,
			         strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Before listen(): nobody can connect while the umask's mode applies. */
	if (chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int
tcp_listen(const struct cfg_listen *l, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char a[64];
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (l->addr.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(l->port);
		memcpy(&s4->sin_addr, l->addr.addr, 4);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(l->port);
		memcpy(&s6->sin6_addr, l->addr.addr, 16);
		len = sizeof(*s6);
	}
	cfg_addr_fmt(&l->addr, a, sizeof(a));
	if ((fd = socket(l->addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", a, l->port,
		         strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Takes fd (MHD closes it when stopped). */
static int
lst_start(struct api_lst *l, struct rh_api *a, int fd, int tcp, char *err, size_t errlen)
{
	l->a = a;
	l->tcp = tcp;
	l->mhd = MHD_start_daemon(
	    MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handle, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)API_CONN_TIMEOUT_S, MHD_OPTION_END);
	if (!l->mhd) {
		snprintf(err, errlen, "cannot start the HTTP server (libmicrohttpd)");
		close(fd);
		return -1;
	}
	return 0;
}

void
api_conf_from_cfg(struct api_conf *ac, const struct cfg *c)
{
	memset(ac, 0, sizeof(*ac));
	ac->socket_path = c->api_socket;
	ac->tcp = c->api_listen_str ? &c->api_listen : NULL;
	ac->token = c->api_token;
}

int
api_start(struct rh_api **out, struct rh_daemon *d, const struct api_conf *ac, char *err,
          size_t errlen)
{
	struct rh_api *a;
	int fd;

	if (ac->tcp && (!ac->token || !*ac->token)) {
		snprintf(err, errlen, "the TCP API needs a token");
		return -1;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->d = d;
	a->reload = ac->reload;
	a->reload_arg = ac->reload_arg;
	a->started_ms = mono_ms();
	if (ac->token && !(a->token = strdup(ac->token)))
		goto oom;
	if (ac->socket_path) {
		if (!(a->socket_path = strdup(ac->socket_path)))
			goto oom;
		if ((fd = unix_listen(a->socket_path, err, errlen)) < 0) {
			free(a->socket_path);
			a->socket_path = NULL; /* not ours: api_stop must not unlink it */
			goto fail;
		}
		if (lst_start(&a->unix_l, a, fd, 0, err, errlen) < 0)
			goto fail;
		log_info("api: listening on %s", a->socket_path);
	}
	if (ac->tcp) {
		char s[64];

		if ((fd = tcp_listen(ac->tcp, err, errlen)) < 0 ||
		    lst_start(&a->tcp_l, a, fd, 1, err, errlen) < 0)
			goto fail;
		cfg_addr_fmt(&ac->tcp->addr, s, sizeof(s));
		log_info("api: listening on %s port %u (token required)", s, ac->tcp->port);
	}
	*out = a;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	api_stop(a);
	return -1;
}

void
api_stop(struct rh_api *a)
{
	if (!a)
		return;
	/* Waits for the request in progress; closes the listening sockets. */
	if (a->unix_l.mhd)
		MHD_stop_daemon(a->unix_l.mhd);
	if (a->tcp_l.mhd)
		MHD_stop_daemon(a->tcp_l.mhd);
	if (a->socket_path) {
		unlink(a->socket_path);
		free(a->socket_path);
	}
	if (a->token) {
		explicit_bzero(a->token, strlen(a->token));
		free(a->token);
	}
	free(a);
}
