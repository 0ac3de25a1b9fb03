/*
 * lg.h — routehub-loadgen: the types every file of the load generator shares.
 *
 * The load generator plays many BGP speakers against one route server (or,
 * in self-test mode, against its own mirror). Its rules, so that it is never
 * the bottleneck of what it measures:
 *
 *  - everything a feeder will ever send is encoded before the clock starts
 *    (struct lg_stream, struct lg_churn); sending is writev of those bytes;
 *  - a session belongs to exactly one thread (struct lg_worker); threads
 *    share only read-only model data (struct lg_model), the per-phase
 *    expectation (atomics, published by the main thread), and counters that
 *    are atomics with relaxed order;
 *  - receiving allocates nothing per prefix: a spoke keeps one uint16_t per
 *    expected prefix (which feeder its current route came from) and a few
 *    counters, updated as UPDATEs arrive; an UPDATE is verified into a list
 *    of per-prefix ops once per thread and set of identical bytes, and each
 *    spoke that receives those bytes applies the ops to its own state.
 *
 * Files: opts.c (command line, scenario), work.c (synthetic workload,
 * attribute templates, expected table, stream encoding), replay.c (MRT
 * replay workload), sess.c (threads, sockets, BGP session FSM, send queues),
 * spoke.c (receive-side verification), mirror.c (self-test sink/mirror),
 * main.c (phases and measurement), report.c (histograms, table, JSON).
 */
#ifndef BENCH_LOADGEN_LG_H
#define BENCH_LOADGEN_LG_H

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "routehub/bgp.h"

#define LG_MAX_THREADS 16
/* A spoke's per-prefix state is a uint16_t: 0 absent, feeder + 1, with
 * LG_ST_OLD set when the route is one the feeder announced earlier in a
 * replay (right, but not yet the last word), or LG_ST_CORRUPT. */
#define LG_MAX_FEEDERS 32000
#define LG_ST_OLD      0x8000
#define LG_ST_CORRUPT  0xffff

/* Large community that carries a send timestamp (RFC 8092 §3): global
 * administrator LG_STAMP_GA, data 1 and 2 the high and low 32 bits of the
 * CLOCK_MONOTONIC time in ns. The placeholder is patched at send time. */
#define LG_STAMP_GA  0x524c4753u /* "RLGS" */
#define LG_STAMP_PH1 0xa5a5a5a5u
#define LG_STAMP_PH2 0x5a5a5a5au

/* Next hops come from the RFC 2544 benchmarking range (198.18.0.0/15) and
 * the RFC 5180 one for IPv6 (2001:2::/48): feeder f announces base + f + 1,
 * so a spoke maps a next hop back to its feeder with one subtraction. */
#define LG_NH4_BASE 0xc6120000u /* 198.18.0.0 */

/* ---- options --------------------------------------------------------------- */
enum lg_phase_kind {
	LG_PH_ESTABLISH = 0,
	LG_PH_ANNOUNCE,
	LG_PH_EOR,
	LG_PH_WITHDRAW,
	LG_PH_CHURN,
	LG_PH_RESET,
	LG_PH_RECONNECT,
	LG_PH_REFRESH,
	LG_PH_WAIT,
	LG_PH_PAUSE,
	LG_PH_MAX,
};

struct lg_phase {
	enum lg_phase_kind kind;
	char *sel;       /* feeder (or spoke, for refresh) selector; NULL = all */
	double rate;     /* churn: prefix updates per second, all feeders together */
	double duration; /* churn, pause: seconds */
	uint32_t batch;  /* churn: prefixes per UPDATE */
	bool tcp;        /* reset: close without NOTIFICATION */
	char text[96];   /* as written, for the report */
};

enum lg_corrupt {
	LG_CORRUPT_NONE = 0,
	LG_CORRUPT_DIGEST, /* expected digest off by one: the digest check must fail */
	LG_CORRUPT_COUNT,  /* one route more expected than exists: the phase must time out */
	LG_CORRUPT_ROUTE,  /* self-test: the mirror alters one UPDATE to the last spoke only */
	/* Self-test, iBGP feeders and spokes: the mirror alters that attribute
	 * (value) of one reflected UPDATE to the last spoke only. */
	LG_CORRUPT_LOCAL_PREF,
	LG_CORRUPT_ORIGINATOR,
	LG_CORRUPT_CLUSTER,
};

struct lg_opts {
	bool self_test;
	uint32_t target_addr; /* host order */
	uint16_t target_port;
	uint32_t listen_addr;
	uint16_t listen_port;
	bool rs_transparent;
	uint32_t rs_asn;

	uint32_t n_feeders, n_spokes;
	uint32_t feeder_addr, spoke_addr;         /* first source address, host order */
	uint32_t feeder_asn, spoke_asn;           /* first ASN */
	uint32_t feeder_asn_step, spoke_asn_step; /* added per session (1; 0 = all equal) */
	/* Feeders are internal peers of the route server (its ASN, route-reflector
	 * clients): no own ASN in AS_PATH, LOCAL_PREF sent (RFC 4271 §5.1.2,
	 * §5.1.5); spokes expect the RR's ORIGINATOR_ID and CLUSTER_LIST. */
	bool ibgp_feeders;
	uint32_t local_pref; /* the iBGP feeders' LOCAL_PREF */
	bool have_cluster_id;
	uint32_t cluster_id; /* expected CLUSTER_ID (host order); else the RS's BGP id */
	uint16_t hold;
	uint32_t connect_batch;
	uint32_t threads;
	bool extmsg;

	uint32_t prefixes;    /* per group */
	uint32_t len_mix[33]; /* weights per IPv4 prefix length */
	uint32_t v6_pct;      /* share of IPv6 prefixes */
	uint32_t attr_sets, aspath_len, communities, large_comms;
	uint32_t overlap; /* feeders per group announcing the same prefixes */
	uint32_t max_per_update;
	uint64_t seed;
	const char *replay;
	uint64_t replay_max; /* UPDATE messages read from the file; 0 = all */
	uint32_t churn_pool; /* pre-encoded churn messages per feeder */

	struct lg_phase *phases;
	size_t n_phases;
	double timeout;
	double settle; /* s without spoke input before a phase is declared over */

	enum lg_corrupt expect_corrupt;
	bool ignore_unknown;
	bool no_rx_cache; /* verify every UPDATE at every spoke (no sharing, lg_rxcache) */

	const char *json_path, *dump_peers, *ceiling, *save_ceiling;
	int verbose;
	bool quiet;
};

int lg_opts_parse(struct lg_opts *o, int argc, char **argv);
void lg_opts_fini(struct lg_opts *o);
/* Resolve a selector ("all", "0-3,7", "even", "odd") into flags[n]. */
int lg_sel_parse(const char *sel, uint32_t n, uint8_t *flags);
const char *lg_phase_name(enum lg_phase_kind k);

/* ---- workload model (read-only once the clock starts) ---------------------- */

/* One attribute set as the feeders send it: canonical attributes
 * (routehub/bgp.h) rendered for feeder 0; other feeders patch their ASN and
 * next hop at the recorded offsets (same layout for every feeder). */
struct lg_aset {
	uint8_t *canon;
	uint16_t len;
	uint16_t off_asn; /* first AS of AS_PATH: the feeder's own; 0 = none (iBGP feeders) */
	uint16_t off_nh;  /* NEXT_HOP value, or MP_REACH_NLRI next hop */
	uint8_t nh_len;   /* 4 or 16 */
	uint8_t af;       /* enum bgp_af */
	uint8_t *scanon;  /* the same plus the timestamp large community */
	uint16_t slen;
	uint64_t hbase; /* lg_path_hash of the AS path behind the feeder's ASN (iBGP: all of it) */
};

/* A pre-encoded run of UPDATE messages. */
struct lg_stream {
	uint8_t *buf;
	size_t len;
	uint32_t n_msgs;
	uint64_t n_pfx;
};

/* Pre-encoded churn messages; stamp_off locates the timestamp placeholder. */
struct lg_churn {
	uint8_t *buf;
	size_t len;
	uint32_t n;
	uint32_t *off;
	uint16_t *mlen;
	uint16_t *stamp_off;
	uint16_t *npfx;
};

struct lg_sess;

struct lg_feeder {
	uint32_t idx, asn, addr;
	uint32_t group; /* index in lg_model.groups */
	uint32_t nh4;   /* host order */
	uint8_t nh6[16];
	struct lg_stream ann, wd;
	struct lg_stream mann; /* self-test, iBGP feeders: ann as the mirror passes it on */
	struct lg_churn churn;
	/* Set by the main thread before it commands a phase; read by the
	 * self-test mirror. 1 = this feeder's routes are meant to be held. */
	_Atomic uint8_t announced;
	struct lg_sess *sess;
};

struct lg_group {
	uint32_t first, count;   /* feeders */
	uint32_t pfx_off, n_pfx; /* entry indices in lg_model.gpfx */
	uint32_t n_final;        /* of them present at the end of the stream */
};

/* One prefix the workload ever announces. */
struct lg_pent {
	uint64_t k0, k1; /* address, network order bytes */
	uint8_t af, len;
	uint8_t final; /* present once the feeders' announce streams are done */
	uint8_t pad;
	uint32_t group;
	uint32_t aset;    /* the last attribute set announced */
	uint32_t alt;     /* earlier ones (replay): index + 1 in lg_model.alts */
	uint64_t contrib; /* this prefix's term in the digest */
};

struct lg_alt {
	uint32_t aset;
	uint32_t next; /* index + 1, 0 = end */
};

struct lg_table {
	struct lg_pent *e;
	uint32_t n, cap;
	uint32_t *slot; /* entry index + 1; 0 = empty */
	uint32_t mask;
};

/* The expectation the spokes converge to, published by the main thread as a
 * seqlock: gen odd (relaxed) and a release fence, the fields (relaxed), gen
 * even (release). A spoke reads gen (acquire), the fields, an acquire fence
 * and gen again; it trusts what it read only if gen was even and unchanged. */
enum lg_exp_mode {
	LG_EXP_ROUTES = 0, /* hold exactly the routes of the announced feeders */
	LG_EXP_REFRESH,    /* received >= present announcements since the request */
	LG_EXP_NONE,       /* nothing to wait for */
};
struct lg_expect {
	_Atomic uint32_t gen;
	_Atomic uint32_t mode;
	_Atomic uint32_t present;
	_Atomic uint64_t digest;
	_Atomic uint32_t phase; /* index into the phase list, for per-phase stats */
	/* Two buffers, used by generations of either parity: the main thread
	 * fills the one of gen + 1 while spokes may still read the other. */
	_Atomic uint32_t n_inactive[2];
	_Atomic uint32_t *inactive[2]; /* feeders whose routes must be gone */
	_Atomic uint8_t *ssel[2];      /* LG_EXP_REFRESH: the spokes that asked */
};

/* Which of the double buffers of lg_expect belongs to an (even) generation. */
static inline unsigned
lg_gen_buf(uint32_t gen)
{
	return (gen >> 1) & 1;
}

struct lg_model {
	const struct lg_opts *o;
	uint32_t n_feeders, n_spokes;
	struct lg_feeder *feeders;
	struct lg_group *groups;
	uint32_t n_groups;
	struct lg_aset *asets;
	uint32_t n_asets, cap_asets;
	struct lg_table tab;
	uint32_t *gpfx; /* per group, in announce order */
	struct lg_alt *alts;
	uint32_t n_alts, cap_alts;
	bool has_v6;
	bool transparent;
	uint32_t rs_asn;
	bool ibgp_feeders;   /* lg_opts.ibgp_feeders */
	uint32_t local_pref; /* what iBGP feeders send */
	uint8_t eor4[BGP_UPDATE_MIN_LEN];
	uint8_t eor6[BGP_UPDATE_MIN_LEN + 8];
	size_t eor6_len;
	struct lg_expect exp;
	uint64_t replay_msgs, replay_skipped, replay_tawd; /* replay statistics */
};

/* work.c */
int lg_model_init(struct lg_model *m, const struct lg_opts *o);
void lg_model_fini(struct lg_model *m);
int lg_model_synth(struct lg_model *m);
int lg_model_encode(struct lg_model *m);
int lg_table_insert(struct lg_table *t, const struct bgp_prefix *p, uint32_t *idx, bool *fresh);
int64_t lg_table_find(const struct lg_table *t, const struct bgp_prefix *p);
void lg_pent_prefix(const struct lg_pent *e, struct bgp_prefix *p);
int lg_aset_add(struct lg_model *m, const struct bgp_attrs *base, uint8_t af, uint32_t *id);
uint64_t lg_pent_contrib(const struct lg_pent *e, uint32_t group);
/* Expected routes at a spoke for the given per-feeder "held" flags. */
void lg_expect_compute(const struct lg_model *m, const uint8_t *held, uint32_t *present,
                       uint64_t *digest);

/* A growing buffer of encoded messages. */
struct lg_sbuf {
	uint8_t *p;
	size_t len, cap;
	uint32_t n;
	uint64_t npfx;
};
int lg_groups_alloc(struct lg_model *m, uint32_t n_groups, uint32_t size);
void lg_enc_sess(const struct lg_model *m, struct bgp_sess *s);
size_t lg_aset_render(const struct lg_aset *as, const struct lg_feeder *f, bool stamped,
                      uint8_t *out);
int lg_emit_announce(const struct lg_model *m, struct lg_sbuf *b, const uint8_t *attrs, size_t alen,
                     uint8_t af, const struct bgp_prefix *pfx, size_t n);
int lg_emit_withdraw(const struct lg_model *m, struct lg_sbuf *b, uint8_t af,
                     const struct bgp_prefix *pfx, size_t n);

/* replay.c */
int lg_model_replay(struct lg_model *m);
int lg_replay_encode(struct lg_model *m, struct lg_feeder *f);
void lg_replay_fini(void);

/* AS path token hash (work.c): independent of how AS_SEQUENCE segments are
 * split, so that a route server prepending its ASN into the first segment or
 * into a new one hashes the same. Folded from the right, so prepending is
 * lg_path_prepend(h, asn). */
int lg_path_hash(const uint8_t *p, size_t len, uint64_t *h);
uint64_t lg_path_prepend(uint64_t h, uint32_t asn);
static inline uint64_t
lg_mix64(uint64_t x)
{
	/* splitmix64 finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* The prefix table's hash of a key (lg_pent k0, k1, af, len). */
static inline uint64_t
lg_key_hash(uint64_t k0, uint64_t k1, uint8_t af, uint8_t len)
{
	return lg_mix64(k0 ^ lg_mix64(k1 ^ ((uint64_t)af << 8 | len)));
}
/* lg_table_find with the key split and its lg_key_hash computed. */
int64_t lg_table_find_h(const struct lg_table *t, uint64_t k0, uint64_t k1, uint8_t af, uint8_t len,
                        uint64_t h);

/* ---- time ------------------------------------------------------------------------ */
uint64_t lg_now(void); /* CLOCK_MONOTONIC, ns */

/* ---- histograms (report.c) ------------------------------------------------------ */
#define LG_HIST_SUB 64
#define LG_HIST_POW 44
struct lg_hist {
	uint64_t n, max, sum;
	uint64_t b[LG_HIST_POW * LG_HIST_SUB];
};
void lg_hist_add(struct lg_hist *h, uint64_t v);
void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src);
uint64_t lg_hist_pct(const struct lg_hist *h, double pct);

/* ---- sessions and threads (sess.c) ------------------------------------------------ */
enum lg_role {
	LG_ROLE_FEEDER = 0,
	LG_ROLE_SPOKE,
	LG_ROLE_MFEEDER, /* self-test mirror: the accepted end of a feeder */
	LG_ROLE_MSPOKE,  /* self-test mirror: the accepted end of a spoke */
	LG_ROLE_MAX,
};

enum lg_state {
	LG_S_IDLE = 0,
	LG_S_WAITSLOT, /* waiting for a connect slot (listen backlog) */
	LG_S_CONNECTING,
	LG_S_OPENSENT,
	LG_S_OPENCONFIRM,
	LG_S_ESTABLISHED,
	LG_S_DOWN,
};

struct lg_seg {
	const uint8_t *p;
	uint32_t len;
	uint8_t owned; /* free(p) once written */
};

/* Per spoke receive state (spoke.c). */
struct lg_spoke {
	uint16_t *state;    /* per prefix: 0 absent, feeder + 1, LG_ST_CORRUPT; indexed by
	                       the prefix's position in its thread (spoke.c) */
	uint32_t *cnt_from; /* per feeder: prefixes whose current route is its */
	/* read by the main thread while the owner writes them: relaxed atomics */
	_Atomic uint32_t n_present;       /* correct routes of prefixes meant to be present */
	_Atomic uint32_t n_extra;         /* correct routes of prefixes meant to be absent */
	_Atomic uint32_t n_old;           /* routes a feeder replaced later in the replay */
	_Atomic uint32_t n_corrupt;       /* prefixes whose route is wrong now */
	_Atomic uint64_t n_corrupt_total; /* wrong routes ever received */
	_Atomic uint64_t n_unknown;       /* announcements of prefixes not in the workload */
	_Atomic uint64_t n_ann;           /* announcements received */
	_Atomic uint64_t digest;
	_Atomic uint32_t done_gen;
	uint64_t done_ns;
	uint64_t rr_base; /* n_ann when the refresh was requested */
	uint32_t rr_gen;  /* the expectation generation of that request */
	uint64_t n_wd_absent, n_wd_unknown;
	uint32_t corrupt_logged;
};

struct lg_worker;
struct lg_rxcache;

struct lg_sess {
	int fd;
	uint8_t role;   /* enum lg_role */
	uint8_t state;  /* enum lg_state */
	bool out_armed; /* EPOLLOUT requested */
	bool has_slot;  /* holds a connect slot */
	bool want_down; /* a reset was requested: going down is expected */
	bool announced; /* feeder: its announce stream was queued */
	uint32_t idx;   /* within its role */
	uint32_t asn;
	uint32_t addr; /* host order */
	struct lg_worker *w;
	struct bgp_sess bs;
	uint16_t hold;
	uint32_t peer_asn;
	uint32_t peer_id; /* the peer's BGP Identifier (OPEN), host order */
	uint64_t next_ka, retry_at;
	uint32_t retries;
	bool ever_est; /* established since the last connect command */
	bool churning;
	char last_err[96];
	/* output queue: a ring of segments */
	struct lg_seg *q;
	uint32_t qhead, qn, qcap;
	uint32_t qoff;   /* bytes of the head segment already written */
	uint64_t qbytes; /* bytes queued, not yet written */
	bool flush_note; /* signal the main thread when the queue drains */
	/* input: an incomplete message carried over between reads */
	uint8_t *carry;
	uint32_t carry_len, carry_cap;
	/* statistics (owner thread only) */
	uint64_t t_est;
	uint64_t t_flushed;
	uint64_t rx_notify;
	/* role data */
	struct lg_spoke *sp;
	uint64_t log_cur; /* MSPOKE: position in the mirror's log */
	bool rr_pending;  /* MSPOKE: a ROUTE-REFRESH to answer at a message boundary */
	bool corrupt_due; /* MSPOKE: --expect-corrupt route, not yet sent */
	uint64_t wd_pos;  /* MFEEDER: how far its messages follow its withdraw stream */
	bool wd_taken;    /* MFEEDER: group partners took over for this withdrawal */
	/* churn (feeders) */
	uint64_t churn_sent;
	uint32_t churn_next;
};

/* Counters per worker, per role: relaxed atomics so that the main thread may
 * read them while the worker runs. */
struct lg_counters {
	_Atomic uint64_t tx_bytes, tx_msgs, tx_updates, tx_pfx;
	_Atomic uint64_t rx_bytes, rx_msgs, rx_updates, rx_pfx;
};

enum lg_cmd_kind {
	LG_CMD_CONNECT = 1, /* sessions flagged in sel (feeders, spokes) */
	LG_CMD_ANNOUNCE,
	LG_CMD_EOR,
	LG_CMD_WITHDRAW,
	LG_CMD_CHURN,
	LG_CMD_RESET,
	LG_CMD_REFRESH,
	LG_CMD_CHECK, /* re-check spokes against a new expectation */
	LG_CMD_STOP,
};

struct lg_cmd {
	enum lg_cmd_kind kind;
	const uint8_t *fsel; /* per feeder flags, owned by the main thread */
	const uint8_t *ssel; /* per spoke flags */
	double rate, duration;
	uint32_t batch;
	bool tcp;
	uint64_t t0;
};

struct lg_worker {
	int id;
	pthread_t th;
	int epfd, evfd;
	bool mirror;
	struct lg_model *m;
	pthread_mutex_t mu;
	struct lg_cmd cmds[32];
	unsigned ncmd;
	struct lg_sess **sess;
	uint32_t nsess, capsess;
	uint8_t *rbuf;
	size_t rcap;
	bool stop;
	uint64_t posted;        /* commands posted (under mu) */
	_Atomic uint64_t acked; /* commands handled */
	uint32_t pending;       /* sessions waiting for a connect slot */
	uint64_t next_tick;
	/* churn in progress */
	bool churning;
	uint64_t churn_t0, churn_end;
	double churn_mps; /* messages per second per feeder */
	/* first UPDATE written in the current phase (0 = none yet) */
	_Atomic uint64_t t_first_tx;
	_Atomic uint64_t busy_ns;       /* CPU time the thread used */
	_Atomic uint64_t last_stamp_rx; /* when the last timestamped route arrived */
	_Atomic uint64_t last_spoke_rx; /* when a spoke of this worker last got an UPDATE */
	bool spoke_rx;                  /* one did in this read */
	_Atomic uint64_t churn_skipped;
	_Atomic uint32_t churn_active; /* feeders of this worker still churning */
	struct lg_counters c[LG_ROLE_MAX];
	struct lg_hist *lat; /* per phase: churn propagation latency */
	/* spokes: verified UPDATEs shared between this thread's spokes (spoke.c) */
	struct lg_rxcache *rxc;
	_Atomic uint64_t rx_cached; /* UPDATEs applied from it */
	/* self-test mirror */
	int lfd;
	uint8_t *log;
	size_t log_len, log_cap, log_flushed;
};

struct lg_run {
	struct lg_model *m;
	const struct lg_opts *o;
	struct lg_worker *w;
	uint32_t nw; /* workers, the mirror included */
	struct lg_sess *feeders, *spokes;
	struct lg_sess *mfeeders, *mspokes; /* self-test mirror ends */
	uint32_t target_addr;               /* host order */
	uint16_t target_port;
	_Atomic uint32_t slots; /* connect slots in use */
	uint32_t max_slots;
	_Atomic uint32_t n_est[LG_ROLE_MAX]; /* sessions established */
	_Atomic int32_t flush_pending;       /* streams queued, not yet written out */
	int mainfd;                          /* eventfd the workers use to wake the main thread */
	_Atomic uint32_t n_fatal;
	char fatal[256];
	pthread_mutex_t fatal_mu;
};

extern struct lg_run *lg_run;

/* What one phase measured (main.c fills it, report.c prints it). Times are
 * in seconds; t_ref is the first UPDATE written in the phase (or the phase
 * start when it wrote none). */
struct lg_result {
	const struct lg_phase *ph;
	bool ran, ok, timed_out;
	char note[512];
	double start, dur;
	double first_tx;  /* t_ref - phase start */
	double send_done; /* feeders' streams written out, from t_ref */
	double conv;      /* last spoke complete, from t_ref */
	double rx_span;   /* last UPDATE at a spoke, from t_ref (rates use it) */
	double sp_p50, sp_p99, sp_max;
	uint32_t n_spokes, spokes_done;
	uint32_t expect_present;
	uint64_t expect_digest;
	uint64_t tx_msgs, tx_updates, tx_pfx, tx_bytes;
	uint64_t rx_msgs, rx_updates, rx_pfx, rx_bytes;
	uint64_t rx_shared; /* UPDATEs whose verified result a spoke reused (spoke.c) */
	uint64_t churn_skipped;
	uint64_t lat_n;
	double lat_p50, lat_p99, lat_max; /* ms */
	double busy[LG_MAX_THREADS];      /* share of the phase each thread was busy */
	uint32_t n_busy;
	double cpu_s; /* CPU of the feeder and spoke threads */
};

/* report.c */
void lg_report_table(FILE *f, const struct lg_opts *o, const struct lg_model *m,
                     const struct lg_result *res, size_t n, double encode_s);
int lg_report_json(FILE *f, const struct lg_opts *o, const struct lg_model *m,
                   const struct lg_result *res, size_t n, bool ok, int code, const char *err,
                   double encode_s);
void lg_report_ceiling(FILE *f, const struct lg_opts *o, const struct lg_result *res, size_t n);

int lg_run_start(struct lg_run *r);
void lg_run_stop(struct lg_run *r);
void lg_cmd_post(struct lg_run *r, const struct lg_cmd *c);
bool lg_cmd_acked(struct lg_run *r);
void lg_wake_main(void);
void lg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lg_sess_send(struct lg_sess *s, const uint8_t *p, size_t len, bool owned);
void lg_sess_down(struct lg_sess *s, const char *why);
const char *lg_role_name(enum lg_role r);
void lg_addr_str(uint32_t addr, char *buf, size_t cap);
/* Room for n more bytes at b->p + b->len (the buffer doubles from 64 KiB);
 * NULL when out of memory. */
uint8_t *lg_sbuf_reserve(struct lg_sbuf *b, size_t n);

/* spoke.c */
int lg_spoke_init(struct lg_spoke *sp, const struct lg_model *m);
void lg_spoke_fini(struct lg_spoke *sp);
/* Verify an UPDATE and apply it to the spoke. A thread's spokes share the
 * verified result of byte-identical UPDATEs (the route server's update
 * groups): see lg_rxcache in spoke.c. */
void lg_spoke_update(struct lg_sess *s, const uint8_t *msg, size_t len);
void lg_rxcache_free(struct lg_worker *w);
/* Compare with the published expectation; marks done and wakes the main
 * thread on the first match of a generation. */
void lg_spoke_check(struct lg_sess *s);
bool lg_spoke_matches(const struct lg_model *m, const struct lg_spoke *sp, uint32_t *gen);

/* mirror.c */
/* The mirror's ASN: the feeders' with --ibgp-feeders (it is their route
 * reflector), else a private one that is nobody's. */
uint32_t lg_mirror_asn(const struct lg_opts *o);
int lg_mirror_listen(struct lg_run *r, struct lg_worker *w);
void lg_mirror_accept(struct lg_worker *w);
void lg_mirror_update(struct lg_sess *s, const uint8_t *msg, size_t len);
void lg_mirror_down(struct lg_sess *s);
void lg_mirror_flush(struct lg_worker *w);
int lg_mirror_write(struct lg_sess *s);

#endif /* BENCH_LOADGEN_LG_H */
