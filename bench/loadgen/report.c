/*
 * report.c — what a run prints: latency histograms, the human table, the
 * JSON line, and the loadgen's own ceiling next to every result.
 *
 * Runs on the main thread after the workers have stopped (histograms are
 * merged then), so nothing here races with I/O.
 *
 * The ceiling: a --self-test run measures the loadgen against its own mirror;
 * --save-ceiling keeps that JSON, and --ceiling reads it back in a run against
 * a daemon, which then says when a phase ran close to what the loadgen itself
 * can do (the result would be the harness's limit, not the daemon's). Every
 * report also shows how busy each loadgen thread was during each phase.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lg.h"

/* ---- histograms: log-linear buckets, LG_HIST_SUB per power of two --------------------- */
#define SUB_BITS 6 /* log2(LG_HIST_SUB) */

static unsigned
hist_idx(uint64_t v)
{
	unsigned p, i;

	if (v < LG_HIST_SUB)
		return (unsigned)v;
	p = 63u - (unsigned)__builtin_clzll(v);
	i = (p - SUB_BITS + 1) * LG_HIST_SUB +
	    (unsigned)((v >> (p - SUB_BITS)) & (LG_HIST_SUB - 1));
	return i < LG_HIST_POW * LG_HIST_SUB ? i : LG_HIST_POW * LG_HIST_SUB - 1;
}

static uint64_t
hist_val(unsigned i)
{
	unsigned p;

	if (i < LG_HIST_SUB)
		return i;
	p = i / LG_HIST_SUB + SUB_BITS - 1;
	return ((uint64_t)LG_HIST_SUB | (i % LG_HIST_SUB)) << (p - SUB_BITS);
}

void
lg_hist_add(struct lg_hist *h, uint64_t v)
{
	h->b[hist_idx(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void
lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src)
{
	for (unsigned i = 0; i < LG_HIST_POW * LG_HIST_SUB; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
lg_hist_pct(const struct lg_hist *h, double pct)
{
	uint64_t rank, acc = 0;

	if (!h->n)
		return 0;
	rank = (uint64_t)(pct / 100.0 * (double)h->n + 0.999999);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < LG_HIST_POW * LG_HIST_SUB; i++) {
		acc += h->b[i];
		if (acc >= rank) {
			uint64_t v = hist_val(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* ---- rates --------------------------------------------------------------------------- */
static bool
is_route_phase(enum lg_phase_kind k)
{
	return k == LG_PH_ANNOUNCE || k == LG_PH_WITHDRAW || k == LG_PH_RECONNECT ||
	       k == LG_PH_REFRESH || k == LG_PH_RESET;
}

/* Routes (prefixes) and UPDATEs per second received by the spokes, from
 * the first UPDATE sent to the last one received (with feeder groups the
 * spokes receive every member's routes, also after they first matched);
 * 0 when not meaningful. */
static double
rx_rate(const struct lg_result *r, bool msgs)
{
	double t = r->rx_span > r->conv ? r->rx_span : r->conv;

	if (!is_route_phase(r->ph->kind) || t <= 0)
		return 0;
	return (double)(msgs ? r->rx_updates : r->rx_pfx) / t;
}

/* Over the time the feeders took to hand their streams to the kernel; not
 * meaningful when that is too short to time. */
static double
tx_rate(const struct lg_result *r, bool msgs)
{
	double t = r->send_done;

	if (!is_route_phase(r->ph->kind) || t < 0.001)
		return 0;
	return (double)(msgs ? r->tx_updates : r->tx_pfx) / t;
}

/* The loadgen's own CPU per route received and verified: a ceiling that does
 * not depend on how much CPU the machine left it (1e9 / this = routes/s one
 * core can take). The self-test mirror is not counted. */
static double
ns_per_route(const struct lg_result *r)
{
	if (!is_route_phase(r->ph->kind) || !r->rx_pfx)
		return 0;
	return r->cpu_s * 1e9 / (double)r->rx_pfx;
}

static double
max_busy(const struct lg_result *r)
{
	double b = 0;

	for (uint32_t i = 0; i < r->n_busy; i++)
		b = r->busy[i] > b ? r->busy[i] : b;
	return b;
}

/* ---- the table ------------------------------------------------------------------------ */
void
lg_report_table(FILE *f, const struct lg_opts *o, const struct lg_model *m,
                const struct lg_result *res, size_t n, double encode_s)
{
	(void)encode_s;
	fprintf(f, "\n%-24s %8s %8s %8s %8s %26s %9s %9s %11s %11s %5s\n", "phase", "time_s",
	        "sent_s", "conv_s", "routes", "spoke_done_s p50/p99/max", "tx_upd", "tx_pfx",
	        "rx_upd", "rx_pfx", "cpu%");
	for (size_t i = 0; i < n; i++) {
		const struct lg_result *r = &res[i];
		char spk[64] = "-", conv[16] = "-", sent[16] = "-", routes[16] = "-";
		if (r->n_spokes) {
			snprintf(spk, sizeof(spk), "%.3f/%.3f/%.3f", r->sp_p50, r->sp_p99,
			         r->sp_max);
			snprintf(conv, sizeof(conv), "%.3f", r->conv);
			snprintf(routes, sizeof(routes), "%u", r->expect_present);
		}
		if (r->send_done > 0)
			snprintf(sent, sizeof(sent), "%.3f", r->send_done);
		fprintf(f,
		        "%-24.24s %8.3f %8s %8s %8s %26s %9" PRIu64 " %9" PRIu64 " %11" PRIu64
		        " %11" PRIu64 " %5.0f%s\n",
		        r->ph->text, r->dur, sent, conv, routes, spk, r->tx_updates, r->tx_pfx,
		        r->rx_updates, r->rx_pfx, 100 * max_busy(r),
		        r->ok          ? ""
		        : r->timed_out ? "  TIMEOUT"
		                       : "  FAILED");
		if (rx_rate(r, false) > 0 || tx_rate(r, false) > 0)
			fprintf(
			    f,
			    "%-24s   received by spokes %.0f routes/s %.0f UPDATEs/s (%.1f MB); "
			    "loadgen CPU %.3f s, %.0f ns per route received\n",
			    "", rx_rate(r, false), rx_rate(r, true), (double)r->rx_bytes / 1e6,
			    r->cpu_s, ns_per_route(r));
		if (r->ph->kind == LG_PH_CHURN)
			fprintf(f,
			        "%-24s   propagation latency: %" PRIu64
			        " samples, p50 %.3f ms, p99 "
			        "%.3f ms, max %.3f ms; %" PRIu64 " churn UPDATEs skipped (route "
			        "server backlog)\n",
			        "", r->lat_n, r->lat_p50, r->lat_p99, r->lat_max, r->churn_skipped);
	}
	fprintf(f, "\n%u feeders, %u spokes, %u workload prefixes%s%s; loadgen threads: %u%s\n",
	        m->n_feeders, m->n_spokes, m->tab.n, o->replay ? " replayed from " : "",
	        o->replay ? o->replay : "", o->threads, o->self_test ? " + mirror" : "");
}

/* ---- JSON --------------------------------------------------------------------------------- */
static void
jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* The best figures of a run: the most routes/s the spokes received. */
static void
best(const struct lg_result *res, size_t n, double *rx_r, double *rx_m, double *tx_r, double *ns)
{
	*rx_r = *rx_m = *tx_r = *ns = 0;
	for (size_t i = 0; i < n; i++) {
		/* The initial announcement is what a ceiling is about. */
		if (!res[i].ok || res[i].ph->kind != LG_PH_ANNOUNCE)
			continue;
		if (rx_rate(&res[i], false) > *rx_r) {
			*rx_r = rx_rate(&res[i], false);
			*rx_m = rx_rate(&res[i], true);
			*ns = ns_per_route(&res[i]);
		}
		if (tx_rate(&res[i], false) > *tx_r)
			*tx_r = tx_rate(&res[i], false);
	}
}

struct ceiling {
	bool have;
	double rx_routes, rx_msgs, tx_routes, ns;
	char what[256];
};

static void
ceiling_load(const struct lg_opts *o, struct ceiling *c)
{
	json_error_t err;
	json_t *root, *cj;

	memset(c, 0, sizeof(*c));
	if (!o->ceiling)
		return;
	root = json_load_file(o->ceiling, 0, &err);
	if (!root) {
		fprintf(stderr, "routehub-loadgen: --ceiling %s: %s (line %d)\n", o->ceiling,
		        err.text, err.line);
		return;
	}
	cj = json_object_get(root, "ceiling");
	if (json_is_object(cj)) {
		c->rx_routes = json_number_value(json_object_get(cj, "rx_routes_per_s"));
		c->rx_msgs = json_number_value(json_object_get(cj, "rx_updates_per_s"));
		c->tx_routes = json_number_value(json_object_get(cj, "tx_routes_per_s"));
		c->ns = json_number_value(json_object_get(cj, "cpu_ns_per_route"));
		snprintf(c->what, sizeof(c->what), "%s",
		         json_string_value(json_object_get(cj, "scenario"))
		             ? json_string_value(json_object_get(cj, "scenario"))
		             : o->ceiling);
		c->have = c->rx_routes > 0;
	}
	json_decref(root);
}

void
lg_report_ceiling(FILE *f, const struct lg_opts *o, const struct lg_result *res, size_t n)
{
	struct ceiling c;
	double rx_r, rx_m, tx_r, ns;

	for (size_t i = 0; i < n; i++)
		if (res[i].dur >= 0.2 && max_busy(&res[i]) > 0.9)
			fprintf(
			    f,
			    "note: a loadgen thread was %.0f%% busy in phase %s: the loadgen may "
			    "have limited it\n",
			    100 * max_busy(&res[i]), res[i].ph->text);
	if (o->self_test) {
		best(res, n, &rx_r, &rx_m, &tx_r, &ns);
		fprintf(
		    f,
		    "self-test: no route server; these figures are the loadgen's own ceiling "
		    "on this machine: %.0f routes/s (%.0f UPDATEs/s) received and verified "
		    "(the mirror sharing the cores); the loadgen's threads spent %.0f ns of CPU "
		    "per route received\n",
		    rx_r, rx_m, ns);
		return;
	}
	ceiling_load(o, &c);
	if (!c.have) {
		fprintf(f,
		        "loadgen ceiling: unknown (give --ceiling FILE, the JSON of a --self-test "
		        "run with the same workload)\n");
		return;
	}
	fprintf(f,
	        "loadgen ceiling (self-test, %s): %.0f routes/s (%.0f UPDATEs/s) received and "
	        "verified, %.0f ns of loadgen CPU per route\n",
	        c.what, c.rx_routes, c.rx_msgs, c.ns);
	for (size_t i = 0; i < n; i++) {
		double r = rx_rate(&res[i], false);
		if (r > 0 && r >= 0.7 * c.rx_routes)
			fprintf(
			    f,
			    "WARNING: phase %s ran at %.0f%% of the loadgen's ceiling: its figure "
			    "may be the harness's limit, not the route server's\n",
			    res[i].ph->text, 100 * r / c.rx_routes);
	}
}

int
lg_report_json(FILE *f, const struct lg_opts *o, const struct lg_model *m,
               const struct lg_result *res, size_t n, bool ok, int code, const char *err,
               double encode_s)
{
	double rx_r, rx_m, tx_r, ns;
	struct ceiling c;
	char a[32], scen[256];
	size_t l = 0;

	lg_addr_str(lg_run->target_addr, a, sizeof(a));
	fprintf(f, "{\"tool\":\"routehub-loadgen\",\"ok\":%s,\"exit\":%d,\"error\":",
	        ok ? "true" : "false", code);
	if (err)
		jstr(f, err);
	else
		fputs("null", f);
	fprintf(f, ",\"mode\":\"%s\",\"target\":\"%s:%u\",\"rs_asn\":",
	        o->self_test ? "self-test" : "target", a, lg_run->target_port);
	if (o->rs_transparent)
		fputs("\"transparent\"", f);
	else
		fprintf(f, "%u", o->rs_asn);
	fprintf(f, ",\"ibgp_feeders\":%s", o->ibgp_feeders ? "true" : "false");
	fprintf(f,
	        ",\"feeders\":%u,\"spokes\":%u,\"overlap\":%u,\"prefixes\":%u,\"attr_sets\":%u,"
	        "\"threads\":%u,\"encode_s\":%.3f,\"replay\":",
	        m->n_feeders, m->n_spokes, o->replay ? m->n_feeders : o->overlap, m->tab.n,
	        m->n_asets, o->threads, encode_s);
	if (o->replay)
		jstr(f, o->replay);
	else
		fputs("null", f);
	fputs(",\"phases\":[", f);
	for (size_t i = 0; i < n; i++) {
		const struct lg_result *r = &res[i];
		fprintf(f, "%s{\"phase\":", i ? "," : "");
		jstr(f, r->ph->text);
		fprintf(
		    f,
		    ",\"kind\":\"%s\",\"ok\":%s,\"timed_out\":%s,\"seconds\":%.6f,"
		    "\"first_tx_s\":%.6f,\"send_done_s\":%.6f,\"converge_s\":%.6f,"
		    "\"spokes\":%u,\"spokes_done\":%u,\"spoke_p50_s\":%.6f,\"spoke_p99_s\":%.6f,"
		    "\"spoke_max_s\":%.6f,\"rx_span_s\":%.6f,\"expected_routes\":%u,\"expected_"
		    "digest\":\"%016" PRIx64 "\",\"tx_msgs\":%" PRIu64 ",\"tx_updates\":%" PRIu64
		    ",\"tx_prefixes\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"rx_msgs\":%" PRIu64
		    ",\"rx_updates\":%" PRIu64 ",\"rx_prefixes\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
		    ",\"tx_routes_per_s\":%.0f,\"tx_updates_per_s\":%.0f"
		    ",\"rx_routes_per_s\":%.0f,\"rx_updates_per_s\":%.0f",
		    lg_phase_name(r->ph->kind), r->ok ? "true" : "false",
		    r->timed_out ? "true" : "false", r->dur, r->first_tx, r->send_done, r->conv,
		    r->n_spokes, r->spokes_done, r->sp_p50, r->sp_p99, r->sp_max, r->rx_span,
		    r->expect_present, r->expect_digest, r->tx_msgs, r->tx_updates, r->tx_pfx,
		    r->tx_bytes, r->rx_msgs, r->rx_updates, r->rx_pfx, r->rx_bytes,
		    tx_rate(r, false), tx_rate(r, true), rx_rate(r, false), rx_rate(r, true));
		if (r->ph->kind == LG_PH_CHURN)
			fprintf(f,
			        ",\"latency\":{\"n\":%" PRIu64 ",\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
			        "\"max_ms\":%.3f},\"churn_skipped\":%" PRIu64,
			        r->lat_n, r->lat_p50, r->lat_p99, r->lat_max, r->churn_skipped);
		fprintf(f, ",\"rx_updates_shared\":%" PRIu64, r->rx_shared);
		fprintf(f, ",\"cpu_s\":%.4f,\"cpu_ns_per_route\":%.1f", r->cpu_s, ns_per_route(r));
		fputs(",\"busy\":[", f);
		for (uint32_t k = 0; k < r->n_busy; k++)
			fprintf(f, "%s%.3f", k ? "," : "", r->busy[k]);
		fputs("]", f);
		if (r->note[0]) {
			fputs(",\"note\":", f);
			jstr(f, r->note);
		}
		fputs("}", f);
	}
	fputs("],\"ceiling\":", f);
	if (o->self_test) {
		best(res, n, &rx_r, &rx_m, &tx_r, &ns);
		l = (size_t)snprintf(scen, sizeof(scen), "%u feeders x %u -> %u spokes%s%s",
		                     m->n_feeders, o->replay ? 0 : o->prefixes, m->n_spokes,
		                     o->replay ? ", replay " : "", o->replay ? o->replay : "");
		(void)l;
		fprintf(
		    f,
		    "{\"source\":\"self-test\",\"rx_routes_per_s\":%.0f,\"rx_updates_per_s\":%.0f,"
		    "\"tx_routes_per_s\":%.0f,\"cpu_ns_per_route\":%.1f,\"scenario\":",
		    rx_r, rx_m, tx_r, ns);
		jstr(f, scen);
		fputs("}", f);
	} else {
		ceiling_load(o, &c);
		if (c.have) {
			fprintf(f,
			        "{\"source\":\"file\",\"rx_routes_per_s\":%.0f,\"rx_updates_per_"
			        "s\":%.0f,"
			        "\"tx_routes_per_s\":%.0f,\"scenario\":",
			        c.rx_routes, c.rx_msgs, c.tx_routes);
			jstr(f, c.what);
			fputs("}", f);
		} else {
			fputs("null", f);
		}
	}
	fputs("}\n", f);
	return ferror(f) ? -1 : 0;
}
