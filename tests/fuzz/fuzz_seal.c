/*
 * fuzz_seal.c - libFuzzer target for sealed bodies and meta items
 * (src/crypto/seal.c) and their base64url text (src/crypto/b64.c).
 *
 * The first byte picks a case:
 *   0  the rest as a sealed wire body, fed to the streaming opener in
 *      pieces whose sizes come from the input: it must never deliver
 *      plaintext (nothing was sealed under the key);
 *   1  the rest as plaintext, sealed by the streaming sealer, then opened in
 *      input-chosen pieces: exactly the plaintext comes back, its wire
 *      length is seal_wire_len's;
 *   2  as 1, then one byte of the wire body flipped or the body cut short
 *      (both chosen by the input): the opener must fail and never deliver
 *      the whole plaintext;
 *   3  the rest as x-mte-relay-eh text: base64url-decoded (a decoded
 *      length matches the text's, and encoding it again gives the text) and
 *      opened as a meta item, which must fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/seal.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_BODY_MAX   (3 * SEAL_CHUNK_MAX + 100)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[SEAL_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const char aad[] = "mte-relay/1 res 00 pair 1 b 200";
static struct seal_reader reader;
static struct seal_writer writer;
static uint8_t wire[FUZZ_BODY_MAX + 8 * SEAL_TAG_LEN];
static uint8_t plain[FUZZ_BODY_MAX];
static size_t wire_len, plain_len;

static int
to_wire(void *arg, const uint8_t *d, size_t n)
{
	(void)arg;
	CHECK(wire_len + n <= sizeof wire);
	memcpy(wire + wire_len, d, n);
	wire_len += n;
	return 0;
}

static int
to_plain(void *arg, const uint8_t *d, size_t n)
{
	(void)arg;
	CHECK(plain_len + n <= sizeof plain);
	memcpy(plain + plain_len, d, n);
	plain_len += n;
	return 0;
}

/* Opens wire[0..len) in pieces sized by steer; SEAL_OK or the error. */
static int
open_in_pieces(const uint8_t *w, size_t len, const uint8_t *steer, size_t nsteer)
{
	size_t off = 0, k = 0;
	int rc;

	plain_len = 0;
	CHECK(seal_reader_init(&reader, key, aad, sizeof aad - 1) == SEAL_OK);
	while (off < len) {
		size_t piece = nsteer ? (size_t)steer[k++ % nsteer] * 97 + 1 : len;
		if (piece > len - off)
			piece = len - off;
		rc = seal_reader_feed(&reader, w + off, piece, to_plain, NULL);
		if (rc != SEAL_OK)
			return rc;
		off += piece;
	}
	return seal_reader_finish(&reader, to_plain, NULL);
}

static void
seal_all(const uint8_t *pt, size_t n)
{
	uint64_t want = 0;

	wire_len = 0;
	CHECK(seal_writer_init(&writer, key, aad, sizeof aad - 1) == SEAL_OK);
	CHECK(seal_writer_feed(&writer, pt, n, to_wire, NULL) == SEAL_OK);
	CHECK(seal_writer_finish(&writer, to_wire, NULL) == SEAL_OK);
	CHECK(seal_wire_len(n, &want) == 0 && want == wire_len);
}

static void
meta_text(const uint8_t *in, size_t n)
{
	static uint8_t buf[META_PLAINTEXT_MAX + SEAL_TAG_LEN];
	ssize_t d = b64url_decode(buf, sizeof buf, (const char *)in, n);

	static char again[sizeof buf * 4 / 3 + 8];

	if (d < 0)
		return;
	CHECK((size_t)d == b64url_decoded_len(n));
	/* one accepted encoding per byte string: encoding it again gives the text */
	CHECK(b64url_encode(again, sizeof again, buf, (size_t)d) == n && memcmp(again, in, n) == 0);
	CHECK(seal_meta_open(buf, sizeof buf, key, aad, sizeof aad - 1, buf, (size_t)d) < 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rest = data + 1, *steer;
	size_t n = size ? size - 1 : 0, nsteer;

	if (size == 0 || n > FUZZ_BODY_MAX)
		return 0;
	/* the last 8 bytes (when there are) also steer piece sizes and damage */
	nsteer = n < 8 ? n : 8;
	steer = rest + n - nsteer;
	switch (data[0] & 3) {
	case 0:
		CHECK(open_in_pieces(rest, n, steer, nsteer) != SEAL_OK);
		CHECK(plain_len == 0);
		break;
	case 1:
		seal_all(rest, n);
		CHECK(open_in_pieces(wire, wire_len, steer, nsteer) == SEAL_OK);
		CHECK(plain_len == n && memcmp(plain, rest, n) == 0);
		break;
	case 2: {
		size_t at;
		seal_all(rest, n);
		at = nsteer ? ((size_t)steer[0] << 16 | (size_t)steer[nsteer - 1] << 8 | steer[nsteer / 2]) % wire_len : 0;
		if (data[0] & 4)
			wire[at] ^= (uint8_t)(1u << (data[0] >> 5));
		else
			wire_len = at;
		CHECK(open_in_pieces(wire, wire_len, steer, nsteer) != SEAL_OK);
		/* Only full chunks before the damaged one come out: the whole body
		 * can only when its final chunk is empty (the relay holds back its
		 * last byte for exactly this case). */
		CHECK(plain_len < n || n % SEAL_CHUNK_MAX == 0);
		CHECK(plain_len % SEAL_CHUNK_MAX == 0);
		break;
	}
	default:
		meta_text(rest, n);
		break;
	}
	seal_reader_wipe(&reader);
	seal_writer_wipe(&writer);
	return 0;
}
