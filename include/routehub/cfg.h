/*
 * routehub/cfg.h — the configuration: one YAML file turned into an immutable
 * struct cfg, the peer lookup used by the accept path, and the reload diff.
 *
 * Who runs it: the main thread loads and validates (at start and on SIGHUP or
 * an API reload); a loaded struct cfg is never modified afterwards, so any
 * thread may read it (cfg_peer_match from io threads on accept) for as long as
 * the owner keeps it alive.
 *
 * Errors: loading never stops at the first problem. Every problem found in one
 * pass is appended to a struct cfg_err_list as one line
 * "FILE:LINE: PATH: PROBLEM", sorted by line, e.g.
 *   routehub.yaml:12: peers[2].asn: 65515 is reserved (used by the route server itself)
 * A configuration with any error is refused whole (no struct cfg is returned).
 *
 * The key reference and every rule live in docs/configuration.md.
 */
#ifndef ROUTEHUB_CFG_H
#define ROUTEHUB_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sockaddr;

/* ---- defaults (the reference route server's values) ------------------------ */
#define CFG_DEFAULT_ASN        65515
#define CFG_DEFAULT_HOLD       180
#define CFG_DEFAULT_KEEPALIVE  60
#define CFG_DEFAULT_MAX_ROUTES 4000
#define CFG_DEFAULT_MULTIHOP   255
#define CFG_DEFAULT_PORT       179
#define CFG_DEFAULT_API_SOCKET "/run/routehub/api.sock"
#define CFG_PASSWORD_MAX       80  /* TCP_MD5SIG_MAXKEYLEN */
#define CFG_NAME_MAX           63

/*
 * An IPv4 or IPv6 address or prefix. IPv4 uses bytes 0..3, the rest is zero,
 * so two cfg_addr compare with memcmp. A host address has plen 32 or 128.
 */
struct cfg_addr {
	uint8_t		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 plen;
	uint8_t		 addr[16];
};

struct cfg_listen {
	struct cfg_addr	 addr;
	uint16_t	 port;
	int		 line;
};

enum cfg_role {
	CFG_ROLE_NVA = 0,
	CFG_ROLE_VPN_GATEWAY,
	CFG_ROLE_EXPRESSROUTE_GATEWAY,
	CFG_ROLE_ROUTE_SERVER,		/* the HA twin */
	CFG_ROLE_RR_CLIENT,		/* iBGP: host / spoke agent */
	CFG_ROLE_COUNT,
};

enum cfg_max_routes_action {
	CFG_MAXR_TEARDOWN = 0,		/* Cease / maximum prefixes (reference) */
	CFG_MAXR_WARN,			/* log once, keep the session */
};

enum cfg_log_level {
	CFG_LOG_DEBUG = 0,
	CFG_LOG_INFO,
	CFG_LOG_NOTICE,
	CFG_LOG_WARN,
	CFG_LOG_ERROR,
};

enum cfg_routing_pref {
	CFG_PREF_EXPRESSROUTE = 0,	/* reference default */
	CFG_PREF_VPN,
	CFG_PREF_ASPATH,
};

struct cfg_peer {
	char			*name;
	char			*description;	/* may be NULL */
	bool			 is_range;	/* addr is a prefix (dynamic peers) */
	struct cfg_addr		 addr;
	bool			 asn_any;	/* only with is_range */
	uint32_t		 asn;		/* 0 when asn_any */
	enum cfg_role		 role;
	bool			 ibgp;		/* role == CFG_ROLE_RR_CLIENT */
	bool			 enabled;
	bool			 passive;	/* always true for ranges */
	bool			 transparent;	/* RFC 7947: no own-ASN prepend */
	bool			 route_refresh;	/* RFC 2918 / RFC 7313 */
	bool			 ttl_security;	/* RFC 5082 GTSM */
	uint16_t		 hold_time;
	uint16_t		 keepalive;
	uint8_t			 multihop;	/* TTL, or hop count with GTSM */
	char			*password;	/* TCP-MD5 (RFC 2385), NULL if none */
	bool			 has_local_address;
	struct cfg_addr		 local_address;
	uint32_t		 max_routes;	/* 0: no limit */
	enum cfg_max_routes_action max_routes_action;
	int			 line;		/* line of the entry in the file */
};

struct cfg_spoke {
	char			*name;
	struct cfg_addr		*address_spaces;
	size_t			 naddress_spaces;
	bool			 use_remote_route_server;
	int			 line;
};

struct cfg_index;

struct cfg {
	char			*name;		/* file name given to the loader */

	/* local: */
	uint32_t		 asn;
	uint32_t		 router_id;	/* host byte order */
	uint32_t		 cluster_id;	/* host byte order; default router_id */
	struct cfg_listen	*listen;
	size_t			 nlisten;
	unsigned int		 io_threads;
	unsigned int		 rib_threads;
	bool			 two_octet_asn_only;
	char			*api_socket;
	char			*api_listen_str;	/* NULL: no TCP API */
	struct cfg_listen	 api_listen;
	char			*api_token;
	enum cfg_log_level	 log_level;

	/* hub policy */
	bool			 branch_to_branch;
	enum cfg_routing_pref	 routing_preference;
	struct cfg_addr		*hub_address_spaces;
	size_t			 nhub_address_spaces;
	struct cfg_spoke	*spokes;
	size_t			 nspokes;

	struct cfg_peer		*peers;
	size_t			 npeers;

	struct cfg_index	*index;		/* private: cfg_peer_match */
};

/* ---- errors ----------------------------------------------------------------- */
struct cfg_err {
	int		 line;		/* 0: not tied to a line */
	unsigned int	 seq;		/* insertion order, for a stable sort */
	char		*msg;		/* "FILE:LINE: PATH: PROBLEM" */
};

struct cfg_err_list {
	struct cfg_err	*v;
	size_t		 n;
	size_t		 cap;
};

void	cfg_errs_init(struct cfg_err_list *);
void	cfg_errs_fini(struct cfg_err_list *);
/* Writes every message, one per line. */
void	cfg_errs_print(const struct cfg_err_list *, FILE *);

/* ---- loading ---------------------------------------------------------------- */
/*
 * Parse and validate. On success *out owns a new struct cfg and 0 is returned.
 * On failure -1 is returned, *out is NULL and errs (if not NULL; else stderr)
 * holds every problem found. `name` is the file name used in messages.
 */
int	cfg_load(const char *path, struct cfg **out, struct cfg_err_list *errs);
int	cfg_parse_buf(const char *name, const char *buf, size_t len,
	    struct cfg **out, struct cfg_err_list *errs);
void	cfg_free(struct cfg *);

/* The embedded demo configuration (docs/configuration.md, "Default"). */
const char	*cfg_default_yaml(void);
int		 cfg_load_default(struct cfg **out, struct cfg_err_list *errs);

/* ---- lookups ---------------------------------------------------------------- */
/*
 * The peer entry a connection from `src` (AF_INET or AF_INET6; IPv4-mapped
 * IPv6 counts as IPv4; the port is ignored) belongs to: the peer with exactly
 * that address first, else the range containing it (ranges never overlap).
 * NULL when nothing matches. Disabled peers are returned too: the caller
 * refuses them. O(log n) in the number of peers.
 */
const struct cfg_peer	*cfg_peer_match(const struct cfg *, const struct sockaddr *src);
const struct cfg_peer	*cfg_peer_match_addr(const struct cfg *, const struct cfg_addr *);
const struct cfg_peer	*cfg_peer_find(const struct cfg *, const char *name);

/* ---- reload diff ------------------------------------------------------------ */
enum cfg_diff_kind {
	CFG_DIFF_ADDED = 0,
	CFG_DIFF_REMOVED,
	CFG_DIFF_RESTART,	/* a setting changed that needs a new session */
	CFG_DIFF_UPDATE,	/* only live settings changed (max_routes, description) */
	CFG_DIFF_UNCHANGED,
};

/* Changes outside peers[], as a bit mask returned by cfg_diff. */
enum cfg_diff_global {
	CFG_CHG_LOCAL = 0x01,	/* asn, router_id, cluster_id: every session restarts */
	CFG_CHG_LISTEN = 0x02,
	CFG_CHG_THREADS = 0x04,	/* takes effect at the next start only */
	CFG_CHG_API = 0x08,
	CFG_CHG_LOG = 0x10,
	CFG_CHG_POLICY = 0x20,	/* branch_to_branch, routing_preference */
	CFG_CHG_HUB = 0x40,	/* hub address spaces or spokes: soft reset NVAs */
};

typedef void	(*cfg_diff_cb)(enum cfg_diff_kind, const struct cfg_peer *oldp,
		    const struct cfg_peer *newp, void *arg);

/*
 * Peers are matched by name. The callback sees every REMOVED peer first (in
 * old order, so their addresses are free), then each new peer in new order as
 * ADDED, RESTART, UPDATE or UNCHANGED. When local settings changed
 * (CFG_CHG_LOCAL), every kept peer is reported as RESTART.
 * Returns the enum cfg_diff_global mask. Both configurations must be loaded.
 */
int	cfg_diff(const struct cfg *oldc, const struct cfg *newc, cfg_diff_cb, void *arg);
const char	*cfg_diff_kind_name(enum cfg_diff_kind);

/* ---- small helpers shared with the rest of routehub ------------------------ */
const char	*cfg_role_name(enum cfg_role);
const char	*cfg_log_level_name(enum cfg_log_level);
const char	*cfg_routing_pref_name(enum cfg_routing_pref);
/* "10.1.1.4" / "2001:db8::1" (plen = 32/128). 0 or -1. */
int	cfg_addr_parse(const char *, struct cfg_addr *);
/* "10.1.0.0/16"; *host_bits set if bits beyond plen are set (still parsed). */
int	cfg_prefix_parse(const char *, struct cfg_addr *, bool *host_bits);
/* Address, or address/plen when plen is not the full length. */
void	cfg_addr_fmt(const struct cfg_addr *, char *buf, size_t len);
bool	cfg_prefix_contains(const struct cfg_addr *pfx, const struct cfg_addr *a);
bool	cfg_prefix_overlap(const struct cfg_addr *, const struct cfg_addr *);
int	cfg_addr_from_sockaddr(const struct sockaddr *, struct cfg_addr *);
/* Why an ASN may not be used, or NULL. `peer` adds the peer-only reservations. */
const char	*cfg_asn_reserved(uint32_t asn, bool peer);

#endif /* ROUTEHUB_CFG_H */
