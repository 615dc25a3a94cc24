/*
 * seal.h - the sealing layer: AES-256-GCM chunks with the protocol's nonce
 * layout (protocol.md, section Items and chunks).
 *
 *   nonce = item (1 meta, 2 body) || final (1 on the last chunk, else 0)
 *           || 0x0000 || u64be(chunk index, from 0)
 *   chunk = AES-256-GCM(mk, nonce, aad, plaintext) = ciphertext || tag
 *
 * Every chunk but the last of an item holds exactly SEAL_CHUNK_MAX plaintext
 * bytes; the last (final) one holds 0..SEAL_CHUNK_MAX-1.  The AAD is the same
 * for every chunk of both items of a message.  Because the item, the chunk
 * index and the final flag are all in the nonce, a chunk that is moved,
 * duplicated, dropped, cut or taken from another item or message fails its
 * tag, and so does a stream that ends without its final chunk.
 *
 * Layers, bottom up:
 *   seal_key       one AES-256-GCM key, implementation chosen at run time
 *   seal_gcm_*     raw AES-256-GCM with a 12-byte IV (in place)
 *   seal_chunk_*   one chunk with the protocol nonce (in place)
 *   seal_meta_*    the meta item, one final chunk, one shot
 *   seal_writer    streaming body sealer, constant memory
 *   seal_reader    streaming body opener, constant memory
 *
 * Implementation: BearSSL's AES-NI CTR (br_aes_x86ni) and PCLMULQDQ GHASH
 * when the CPU has them, else the constant-time portable br_aes_ct64 and
 * br_ghash_ctmul64.  All of them are constant-time; tag checks use
 * br_gcm_check_tag (constant-time).  Nothing here allocates: every context
 * is caller-owned.  Contexts hold a pointer into themselves (BearSSL's GCM
 * context points at the AES key schedule), so they must not be copied or
 * moved after init.  Limits (SEAL_CHUNK_MAX, SEAL_META_MAX, SEAL_AAD_MAX,
 * ...) are in limits.h.
 */
#ifndef MTE_SEAL_H
#define MTE_SEAL_H

#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define SEAL_KEY_LEN    32
#define SEAL_NONCE_LEN  12
#define SEAL_ITEM_META  1
#define SEAL_ITEM_BODY  2
#define SEAL_ITEM_FRAMED 3      /* a framed body's records (PROTOCOL.md section 13) */

/* Status codes of the streaming API (the one-shot calls return -1). */
#define SEAL_OK         0
#define SEAL_E_AUTH     (-1)    /* a chunk failed authentication, or the stream
                                 * ended without its final chunk */
#define SEAL_E_SINK     (-2)    /* the sink returned non-zero */
#define SEAL_E_STATE    (-3)    /* the context already finished, or was never
                                 * initialised (aad too long) */

/* ---- implementation choice ---- */

/*
 * Forces the portable implementation (br_aes_ct64 + br_ghash_ctmul64) for
 * keys initialised afterwards when on != 0; on == 0 restores the run-time
 * choice.  For tests and benchmarks; call it before any other thread uses
 * this module.
 */
void seal_force_portable(int on);

/* Name of the implementation keys initialised now would use, e.g.
 * "aes_x86ni+ghash_pclmul" or "aes_ct64+ghash_ctmul64".  Static string. */
const char *seal_impl_name(void);

/* ---- one key ---- */

struct seal_key {
	br_aes_gen_ctr_keys aes;
	br_gcm_context      gcm;    /* points at aes: never copy or move */
};

/* Expands the 32-byte key mk into key. */
void seal_key_init(struct seal_key *key, const uint8_t mk[SEAL_KEY_LEN]);

/* Erases key; it must be initialised again before any further use. */
void seal_key_wipe(struct seal_key *key);

/* ---- raw AES-256-GCM, 12-byte IV, 16-byte tag, in place ---- */

/* Largest message GCM accepts under one IV (2^36 - 32 bytes, SP 800-38D). */
#define SEAL_GCM_MAX    ((UINT64_C(1) << 36) - 32)

/*
 * Encrypts data[0..len) in place and writes the tag.  aad may be NULL when
 * aad_len == 0, data may be NULL when len == 0.  Returns 0, or -1 (nothing
 * changed) when len > SEAL_GCM_MAX.
 */
int seal_gcm_encrypt(struct seal_key *key, const uint8_t iv[SEAL_NONCE_LEN],
                     const void *aad, size_t aad_len, uint8_t *data, size_t len,
                     uint8_t tag[SEAL_TAG_LEN]);

/*
 * Decrypts data[0..len) in place and checks tag in constant time.  Returns 0
 * when the tag is valid; otherwise -1 and data[0..len) is zeroed, so
 * unauthenticated plaintext is never left behind (also -1, nothing changed,
 * when len > SEAL_GCM_MAX).
 */
int seal_gcm_decrypt(struct seal_key *key, const uint8_t iv[SEAL_NONCE_LEN],
                     const void *aad, size_t aad_len, uint8_t *data, size_t len,
                     const uint8_t tag[SEAL_TAG_LEN]);

/* ---- one chunk ---- */

/* Writes the protocol nonce: item || final || 0x00 0x00 || u64be(index).
 * final is 0 or 1 (any non-zero value is written as 1). */
void seal_nonce(uint8_t nonce[SEAL_NONCE_LEN], unsigned item, int final, uint64_t index);

/*
 * Seals chunk number index of an item in place: data[0..len) becomes the
 * ciphertext and tag receives the tag (the wire chunk is data || tag).
 * Returns 0, or -1 (nothing changed) when item is not SEAL_ITEM_META,
 * SEAL_ITEM_BODY or SEAL_ITEM_FRAMED, aad_len > SEAL_AAD_MAX, or the length
 * breaks the chunk rule: a non-final chunk of a meta or body item holds
 * exactly SEAL_CHUNK_MAX bytes, a final one at most SEAL_CHUNK_MAX - 1; a
 * framed record's chunk holds 0 to SEAL_CHUNK_MAX bytes either way.
 */
int seal_chunk_seal(struct seal_key *key, unsigned item, int final, uint64_t index,
                    const void *aad, size_t aad_len, uint8_t *data, size_t len,
                    uint8_t tag[SEAL_TAG_LEN]);

/*
 * Opens chunk number index of an item in place: data[0..len) is the
 * ciphertext (without its tag), tag the 16 bytes that followed it.  Returns 0
 * when authentic (data is then the plaintext); -1 on a bad tag (data zeroed)
 * or on the argument errors of seal_chunk_seal (nothing changed).
 */
int seal_chunk_open(struct seal_key *key, unsigned item, int final, uint64_t index,
                    const void *aad, size_t aad_len, uint8_t *data, size_t len,
                    const uint8_t tag[SEAL_TAG_LEN]);

/* ---- the meta item: one final chunk, index 0, item 1 ---- */

/*
 * Seals pt[0..len) as the meta item under message key mk and writes
 * ciphertext || tag (len + SEAL_TAG_LEN bytes) to out.  out may be pt itself
 * (in place, cap >= len + 16) but must not otherwise overlap it.  Returns
 * len + SEAL_TAG_LEN, or -1 (out untouched) when len > SEAL_META_MAX,
 * aad_len > SEAL_AAD_MAX or cap < len + SEAL_TAG_LEN.
 */
int seal_meta_seal(uint8_t *out, size_t cap, const uint8_t mk[SEAL_KEY_LEN],
                   const void *aad, size_t aad_len, const uint8_t *pt, size_t len);

/*
 * Opens a meta item: wire[0..wire_len) is ciphertext || tag.  Writes the
 * plaintext (wire_len - 16 bytes) to out and returns its length, or -1 when
 * wire_len < 16, wire_len - 16 > SEAL_META_MAX, aad_len > SEAL_AAD_MAX,
 * cap < wire_len - 16 (out untouched in those cases) or the tag is wrong (out
 * zeroed over wire_len - 16 bytes).  out may be wire itself but must not
 * otherwise overlap it.
 */
int seal_meta_open(uint8_t *out, size_t cap, const uint8_t mk[SEAL_KEY_LEN],
                   const void *aad, size_t aad_len, const uint8_t *wire, size_t wire_len);

/* ---- framed bodies (PROTOCOL.md section 13) ---- */

#define SEAL_RECORD_HEADER  4
#define SEAL_RECORD_MAX     (SEAL_RECORD_HEADER + SEAL_CHUNK_MAX + SEAL_TAG_LEN)

/*
 * Seals pt[0..len) (len <= SEAL_CHUNK_MAX) as record number index of a
 * framed body under key: writes u32be(L | final << 31) and the chunk (L =
 * len + SEAL_TAG_LEN bytes) to out, which has room for SEAL_RECORD_MAX
 * bytes (pt may be out + SEAL_RECORD_HEADER).  Returns the record's length,
 * or -1 when len or aad_len is too large.
 */
int seal_record_seal(struct seal_key *key, int final, uint64_t index, const void *aad,
                     size_t aad_len, const uint8_t *pt, size_t len, uint8_t *out);

/* ---- body lengths ---- */

/*
 * Wire length of a body of plain_len plaintext bytes:
 * W = len + 16 * (floor(len / 65536) + 1).  Returns 0 and sets *wire_len, or
 * -1 when W does not fit in 64 bits.
 */
int seal_wire_len(uint64_t plain_len, uint64_t *wire_len);

/*
 * Plaintext length of a body that is wire_len bytes on the wire:
 * len = W - 16 * (floor(W / 65552) + 1).  Returns 0 and sets *plain_len, or
 * -1 when W mod 65552 < 16 (no body has that wire length).
 */
int seal_plain_len(uint64_t wire_len, uint64_t *plain_len);

/* ---- streaming ---- */

/*
 * Receives output: wire chunks from a writer, authenticated plaintext from a
 * reader.  data is valid only during the call.  Returns 0 to go on; any
 * other value stops the stream (the call that invoked the sink returns
 * SEAL_E_SINK and the context is failed).
 */
typedef int (*seal_sink_fn)(void *arg, const uint8_t *data, size_t len);

/*
 * Streaming body sealer.  Buffers up to one chunk of plaintext; each full
 * chunk is sealed as a non-final chunk and emitted (SEAL_WIRE_CHUNK_MAX
 * bytes in one sink call); finish seals the rest (0..65535 bytes) as the
 * final chunk and emits it.  Caller-owned, about 74 KiB; fields are private.
 */
struct seal_writer {
	struct seal_key key;
	uint64_t        index;      /* index of the chunk being filled */
	size_t          fill;       /* plaintext bytes in buf */
	int             state;      /* 0 open, 1 finished, < 0 failed (error code) */
	size_t          aad_len;
	uint8_t         aad[SEAL_AAD_MAX];
	uint8_t         buf[SEAL_WIRE_CHUNK_MAX];
};

/*
 * Starts sealing a body under message key mk with the message's aad (copied;
 * the caller's buffer need not outlive this call).  Returns SEAL_OK, or
 * SEAL_E_STATE when aad_len > SEAL_AAD_MAX (the writer is then failed and
 * every later call returns SEAL_E_STATE).
 */
int seal_writer_init(struct seal_writer *w, const uint8_t mk[SEAL_KEY_LEN],
                     const void *aad, size_t aad_len);

/*
 * Adds pt[0..len) to the body, emitting every chunk it completes.  Returns
 * SEAL_OK; SEAL_E_SINK when the sink refused (the writer is then failed and
 * wiped); or, on a failed writer, its error code, on a finished one
 * SEAL_E_STATE.
 */
int seal_writer_feed(struct seal_writer *w, const uint8_t *pt, size_t len,
                     seal_sink_fn sink, void *arg);

/*
 * Seals and emits the final chunk (16 bytes for an empty remainder).  The
 * writer is then finished and its key and plaintext wiped.  Returns as
 * seal_writer_feed does.
 */
int seal_writer_finish(struct seal_writer *w, seal_sink_fn sink, void *arg);

/* Erases a writer in any state (call it when abandoning a stream). */
void seal_writer_wipe(struct seal_writer *w);

/*
 * Streaming body opener.  Buffers up to one wire chunk.  Whenever
 * SEAL_WIRE_CHUNK_MAX bytes are buffered they are opened as a non-final chunk
 * (a final chunk is at most 65551 bytes, so this is unambiguous) and its
 * 65536 plaintext bytes are emitted; finish, called at the end of the wire
 * body, opens the remainder as the final chunk.  Plaintext is emitted only
 * after its chunk authenticated.  Caller-owned, about 74 KiB.
 */
struct seal_reader {
	struct seal_key key;
	uint64_t        index;      /* index of the chunk being filled */
	size_t          fill;       /* wire bytes in buf */
	size_t          dirty;      /* leading bytes of buf that held plaintext */
	int             state;      /* 0 open, 1 finished, < 0 failed (error code) */
	size_t          aad_len;
	uint8_t         aad[SEAL_AAD_MAX];
	uint8_t         buf[SEAL_WIRE_CHUNK_MAX];
};

/* Starts opening a body; as seal_writer_init. */
int seal_reader_init(struct seal_reader *r, const uint8_t mk[SEAL_KEY_LEN],
                     const void *aad, size_t aad_len);

/*
 * Adds wire[0..len) of the sealed body, emitting the plaintext of every
 * chunk it completes.  Returns SEAL_OK; SEAL_E_AUTH when a chunk failed
 * authentication, SEAL_E_SINK when the sink refused (the reader is then
 * failed and wiped, and every later call returns the same code); SEAL_E_STATE
 * on a finished reader.
 */
int seal_reader_feed(struct seal_reader *r, const uint8_t *wire, size_t len,
                     seal_sink_fn sink, void *arg);

/*
 * Ends the body: opens the buffered remainder as the final chunk and emits
 * its plaintext (the sink is not called for an empty final chunk).  A
 * remainder shorter than 16 bytes - including nothing at all after a full
 * chunk, and an empty body - is a truncation: SEAL_E_AUTH.  The reader is then
 * finished or failed, and wiped either way.  Returns as seal_reader_feed.
 */
int seal_reader_finish(struct seal_reader *r, seal_sink_fn sink, void *arg);

/* Erases a reader in any state (call it when abandoning a stream). */
void seal_reader_wipe(struct seal_reader *r);

#endif
