/*
 * cleave — the network layer: framed messages between an edge and a cloud
 * server, sockets, link pacing for emulation, and bandwidth estimation.
 *
 * The wire format is written down in docs/protocol.md; this header is the
 * programming interface to it. In short, every message is a 32-byte header
 * (magic "CLV1", version, type, flags, CRC32C of the payload, uint64 payload
 * length, CRC32C of the header itself; little endian) and a payload whose
 * layout depends on the type. A session goes:
 *
 *     edge                                   cloud
 *     HELLO (digest, nonce) ───────────────▶
 *                       ◀─────────────────── CHALLENGE (nonce)  [with a secret]
 *     AUTH (HMAC)          ───────────────▶                     [with a secret]
 *                       ◀─────────────────── HELLO_ACK (session, HMAC)
 *     PROBE ... ◀──▶ PROBE_ACK                                  [bandwidth]
 *     PLAN v1              ───────────────▶
 *                       ◀─────────────────── PLAN_ACK v1
 *     FRAME v1 #0, FRAME v1 #1, ...  ──────▶
 *                       ◀─────────────────── RESULT #0, RESULT #1, ...
 *     PLAN v2, FRAME v2 #7, ...      ──────▶                    [re-plan]
 *     BYE                  ───────────────▶
 *
 * Typical edge code:
 *
 *     clv_net_conn *c = NULL;
 *     clv_net_session s;
 *     clv_net_client_options co;
 *     clv_net_client_options_init(&co);
 *     clv_net_graph_digest(g, co.digest);
 *     if (clv_net_connect("cloud:7878", 5000, &c, &err) ||
 *         clv_net_handshake_client(c, &co, &s, &err))
 *         ...report clv_error_text(&err, rc)...
 *     clv_net_msg m;
 *     clv_net_msg_init(&m);
 *     m.type = CLV_NET_FRAME;
 *     m.frame.plan_version = 1; m.frame.frame_id = 0;
 *     m.frame.n_tensors = 1; m.frame.tensors = &cut;   // borrowed
 *     rc = clv_net_send(c, &m, NULL, &err);
 *     rc = clv_net_recv(c, &m, &err);                   // a RESULT
 *     clv_net_msg_release(&m);
 *     clv_net_conn_free(c);
 *
 * Safety. Everything read from a peer is checked before it is used: the
 * header's CRC before its length is believed, every length against a limit
 * (clv_net_limits) before anything is allocated, the payload's CRC before
 * it is parsed, and then every count, string, dtype, rank, dimension and
 * byte length of the payload (a raw tensor's byte length must equal the
 * product of its dims times the element size, computed with overflow
 * checks). A bad message gives CLV_EFORMAT or CLV_ELIMIT with a sentence
 * naming the message type and the field; it never crashes and never reads
 * out of bounds.
 *
 * Threads. No function keeps global state. One connection may be used by
 * two threads at once if one only sends (clv_net_send*, clv_net_send_error)
 * and the other only receives (clv_net_recv, clv_net_conn_wait);
 * clv_net_conn_shutdown() may be called from any thread to wake both. A
 * server whose workers send RESULTs from several threads must serialise
 * the sends (one mutex per connection). clv_net_probe_link() both sends and
 * receives, so it runs while no other thread uses the connection (right
 * after the handshake); while frames stream, use the passive estimator
 * (RESULT.recv_ns into a clv_net_bw). Pacers, schedules and bandwidth
 * estimators are plain objects: one thread at a time, or the caller locks.
 *
 * Memory. A connection's receiver holds at most one payload of up to
 * limits.max_payload (256 MiB by default) while it reads; a server taking
 * many edges sets smaller limits with clv_net_conn_set_limits().
 *
 * Time. Timestamps are nanoseconds of CLOCK_MONOTONIC (clv_net_now_ns);
 * they are meaningful only on the machine that took them, so the protocol
 * carries durations measured on one side, never clock readings to compare
 * across machines.
 *
 * Host byte order: cleave runs on little-endian machines only (tensor data
 * crosses the wire as the host's bytes); the build fails elsewhere.
 */
#ifndef CLEAVE_NET_H
#define CLEAVE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"
#include "cleave/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants ----------------------------------------------------------- */

#define CLV_NET_MAGIC "CLV1"      /* the first four bytes of every message */
#define CLV_NET_VERSION 2         /* the header and payload layout version */
#define CLV_NET_HEADER_SIZE 32    /* bytes of the fixed header */
#define CLV_NET_DIGEST_SIZE 32    /* SHA-256 */
#define CLV_NET_NONCE_SIZE 32
#define CLV_NET_MAC_SIZE 32       /* HMAC-SHA256 */
/* Header flag: a MAC of CLV_NET_MAC_SIZE bytes follows the payload (every
 * message after an authenticated handshake; docs/protocol.md). */
#define CLV_NET_FLAG_MAC 1u
#define CLV_NET_DEFAULT_PORT 7878

/* Payloads of the control messages (HELLO, CHALLENGE, AUTH, HELLO_ACK,
 * PLAN_ACK, ERROR, BYE) are never longer than this, whatever the limits. */
#define CLV_NET_MAX_CONTROL (64u * 1024u)
/* The largest extent of one tensor dimension on the wire (2^32 - 1). */
#define CLV_NET_MAX_DIM 4294967295ull

/* Message types (the header's type field). */
#define CLV_NET_TYPE_MAP(X)          \
    X(HELLO, 1, "HELLO")             \
    X(CHALLENGE, 2, "CHALLENGE")     \
    X(AUTH, 3, "AUTH")               \
    X(HELLO_ACK, 4, "HELLO_ACK")     \
    X(PLAN, 5, "PLAN")               \
    X(PLAN_ACK, 6, "PLAN_ACK")       \
    X(FRAME, 7, "FRAME")             \
    X(RESULT, 8, "RESULT")           \
    X(PROBE, 9, "PROBE")             \
    X(PROBE_ACK, 10, "PROBE_ACK")    \
    X(ERROR, 11, "ERROR")            \
    X(BYE, 12, "BYE")                \
    X(TIMES_REQUEST, 13, "TIMES_REQUEST") \
    X(TIMES, 14, "TIMES")

typedef enum clv_net_type {
    CLV_NET_NONE = 0, /* an initialised, empty message */
#define CLV__NET_TYPE_ENUM(id, v, name) CLV_NET_##id = v,
    CLV_NET_TYPE_MAP(CLV__NET_TYPE_ENUM)
#undef CLV__NET_TYPE_ENUM
    CLV_NET_TYPE_END
} clv_net_type;

/* "FRAME", ...; "NONE" for 0 and "?" for a value outside the table. */
const char *clv_net_type_name(int type);

/* Reasons carried by ERROR messages, PLAN_ACK and RESULT status fields
 * (0 means success there). Stable wire values. */
#define CLV_NET_ERR_MAP(X)                                             \
    X(PROTOCOL, 1, "malformed or unexpected message")                  \
    X(VERSION, 2, "unsupported protocol version")                      \
    X(MODEL, 3, "the peers run different models")                      \
    X(AUTH, 4, "authentication failed")                                \
    X(PLAN, 5, "invalid or unknown plan")                              \
    X(BUSY, 6, "server busy")                                          \
    X(LIMIT, 7, "size limit exceeded")                                 \
    X(COMPUTE, 8, "the cloud part failed to run")                      \
    X(SHUTDOWN, 9, "server shutting down")                             \
    X(INTERNAL, 10, "internal error")                                  \
    X(UNAVAILABLE, 11, "not available")

enum clv_net_err {
#define CLV__NET_ERR_ENUM(id, v, text) CLV_NET_ERR_##id = v,
    CLV_NET_ERR_MAP(CLV__NET_ERR_ENUM)
#undef CLV__NET_ERR_ENUM
};

/* The description of a wire error code; "success" for 0 and "unknown
 * error" for values outside the table. */
const char *clv_net_err_text(int code);

/* Who is speaking in a HELLO. */
typedef enum clv_net_role {
    CLV_NET_ROLE_EDGE = 1,    /* runs the edge part, sends PLAN and FRAMEs */
    CLV_NET_ROLE_MONITOR = 2  /* only probes and watches (no frames) */
} clv_net_role;

/* Tensor codecs. 0 is raw: the elements' bytes, row-major, little endian,
 * exactly dims-product * element-size bytes. Ids 1..CLV_NET_CODEC_MAX are
 * the codec module's kinds (clv_codec_kind: quantization with Huffman,
 * zstd or packing; u8, PNG, JPEG frames); their bytes are self-describing
 * (docs/codec.md) and the network layer only bounds their length. */
#define CLV_NET_CODEC_RAW 0
#define CLV_NET_CODEC_MAX 15

/* HELLO and HELLO_ACK flag bits. */
#define CLV_NET_HELLO_AUTH 1u /* HELLO: the edge holds a secret and will
                                 answer a CHALLENGE; HELLO_ACK: the session
                                 is authenticated and carries a server MAC */

/* ---- limits -------------------------------------------------------------- */

/* What a receiver accepts. Every count and length read from a peer is
 * compared with these before memory is allocated for it. */
typedef struct clv_net_limits {
    uint64_t max_payload; /* bytes of one payload; default 256 MiB */
    uint32_t max_tensors; /* tensors in one FRAME or RESULT; default 1024 */
    uint32_t max_plan;    /* entries of one PLAN list; default 1 << 20 */
    uint32_t max_name;    /* bytes of a tensor or peer name; default 4096 */
    uint32_t max_text;    /* bytes of an error or status text; default 4096 */
    uint32_t accept;      /* message types accepted, a mask of
                             CLV_NET_TYPE_BIT(type); 0 (default) = all. A
                             header of another type is refused before its
                             payload is read. */
} clv_net_limits;

#define CLV_NET_TYPE_BIT(t) (1u << (unsigned)(t))

/* Fills *l with the defaults above. */
void clv_net_limits_default(clv_net_limits *l);

/* ---- messages ------------------------------------------------------------ */

/* A tensor inside FRAME and RESULT. On encode every pointer is borrowed
 * from the caller for the call. On decode `name` and `data` point into the
 * message's payload (see clv_net_msg) and `name` is NUL-terminated. `data`
 * is aligned to 8 bytes when the payload buffer is (clv_net_recv's always
 * is). */
typedef struct clv_net_tensor {
    uint32_t id;        /* the graph's tensor id (both sides run the same
                           model, so ids agree) */
    const char *name;   /* the tensor's name, informational; NULL = "" */
    clv_dtype dtype;    /* a dtype with clv_dtype_size() > 0 */
    int codec;          /* CLV_NET_CODEC_RAW or a codec module id */
    int ndim;           /* 0..CLV_MAX_DIMS */
    int64_t dims[CLV_MAX_DIMS]; /* each 0..CLV_NET_MAX_DIM */
    uint64_t nbytes;    /* bytes at data; for raw: numel * dtype size */
    const void *data;
} clv_net_tensor;

/* HELLO: the edge introduces itself. */
typedef struct clv_net_hello {
    uint32_t version;   /* protocol version the edge speaks (1) */
    clv_net_role role;
    uint32_t flags;     /* CLV_NET_HELLO_AUTH */
    uint8_t digest[CLV_NET_DIGEST_SIZE]; /* clv_net_graph_digest() */
    uint8_t nonce[CLV_NET_NONCE_SIZE];   /* fresh random bytes */
    const char *name;   /* the edge's name for logs; NULL = "" */
} clv_net_hello;

/* CHALLENGE: the server's nonce, which the edge must MAC. */
typedef struct clv_net_challenge {
    uint8_t nonce[CLV_NET_NONCE_SIZE];
} clv_net_challenge;

/* AUTH: the edge's answer, HMAC-SHA256 (see docs/protocol.md). */
typedef struct clv_net_auth {
    uint8_t mac[CLV_NET_MAC_SIZE];
} clv_net_auth;

/* HELLO_ACK: the server accepts the edge. */
typedef struct clv_net_hello_ack {
    uint64_t session;      /* the server's id for this connection */
    uint32_t flags;        /* CLV_NET_HELLO_AUTH */
    uint8_t mac[CLV_NET_MAC_SIZE]; /* the server's proof; zero without auth */
    uint64_t max_payload;  /* the largest payload the server accepts */
    uint32_t max_plans;    /* plans the server keeps per connection (the
                              most recently used; a FRAME of another needs
                              its PLAN again); 0: one */
    const char *name;      /* the server's name; NULL = "" */
} clv_net_hello_ack;

/* PLAN: a versioned partition. The cloud runs graph nodes `nodes`; each
 * FRAME of this version carries the tensors `inputs` (the cut tensors, and
 * any graph input a cloud node reads); each RESULT returns `outputs`.
 * Versions increase; a FRAME names the version it was computed for. */
typedef struct clv_net_plan {
    uint64_t version;
    uint32_t n_nodes;
    const uint32_t *nodes;   /* graph node indices run on the cloud */
    uint32_t n_inputs;
    const uint32_t *inputs;  /* tensor ids the edge sends */
    uint32_t n_outputs;
    const uint32_t *outputs; /* tensor ids the cloud returns */
} clv_net_plan;

/* PLAN_ACK: the server took plan `version` (status 0) or refused it
 * (status a CLV_NET_ERR_* code, `message` says why). */
typedef struct clv_net_plan_ack {
    uint64_t version;
    int32_t status;
    const char *message; /* NULL = "" */
} clv_net_plan_ack;

/* FRAME: the cut tensors of one input frame. */
typedef struct clv_net_frame {
    uint64_t plan_version;
    uint64_t frame_id;
    uint32_t n_tensors;
    const clv_net_tensor *tensors;
} clv_net_frame;

/* RESULT: the cloud's outputs for one frame, or why there are none. The
 * durations are measured on the server: recv_ns from the FRAME's header to
 * its last byte (the link's pace, for passive bandwidth estimates),
 * queue_ns waiting for a worker, compute_ns running the cloud part. */
typedef struct clv_net_result {
    uint64_t frame_id;
    uint64_t plan_version;
    int32_t status;       /* 0, or a CLV_NET_ERR_* code (no tensors then) */
    const char *message;  /* NULL = "" */
    uint64_t recv_ns;
    uint64_t queue_ns;
    uint64_t compute_ns;
    uint32_t n_tensors;
    const clv_net_tensor *tensors;
} clv_net_result;

/* PROBE: `fill` bytes of filler after a 16-byte preamble; the receiver
 * answers with a PROBE_ACK at once. */
typedef struct clv_net_probe {
    uint64_t id;
    uint64_t fill;
} clv_net_probe;

/* PROBE_ACK: the receiver saw probe `id` of `bytes` payload bytes arrive
 * within `recv_ns` (header to last byte, its clock). */
typedef struct clv_net_probe_ack {
    uint64_t id;
    uint64_t bytes;
    uint64_t recv_ns;
} clv_net_probe_ack;

/* ERROR: the sender is about to close the connection, or refuses one
 * message; `code` is a CLV_NET_ERR_* value. */
typedef struct clv_net_error {
    int32_t code;
    const char *text; /* NULL = "" */
} clv_net_error;

/* TIMES_REQUEST (no fields; its payload is a reserved u32 0): the edge
 * asks for the server's own per-node compute times of the model.
 * TIMES: the answer. `ms[i]` is graph node i's time on the server in
 * milliseconds (both peers run the same model, so node indices agree),
 * measured by the server over `runs` runs (0: read from a profile file);
 * each in [0, CLV_NET_MAX_NODE_MS] (the decoder refuses others: an hour
 * per node is no real server's, and larger values would let a lying one
 * overflow the planner's sums). A server without times answers status
 * CLV_NET_ERR_UNAVAILABLE, n = 0 and a message saying why. */
#define CLV_NET_MAX_NODE_MS 3.6e6
typedef struct clv_net_times {
    int32_t status;      /* 0, or a CLV_NET_ERR_* code (then n = 0) */
    uint32_t runs;
    uint32_t n;
    const double *ms;
    const char *message; /* NULL = "" */
} clv_net_times;

/* One message. The member matching `type` is the valid one (BYE and
 * TIMES_REQUEST have none). Initialise with clv_net_msg_init() before the first use and
 * release with clv_net_msg_release(); a message may be reused: decoding
 * into it releases what it held. */
typedef struct clv_net_msg {
    clv_net_type type;
    union {
        clv_net_hello hello;
        clv_net_challenge challenge;
        clv_net_auth auth;
        clv_net_hello_ack hello_ack;
        clv_net_plan plan;
        clv_net_plan_ack plan_ack;
        clv_net_frame frame;
        clv_net_result result;
        clv_net_probe probe;
        clv_net_probe_ack probe_ack;
        clv_net_error error;
        clv_net_times times;
    };
    /* Set by decoding: the payload's length, and for clv_net_recv() the
     * receiver's clock when the header was complete and when the last
     * payload byte arrived. */
    uint64_t payload_len;
    uint64_t t_header_ns;
    uint64_t t_done_ns;
    /* Set by clv_net_recv() when the connection's admit hook refused the
     * payload: it was read and checked but not kept, and only `type` and,
     * for a FRAME, frame.plan_version and frame.frame_id are filled. */
    bool shed;
    /* Private: memory the message owns (the received payload, decoded
     * arrays). Do not touch. */
    void *owned_payload_;
    void *owned_arrays_;
} clv_net_msg;

void clv_net_msg_init(clv_net_msg *m);
/* Frees what the message owns and initialises it again. After it, every
 * pointer obtained from the decoded message is invalid. Accepts NULL. */
void clv_net_msg_release(clv_net_msg *m);

/* A growable byte buffer. Zero-initialise; release with
 * clv_net_buf_release() (accepts NULL). `len` may be set to 0 by the
 * caller to reuse the memory. */
typedef struct clv_net_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} clv_net_buf;

void clv_net_buf_release(clv_net_buf *b);

/* The fields of a message header. */
typedef struct clv_net_header {
    uint32_t version;
    clv_net_type type;
    uint32_t flags;
    uint32_t payload_crc;
    uint64_t payload_len;
} clv_net_header;

/*
 * Appends message `m` (header and payload) to `out`, growing it. All of
 * m's pointers are borrowed for the call. Checks that the message could be
 * decoded: a known type, strings shorter than 2^32 bytes without NUL bytes
 * inside, dtypes with a size, ranks 0..CLV_MAX_DIMS, dims in
 * 0..CLV_NET_MAX_DIM, codec ids 0..CLV_NET_CODEC_MAX, raw tensors whose
 * nbytes equals numel * dtype size, arrays non-NULL when their count is
 * not 0. Returns 0, CLV_EINVAL with a message naming the field, or
 * CLV_ENOMEM; on failure `out` keeps its previous length.
 */
int clv_net_encode(const clv_net_msg *m, clv_net_buf *out, clv_error *err);

/*
 * Parses and checks a header: the magic, version CLV_NET_VERSION, a known
 * type, flags 0, the header's own CRC, and the payload length against
 * `lim` (NULL = the defaults) and, for control messages, against
 * CLV_NET_MAX_CONTROL. Returns 0 and fills *out, or CLV_EFORMAT (bad
 * magic, version, type, flags or CRC, or a type outside lim->accept) or
 * CLV_ELIMIT (too long).
 */
int clv_net_header_parse(const uint8_t hdr[CLV_NET_HEADER_SIZE],
                         const clv_net_limits *lim, clv_net_header *out,
                         clv_error *err);

/*
 * Decodes the payload of a message whose header `h` was accepted by
 * clv_net_header_parse(): checks that `len` equals h->payload_len and the
 * payload's CRC, then parses it. `payload` is borrowed and must outlive
 * `m`'s use: the decoded names and tensor data point into it. `m` is
 * released first, so it must have been initialised. Returns 0; CLV_EFORMAT
 * (CRC mismatch, truncated, trailing bytes, a bad dtype/rank/codec/string,
 * a raw tensor whose length disagrees with its dims), CLV_ELIMIT (a count or
 * size beyond `lim`, NULL = defaults) or CLV_ENOMEM, with a message naming
 * the type and the field. On failure `m` is empty.
 */
int clv_net_decode_payload(const clv_net_header *h, const void *payload,
                           size_t len, const clv_net_limits *lim,
                           clv_net_msg *m, clv_error *err);

/*
 * Decodes one whole message of `len` bytes at `buf` (borrowed as above):
 * clv_net_header_parse() plus clv_net_decode_payload(). Bytes beyond the
 * message are an error (CLV_EFORMAT). Sets m->payload_len.
 */
int clv_net_decode(const void *buf, size_t len, const clv_net_limits *lim,
                   clv_net_msg *m, clv_error *err);

/* CRC32C (Castagnoli) of `len` bytes, continuing from `crc` (0 to start).
 * crc32c("123456789") = 0xe3069283. */
uint32_t clv_net_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- messages and the graph ---------------------------------------------- */

/* Fills *out to send graph tensor `id` of the finalized graph `g` raw:
 * its id, name, dtype and shape from the graph, nbytes =
 * clv_tensor_bytes(), data = `data` (borrowed, that many bytes). Returns 0
 * or CLV_EINVAL (id out of range, a shape or dtype the wire cannot carry).
 * The name points into the graph. */
int clv_net_tensor_from_graph(const clv_graph *g, int id, const void *data,
                              clv_net_tensor *out, clv_error *err);

/* Checks a received raw tensor against graph tensor t->id of `g` before
 * its bytes are used as that tensor: the id is in range, not a constant,
 * and the dtype, rank, dims and byte length are the graph's. Returns 0,
 * or CLV_EFORMAT naming the tensor and the difference. A tensor with a
 * codec (include/cleave/codec.h) must be float32 and its byte length is
 * not checked here: clv_codec_decode() checks the bytes against the
 * shape. */
int clv_net_tensor_check(const clv_graph *g, const clv_net_tensor *t,
                         clv_error *err);

/* Checks a received PLAN against the finalized graph `g`: every node
 * index and tensor id in range, each at most once per list, no constant
 * among the inputs or outputs. (Whether the nodes form a valid cloud part
 * is for the engine to find out.) Returns 0 or CLV_EFORMAT naming the
 * entry. */
int clv_net_plan_check(const clv_graph *g, const clv_net_plan *plan,
                       clv_error *err);

/* The PLAN of partition `part` under `version` (cloud nodes, the tensors
 * a FRAME carries, the tensors a RESULT returns: part's lists). The lists
 * live in one malloc'd block, *store, which the caller frees once the
 * message is sent. 0 or CLV_ENOMEM. */
int clv_net_plan_from_partition(const clv_partition *part, uint64_t version,
                                clv_net_plan *out, uint32_t **store,
                                clv_error *err);

/* The partition a received PLAN describes (the server's side): the plan
 * is checked (clv_net_plan_check), its cloud nodes must form a valid
 * cloud part (no cloud node feeds an edge node), and its inputs and
 * outputs must be exactly the partition's send and ret tensors (in any
 * order). Fills `out` (initialised by the caller) and returns 0, or
 * CLV_EFORMAT / CLV_EINVAL naming the PLAN and the fault (out is then
 * empty), or CLV_ENOMEM. */
int clv_net_plan_partition(const clv_graph *g, const clv_net_plan *plan,
                           clv_partition *out, clv_error *err);

/* ---- digests and authentication ----------------------------------------- */

/* SHA-256 of `len` bytes into out[32]. */
void clv_net_sha256(const void *data, size_t len, uint8_t out[32]);

/* HMAC-SHA256 (RFC 2104) of `len` bytes with a key of `key_len` bytes. */
void clv_net_hmac_sha256(const void *key, size_t key_len, const void *data,
                         size_t len, uint8_t out[32]);

/*
 * The model digest HELLO carries: SHA-256 over a canonical serialisation of
 * the finalized graph `g` (every tensor's name, dtype, shape, flags and
 * constant data; every node's name, op, inputs, outputs and attributes, in
 * the graph's order), so two processes that loaded the same model agree and
 * any change to a weight, shape or attribute changes it. The graph's name
 * and opset are not included. Returns 0, or CLV_EINVAL when g is not
 * finalized.
 */
int clv_net_graph_digest(const clv_graph *g, uint8_t out[CLV_NET_DIGEST_SIZE]);

/* A shared secret: the key of the challenge-response. */
typedef struct clv_net_secret {
    uint8_t key[32];
} clv_net_secret;

/* Reads a token file: its contents, less trailing spaces, tabs and line
 * ends, must be 1 to 65536 bytes; the key is their SHA-256. Returns 0, or
 * CLV_EIO (unreadable, the message names the path and the reason),
 * CLV_ELIMIT (too long) or CLV_EINVAL (empty). The file's contents never
 * leave the process. */
int clv_net_secret_load(const char *path, clv_net_secret *out,
                        clv_error *err);
/* As clv_net_secret_load, from `len` bytes of token text at `token`. */
int clv_net_secret_from_token(const void *token, size_t len,
                              clv_net_secret *out, clv_error *err);

/* Fills `len` bytes with random bytes from OpenSSL's generator
 * (RAND_bytes: a DRBG seeded from the kernel's getrandom). Returns 0 or
 * CLV_EIO. */
int clv_net_random(void *buf, size_t len, clv_error *err);

/* ---- connections --------------------------------------------------------- */

typedef struct clv_net_conn clv_net_conn;
typedef struct clv_net_listener clv_net_listener;
typedef struct clv_net_pacer clv_net_pacer;

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t clv_net_now_ns(void);

/*
 * Splits an address "host:port", "[v6addr]:port", "host" (port
 * `default_port`), ":port" or "port" (host empty) into host (copied into
 * host[hostlen]; empty when absent) and *port (0..65535). Returns 0 or
 * CLV_EINVAL naming the address (a bad or missing port, an unclosed
 * bracket, a host longer than hostlen-1).
 */
int clv_net_parse_addr(const char *addr, int default_port, char *host,
                       size_t hostlen, int *port, clv_error *err);

/*
 * Connects to `addr` (as clv_net_parse_addr, default port
 * CLV_NET_DEFAULT_PORT; the host is resolved with getaddrinfo, IPv4 or
 * IPv6, each address tried in turn), waiting at most `timeout_ms` (< 0:
 * the system's own timeout) for each. The connection has TCP_NODELAY, the
 * default limits, an I/O timeout of 30 s and no pacer. Returns 0 and
 * *out (free with clv_net_conn_free), or CLV_EINVAL (bad address), CLV_EIO
 * (no address, refused, unreachable, timed out; the message names the
 * address and the reason) or CLV_ENOMEM; *out is NULL on failure.
 */
int clv_net_connect(const char *addr, int timeout_ms, clv_net_conn **out,
                    clv_error *err);

/*
 * Wraps a connected stream socket `fd` (TCP or a socketpair), which the
 * connection then owns and closes. The socket is made non-blocking. Returns
 * 0 and *out, or CLV_EINVAL (fd < 0) or CLV_ENOMEM (fd closed then).
 */
int clv_net_conn_from_fd(int fd, clv_net_conn **out, clv_error *err);

/* Closes the socket and frees the connection. Accepts NULL. Any pacer
 * stays the caller's. */
void clv_net_conn_free(clv_net_conn *c);

/* The peer's address, "127.0.0.1:7878" or "[::1]:7878" ("local" for a
 * socketpair); owned by the connection. */
const char *clv_net_conn_peer(const clv_net_conn *c);

/* The limits clv_net_recv() applies (copied; NULL restores the
 * defaults). */
void clv_net_conn_set_limits(clv_net_conn *c, const clv_net_limits *lim);

/* How long a send or receive may go without progress, in milliseconds,
 * before it fails with CLV_ETIMEOUT; < 0 waits forever. Time a
 * pacer makes the sender wait does not count. Default 30000. Set it before
 * threads start sending and receiving. */
void clv_net_conn_set_timeout(clv_net_conn *c, int timeout_ms);

/* Called by clv_net_recv() once a header has passed its checks, before
 * the payload is allocated: 0 takes the message; anything else sheds it
 * (its payload is read through a small buffer and checked, nothing is
 * allocated, and the message comes back with `shed` set). */
typedef int (*clv_net_admit_fn)(void *ctx, clv_net_type type,
                                uint64_t payload_len);
void clv_net_conn_set_admit(clv_net_conn *c, clv_net_admit_fn fn, void *ctx);

/* Whether the peer is on this machine: a loopback address (127.0.0.0/8,
 * ::1, ::ffff:127.0.0.0/104) or a local socket. */
bool clv_net_conn_is_loopback(const clv_net_conn *c);

/* An absolute deadline for every send and receive on the connection, on
 * clv_net_now_ns()'s clock (0: none, the default): past it they fail with
 * CLV_ETIMEOUT, however steadily bytes arrive. The server bounds the
 * handshake with it. Set it from the only thread using the connection. */
void clv_net_conn_set_deadline(clv_net_conn *c, uint64_t deadline_ns);

/* A minimum rate for received messages, in bytes per second (0: none, the
 * default): once its first byte arrived, a message's header must be
 * complete within the I/O timeout and its payload within the I/O timeout
 * plus its length at this rate, or clv_net_recv fails with CLV_ETIMEOUT.
 * Without it a peer that sends one byte per timeout holds the reader for
 * ever (the timeout counts time without progress only). */
void clv_net_conn_set_min_rate(clv_net_conn *c, uint64_t bytes_per_s);

/* Paces every later send through `p` (borrowed: it must outlive its use
 * by this connection; NULL removes pacing). One pacer may serve one
 * connection at a time. */
void clv_net_conn_set_pacer(clv_net_conn *c, clv_net_pacer *p);

/* Waits up to `timeout_ms` (< 0: forever) for the peer to send something
 * or close. Returns 1 (readable: call clv_net_recv), 0 (timed out) or
 * CLV_EIO. Nothing is consumed. */
int clv_net_conn_wait(clv_net_conn *c, int timeout_ms, clv_error *err);

/* Shuts the socket down in both directions: blocked and later sends and
 * receives on the connection fail at once. Safe from any thread. */
void clv_net_conn_shutdown(clv_net_conn *c);

/* True after clv_net_recv() failed because the peer closed the
 * connection cleanly between two messages. */
bool clv_net_conn_eof(const clv_net_conn *c);

/* Counters of a connection. */
typedef struct clv_net_stats {
    uint64_t bytes_sent, bytes_received;
    uint64_t msgs_sent, msgs_received;
} clv_net_stats;

/* Copies the counters. The sending side updates the sent counters and the
 * receiving side the received ones; read them from another thread only
 * when neither is running (the values are plain integers). */
void clv_net_conn_stats(const clv_net_conn *c, clv_net_stats *out);

/* When a send happened (clv_net_now_ns clock) and how many bytes went. */
typedef struct clv_net_send_info {
    uint64_t bytes;
    uint64_t t_start_ns;
    uint64_t t_end_ns;
} clv_net_send_info;

/*
 * Encodes `m` (as clv_net_encode; pointers borrowed for the call) and
 * writes it whole to the connection, through the pacer if there is one,
 * resuming after partial writes and EINTR, without SIGPIPE. `info` (may be
 * NULL) receives the bytes and the time the write took. Returns 0,
 * CLV_EINVAL (a message that cannot be encoded), CLV_ENOMEM, CLV_ECLOSED
 * (the peer closed or reset the connection), CLV_ETIMEOUT (the I/O timeout)
 * or CLV_EIO (another socket error); after a failure the connection is
 * unusable: a message may be half sent.
 */
int clv_net_send(clv_net_conn *c, const clv_net_msg *m,
                 clv_net_send_info *info, clv_error *err);

/* Writes `len` raw bytes as clv_net_send() does (tests use it to send
 * malformed messages). */
int clv_net_send_bytes(clv_net_conn *c, const void *data, size_t len,
                       clv_net_send_info *info, clv_error *err);

/* Sends an ERROR message with `code` and a printf-style text (cut at
 * CLV_ERROR_MSG_MAX-1 bytes), best effort: at most 1 s without progress.
 * Returns what clv_net_send would. A sending function. */
int clv_net_send_error(clv_net_conn *c, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Reads one message: the header (its length is checked against the
 * connection's limits before the payload is allocated), then the payload,
 * then decodes it into `m` (released first), which then owns the payload;
 * m->t_header_ns and m->t_done_ns are set. Waits for the first byte as
 * long as the I/O timeout allows (use clv_net_conn_wait to poll). Returns
 * 0; CLV_ECLOSED (the peer closed: clv_net_conn_eof() tells a clean close
 * between messages from one inside a message); CLV_ETIMEOUT (the I/O
 * timeout); CLV_EIO (a socket error); CLV_EFORMAT or CLV_ELIMIT (a bad message: the stream cannot be
 * trusted any more, close the connection); or CLV_ENOMEM. On failure `m` is
 * empty.
 */
int clv_net_recv(clv_net_conn *c, clv_net_msg *m, clv_error *err);

/*
 * Listens on `addr` ("host:port"; an empty host or "*" listens on every
 * address, IPv6 and IPv4 where the system allows; port 0 picks a free
 * port). Returns 0 and *out (free with clv_net_listener_free), or
 * CLV_EINVAL or CLV_EIO naming the address and the reason.
 */
int clv_net_listen(const char *addr, clv_net_listener **out, clv_error *err);
void clv_net_listener_free(clv_net_listener *l);
/* The port the listener is bound to. */
int clv_net_listener_port(const clv_net_listener *l);

/* Waits up to `timeout_ms` (< 0: forever) for a connection. Returns 0 and
 * *out (a connection with the defaults of clv_net_connect), or 0 and *out
 * NULL on timeout, or CLV_EIO / CLV_ENOMEM. */
int clv_net_accept(clv_net_listener *l, int timeout_ms, clv_net_conn **out,
                   clv_error *err);

/* ---- handshake ----------------------------------------------------------- */

/* The edge's side of the handshake. Initialise with
 * clv_net_client_options_init(), then set digest (and secret). */
typedef struct clv_net_client_options {
    uint8_t digest[CLV_NET_DIGEST_SIZE]; /* of the model the edge runs */
    clv_net_role role;                   /* default CLV_NET_ROLE_EDGE */
    const char *name;                    /* borrowed; may be NULL */
    const clv_net_secret *secret;        /* borrowed; NULL: no auth */
    /* With a secret: refuse a server that does not authenticate itself
     * (default true). */
    bool require_server_auth;
} clv_net_client_options;

void clv_net_client_options_init(clv_net_client_options *o);

/* What the edge learned from the server. */
typedef struct clv_net_session {
    uint64_t id;
    bool authenticated;     /* both sides proved they hold the secret */
    uint64_t max_payload;   /* the server's limit */
    uint32_t max_plans;     /* plans it keeps per connection (>= 1) */
    char server_name[128];
} clv_net_session;

/*
 * Runs the edge's handshake on a fresh connection: HELLO, then (if the
 * server sends a CHALLENGE) AUTH, then HELLO_ACK, whose MAC is checked when
 * authenticating. Returns 0 and fills *out (may be NULL); CLV_EINVAL when
 * the server refused (an ERROR: the message quotes it; a wrong digest
 * says so), asked for a secret the edge lacks, or failed to prove it holds
 * the secret; CLV_EFORMAT on an unexpected message; or any error of
 * send/recv. After a failure close the connection.
 */
int clv_net_handshake_client(clv_net_conn *c,
                             const clv_net_client_options *o,
                             clv_net_session *out, clv_error *err);

/* The server's side. Initialise with clv_net_server_options_init(). */
typedef struct clv_net_server_options {
    uint8_t digest[CLV_NET_DIGEST_SIZE]; /* of the model the server runs */
    const char *name;                    /* borrowed; may be NULL */
    const clv_net_secret *secret;        /* borrowed; NULL: no auth */
    uint64_t session;                    /* id to hand out */
    uint64_t max_payload;                /* advertised; default 256 MiB */
    uint32_t max_plans;                  /* advertised; default 1 */
} clv_net_server_options;

void clv_net_server_options_init(clv_net_server_options *o);

/* What the server learned about the edge. */
typedef struct clv_net_peer {
    clv_net_role role;
    bool authenticated;
    char name[128];
} clv_net_peer;

/*
 * Runs the server's handshake on an accepted connection: expects HELLO
 * (version 1, matching digest), with a secret sends a CHALLENGE and checks
 * the AUTH (constant-time), then sends HELLO_ACK. On any refusal it first
 * sends the edge an ERROR saying why (CLV_NET_ERR_VERSION, _MODEL, _AUTH,
 * _PROTOCOL), then returns CLV_EINVAL (refused) or CLV_EFORMAT, or the
 * error of send/recv. Fills *out (may be NULL) on success.
 */
int clv_net_handshake_server(clv_net_conn *c,
                             const clv_net_server_options *o,
                             clv_net_peer *out, clv_error *err);

/* ---- rates and schedules ------------------------------------------------- */

/*
 * Parses a link rate: a preset name of clv_link_preset() ("cat1", "3g",
 * "4g", "wifi"), or a positive number with an optional unit: none or
 * "mbit" (Mbit/s), "bit", "kbit", "gbit" (10^3 steps), each optionally
 * followed by "/s"; case-insensitive. "mbps"/"kbps" are refused as
 * ambiguous (tc reads them as bytes). Writes bits per second to *bps.
 * Returns 0, or CLV_EINVAL naming the text.
 */
int clv_net_parse_rate(const char *text, double *bps, clv_error *err);

/* A rate that changes over time. */
typedef struct clv_net_schedule clv_net_schedule;

/*
 * Parses "T:RATE,T:RATE,..." (e.g. "0:wifi,10:3g,20:4g"): T in seconds
 * (decimals allowed), the first 0, strictly increasing; RATE as
 * clv_net_parse_rate. A single RATE without "T:" is a constant schedule.
 * The last rate holds forever. At most 4096 entries. Returns 0 and *out
 * (free with clv_net_schedule_free), or CLV_EINVAL naming the entry and
 * the fault, or CLV_ENOMEM.
 */
int clv_net_schedule_parse(const char *text, clv_net_schedule **out,
                           clv_error *err);
void clv_net_schedule_free(clv_net_schedule *s);
int clv_net_schedule_n(const clv_net_schedule *s);
/* Entry i: its start time (s) and rate (bit/s). Returns 0 or CLV_EINVAL
 * when i is out of range. */
int clv_net_schedule_entry(const clv_net_schedule *s, int i, double *t_s,
                           double *bps);
/* The rate at `t_s` seconds after the start (the first rate before 0). */
double clv_net_schedule_rate_at(const clv_net_schedule *s, double t_s);
/* The start of the first entry after `t_s`, or INFINITY. */
double clv_net_schedule_next_change(const clv_net_schedule *s, double t_s);

/* ---- pacing -------------------------------------------------------------- */

/* A clock for pacers: now_ns() returns nanoseconds of a monotonic clock,
 * sleep_ns() waits that long. Tests inject a fake one; NULL members (or a
 * NULL clock) mean CLOCK_MONOTONIC and nanosleep. `ctx` is passed along. */
typedef struct clv_net_clock {
    uint64_t (*now_ns)(void *ctx);
    void (*sleep_ns)(void *ctx, uint64_t ns);
    void *ctx;
} clv_net_clock;

/*
 * A token bucket that paces a sender to `bps` bits per second with bursts
 * of at most `burst` bytes (0: automatic, 20 ms at the current rate, at
 * least 1500 and at most 262144 bytes). It starts full. Bytes are granted
 * in pieces of at most an eighth of the bucket, so that a late wake-up
 * (up to 7/8 of the bucket's time) does not cost rate. With a schedule the
 * rate follows it, time 0 being the pacer's creation or its last
 * clv_net_pacer_restart(). `clock` is copied (NULL: the system's).
 * Returns 0 and *out (free with clv_net_pacer_free), or CLV_EINVAL (a rate
 * that is not finite and > 0) or CLV_ENOMEM.
 */
int clv_net_pacer_create(double bps, uint64_t burst,
                         const clv_net_clock *clock, clv_net_pacer **out,
                         clv_error *err);
void clv_net_pacer_free(clv_net_pacer *p);

/* Sets a constant rate from now on (dropping any schedule). Returns 0 or
 * CLV_EINVAL. */
int clv_net_pacer_set_rate(clv_net_pacer *p, double bps);

/* Follows schedule `s` (copied) from now on; its time 0 is the pacer's
 * start. Returns 0 or CLV_ENOMEM. */
int clv_net_pacer_set_schedule(clv_net_pacer *p, const clv_net_schedule *s,
                               clv_error *err);

/* Makes now the pacer's time 0 and fills the bucket. */
void clv_net_pacer_restart(clv_net_pacer *p);

/* The rate in force now, bit/s. */
double clv_net_pacer_rate(clv_net_pacer *p);

/* Seconds since the pacer's time 0. */
double clv_net_pacer_elapsed(clv_net_pacer *p);

/* Waits (through the clock) until some bytes may be sent and takes them:
 * returns how many, between 1 and min(want, burst/8) (0 when want is 0). */
uint64_t clv_net_pacer_acquire(clv_net_pacer *p, uint64_t want);

/* Gives back `n` bytes taken by clv_net_pacer_acquire() and not sent. */
void clv_net_pacer_refund(clv_net_pacer *p, uint64_t n);

/*
 * Drops, without sending, the tokens the bucket earned while the sender
 * was idle: those earned since `since_ns` (the pacer clock's time the
 * link last went quiet), or every token when since_ns is 0. The bucket
 * lets a sender that was quiet send a burst at once and starts full; a
 * real link has no such credit, so a sender that emulates a link calls
 * this before each message, which then crosses at exactly the rate
 * (bytes * 8 / rate), as a planner predicts. Never waits.
 */
void clv_net_pacer_forfeit_idle(clv_net_pacer *p, uint64_t since_ns);

/* ---- bandwidth ----------------------------------------------------------- */

/* The active probe (the DNN Surgery paper's method, Section II-D): send
 * two payloads of different sizes one after the other, each answered by a
 * PROBE_ACK; bandwidth = size difference / response-time difference,
 * which cancels the round trip and fixed costs. */
typedef struct clv_net_probe_options {
    uint64_t min_bytes;  /* the first small probe; default 4 KiB */
    uint64_t max_bytes;  /* the largest probe; default 32 MiB */
    double target_ms;    /* wanted time difference; default 200 */
    int repeats;         /* measured pairs, the median is taken; default 3 */
} clv_net_probe_options;

void clv_net_probe_options_init(clv_net_probe_options *o);

typedef struct clv_net_probe_result {
    double bps;          /* the estimate, bit/s (median of the pairs) */
    double recv_bps;     /* from the receiver's timing of the large probes */
    double rtt_ms;       /* response time of an empty probe */
    uint64_t small_bytes, large_bytes; /* payload sizes of the last pair */
    double diff_ms;      /* response-time difference of the last pair */
    int pairs;           /* pairs measured (sizing rounds included) */
} clv_net_probe_result;

/*
 * Probes the link on an idle connection whose peer answers PROBE with
 * PROBE_ACK (clv_net_answer_probe; a cleave server always does). The
 * sizes grow from min_bytes until a pair's time difference reaches
 * target_ms or the large probe would exceed max_bytes; then `repeats`
 * pairs are measured and the median kept. Probes go through the
 * connection's pacer like any send. Returns 0 and *out; CLV_EINVAL (bad
 * options), CLV_EFORMAT (an unexpected reply), CLV_ERANGE (no positive time
 * difference: the link is too fast for max_bytes to measure), or an error
 * of send/recv.
 */
int clv_net_probe_link(clv_net_conn *c, const clv_net_probe_options *o,
                       clv_net_probe_result *out, clv_error *err);

/* Answers a received PROBE `probe` with its PROBE_ACK. Returns what
 * clv_net_send returns, or CLV_EINVAL if `probe` is no PROBE. */
int clv_net_answer_probe(clv_net_conn *c, const clv_net_msg *probe,
                         clv_error *err);

/* The bandwidth (bit/s) two probes of total sizes `small_bytes` and
 * `large_bytes` with response times `small_ns` and `large_ns` imply; 0
 * when the differences are not positive. */
double clv_net_probe_bandwidth(uint64_t small_bytes, uint64_t small_ns,
                               uint64_t large_bytes, uint64_t large_ns);

/* A passive estimator: transfers of real traffic (bytes and the time they
 * took, e.g. a RESULT's recv_ns for its FRAME's payload) are gathered into
 * samples of at least min_bytes and min_ns, and the samples smoothed by
 * EWMAs of bytes and of time, so that the estimate is their ratio. */
typedef struct clv_net_bw clv_net_bw;

typedef struct clv_net_bw_options {
    double alpha;        /* weight of a new sample, 0 < alpha <= 1; 0.3 */
    uint64_t min_bytes;  /* default 32 KiB */
    uint64_t min_ns;     /* default 5 ms */
} clv_net_bw_options;

void clv_net_bw_options_init(clv_net_bw_options *o);

/* A new estimator (`o` copied; NULL for the defaults). Returns 0 and *out
 * (free with clv_net_bw_free), CLV_EINVAL or CLV_ENOMEM. */
int clv_net_bw_create(const clv_net_bw_options *o, clv_net_bw **out,
                      clv_error *err);
void clv_net_bw_free(clv_net_bw *b);

/* Adds a transfer of `bytes` that took `ns` nanoseconds (ignored when
 * either is 0). */
void clv_net_bw_add(clv_net_bw *b, uint64_t bytes, uint64_t ns);

/* Replaces the state by one sample of `bps` (e.g. a probe's estimate), so
 * that later transfers refine it. */
void clv_net_bw_seed(clv_net_bw *b, double bps);

/* The smoothed estimate in bit/s; 0 before the first sample. */
double clv_net_bw_estimate(const clv_net_bw *b);
/* The rate of the last complete sample, bit/s; 0 before the first. */
double clv_net_bw_last(const clv_net_bw *b);
/* Complete samples so far. */
uint64_t clv_net_bw_samples(const clv_net_bw *b);

#ifdef __cplusplus
}
#endif
#endif
