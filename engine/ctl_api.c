/*
 * ctl_api.c — routehubctl's control API client: `show status|peers|peer
 * NAME|routes|rib`, `reload`, `metrics`. Single-threaded, runs in the
 * routehubctl process (and in tests).
 *
 *   routehubctl [-s SOCKET | -H HOST:PORT -t TOKEN] [--json] show status
 *
 * The HTTP client is written by hand on purpose: one request per
 * connection (Connection: close), the answer read to the end under a
 * timeout and a size cap, then parsed by ctl_http_parse(), a pure function
 * the tests feed directly. Answers are JSON (jansson) printed as aligned
 * tables, or passed through untouched with --json so scripts see exactly
 * what the daemon sent. Every failure to reach the daemon is one clear line
 * on stderr and exit status 1; bad usage is exit status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "routehub/cfg.h"
#include "ctl_api.h"

#ifndef RH_VERSION
#define RH_VERSION "unknown"
#endif

#define CTL_TIMEOUT_S 15          /* the daemon waits 2 s for its io threads */
#define CTL_MAX_RESP  (64u << 20) /* metrics of 100k peers stay well under */

/* ---- HTTP ------------------------------------------------------------------------ */

void
ctl_resp_fini(struct ctl_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The value of header `name` in hdrs (CRLF-separated lines), copied to out. */
static int
header_get(const char *hdrs, const char *end, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = hdrs; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;

		if ((size_t)(le - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t n;

			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			n = (size_t)(le - v);
			while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
				n--;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
		p = le + 1;
	}
	return -1;
}

/* RFC 9112 §7.1 chunked body: hex size, CRLF, data, CRLF ... 0 CRLF. */
static int
dechunk(const char *p, const char *end, char **out, size_t *outlen)
{
	char *buf = malloc((size_t)(end - p) + 1);
	size_t n = 0;

	if (!buf)
		return -1;
	for (;;) {
		char *e;
		unsigned long sz;
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			goto fail;
		errno = 0;
		sz = strtoul(p, &e, 16);
		if (e == p || errno != 0)
			goto fail;
		p = eol + 1;
		if (sz == 0)
			break;
		if (sz > (size_t)(end - p))
			goto fail;
		memcpy(buf + n, p, sz);
		n += sz;
		p += sz;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (end - p >= 1 && p[0] == '\n')
			p += 1;
		else
			goto fail;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
fail:
	free(buf);
	return -1;
}

int
ctl_http_parse(const char *buf, size_t len, struct ctl_resp *r, char *err, size_t errlen)
{
	const char *end = buf + len, *hdrs, *body;
	char v[64];
	int maj, min, st, n = 0;

	memset(r, 0, sizeof(*r));
	if (len < 12 || memcmp(buf, "HTTP/", 5) != 0 ||
	    sscanf(buf, "HTTP/%d.%d %3d%n", &maj, &min, &st, &n) != 3 || n != 12 || maj != 1 ||
	    st < 100 || st > 599) {
		snprintf(err, errlen, "not an HTTP/1.x answer");
		return -1;
	}
	if (!(hdrs = memchr(buf, '\n', len))) {
		snprintf(err, errlen, "truncated HTTP answer (no header end)");
		return -1;
	}
	hdrs++;
	body = NULL;
	for (const char *p = hdrs; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if (eol == p || (eol == p + 1 && p[0] == '\r')) {
			body = eol + 1;
			break;
		}
		p = eol + 1;
	}
	if (!body) {
		snprintf(err, errlen, "truncated HTTP answer (no header end)");
		return -1;
	}
	r->status = st;
	if (header_get(hdrs, body, "Content-Type", r->ctype, sizeof(r->ctype)) < 0)
		r->ctype[0] = '\0';
	if (header_get(hdrs, body, "Transfer-Encoding", v, sizeof(v)) == 0 &&
	    strcasestr(v, "chunked")) {
		if (dechunk(body, end, &r->body, &r->len) < 0) {
			snprintf(err, errlen, "bad chunked body in the HTTP answer");
			return -1;
		}
		return 0;
	}
	r->len = (size_t)(end - body);
	if (header_get(hdrs, body, "Content-Length", v, sizeof(v)) == 0) {
		char *e;
		unsigned long long cl;

		errno = 0;
		cl = strtoull(v, &e, 10);
		if (e == v || *e != '\0' || errno != 0) {
			snprintf(err, errlen, "bad Content-Length '%s' in the HTTP answer", v);
			return -1;
		}
		if (cl > r->len) {
			snprintf(err, errlen, "truncated HTTP answer (%zu of %llu body bytes)",
			         r->len, cl);
			return -1;
		}
		r->len = (size_t)cl;
	}
	if (!(r->body = malloc(r->len + 1))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(r->body, body, r->len);
	r->body[r->len] = '\0';
	return 0;
}

static int
connect_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	switch (errno) {
	case ENOENT:
		snprintf(err, errlen,
		         "cannot reach routehubd: %s does not exist (is routehubd running? "
		         "give its local.api.socket with -s)",
		         path);
		break;
	case ECONNREFUSED:
		snprintf(
		    err, errlen,
		    "cannot reach routehubd: connection refused on %s (routehubd is not running)",
		    path);
		break;
	case EACCES:
		snprintf(
		    err, errlen,
		    "cannot reach routehubd: permission denied on %s (the socket is mode 0660: "
		    "run as its owner or group)",
		    path);
		break;
	default:
		snprintf(err, errlen, "cannot reach routehubd at %s: %s", path, strerror(errno));
	}
	close(fd);
	return -1;
}

/* "host:port" or "[v6]:port". */
static int
connect_tcp(const char *hostport, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL, *ai;
	char host[256], *port;
	int fd = -1, e, saved = 0;

	if (hostport[0] == '[') {
		const char *rb = strchr(hostport, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - hostport - 1) >= sizeof(host))
			goto bad;
		memcpy(host, hostport + 1, (size_t)(rb - hostport - 1));
		host[rb - hostport - 1] = '\0';
		port = (char *)rb + 2;
	} else {
		const char *c = strrchr(hostport, ':');
		if (!c || c == hostport || (size_t)(c - hostport) >= sizeof(host))
			goto bad;
		memcpy(host, hostport, (size_t)(c - hostport));
		host[c - hostport] = '\0';
		port = (char *)c + 1;
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
	    atoi(port) > 65535)
		goto bad;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct timeval tv = {.tv_sec = CTL_TIMEOUT_S};

		if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			continue;
		/* On Linux SO_SNDTIMEO bounds connect() too. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "cannot reach routehubd at %s: %s%s", hostport,
		         strerror(saved),
		         saved == ECONNREFUSED ? " (is local.api.listen set and routehubd running?)"
		                               : "");
	return fd;
bad:
	snprintf(err, errlen, "bad address '%s' (expected HOST:PORT or [IPv6]:PORT)", hostport);
	return -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void
path_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~:", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

int
ctl_http(const struct ctl_target *t, const char *method, const char *path, struct ctl_resp *r,
         char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = CTL_TIMEOUT_S};
	char *buf = NULL, *req = NULL;
	size_t len = 0, cap = 0;
	int fd, rv = -1, n;

	memset(r, 0, sizeof(*r));
	fd = t->host ? connect_tcp(t->host, err, errlen) : connect_unix(t->socket, err, errlen);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = asprintf(&req,
	             "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: routehubctl/%s\r\n"
	             "Accept: application/json, text/plain\r\nConnection: close\r\n"
	             "%s%s%s%s\r\n",
	             method, path, t->host ? t->host : "localhost", RH_VERSION,
	             t->token ? "Authorization: Bearer " : "", t->token ? t->token : "",
	             t->token ? "\r\n" : "",
	             strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
	if (n < 0) {
		req = NULL;
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (write_all(fd, req, (size_t)n) < 0) {
		snprintf(err, errlen, "cannot send the request: %s", strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t got;

		if (cap - len < 4096) {
			char *nb;
			if (cap >= CTL_MAX_RESP) {
				snprintf(err, errlen, "answer larger than %u bytes; giving up",
				         CTL_MAX_RESP);
				goto done;
			}
			cap = cap ? cap * 2 : 16384;
			if (!(nb = realloc(buf, cap))) {
				snprintf(err, errlen, "out of memory");
				goto done;
			}
			buf = nb;
		}
		got = recv(fd, buf + len, cap - len - 1, 0);
		if (got == 0)
			break;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s",
			         errno == EAGAIN || errno == EWOULDBLOCK
			             ? "routehubd did not answer in time"
			             : strerror(errno));
			goto done;
		}
		len += (size_t)got;
	}
	if (len == 0) {
		snprintf(err, errlen, "routehubd closed the connection without answering");
		goto done;
	}
	rv = ctl_http_parse(buf, len, r, err, errlen);
done:
	free(req);
	free(buf);
	close(fd);
	return rv;
}

/* ---- options ------------------------------------------------------------------------ */

struct ctl_opts {
	const char *socket, *host, *token;
	int json;
	const char *af, *limit, *from; /* show routes */
};

/* Set by ctl_api_opts() from the words before the subcommand. */
static struct ctl_opts global;

enum { OPT_AF = 1000, OPT_LIMIT, OPT_FROM };

static const struct option long_opts[] = {
    {"socket", required_argument, NULL, 's'}, {"host", required_argument, NULL, 'H'},
    {"token", required_argument, NULL, 't'},  {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
};

/* After the subcommand: the connection options and those of `show routes`. */
static const struct option run_opts[] = {
    {"socket", required_argument, NULL, 's'},
    {"host", required_argument, NULL, 'H'},
    {"token", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {"af", required_argument, NULL, OPT_AF},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"from", required_argument, NULL, OPT_FROM},
    {NULL, 0, NULL, 0},
};

/* One option (getopt's code) into o. */
static void
opt_set(struct ctl_opts *o, int c, const char *arg)
{
	switch (c) {
	case 's':
		o->socket = arg;
		break;
	case 'H':
		o->host = arg;
		break;
	case 't':
		o->token = arg;
		break;
	case 'j':
		o->json = 1;
		break;
	case OPT_AF:
		o->af = arg;
		break;
	case OPT_LIMIT:
		o->limit = arg;
		break;
	case OPT_FROM:
		o->from = arg;
		break;
	}
}

int
ctl_api_opts(int argc, char **argv)
{
	int i = 0;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i], *val = NULL;
		int c = 0;

		for (const struct option *lo = long_opts; lo->name; lo++) {
			size_t nl = strlen(lo->name);
			if (a[1] == lo->val && a[2] == '\0') {
				c = lo->val;
			} else if (a[1] == '-' && strncmp(a + 2, lo->name, nl) == 0 &&
			           (a[2 + nl] == '\0' || (a[2 + nl] == '=' && lo->has_arg))) {
				c = lo->val;
				if (a[2 + nl] == '=')
					val = a + 3 + nl;
			}
			if (c) {
				if (lo->has_arg && !val) {
					if (i + 1 >= argc) {
						fprintf(stderr, "routehubctl: %s needs a value\n",
						        a);
						return -1;
					}
					val = argv[++i];
				}
				break;
			}
		}
		if (!c || c == 'h') {
			fprintf(stderr, "routehubctl: unknown option '%s' before the subcommand\n",
			        a);
			return -1;
		}
		opt_set(&global, c, val);
		i++;
	}
	return i;
}

/* ---- formatting ---------------------------------------------------------------------- */

static void
fmt_duration(uint64_t s, char *out, size_t len)
{
	if (s >= 86400)
		snprintf(out, len, "%llud%02lluh", (unsigned long long)(s / 86400),
		         (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, len, "%lluh%02llum", (unsigned long long)(s / 3600),
		         (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, len, "%llum%02llus", (unsigned long long)(s / 60),
		         (unsigned long long)(s % 60));
	else
		snprintf(out, len, "%llus", (unsigned long long)s);
}

static long long
jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

enum { PEER_COLS = 9 };

static void
peer_row(const json_t *p, char cells[PEER_COLS][96])
{
	long long up = jint(p, "uptime_ms") / 1000;
	long long asn = jint(p, "peer_asn") ? jint(p, "peer_asn") : jint(p, "asn");

	snprintf(cells[0], 96, "%s", jstr(p, "name"));
	snprintf(cells[1], 96, "%s", jstr(p, "address"));
	if (asn)
		snprintf(cells[2], 96, "%lld", asn);
	else
		snprintf(cells[2], 96, "any");
	snprintf(cells[3], 96, "%s", jstr(p, "state"));
	if (strcmp(jstr(p, "state"), "Established") == 0)
		fmt_duration((uint64_t)up, cells[4], 96);
	else
		snprintf(cells[4], 96, "-");
	snprintf(cells[5], 96, "%lld", jint(p, "prefixes_announced"));
	snprintf(cells[6], 96, "%lld", jint(p, "msgs_in"));
	snprintf(cells[7], 96, "%lld", jint(p, "msgs_out"));
	snprintf(cells[8], 96, "%s", *jstr(p, "last_error") ? jstr(p, "last_error") : "-");
}

/* Aligned columns; the last (LAST-ERROR) is not padded. */
static int
print_peers(FILE *out, const json_t *arr)
{
	static const char *hdr[PEER_COLS] = {"NAME",    "ADDRESS",  "AS",
	                                     "STATE",   "UPTIME",   "PFX-RCVD",
	                                     "MSGS-IN", "MSGS-OUT", "LAST-ERROR"};
	size_t n = json_array_size(arr), w[PEER_COLS];
	char(*cells)[PEER_COLS][96];

	if (!(cells = calloc(n ? n : 1, sizeof(*cells))))
		return -1;
	for (int c = 0; c < PEER_COLS; c++)
		w[c] = strlen(hdr[c]);
	for (size_t i = 0; i < n; i++) {
		peer_row(json_array_get(arr, i), cells[i]);
		for (int c = 0; c < PEER_COLS; c++)
			if (strlen(cells[i][c]) > w[c])
				w[c] = strlen(cells[i][c]);
	}
	for (int c = 0; c < PEER_COLS - 1; c++)
		fprintf(out, "%-*s  ", (int)w[c], hdr[c]);
	fprintf(out, "%s\n", hdr[PEER_COLS - 1]);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < PEER_COLS - 1; c++)
			fprintf(out, "%-*s  ", (int)w[c], cells[i][c]);
		fprintf(out, "%s\n", cells[i][PEER_COLS - 1]);
	}
	free(cells);
	return 0;
}

static void
print_peer(FILE *out, const json_t *p)
{
	char up[32];
	const json_t *caps = json_object_get(p, "capabilities");
	size_t i;

	fprintf(out, "peer %s (%s)%s\n", jstr(p, "name"), jstr(p, "address"),
	        json_is_true(json_object_get(p, "dynamic")) ? ", dynamic" : "");
	fprintf(out, "  %-16s %s%s\n", "role", jstr(p, "role"),
	        json_is_true(json_object_get(p, "ibgp")) ? " (iBGP)" : "");
	fmt_duration((uint64_t)(jint(p, "uptime_ms") / 1000), up, sizeof(up));
	fprintf(out, "  %-16s %s%s%s\n", "state", jstr(p, "state"),
	        strcmp(jstr(p, "state"), "Established") == 0 ? ", up " : "",
	        strcmp(jstr(p, "state"), "Established") == 0 ? up : "");
	if (jint(p, "asn"))
		fprintf(out, "  %-16s %lld\n", "configured AS", jint(p, "asn"));
	else
		fprintf(out, "  %-16s any\n", "configured AS");
	if (jint(p, "peer_asn")) {
		fprintf(out, "  %-16s %lld\n", "peer AS", jint(p, "peer_asn"));
		fprintf(out, "  %-16s %s\n", "router id", jstr(p, "peer_id"));
		fprintf(out, "  %-16s %lld/%lld s\n", "hold/keepalive", jint(p, "hold_time"),
		        jint(p, "keepalive"));
		fprintf(out, "  %-16s", "capabilities");
		for (i = 0; i < json_array_size(caps); i++)
			fprintf(out, "%s%s", i ? ", " : " ",
			        json_string_value(json_array_get(caps, i)));
		fprintf(out, "%s\n", i ? "" : " none");
	}
	fprintf(out, "  %-16s %lld in, %lld out\n", "messages", jint(p, "msgs_in"),
	        jint(p, "msgs_out"));
	fprintf(out, "  %-16s %lld\n", "updates in", jint(p, "updates_in"));
	fprintf(out, "  %-16s %lld announced, %lld withdrawn\n", "prefixes",
	        jint(p, "prefixes_announced"), jint(p, "prefixes_withdrawn"));
	if (json_integer_value(json_object_get(p, "max_routes")) > 0)
		fprintf(out, "  %-16s %lld held of %lld allowed%s\n", "route limit",
		        jint(p, "routes_received"), jint(p, "max_routes"),
		        json_is_true(json_object_get(p, "max_routes_exceeded")) ? " (exceeded)"
		                                                                : "");
	fprintf(out, "  %-16s %lld treat-as-withdraw, %lld attribute discards\n", "RFC 7606",
	        jint(p, "treat_as_withdraw"), jint(p, "attr_discards"));
	fprintf(out, "  %-16s %lld End-of-RIB, %lld route refresh\n", "markers", jint(p, "eor_in"),
	        jint(p, "refresh_in"));
	fprintf(out, "  %-16s %lld established, %lld flaps\n", "history", jint(p, "established"),
	        jint(p, "flaps"));
	fprintf(out, "  %-16s %s\n", "last error",
	        *jstr(p, "last_error") ? jstr(p, "last_error") : "-");
}

static void
print_status(FILE *out, const json_t *s)
{
	const json_t *peers = json_object_get(s, "peers");
	const json_t *by = json_object_get(peers, "by_state");
	const json_t *conns = json_object_get(s, "connections");
	const char *k;
	json_t *v;
	char up[32];
	int first = 1;

	fmt_duration((uint64_t)jint(s, "uptime_s"), up, sizeof(up));
	fprintf(out, "routehubd %s, AS %lld, router id %s, up %s\n", jstr(s, "version"),
	        jint(s, "asn"), jstr(s, "router_id"), up);
	fprintf(out, "%-12s %s\n", "config", jstr(s, "config"));
	fprintf(out, "%-12s %lld entries, %lld sessions, %lld established\n", "peers",
	        jint(peers, "configured"), jint(peers, "sessions"), jint(peers, "established"));
	fprintf(out, "%-12s", "states");
	json_object_foreach((json_t *)by, k, v)
	{
		fprintf(out, "%s%s %lld", first ? " " : ", ", k, (long long)json_integer_value(v));
		first = 0;
	}
	fprintf(out, "\n%-12s %lld accepted, %lld refused (unknown or disabled peer)\n",
	        "connections", jint(conns, "accepted"), jint(conns, "refused"));
}

enum ctl_what {
	CTL_STATUS,
	CTL_PEERS,
	CTL_PEER,
	CTL_ROUTES, /* a listing: the table, a peer's routes */
	CTL_ROUTE,  /* one prefix or the longest match: every path in detail */
	CTL_RIB,
	CTL_RELOAD,
	CTL_RESET,
	CTL_METRICS,
};

/* ---- routes ---------------------------------------------------------------------------- */

/* What `show routes` asks: the words after "routes". */
struct routes_req {
	const char *key; /* "prefix", "match", "peer", or NULL for a listing */
	const char *value;
};

static int
routes_words(int argc, char **argv, enum ctl_what *what, struct routes_req *rq, FILE *err)
{
	*what = CTL_ROUTES;
	rq->key = rq->value = NULL;
	if (argc == 0)
		return 0;
	if (strcmp(argv[0], "match") == 0 || strcmp(argv[0], "peer") == 0) {
		if (argc != 2) {
			fprintf(err, "routehubctl show routes %s: %s\n", argv[0],
			        argc < 2 ? (argv[0][0] == 'm' ? "which address?" : "which peer?")
			                 : "one word only");
			return -1;
		}
		rq->key = argv[0];
		rq->value = argv[1];
		*what = argv[0][0] == 'm' ? CTL_ROUTE : CTL_ROUTES;
		return 0;
	}
	if (argc != 1) {
		fprintf(err, "routehubctl show routes: unexpected '%s'\n", argv[1]);
		return -1;
	}
	/* A prefix is looked up exactly, a bare address by longest match. */
	rq->key = strchr(argv[0], '/') ? "prefix" : "match";
	rq->value = argv[0];
	*what = CTL_ROUTE;
	return 0;
}

static void
routes_path(const struct routes_req *rq, const struct ctl_opts *o, char *path, size_t len)
{
	char v[400];
	size_t n;

	n = (size_t)snprintf(path, len, "/v1/routes");
	const char *sep = "?";
#define ADD(k, val)                                                                                \
	do {                                                                                       \
		path_escape(val, v, sizeof(v));                                                    \
		if (n < len)                                                                       \
			n += (size_t)snprintf(path + n, len - n, "%s%s=%s", sep, k, v);            \
		sep = "&";                                                                         \
	} while (0)
	if (rq->key)
		ADD(rq->key, rq->value);
	if (o->af)
		ADD("af", o->af);
	if (o->limit)
		ADD("limit", o->limit);
	if (o->from)
		ADD("from", o->from);
#undef ADD
}

/* "nva1" or the address when the path's session has no name any more. */
static const char *
path_from(const json_t *p)
{
	return *jstr(p, "peer") ? jstr(p, "peer") : jstr(p, "peer_address");
}

static void
opt_uint(const json_t *p, const char *k, char *out, size_t len)
{
	const json_t *v = json_object_get(p, k);

	if (json_is_integer(v))
		snprintf(out, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(out, len, "-");
}

enum { ROUTE_COLS = 9 };

static void
route_row(const json_t *r, const json_t *p, int first, char cells[ROUTE_COLS][160])
{
	snprintf(cells[0], 160, "%s", first ? jstr(r, "prefix") : "");
	snprintf(cells[1], 160, "%s", *jstr(p, "next_hop") ? jstr(p, "next_hop") : "-");
	snprintf(cells[2], 160, "%s", path_from(p));
	snprintf(cells[3], 160, "%s%s",
	         json_is_true(json_object_get(p, "best"))   ? "best"
	         : json_is_true(json_object_get(p, "ecmp")) ? "ecmp"
	                                                    : "-",
	         json_is_true(json_object_get(p, "stale")) ? "+stale" : "");
	opt_uint(p, "local_pref", cells[4], 160);
	opt_uint(p, "med", cells[5], 160);
	snprintf(cells[6], 160, "%s", jstr(p, "origin"));
	snprintf(cells[7], 160, "%lld", (long long)jint(p, "peer_asn"));
	snprintf(cells[8], 160, "%s", *jstr(p, "as_path") ? jstr(p, "as_path") : "(empty)");
}

/* One line per path, the prefix on its first; AS-PATH last, not padded. */
static int
print_routes(FILE *out, const json_t *j)
{
	static const char *hdr[ROUTE_COLS] = {"PREFIX",    "NEXT-HOP", "FROM",
	                                      "BEST/ECMP", "LOCPRF",   "MED",
	                                      "ORIGIN",    "PEER-AS",  "AS-PATH"};
	const json_t *routes = json_object_get(j, "routes");
	size_t nr = json_array_size(routes), rows = 0, w[ROUTE_COLS], k = 0;
	char(*cells)[ROUTE_COLS][160];

	for (size_t i = 0; i < nr; i++)
		rows += json_array_size(json_object_get(json_array_get(routes, i), "paths"));
	if (!(cells = calloc(rows ? rows : 1, sizeof(*cells))))
		return -1;
	for (int c = 0; c < ROUTE_COLS; c++)
		w[c] = strlen(hdr[c]);
	for (size_t i = 0; i < nr; i++) {
		const json_t *r = json_array_get(routes, i), *ps = json_object_get(r, "paths");
		for (size_t p = 0; p < json_array_size(ps) && k < rows; p++, k++) {
			route_row(r, json_array_get(ps, p), p == 0, cells[k]);
			for (int c = 0; c < ROUTE_COLS; c++)
				if (strlen(cells[k][c]) > w[c])
					w[c] = strlen(cells[k][c]);
		}
	}
	for (int c = 0; c < ROUTE_COLS - 1; c++)
		fprintf(out, "%-*s  ", (int)w[c], hdr[c]);
	fprintf(out, "%s\n", hdr[ROUTE_COLS - 1]);
	for (size_t i = 0; i < k; i++) {
		for (int c = 0; c < ROUTE_COLS - 1; c++)
			fprintf(out, "%-*s  ", (int)w[c], cells[i][c]);
		fprintf(out, "%s\n", cells[i][ROUTE_COLS - 1]);
	}
	free(cells);
	fprintf(out, "%zu prefix%s, %zu path%s", nr, nr == 1 ? "" : "es", rows,
	        rows == 1 ? "" : "s");
	if (json_is_true(json_object_get(j, "more")))
		fprintf(out, "; more from %s (--from %s)\n", jstr(j, "next"), jstr(j, "next"));
	else
		fprintf(out, "\n");
	return 0;
}

/* A JSON array of strings as one line, "-" when empty. */
static void
print_list(FILE *out, const char *label, const json_t *arr)
{
	size_t n = json_array_size(arr);

	fprintf(out, "    %-14s", label);
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %s", json_string_value(json_array_get(arr, i)));
	fprintf(out, "%s\n", n ? "" : " -");
}

static void
print_route_detail(FILE *out, const json_t *j, const char *asked)
{
	const json_t *routes = json_object_get(j, "routes");

	if (json_array_size(routes) == 0) {
		fprintf(out, "no route for %s\n", asked);
		return;
	}
	for (size_t i = 0; i < json_array_size(routes); i++) {
		const json_t *r = json_array_get(routes, i), *ps = json_object_get(r, "paths");
		fprintf(out, "%s: %lld path%s, %lld in the ECMP set\n", jstr(r, "prefix"),
		        jint(r, "paths_total"), jint(r, "paths_total") == 1 ? "" : "s",
		        jint(r, "ecmp_paths"));
		for (size_t k = 0; k < json_array_size(ps); k++) {
			const json_t *p = json_array_get(ps, k);
			const json_t *ag = json_object_get(p, "aggregator");
			char v[32];

			fprintf(out, "  path %zu:%s%s%s\n", k + 1,
			        json_is_true(json_object_get(p, "best")) ? " best" : "",
			        json_is_true(json_object_get(p, "ecmp")) ? " ecmp" : "",
			        json_is_true(json_object_get(p, "stale")) ? " stale" : "");
			fprintf(out, "    %-14s %s (%s), AS %lld, router id %s, %s", "from",
			        path_from(p), jstr(p, "peer_address"), jint(p, "peer_asn"),
			        jstr(p, "peer_router_id"), jstr(p, "peer_type"));
			if (jint(p, "path_id"))
				fprintf(out, ", path id %lld", jint(p, "path_id"));
			fprintf(out, "\n    %-14s %s", "next hop",
			        *jstr(p, "next_hop") ? jstr(p, "next_hop") : "-");
			if (*jstr(p, "next_hop_local"))
				fprintf(out, " (link-local %s)", jstr(p, "next_hop_local"));
			fprintf(out, "\n    %-14s %s (length %lld)\n", "as path",
			        *jstr(p, "as_path") ? jstr(p, "as_path") : "(empty)",
			        jint(p, "as_path_len"));
			fprintf(out, "    %-14s %s\n", "origin", jstr(p, "origin"));
			opt_uint(p, "med", v, sizeof(v));
			fprintf(out, "    %-14s %s\n", "med", v);
			opt_uint(p, "local_pref", v, sizeof(v));
			fprintf(out, "    %-14s %s\n", "local pref", v);
			print_list(out, "communities", json_object_get(p, "communities"));
			print_list(out, "large comm.", json_object_get(p, "large_communities"));
			print_list(out, "ext. comm.", json_object_get(p, "ext_communities"));
			if (json_is_string(json_object_get(p, "originator_id")))
				fprintf(out, "    %-14s %s\n", "originator id",
				        jstr(p, "originator_id"));
			if (json_array_size(json_object_get(p, "cluster_list")))
				print_list(out, "cluster list", json_object_get(p, "cluster_list"));
			if (json_is_true(json_object_get(p, "atomic_aggregate")))
				fprintf(out, "    %-14s yes\n", "atomic aggr.");
			if (json_is_object(ag))
				fprintf(out, "    %-14s AS %lld, %s\n", "aggregator",
				        jint(ag, "asn"), jstr(ag, "id"));
		}
	}
}

enum { RIB_COLS = 7 };

static void
print_rib(FILE *out, const json_t *j)
{
	static const char *hdr[RIB_COLS] = {"NAME",     "ADDRESS", "STATE", "RECEIVED",
	                                    "ACCEPTED", "IPV4",    "IPV6"};
	const json_t *pf = json_object_get(j, "prefixes"), *pa = json_object_get(j, "paths");
	const json_t *peers = json_object_get(j, "peers");
	size_t n = json_array_size(peers), w[RIB_COLS];
	char(*cells)[RIB_COLS][96];

	fprintf(out, "%-16s %lld IPv4, %lld IPv6\n", "prefixes", jint(pf, "ipv4"),
	        jint(pf, "ipv6"));
	fprintf(out, "%-16s %lld IPv4, %lld IPv6\n", "paths", jint(pa, "ipv4"), jint(pa, "ipv6"));
	fprintf(out, "%-16s %lld\n", "attribute sets", jint(j, "attribute_sets"));
	if (n == 0 || !(cells = calloc(n, sizeof(*cells))))
		return;
	fputc('\n', out);
	for (int c = 0; c < RIB_COLS; c++)
		w[c] = strlen(hdr[c]);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(peers, i), *acc = json_object_get(p, "accepted");
		snprintf(cells[i][0], 96, "%s", jstr(p, "name"));
		snprintf(cells[i][1], 96, "%s", jstr(p, "address"));
		snprintf(cells[i][2], 96, "%s", jstr(p, "state"));
		opt_uint(p, "received", cells[i][3], 96);
		snprintf(cells[i][4], 96, "%lld", jint(acc, "total"));
		snprintf(cells[i][5], 96, "%lld", jint(acc, "ipv4"));
		snprintf(cells[i][6], 96, "%lld", jint(acc, "ipv6"));
		for (int c = 0; c < RIB_COLS; c++)
			if (strlen(cells[i][c]) > w[c])
				w[c] = strlen(cells[i][c]);
	}
	for (int c = 0; c < RIB_COLS; c++)
		fprintf(out, c < RIB_COLS - 1 ? "%-*s  " : "%-*s\n",
		        c < RIB_COLS - 1 ? (int)w[c] : 0, hdr[c]);
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < RIB_COLS; c++)
			fprintf(out, c < RIB_COLS - 1 ? "%-*s  " : "%-*s\n",
			        c < RIB_COLS - 1 ? (int)w[c] : 0, cells[i][c]);
	free(cells);
}

/* ---- subcommands ------------------------------------------------------------------------ */

static void
usage_to(FILE *f, const char *cmd)
{
	static const char opts[] =
	    "options (before or after the subcommand):\n"
	    "  -s, --socket PATH      the daemon's Unix socket (default $ROUTEHUB_SOCKET,\n"
	    "                         else " CFG_DEFAULT_API_SOCKET ")\n"
	    "  -H, --host HOST:PORT   its TCP API instead (local.api.listen)\n"
	    "  -t, --token TOKEN      bearer token for -H (default $ROUTEHUB_TOKEN)\n"
	    "  -j, --json             print the daemon's JSON answer as is\n";

	if (strcmp(cmd, "show") == 0)
		fprintf(
		    f,
		    "usage: routehubctl [OPTIONS] show status|peers|peer NAME|rib\n"
		    "       routehubctl [OPTIONS] show routes [PREFIX | ADDRESS | match ADDRESS |\n"
		    "                                      peer NAME] [--af ipv4|ipv6]\n"
		    "                                      [--limit N] [--from PREFIX]\n"
		    "  status      version, AS, router id, uptime, peers by state, counters\n"
		    "  peers       one line per peer session\n"
		    "  peer NAME   one peer by name or address (a range entry lists its\n"
		    "              dynamic neighbours)\n"
		    "  rib         prefixes, paths and attribute sets in the RIB; routes per peer\n"
		    "  routes      the RIB as a table, one line per path (IPv4 then IPv6, or\n"
		    "              --af's family), at most --limit prefixes (default 1000);\n"
		    "              the last line says where the next page starts (--from)\n"
		    "  routes PREFIX         that prefix exactly, every path in detail\n"
		    "  routes ADDRESS        the longest prefix matching it (also: match ADDRESS)\n"
		    "  routes peer NAME      the routes received from a peer (name or address)\n");
	else if (strcmp(cmd, "reset") == 0)
		fprintf(f,
		        "usage: routehubctl [OPTIONS] reset NAME|ADDRESS [in|out|hard] [MESSAGE]\n"
		        "  in    soft reset in (default): ask the peer to send its routes again\n"
		        "        (ROUTE-REFRESH; a hard reset if it does not support it)\n"
		        "  out   soft reset out: send the peer our table again\n"
		        "  hard  Cease/Administrative Reset with MESSAGE (RFC 8203), reconnect\n"
		        "  NAME of a range entry resets every dynamic neighbour of it\n");
	else if (strcmp(cmd, "reload") == 0)
		fprintf(f, "usage: routehubctl [OPTIONS] reload\n"
		           "  re-read the configuration file; on errors the running configuration\n"
		           "  stays and every error is printed (FILE:LINE: ...), exit status 1\n");
	else
		fprintf(f, "usage: routehubctl [OPTIONS] metrics\n"
		           "  print the Prometheus metrics (text exposition format)\n");
	fputs(opts, f);
}

void
ctl_show_usage(void)
{
	usage_to(stderr, "show");
}

void
ctl_reload_usage(void)
{
	usage_to(stderr, "reload");
}

void
ctl_metrics_usage(void)
{
	usage_to(stderr, "metrics");
}

void
ctl_reset_usage(void)
{
	usage_to(stderr, "reset");
}

/* The daemon's {"error": ...} (and "errors": [...]) on err. */
static void
print_error(FILE *err, const struct ctl_resp *r)
{
	json_t *j = json_loads(r->body, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	json_t *lines = json_object_get(j, "errors");

	if (msg)
		fprintf(err, "routehubctl: %s\n", msg);
	else
		fprintf(err, "routehubctl: routehubd answered HTTP %d\n", r->status);
	for (size_t i = 0; i < json_array_size(lines); i++)
		fprintf(err, "%s\n", json_string_value(json_array_get(lines, i)));
	json_decref(j);
}

int
ctl_api_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl_opts o = global;
	struct ctl_target t;
	struct ctl_resp r;
	enum ctl_what what;
	char path[1600], name[400], e[512];
	struct routes_req rq = {0};
	const char *cmd = argv[0], *method = "GET";
	json_t *j;
	int c, rv = 1;

	opterr = 0;
	optind = 0; /* glibc: full re-initialisation, so tests may call us again */
	while ((c = getopt_long(argc, argv, "s:H:t:jh", run_opts, NULL)) != -1) {
		if (c == 'h') {
			usage_to(out, cmd);
			return 0;
		}
		if (c == '?' || c == ':') {
			fprintf(err, "routehubctl %s: %s '%s'\n", cmd,
			        c == ':' ? "missing value for" : "unknown option",
			        argv[optind - 1]);
			usage_to(err, cmd);
			return 2;
		}
		opt_set(&o, c, optarg);
	}
	/* GNU getopt permutes: options may also follow the words (show peers --json). */
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "show") == 0) {
		if (argc == 1 && strcmp(argv[0], "status") == 0) {
			what = CTL_STATUS;
		} else if (argc == 1 && strcmp(argv[0], "peers") == 0) {
			what = CTL_PEERS;
		} else if (argc == 2 &&
		           (strcmp(argv[0], "peer") == 0 || strcmp(argv[0], "peers") == 0)) {
			what = CTL_PEER;
		} else if (argc == 1 && strcmp(argv[0], "rib") == 0) {
			what = CTL_RIB;
		} else if (argc >= 1 && strcmp(argv[0], "routes") == 0) {
			if (routes_words(argc - 1, argv + 1, &what, &rq, err) < 0) {
				usage_to(err, cmd);
				return 2;
			}
		} else {
			if (argc == 1 && strcmp(argv[0], "peer") == 0)
				fprintf(err,
				        "routehubctl show peer: which peer? (a NAME or address)\n");
			else
				fprintf(err, "routehubctl show: expected status, peers, peer NAME, "
				             "routes or rib\n");
			usage_to(err, cmd);
			return 2;
		}
		if (what != CTL_ROUTES && what != CTL_ROUTE && (o.af || o.limit || o.from)) {
			fprintf(err, "routehubctl show: --af, --limit and --from go with routes\n");
			usage_to(err, cmd);
			return 2;
		}
	} else if (strcmp(cmd, "reset") == 0) {
		if (argc < 1 || argc > 3 ||
		    (argc >= 2 && strcmp(argv[1], "in") != 0 && strcmp(argv[1], "out") != 0 &&
		     strcmp(argv[1], "hard") != 0)) {
			fprintf(err, "routehubctl reset: expected NAME|ADDRESS [in|out|hard] "
			             "[MESSAGE]\n");
			usage_to(err, cmd);
			return 2;
		}
		what = CTL_RESET;
	} else if (strcmp(cmd, "reload") == 0 || strcmp(cmd, "metrics") == 0) {
		if (argc != 0) {
			fprintf(err, "routehubctl %s: unexpected argument '%s'\n", cmd, argv[0]);
			usage_to(err, cmd);
			return 2;
		}
		what = strcmp(cmd, "reload") == 0 ? CTL_RELOAD : CTL_METRICS;
	} else {
		fprintf(err, "routehubctl: '%s' is not an API subcommand\n", cmd);
		return 2;
	}

	if (!o.socket)
		o.socket = getenv("ROUTEHUB_SOCKET");
	if (!o.socket || !*o.socket)
		o.socket = CFG_DEFAULT_API_SOCKET;
	if (!o.token)
		o.token = getenv("ROUTEHUB_TOKEN");
	if (o.host && (!o.token || !*o.token)) {
		fprintf(err,
		        "routehubctl %s: the TCP API (-H) needs a token: -t TOKEN or "
		        "$ROUTEHUB_TOKEN\n",
		        cmd);
		return 2;
	}
	t.socket = o.socket;
	t.host = o.host;
	t.token = o.host ? o.token : NULL; /* never send it where it is not asked for */

	switch (what) {
	case CTL_STATUS:
		snprintf(path, sizeof(path), "/v1/status");
		break;
	case CTL_PEERS:
		snprintf(path, sizeof(path), "/v1/peers");
		break;
	case CTL_PEER:
		path_escape(argv[1], name, sizeof(name));
		snprintf(path, sizeof(path), "/v1/peers/%s", name);
		break;
	case CTL_ROUTES:
	case CTL_ROUTE:
		routes_path(&rq, &o, path, sizeof(path));
		break;
	case CTL_RIB:
		snprintf(path, sizeof(path), "/v1/rib");
		break;
	case CTL_RELOAD:
		method = "POST";
		snprintf(path, sizeof(path), "/v1/reload");
		break;
	case CTL_RESET: {
		char msg[600];
		method = "POST";
		path_escape(argv[0], name, sizeof(name));
		path_escape(argc >= 3 ? argv[2] : "", msg, sizeof(msg));
		snprintf(path, sizeof(path), "/v1/reset/%s?mode=%s%s%s", name,
		         argc >= 2 ? argv[1] : "in", argc >= 3 ? "&message=" : "",
		         argc >= 3 ? msg : "");
		break;
	}
	case CTL_METRICS:
		snprintf(path, sizeof(path), "/metrics");
		break;
	}
	if (ctl_http(&t, method, path, &r, e, sizeof(e)) < 0) {
		fprintf(err, "routehubctl: %s\n", e);
		return 1;
	}
	if (r.status == 401) {
		print_error(err, &r);
		goto done;
	}
	if (o.json || what == CTL_METRICS) {
		/* The body untouched: on stdout when it is the answer, on stderr
		 * when it is an error (the exit status says which, too). */
		fwrite(r.body, 1, r.len, r.status / 100 == 2 ? out : err);
		rv = r.status / 100 == 2 ? 0 : 1;
		goto done;
	}
	if (r.status / 100 != 2) {
		print_error(err, &r);
		goto done;
	}
	if (!(j = json_loads(r.body, 0, NULL))) {
		fprintf(err, "routehubctl: routehubd answered something that is not JSON\n");
		goto done;
	}
	switch (what) {
	case CTL_STATUS:
		print_status(out, j);
		break;
	case CTL_PEERS:
		print_peers(out, j);
		break;
	case CTL_PEER:
		if (json_is_array(j))
			print_peers(out, j);
		else
			print_peer(out, j);
		break;
	case CTL_ROUTES:
		print_routes(out, j);
		break;
	case CTL_ROUTE:
		print_route_detail(out, j, rq.value);
		break;
	case CTL_RIB:
		print_rib(out, j);
		break;
	case CTL_RELOAD:
		fprintf(out, "reloaded %s\n", jstr(j, "config"));
		break;
	case CTL_RESET:
		fprintf(out, "%s reset of %s requested (%d session%s)\n", jstr(j, "mode"), argv[0],
		        (int)json_integer_value(json_object_get(j, "sessions")),
		        json_integer_value(json_object_get(j, "sessions")) == 1 ? "" : "s");
		break;
	case CTL_METRICS:
		break;
	}
	json_decref(j);
	rv = 0;
done:
	ctl_resp_fini(&r);
	return rv;
}

int
ctl_show_main(int argc, char **argv)
{
	return ctl_api_run(argc, argv, stdout, stderr);
}

int
ctl_reload_main(int argc, char **argv)
{
	return ctl_api_run(argc, argv, stdout, stderr);
}

int
ctl_metrics_main(int argc, char **argv)
{
	return ctl_api_run(argc, argv, stdout, stderr);
}

int
ctl_reset_main(int argc, char **argv)
{
	return ctl_api_run(argc, argv, stdout, stderr);
}
