/*
 * routehub/bgp.h — the BGP-4 message codec: the only way the rest of routehub
 * reads or writes BGP on the wire.
 *
 * Pure functions: no I/O, no global state, no allocation. Decoders take
 * (const uint8_t *, size_t), never read past the end, and describe what they
 * found with pointers into the caller's buffer (which must outlive the result).
 *
 * Error handling follows RFC 4271 §6 as revised by RFC 7606 and RFC 7607: every
 * malformed case maps to exactly one outcome (enum bgp_action): the session is
 * reset with the NOTIFICATION in struct bgp_error, the UPDATE's routes are
 * treated as withdrawn, or the offending attribute is discarded.
 *
 * Attribute sets have a canonical encoding (bgp_attrs_canon): the path
 * attributes, sorted by type code, 4-octet AS numbers throughout (AS4_PATH and
 * AS4_AGGREGATOR merged per RFC 6793 §4.2.3), minimal flags, and for multiprotocol
 * routes an MP_REACH_NLRI attribute holding only the next hop. Equal sets have
 * equal bytes, so the canonical form plus its hash is the key for interning.
 */
#ifndef ROUTEHUB_BGP_H
#define ROUTEHUB_BGP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- RFC 4271 §4.1 message header ------------------------------------------ */
#define BGP_MARKER_LEN   16
#define BGP_HDR_LEN      19
#define BGP_MAX_MSG      4096  /* RFC 4271 §4 */
#define BGP_MAX_EXT_MSG  65535 /* RFC 8654 */
#define BGP_KEEPALIVE_LEN 19
#define BGP_OPEN_MIN_LEN 29
#define BGP_UPDATE_MIN_LEN 23
#define BGP_NOTIFY_MIN_LEN 21
#define BGP_RREFRESH_LEN 23
#define BGP_VERSION      4
#define BGP_AS_TRANS     23456 /* RFC 6793 §9 */

enum bgp_msg_type {
	BGP_MSG_OPEN = 1,
	BGP_MSG_UPDATE = 2,
	BGP_MSG_NOTIFICATION = 3,
	BGP_MSG_KEEPALIVE = 4,
	BGP_MSG_ROUTE_REFRESH = 5, /* RFC 2918 */
};

/* ---- NOTIFICATION codes (RFC 4271 §4.5, RFC 4486, RFC 7313, RFC 8203) ------ */
enum bgp_err_code {
	BGP_ERR_HEADER = 1,
	BGP_ERR_OPEN = 2,
	BGP_ERR_UPDATE = 3,
	BGP_ERR_HOLD = 4,
	BGP_ERR_FSM = 5,
	BGP_ERR_CEASE = 6,
	BGP_ERR_RREFRESH = 7, /* RFC 7313 §5 */
};
enum bgp_err_header_sub {
	BGP_ERR_HDR_SYNC = 1,
	BGP_ERR_HDR_LENGTH = 2,
	BGP_ERR_HDR_TYPE = 3,
};
enum bgp_err_open_sub {
	BGP_ERR_OPEN_UNSPEC = 0,
	BGP_ERR_OPEN_VERSION = 1,
	BGP_ERR_OPEN_PEER_AS = 2,
	BGP_ERR_OPEN_BGPID = 3,
	BGP_ERR_OPEN_OPTPARAM = 4,
	BGP_ERR_OPEN_HOLDTIME = 6,
	BGP_ERR_OPEN_CAPA = 7, /* RFC 5492 §5 */
};
enum bgp_err_update_sub {
	BGP_ERR_UPD_ATTRLIST = 1,
	BGP_ERR_UPD_UNKWN_WK = 2,
	BGP_ERR_UPD_MISSING_WK = 3,
	BGP_ERR_UPD_ATTRFLAGS = 4,
	BGP_ERR_UPD_ATTRLEN = 5,
	BGP_ERR_UPD_ORIGIN = 6,
	BGP_ERR_UPD_NEXTHOP = 8,
	BGP_ERR_UPD_OPTATTR = 9,
	BGP_ERR_UPD_NETWORK = 10,
	BGP_ERR_UPD_ASPATH = 11,
};
enum bgp_err_fsm_sub { /* RFC 6608 */
	BGP_ERR_FSM_UNSPEC = 0,
	BGP_ERR_FSM_OPENSENT = 1,
	BGP_ERR_FSM_OPENCONFIRM = 2,
	BGP_ERR_FSM_ESTABLISHED = 3,
};
enum bgp_err_cease_sub { /* RFC 4486 */
	BGP_ERR_CEASE_MAX_PREFIX = 1,
	BGP_ERR_CEASE_ADMIN_SHUTDOWN = 2,
	BGP_ERR_CEASE_PEER_DECONF = 3,
	BGP_ERR_CEASE_ADMIN_RESET = 4,
	BGP_ERR_CEASE_CONN_REJECT = 5,
	BGP_ERR_CEASE_CONFIG_CHANGE = 6,
	BGP_ERR_CEASE_COLLISION = 7,
	BGP_ERR_CEASE_RESOURCES = 8,
	BGP_ERR_CEASE_HARD_RESET = 9, /* RFC 8538 */
};
enum bgp_err_rrefresh_sub {
	BGP_ERR_RR_LENGTH = 1, /* RFC 7313 §5: Invalid Message Length */
};

/* ---- address families -------------------------------------------------------- */
#define BGP_AFI_IPV4 1
#define BGP_AFI_IPV6 2
#define BGP_SAFI_UNICAST 1

/* Internal index of the families routehub routes. */
enum bgp_af {
	BGP_AF_IPV4 = 0,
	BGP_AF_IPV6 = 1,
	BGP_AF_MAX = 2,
};
/* AFI/SAFI → enum bgp_af; -1 when not a family we route. */
int bgp_af_from_afi(uint16_t afi, uint8_t safi);
uint16_t bgp_af_afi(enum bgp_af af);

/* One prefix of NLRI. Host bits beyond len are always zero (RFC 4271 §4.3:
 * trailing bits are irrelevant). path_id is 0 unless ADD-PATH (RFC 7911). */
struct bgp_prefix {
	uint8_t af; /* enum bgp_af */
	uint8_t len;
	uint8_t pad[2];
	uint32_t path_id;
	uint8_t addr[16]; /* network byte order; IPv4 in addr[0..3] */
};

/* ---- path attribute type codes ----------------------------------------------- */
enum bgp_attr_type {
	BGP_ATTR_ORIGIN = 1,
	BGP_ATTR_AS_PATH = 2,
	BGP_ATTR_NEXT_HOP = 3,
	BGP_ATTR_MED = 4,
	BGP_ATTR_LOCAL_PREF = 5,
	BGP_ATTR_ATOMIC_AGGREGATE = 6,
	BGP_ATTR_AGGREGATOR = 7,
	BGP_ATTR_COMMUNITIES = 8,      /* RFC 1997 */
	BGP_ATTR_ORIGINATOR_ID = 9,    /* RFC 4456 */
	BGP_ATTR_CLUSTER_LIST = 10,    /* RFC 4456 */
	BGP_ATTR_MP_REACH_NLRI = 14,   /* RFC 4760 */
	BGP_ATTR_MP_UNREACH_NLRI = 15, /* RFC 4760 */
	BGP_ATTR_EXT_COMMUNITIES = 16, /* RFC 4360 */
	BGP_ATTR_AS4_PATH = 17,        /* RFC 6793 */
	BGP_ATTR_AS4_AGGREGATOR = 18,  /* RFC 6793 */
	BGP_ATTR_LARGE_COMMUNITY = 32, /* RFC 8092 */
};
#define BGP_ATTR_FLAG_OPTIONAL   0x80
#define BGP_ATTR_FLAG_TRANSITIVE 0x40
#define BGP_ATTR_FLAG_PARTIAL    0x20
#define BGP_ATTR_FLAG_EXTLEN     0x10

enum bgp_origin { BGP_ORIGIN_IGP = 0, BGP_ORIGIN_EGP = 1, BGP_ORIGIN_INCOMPLETE = 2 };

/* AS_PATH segment types (RFC 4271 §4.3, RFC 5065 §3). */
enum bgp_aspath_seg {
	BGP_ASPATH_SET = 1,
	BGP_ASPATH_SEQUENCE = 2,
	BGP_ASPATH_CONFED_SEQUENCE = 3,
	BGP_ASPATH_CONFED_SET = 4,
};

/* RFC 1997 well-known communities. */
#define BGP_COMM_NO_EXPORT           0xFFFFFF01u
#define BGP_COMM_NO_ADVERTISE        0xFFFFFF02u
#define BGP_COMM_NO_EXPORT_SUBCONFED 0xFFFFFF03u
#define BGP_COMM_NO_PEER             0xFFFFFF04u /* RFC 3765 */

/* ---- capabilities (RFC 5492) ---------------------------------------------------- */
enum bgp_cap_code {
	BGP_CAP_MP = 1,          /* RFC 4760 */
	BGP_CAP_RREFRESH = 2,    /* RFC 2918 */
	BGP_CAP_EXTMSG = 6,      /* RFC 8654 */
	BGP_CAP_GR = 64,         /* RFC 4724 */
	BGP_CAP_AS4 = 65,        /* RFC 6793 */
	BGP_CAP_ADDPATH = 69,    /* RFC 7911 */
	BGP_CAP_ERR = 70,        /* RFC 7313 enhanced route refresh */
	BGP_CAP_FQDN = 73,       /* draft-walton-bgp-hostname-capability */
	BGP_CAP_RREFRESH_OLD = 128, /* pre-standard route refresh (Cisco) */
};
/* Bits of struct bgp_open.caps: which capabilities the OPEN carried. */
#define BGP_CAPF_MP        (1u << 0)
#define BGP_CAPF_RREFRESH  (1u << 1)
#define BGP_CAPF_EXTMSG    (1u << 2)
#define BGP_CAPF_GR        (1u << 3)
#define BGP_CAPF_AS4       (1u << 4)
#define BGP_CAPF_ADDPATH   (1u << 5)
#define BGP_CAPF_ERR       (1u << 6)
#define BGP_CAPF_FQDN      (1u << 7)
#define BGP_CAPF_RREFRESH_OLD (1u << 8)

/* ADD-PATH Send/Receive field (RFC 7911 §4). */
#define BGP_ADDPATH_RECV 1
#define BGP_ADDPATH_SEND 2

#define BGP_OPEN_MAX_UNKNOWN_CAPS 16
#define BGP_FQDN_MAX 255

struct bgp_open {
	uint8_t version;
	uint16_t my_as;     /* the 2-octet field as sent */
	uint32_t asn;       /* 4-octet AS capability if present, else my_as */
	uint16_t hold_time;
	uint32_t bgp_id;    /* host byte order */
	uint32_t caps;      /* BGP_CAPF_* */
	uint8_t mp[BGP_AF_MAX];      /* multiprotocol capability per family */
	uint8_t addpath[BGP_AF_MAX]; /* BGP_ADDPATH_* per family */
	struct {
		uint8_t restart_flags; /* high 4 bits of the first octet (R, N) */
		uint16_t restart_time; /* seconds, 12 bits */
		uint8_t af[BGP_AF_MAX];      /* family present */
		uint8_t af_flags[BGP_AF_MAX]; /* forwarding state preserved etc. */
	} gr;
	char fqdn_host[BGP_FQDN_MAX + 1];
	char fqdn_domain[BGP_FQDN_MAX + 1];
	/* Capabilities we do not know, and MP/ADD-PATH families we do not route:
	 * kept so that a session can refuse them (RFC 5492 §5 Unsupported Capability)
	 * or ignore them, as it chooses. */
	uint8_t n_unknown;
	struct {
		uint8_t code;
		uint8_t len;
		uint16_t afi; /* for MP/ADD-PATH families we do not route */
		uint8_t safi;
	} unknown[BGP_OPEN_MAX_UNKNOWN_CAPS];
};

/* ---- the outcome of decoding --------------------------------------------------- */
enum bgp_action {
	BGP_ACT_OK = 0,
	BGP_ACT_DISCARD,  /* RFC 7606 §2 attribute discard: message usable, some attrs dropped */
	BGP_ACT_WITHDRAW, /* RFC 7606 §2 treat-as-withdraw: every NLRI becomes a withdrawal */
	BGP_ACT_RESET,    /* RFC 4271 §6 session reset: send bgp_error as NOTIFICATION */
};

/* What to send in a NOTIFICATION; data points into the decoded buffer or into
 * err.buf (for data we synthesise, e.g. a message length). */
struct bgp_error {
	uint8_t code;
	uint8_t subcode;
	uint16_t data_len;
	const uint8_t *data;
	uint8_t buf[8];
	const char *reason; /* static text for logs: what was wrong */
};

/* ---- session parameters that change how messages are read and written --------- */
struct bgp_sess {
	bool as4;          /* 4-octet AS numbers negotiated (RFC 6793) */
	bool ext_msg;      /* extended messages negotiated (RFC 8654) */
	bool ibgp;         /* internal peer: LOCAL_PREF kept (not discarded), confed segments allowed */
	uint8_t af[BGP_AF_MAX];          /* families negotiated */
	uint8_t addpath_rx[BGP_AF_MAX];  /* we receive path identifiers */
	uint8_t addpath_tx[BGP_AF_MAX];  /* we send path identifiers */
};
/* Defaults for a session before OPEN: IPv4 unicast, no extensions. */
void bgp_sess_init(struct bgp_sess *s);
static inline size_t
bgp_sess_max_msg(const struct bgp_sess *s)
{
	return s->ext_msg ? BGP_MAX_EXT_MSG : BGP_MAX_MSG;
}

/* ---- header ------------------------------------------------------------------- */
/* Check the 19-byte header at buf (len >= BGP_HDR_LEN). On success *type and
 * *msglen are set and 0 is returned. On error returns -1 with err filled
 * (RFC 4271 §6.1: Connection Not Synchronized, Bad Message Length, Bad Message
 * Type), including the per-type length rules. max_len is 4096 or 65535. */
int bgp_hdr_check(const uint8_t *buf, size_t len, size_t max_len, uint8_t *type,
                  uint16_t *msglen, struct bgp_error *err);

/* ---- NLRI ------------------------------------------------------------------------ */
/* A validated run of NLRI in one family. count is exact. */
struct bgp_nlri {
	const uint8_t *p;
	uint16_t len;
	uint16_t count;
	uint8_t af;
	uint8_t addpath; /* each prefix is preceded by a 4-octet path id */
};
/* Iterate a validated bgp_nlri: returns 1 and fills *out while prefixes remain,
 * 0 at the end. *pos starts at 0. */
int bgp_nlri_next(const struct bgp_nlri *n, size_t *pos, struct bgp_prefix *out);

/* ---- UPDATE ------------------------------------------------------------------------ */
#define BGP_MP_NH_MAX 32

struct bgp_span {
	const uint8_t *p;
	uint16_t len;
};

/* Attributes as decoded: scalars and spans into the message. mask has bit t
 * set for each attribute type t (< 64) present and accepted. */
struct bgp_attrs {
	uint64_t mask;
	uint8_t origin;
	uint8_t aspath_as4; /* aspath uses 4-octet AS numbers */
	uint8_t partial_comm, partial_ext, partial_large, partial_aggr; /* Partial bits seen */
	struct bgp_span aspath;
	struct bgp_span as4path;
	uint32_t nexthop; /* NEXT_HOP, network byte order */
	uint32_t med;
	uint32_t local_pref;
	uint32_t aggregator_as; /* as on the wire (may be AS_TRANS) */
	uint32_t aggregator_id; /* network byte order */
	uint32_t as4_aggregator_as;
	uint32_t as4_aggregator_id;
	struct bgp_span communities;
	struct bgp_span ext_communities;
	struct bgp_span large_communities;
	uint32_t originator_id; /* network byte order */
	struct bgp_span cluster_list;
	/* MP_REACH_NLRI next hop (RFC 4760 §3; RFC 2545 §3 for IPv6: 16 or 32
	 * octets, global then link-local). */
	uint8_t mp_af;
	uint8_t mp_nh_len;
	uint8_t mp_nh[BGP_MP_NH_MAX];
	/* Every attribute, for the unknown ones that pass through (RFC 4271 §5:
	 * optional transitive, with Partial set) — re-scanned by canon. */
	struct bgp_span all;
	uint64_t unknown[4]; /* bitmap of unknown optional transitive types kept */
};

/* A decoded UPDATE. The four NLRI runs are validated. */
struct bgp_update {
	struct bgp_nlri withdrawn;  /* IPv4 Withdrawn Routes field */
	struct bgp_nlri nlri;       /* IPv4 NLRI field */
	struct bgp_nlri mp_reach;   /* MP_REACH_NLRI (count 0 if absent) */
	struct bgp_nlri mp_unreach; /* MP_UNREACH_NLRI (count 0 if absent) */
	struct bgp_attrs attrs;
	enum bgp_action action;
	struct bgp_error err;       /* for BGP_ACT_RESET; reason set for every action != OK */
	uint16_t n_discarded;       /* attributes dropped (RFC 7606 attribute discard,
	                               duplicates, unknown non-transitive, ...) */
	bool eor;                   /* End-of-RIB marker (RFC 4724 §2) */
	uint8_t eor_af;
};

/* Decode and validate the UPDATE whose whole message (header included) is
 * buf/len. Returns 0 unless the outcome is BGP_ACT_RESET (then -1). Routes
 * of an update whose action is BGP_ACT_WITHDRAW must all be withdrawn. */
int bgp_update_decode(const uint8_t *buf, size_t len, const struct bgp_sess *s,
                      struct bgp_update *u);

/* Number of NLRI (announced + withdrawn) in a decoded update. */
static inline unsigned
bgp_update_nprefixes(const struct bgp_update *u)
{
	return (unsigned)u->withdrawn.count + u->nlri.count + u->mp_reach.count +
	       u->mp_unreach.count;
}

/* ---- canonical attribute sets --------------------------------------------------- */
/* Worst case: 2-octet AS paths double in size when widened. */
#define BGP_CANON_MAX (2 * BGP_MAX_EXT_MSG)

/* Write the canonical encoding of u's attributes into out (cap bytes, at most
 * BGP_CANON_MAX needed). Returns 0 and *len, or -1 if cap is too small.
 * Defined only for actions OK and DISCARD. */
int bgp_attrs_canon(const struct bgp_update *u, uint8_t *out, size_t cap, size_t *len);
uint64_t bgp_attrs_hash(const uint8_t *canon, size_t len);

/* Walk a canonical (or any well-formed) attribute sequence. Returns 1 with the
 * next attribute, 0 at the end, -1 if malformed. */
struct bgp_attr_iter {
	const uint8_t *p;
	size_t len, pos;
};
struct bgp_attr {
	uint8_t flags, type;
	uint16_t len;
	const uint8_t *val;
};
int bgp_attr_next(struct bgp_attr_iter *it, struct bgp_attr *a);
/* Find one attribute in a canonical sequence; 0 if found. */
int bgp_attr_find(const uint8_t *canon, size_t len, uint8_t type, struct bgp_attr *a);

/* AS path helpers over 4-octet AS_PATH bytes. Length per RFC 4271 §9.1.2.2:
 * an AS_SET counts 1, confederation segments count 0. */
unsigned bgp_aspath_count(const uint8_t *p, size_t len);
/* True if asn appears anywhere in the path (loop check, RFC 4271 §9.1.2). */
bool bgp_aspath_contains(const uint8_t *p, size_t len, uint32_t asn);
/* Leftmost AS of the first AS_SEQUENCE (the neighbour AS), 0 if none. */
uint32_t bgp_aspath_first(const uint8_t *p, size_t len);
/* Format "1 2 {3,4} (5 6) [7,8]" (bgpdump style); returns bytes written
 * (snprintf semantics). as4: width of AS numbers in p. */
int bgp_aspath_format(const uint8_t *p, size_t len, int as4, char *out, size_t cap);

/* ---- encoding -------------------------------------------------------------------- */
/* What goes into one UPDATE. Prefix families must match the run. attrs is a
 * canonical attribute sequence (bgp_attrs_canon), required when anything is
 * announced; its MP_REACH_NLRI next hop is used for mp_reach. */
struct bgp_update_spec {
	const struct bgp_prefix *withdrawn;
	size_t n_withdrawn;
	const struct bgp_prefix *nlri;
	size_t n_nlri;
	const struct bgp_prefix *mp_unreach;
	size_t n_mp_unreach;
	int mp_unreach_af; /* -1: no MP_UNREACH_NLRI; else family (0 prefixes = EoR) */
	const struct bgp_prefix *mp_reach;
	size_t n_mp_reach;
	const uint8_t *attrs;
	size_t attrs_len;
};
/* Encode one UPDATE into out for a peer with session parameters s (AS width,
 * ADD-PATH send, message size). MP attributes are written first (RFC 7606
 * §5.1). On a 2-octet session AS numbers are narrowed with AS_TRANS and
 * AS4_PATH/AS4_AGGREGATOR added as RFC 6793 §4.2.2 says. Returns 0 and *len,
 * or -1 if it does not fit in cap or the session's maximum message size. */
int bgp_update_encode(const struct bgp_update_spec *spec, const struct bgp_sess *s,
                      uint8_t *out, size_t cap, size_t *len);
/* Bytes one prefix takes on the wire for this session. */
size_t bgp_prefix_wire_len(const struct bgp_prefix *p, const struct bgp_sess *s);

/* OPEN: decode validates the message (version, hold time 0 or >= 3, BGP
 * identifier not 0, AS not 0 (RFC 7607), optional parameters, RFC 9072 extended
 * parameters); semantic checks against configuration are the session's. */
int bgp_open_decode(const uint8_t *buf, size_t len, struct bgp_open *o, struct bgp_error *err);
int bgp_open_encode(const struct bgp_open *o, uint8_t *out, size_t cap, size_t *len);

int bgp_keepalive_encode(uint8_t *out, size_t cap, size_t *len);

/* NOTIFICATION. For Cease/Administrative Shutdown and Reset, RFC 8203 §2 puts
 * a length-prefixed UTF-8 message in the data; bgp_notify_decode extracts it
 * into shutdown_msg (NUL-terminated) when well-formed. */
struct bgp_notify {
	uint8_t code;
	uint8_t subcode;
	uint16_t data_len;
	const uint8_t *data;
	char shutdown_msg[256];
};
int bgp_notify_decode(const uint8_t *buf, size_t len, struct bgp_notify *n, struct bgp_error *err);
int bgp_notify_encode(uint8_t code, uint8_t subcode, const uint8_t *data, size_t data_len,
                      uint8_t *out, size_t cap, size_t *len);
/* Cease with an RFC 8203 shutdown communication (message truncated to 255 octets
 * on a UTF-8 boundary). */
int bgp_notify_encode_shutdown(uint8_t subcode, const char *msg, uint8_t *out, size_t cap,
                               size_t *len);

/* ROUTE-REFRESH (RFC 2918 §3), subtype per RFC 7313 §3. */
enum bgp_rr_subtype {
	BGP_RR_NORMAL = 0,
	BGP_RR_BORR = 1,
	BGP_RR_EORR = 2,
};
struct bgp_rrefresh {
	uint16_t afi;
	uint8_t subtype;
	uint8_t safi;
};
int bgp_rrefresh_decode(const uint8_t *buf, size_t len, struct bgp_rrefresh *r,
                        struct bgp_error *err);
int bgp_rrefresh_encode(const struct bgp_rrefresh *r, uint8_t *out, size_t cap, size_t *len);

/* Names for logs. */
const char *bgp_msg_type_name(uint8_t type);
const char *bgp_err_name(uint8_t code, uint8_t subcode);
const char *bgp_action_name(enum bgp_action a);

#endif /* ROUTEHUB_BGP_H */
