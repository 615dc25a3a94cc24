/* seal.c - chunked AES-256-GCM with the protocol nonce layout; see seal.h. */
#include "crypto/seal.h"

#include <pthread.h>
#include <string.h>

#include "crypto/wipe.h"

/*
 * Constant-time testing (tests/ct): the verdict of a tag check depends on the
 * key but is public by design (it decides whether data is accepted), so it is
 * declared public to valgrind before the one branch on it.
 */
#ifdef CRYPTO_CT_TESTING
#include <valgrind/memcheck.h>
#define ct_declassify(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define ct_declassify(p, n) ((void)(p), (void)(n))
#endif

/* ---- implementation choice ---- */

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static const br_block_ctr_class *fast_aes;     /* NULL: no AES-NI */
static br_ghash fast_ghash;                    /* 0: no PCLMULQDQ */
static int force_portable;

/* Runs once: the probes execute CPUID, which is slow in virtual machines. */
static void
detect(void)
{
	fast_aes = br_aes_x86ni_ctr_get_vtable();
	fast_ghash = br_ghash_pclmul_get();
}

static void
choose(const br_block_ctr_class **aes, br_ghash *gh)
{
	pthread_once(&detect_once, detect);
	/* Each is chosen on its own: both alternatives are constant-time. */
	*aes = fast_aes != NULL && !force_portable ? fast_aes : &br_aes_ct64_ctr_vtable;
	*gh = fast_ghash != 0 && !force_portable ? fast_ghash : &br_ghash_ctmul64;
}

void
seal_force_portable(int on)
{
	force_portable = on != 0;
}

const char *
seal_impl_name(void)
{
	const br_block_ctr_class *aes;
	br_ghash gh;

	choose(&aes, &gh);
	if (aes == &br_aes_ct64_ctr_vtable)
		return gh == &br_ghash_ctmul64 ? "aes_ct64+ghash_ctmul64" : "aes_ct64+ghash_pclmul";
	return gh == &br_ghash_ctmul64 ? "aes_x86ni+ghash_ctmul64" : "aes_x86ni+ghash_pclmul";
}

/* ---- one key ---- */

void
seal_key_init(struct seal_key *key, const uint8_t mk[SEAL_KEY_LEN])
{
	const br_block_ctr_class *aes;
	br_ghash gh;

	choose(&aes, &gh);
	aes->init(&key->aes.vtable, mk, SEAL_KEY_LEN);
	br_gcm_init(&key->gcm, &key->aes.vtable, gh);
}

void
seal_key_wipe(struct seal_key *key)
{
	crypto_wipe(key, sizeof *key);
}

/* ---- raw GCM ---- */

static void
gcm_start(struct seal_key *key, const uint8_t iv[SEAL_NONCE_LEN], const void *aad,
          size_t aad_len)
{
	br_gcm_reset(&key->gcm, iv, SEAL_NONCE_LEN);
	if (aad_len > 0)
		br_gcm_aad_inject(&key->gcm, aad, aad_len);
	br_gcm_flip(&key->gcm);
}

int
seal_gcm_encrypt(struct seal_key *key, const uint8_t iv[SEAL_NONCE_LEN], const void *aad,
                 size_t aad_len, uint8_t *data, size_t len, uint8_t tag[SEAL_TAG_LEN])
{
	if ((uint64_t)len > SEAL_GCM_MAX)
		return -1;
	gcm_start(key, iv, aad, aad_len);
	if (len > 0)
		br_gcm_run(&key->gcm, 1, data, len);
	br_gcm_get_tag(&key->gcm, tag);
	return 0;
}

int
seal_gcm_decrypt(struct seal_key *key, const uint8_t iv[SEAL_NONCE_LEN], const void *aad,
                 size_t aad_len, uint8_t *data, size_t len, const uint8_t tag[SEAL_TAG_LEN])
{
	uint32_t ok;

	if ((uint64_t)len > SEAL_GCM_MAX)
		return -1;
	gcm_start(key, iv, aad, aad_len);
	if (len > 0)
		br_gcm_run(&key->gcm, 0, data, len);
	ok = br_gcm_check_tag(&key->gcm, tag);     /* constant-time */
	ct_declassify(&ok, sizeof ok);
	if (ok)
		return 0;
	crypto_wipe(data, len);
	return -1;
}

/* ---- one chunk ---- */

void
seal_nonce(uint8_t nonce[SEAL_NONCE_LEN], unsigned item, int final, uint64_t index)
{
	nonce[0] = (uint8_t)item;
	nonce[1] = final ? 1 : 0;
	nonce[2] = 0;
	nonce[3] = 0;
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(index >> (56 - 8 * i));
}

static int
chunk_args_ok(unsigned item, int final, size_t aad_len, size_t len)
{
	if (item != SEAL_ITEM_META && item != SEAL_ITEM_BODY && item != SEAL_ITEM_FRAMED)
		return 0;
	if (aad_len > SEAL_AAD_MAX)
		return 0;
	if (item == SEAL_ITEM_FRAMED)
		return len <= SEAL_CHUNK_MAX;
	return final ? len < SEAL_CHUNK_MAX : len == SEAL_CHUNK_MAX;
}

int
seal_chunk_seal(struct seal_key *key, unsigned item, int final, uint64_t index,
                const void *aad, size_t aad_len, uint8_t *data, size_t len,
                uint8_t tag[SEAL_TAG_LEN])
{
	uint8_t nonce[SEAL_NONCE_LEN];

	if (!chunk_args_ok(item, final, aad_len, len))
		return -1;
	seal_nonce(nonce, item, final, index);
	return seal_gcm_encrypt(key, nonce, aad, aad_len, data, len, tag);
}

int
seal_chunk_open(struct seal_key *key, unsigned item, int final, uint64_t index,
                const void *aad, size_t aad_len, uint8_t *data, size_t len,
                const uint8_t tag[SEAL_TAG_LEN])
{
	uint8_t nonce[SEAL_NONCE_LEN];

	if (!chunk_args_ok(item, final, aad_len, len))
		return -1;
	seal_nonce(nonce, item, final, index);
	return seal_gcm_decrypt(key, nonce, aad, aad_len, data, len, tag);
}

/* ---- meta ---- */

int
seal_meta_seal(uint8_t *out, size_t cap, const uint8_t mk[SEAL_KEY_LEN],
               const void *aad, size_t aad_len, const uint8_t *pt, size_t len)
{
	struct seal_key key;
	int rc;

	if (len > SEAL_META_MAX || aad_len > SEAL_AAD_MAX || cap < len + SEAL_TAG_LEN)
		return -1;
	if (out != pt && len > 0)
		memcpy(out, pt, len);
	seal_key_init(&key, mk);
	rc = seal_chunk_seal(&key, SEAL_ITEM_META, 1, 0, aad, aad_len, out, len, out + len);
	seal_key_wipe(&key);
	return rc == 0 ? (int)(len + SEAL_TAG_LEN) : -1;
}

int
seal_meta_open(uint8_t *out, size_t cap, const uint8_t mk[SEAL_KEY_LEN],
               const void *aad, size_t aad_len, const uint8_t *wire, size_t wire_len)
{
	struct seal_key key;
	uint8_t tag[SEAL_TAG_LEN];
	size_t len;
	int rc;

	if (wire_len < SEAL_TAG_LEN)
		return -1;
	len = wire_len - SEAL_TAG_LEN;
	if (len > SEAL_META_MAX || aad_len > SEAL_AAD_MAX || cap < len)
		return -1;
	/* The tag first: when out == wire, nothing below overwrites it, but a
	 * copy keeps that reasoning out of the way. */
	memcpy(tag, wire + len, SEAL_TAG_LEN);
	if (out != wire && len > 0)
		memcpy(out, wire, len);
	seal_key_init(&key, mk);
	rc = seal_chunk_open(&key, SEAL_ITEM_META, 1, 0, aad, aad_len, out, len, tag);
	seal_key_wipe(&key);
	return rc == 0 ? (int)len : -1;
}

/* ---- lengths ---- */

int
seal_wire_len(uint64_t plain_len, uint64_t *wire_len)
{
	uint64_t extra = SEAL_TAG_LEN * (plain_len / SEAL_CHUNK_MAX + 1);  /* <= 2^52 */

	if (plain_len > UINT64_MAX - extra)
		return -1;
	*wire_len = plain_len + extra;
	return 0;
}

int
seal_plain_len(uint64_t wire_len, uint64_t *plain_len)
{
	if (wire_len % SEAL_WIRE_CHUNK_MAX < SEAL_TAG_LEN)
		return -1;
	*plain_len = wire_len - SEAL_TAG_LEN * (wire_len / SEAL_WIRE_CHUNK_MAX + 1);
	return 0;
}

/* ---- streaming: shared state handling ---- */

#define ST_OPEN     0
#define ST_DONE     1

static int
closed_status(int state)
{
	return state == ST_DONE ? SEAL_E_STATE : state;
}

static int
stream_init_aad(uint8_t *dst, size_t *dst_len, const void *aad, size_t aad_len)
{
	if (aad_len > SEAL_AAD_MAX)
		return -1;
	if (aad_len > 0)
		memcpy(dst, aad, aad_len);
	*dst_len = aad_len;
	return 0;
}

/* ---- writer ---- */

/* Ends a writer: key and any plaintext still buffered are erased.  After a
 * chunk was sealed, buf holds only ciphertext. */
static int
writer_close(struct seal_writer *w, int state)
{
	seal_key_wipe(&w->key);
	crypto_wipe(w->buf, w->fill);
	w->fill = 0;
	w->state = state;
	return state == ST_DONE ? SEAL_OK : state;
}

int
seal_writer_init(struct seal_writer *w, const uint8_t mk[SEAL_KEY_LEN],
                 const void *aad, size_t aad_len)
{
	w->index = 0;
	w->fill = 0;
	if (stream_init_aad(w->aad, &w->aad_len, aad, aad_len) != 0) {
		w->aad_len = 0;
		memset(&w->key, 0, sizeof w->key);
		w->state = SEAL_E_STATE;
		return SEAL_E_STATE;
	}
	seal_key_init(&w->key, mk);
	w->state = ST_OPEN;
	return SEAL_OK;
}

/* Seals buf[0..fill) as chunk w->index and hands it to the sink. */
static int
writer_emit(struct seal_writer *w, int final, seal_sink_fn sink, void *arg)
{
	size_t len = w->fill;

	if (seal_chunk_seal(&w->key, SEAL_ITEM_BODY, final, w->index, w->aad, w->aad_len,
	                    w->buf, len, w->buf + len) != 0)
		return writer_close(w, SEAL_E_STATE);   /* unreachable: fill is kept in range */
	w->fill = 0;    /* buf now holds ciphertext only */
	if (sink(arg, w->buf, len + SEAL_TAG_LEN) != 0)
		return writer_close(w, SEAL_E_SINK);
	return SEAL_OK;
}

int
seal_writer_feed(struct seal_writer *w, const uint8_t *pt, size_t len,
                 seal_sink_fn sink, void *arg)
{
	if (w->state != ST_OPEN)
		return closed_status(w->state);
	while (len > 0) {
		size_t n = SEAL_CHUNK_MAX - w->fill;
		if (n > len)
			n = len;
		memcpy(w->buf + w->fill, pt, n);
		w->fill += n;
		pt += n;
		len -= n;
		/* A full chunk is never the final one (a body whose length is a
		 * multiple of 65536 ends with an empty final chunk), so it can go
		 * out at once. */
		if (w->fill == SEAL_CHUNK_MAX) {
			int rc;
			if (w->index == UINT64_MAX)     /* no index left for the final chunk */
				return writer_close(w, SEAL_E_STATE);
			rc = writer_emit(w, 0, sink, arg);
			if (rc != SEAL_OK)
				return rc;
			w->index++;
		}
	}
	return SEAL_OK;
}

int
seal_writer_finish(struct seal_writer *w, seal_sink_fn sink, void *arg)
{
	int rc;

	if (w->state != ST_OPEN)
		return closed_status(w->state);
	rc = writer_emit(w, 1, sink, arg);
	if (rc != SEAL_OK)
		return rc;
	return writer_close(w, ST_DONE);
}

void
seal_writer_wipe(struct seal_writer *w)
{
	if (w->state == ST_OPEN)
		writer_close(w, SEAL_E_STATE);
	crypto_wipe(&w->key, sizeof w->key);
	w->fill = 0;
	w->state = SEAL_E_STATE;
}

/* ---- reader ---- */

/* Ends a reader: key and every byte of buf that held plaintext are erased. */
static int
reader_close(struct seal_reader *r, int state)
{
	size_t n = r->dirty > r->fill ? r->dirty : r->fill;

	seal_key_wipe(&r->key);
	crypto_wipe(r->buf, n);
	r->fill = 0;
	r->dirty = 0;
	r->state = state;
	return state == ST_DONE ? SEAL_OK : state;
}

int
seal_reader_init(struct seal_reader *r, const uint8_t mk[SEAL_KEY_LEN],
                 const void *aad, size_t aad_len)
{
	r->index = 0;
	r->fill = 0;
	r->dirty = 0;
	if (stream_init_aad(r->aad, &r->aad_len, aad, aad_len) != 0) {
		r->aad_len = 0;
		memset(&r->key, 0, sizeof r->key);
		r->state = SEAL_E_STATE;
		return SEAL_E_STATE;
	}
	seal_key_init(&r->key, mk);
	r->state = ST_OPEN;
	return SEAL_OK;
}

/* Opens buf[0..fill) as chunk r->index and hands its plaintext to the sink. */
static int
reader_emit(struct seal_reader *r, int final, seal_sink_fn sink, void *arg)
{
	size_t len = r->fill - SEAL_TAG_LEN;

	if (seal_chunk_open(&r->key, SEAL_ITEM_BODY, final, r->index, r->aad, r->aad_len,
	                    r->buf, len, r->buf + len) != 0)
		return reader_close(r, SEAL_E_AUTH);
	if (len > r->dirty)
		r->dirty = len;
	r->fill = 0;
	if (len > 0 && sink(arg, r->buf, len) != 0)
		return reader_close(r, SEAL_E_SINK);
	return SEAL_OK;
}

int
seal_reader_feed(struct seal_reader *r, const uint8_t *wire, size_t len,
                 seal_sink_fn sink, void *arg)
{
	if (r->state != ST_OPEN)
		return closed_status(r->state);
	while (len > 0) {
		size_t n = SEAL_WIRE_CHUNK_MAX - r->fill;
		if (n > len)
			n = len;
		memcpy(r->buf + r->fill, wire, n);
		r->fill += n;
		wire += n;
		len -= n;
		/* A final chunk is at most 65551 bytes: a full buffer is a non-final
		 * chunk whatever follows. */
		if (r->fill == SEAL_WIRE_CHUNK_MAX) {
			int rc;
			if (r->index == UINT64_MAX)
				return reader_close(r, SEAL_E_AUTH);
			rc = reader_emit(r, 0, sink, arg);
			if (rc != SEAL_OK)
				return rc;
			r->index++;
		}
	}
	return SEAL_OK;
}

int
seal_reader_finish(struct seal_reader *r, seal_sink_fn sink, void *arg)
{
	int rc;

	if (r->state != ST_OPEN)
		return closed_status(r->state);
	if (r->fill < SEAL_TAG_LEN)
		return reader_close(r, SEAL_E_AUTH);   /* truncated: no final chunk */
	rc = reader_emit(r, 1, sink, arg);
	if (rc != SEAL_OK)
		return rc;
	return reader_close(r, ST_DONE);
}

void
seal_reader_wipe(struct seal_reader *r)
{
	if (r->state == ST_OPEN)
		reader_close(r, SEAL_E_STATE);
	crypto_wipe(&r->key, sizeof r->key);
	r->fill = 0;
	r->dirty = 0;
	r->state = SEAL_E_STATE;
}

int
seal_record_seal(struct seal_key *key, int final, uint64_t index, const void *aad,
                 size_t aad_len, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t *chunk = out + SEAL_RECORD_HEADER;
	uint32_t head = (uint32_t)(len + SEAL_TAG_LEN) | (final ? 0x80000000u : 0);

	if (len > SEAL_CHUNK_MAX || aad_len > SEAL_AAD_MAX)
		return -1;
	if (pt != chunk)
		memmove(chunk, pt, len);
	if (seal_chunk_seal(key, SEAL_ITEM_FRAMED, final, index, aad, aad_len, chunk, len,
	    chunk + len) != 0)
		return -1;
	out[0] = (uint8_t)(head >> 24);
	out[1] = (uint8_t)(head >> 16);
	out[2] = (uint8_t)(head >> 8);
	out[3] = (uint8_t)head;
	return (int)(len + SEAL_RECORD_HEADER + SEAL_TAG_LEN);
}
