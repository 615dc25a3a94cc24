/*
 * ct_seal.c - constant-time check of the key schedule, the sealing layer and
 * the client-id MAC check under valgrind (make test-ct).
 *
 * Secrets (the X-Wing shared secret, pair and message keys, plaintext, the
 * client-id secrets) are marked undefined with memcheck client requests, so
 * memcheck reports any branch, move or address that depends on them.  The
 * code under test is built with CRYPTO_CT_TESTING, which declares public the
 * verdict of each tag or MAC check right before the one branch on it; the
 * comparisons themselves (BearSSL's br_gcm_check_tag, our OR-accumulate over
 * the MAC bytes) must not branch.  Outputs that are published (ciphertext,
 * signed ids) are declared public here before this program looks at them.
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "clientid.h"
#include "crypto/kdf.h"
#include "crypto/rand.h"
#include "crypto/seal.h"

#define SECRET(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

static int failures;

static void
expect(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "ct_seal: FAILED: %s\n", what);
		failures++;
	}
}

/* Wire sink: the ciphertext is published. */
struct buf {
	uint8_t data[3 * SEAL_WIRE_CHUNK_MAX];
	size_t  len;
};

static int
to_buf(void *arg, const uint8_t *data, size_t len)
{
	struct buf *b = arg;

	if (len > sizeof b->data - b->len)
		return 1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static struct buf wire, back;
static struct seal_writer writer;
static struct seal_reader reader;
static uint8_t body[SEAL_CHUNK_MAX + 4000];

static void
check_kdf_and_seal(void)
{
	static const char cid[] = "0123456789abcdef0123456789abcdef";
	static const char pid[] = "pairId_0123456789-AB";
	static const char aad[] = "mte-relay/1 res 0123456789abcdef0123456789abcdef pairId_0123456789-AB 7 b 200";
	uint8_t ss[32], nonce[32], k_req[32], k_res[32], mk[32];
	uint8_t meta[200], sealed[200 + 16], opened[200 + 16];

	rand_bytes(ss, sizeof ss);
	rand_bytes(nonce, sizeof nonce);
	rand_bytes(meta, sizeof meta);
	rand_bytes(body, sizeof body);
	SECRET(ss, sizeof ss);
	SECRET(meta, sizeof meta);
	SECRET(body, sizeof body);

	expect(kdf_pair_keys(k_req, k_res, ss, nonce, cid, 32, pid, sizeof pid - 1, "S", 1) == 0,
	       "pair keys");
	kdf_message_key(mk, k_res, KDF_RES, 7);

	/* meta one-shot, then tampered */
	expect(seal_meta_seal(sealed, sizeof sealed, mk, aad, sizeof aad - 1, meta, sizeof meta)
	       == (int)sizeof sealed, "meta seal");
	PUBLIC(sealed, sizeof sealed);
	expect(seal_meta_open(opened, sizeof opened, mk, aad, sizeof aad - 1, sealed, sizeof sealed)
	       == (int)sizeof meta, "meta open");
	sealed[5] ^= 1;
	expect(seal_meta_open(opened, sizeof opened, mk, aad, sizeof aad - 1, sealed, sizeof sealed)
	       == -1, "tampered meta rejected");

	/* streaming body over two chunks, then tampered */
	wire.len = 0;
	back.len = 0;
	expect(seal_writer_init(&writer, mk, aad, sizeof aad - 1) == SEAL_OK, "writer init");
	expect(seal_writer_feed(&writer, body, sizeof body, to_buf, &wire) == SEAL_OK, "writer feed");
	expect(seal_writer_finish(&writer, to_buf, &wire) == SEAL_OK, "writer finish");
	PUBLIC(wire.data, wire.len);
	expect(seal_reader_init(&reader, mk, aad, sizeof aad - 1) == SEAL_OK, "reader init");
	expect(seal_reader_feed(&reader, wire.data, wire.len, to_buf, &back) == SEAL_OK, "reader feed");
	expect(seal_reader_finish(&reader, to_buf, &back) == SEAL_OK, "reader finish");
	expect(back.len == sizeof body, "body length");
	wire.data[wire.len - 1] ^= 0x80;
	back.len = 0;
	expect(seal_reader_init(&reader, mk, aad, sizeof aad - 1) == SEAL_OK, "reader init 2");
	expect(seal_reader_feed(&reader, wire.data, wire.len, to_buf, &back) == SEAL_OK, "reader feed 2");
	expect(seal_reader_finish(&reader, to_buf, &back) == SEAL_E_AUTH, "tampered body rejected");
}

static void
check_clientid(void)
{
	char cur[] = "current-client-id-secret-0123456789";
	char prev[] = "previous-client-id-secret-987654321";
	char signed_id[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1];

	SECRET(cur, sizeof cur - 1);
	SECRET(prev, sizeof prev - 1);
	clientid_mint(signed_id, cur, sizeof cur - 1);
	PUBLIC(signed_id, sizeof signed_id);     /* sent to the client */
	expect(clientid_verify(signed_id, CLIENT_ID_SIGNED_LEN, cur, sizeof cur - 1,
	                       prev, sizeof prev - 1, id) == 0, "verify current");
	expect(clientid_verify(signed_id, CLIENT_ID_SIGNED_LEN, prev, sizeof prev - 1,
	                       cur, sizeof cur - 1, id) == 0, "verify previous");
	signed_id[40] = signed_id[40] == '0' ? '1' : '0';
	expect(clientid_verify(signed_id, CLIENT_ID_SIGNED_LEN, cur, sizeof cur - 1,
	                       prev, sizeof prev - 1, id) == -1, "tampered id rejected");
}

int
main(void)
{
	check_kdf_and_seal();
	printf("ct_seal: %s done\n", seal_impl_name());
	seal_force_portable(1);
	check_kdf_and_seal();
	printf("ct_seal: %s done\n", seal_impl_name());
	check_clientid();
	if (RUNNING_ON_VALGRIND == 0)
		fprintf(stderr, "ct_seal: not under valgrind: functional checks only\n");
	printf("ct_seal: key schedule, meta, body (both AES-GCM implementations), client-id "
	       "MAC check; %d failures\n", failures);
	return failures == 0 ? 0 : 1;
}
