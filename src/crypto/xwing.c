/*
 * xwing.c - X-Wing KEM over our ML-KEM-768 and our X25519.
 *
 * The all-zero X25519 result of a low-order u (x25519's -1) is not refused:
 * X-Wing needs no such check (draft-connolly-cfrg-xwing-kem: the combiner
 * binds ct_X and pk_X, and ML-KEM carries the security on its own).
 */
#include "crypto/xwing.h"

#include <string.h>

#include "crypto/mlkem.h"
#include "crypto/sha3.h"
#include "crypto/wipe.h"
#include "crypto/x25519.h"

/* "\.//^\" */
static const uint8_t xwing_label[6] = { 0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c };

/* SHA3-256(ss_M || ss_X || ct_X || pk_X || label). */
static void
combiner(uint8_t ss[XWING_SS_LEN], const uint8_t ss_m[32], const uint8_t ss_x[32],
                     const uint8_t ct_x[32], const uint8_t pk_x[32])
{
    struct keccak_ctx h;

    sha3_256_init(&h);
    keccak_absorb(&h, ss_m, 32);
    keccak_absorb(&h, ss_x, 32);
    keccak_absorb(&h, ct_x, 32);
    keccak_absorb(&h, pk_x, 32);
    keccak_absorb(&h, xwing_label, sizeof xwing_label);
    keccak_squeeze(&h, ss, XWING_SS_LEN);
    crypto_wipe(&h, sizeof h);
}

void
xwing_keygen(uint8_t pk[XWING_PK_LEN], const uint8_t seed[XWING_SEED_LEN])
{
    uint8_t expanded[96], dk_m[MLKEM768_DK_LEN];

    shake256(expanded, sizeof expanded, seed, XWING_SEED_LEN);
    mlkem768_keygen_internal(pk, dk_m, expanded, expanded + 32);
    (void)x25519_base(pk + MLKEM768_EK_LEN, expanded + 64);
    crypto_wipe(expanded, sizeof expanded);
    crypto_wipe(dk_m, sizeof dk_m);
}

int
xwing_encaps(uint8_t ct[XWING_CT_LEN], uint8_t ss[XWING_SS_LEN],
                 const uint8_t *pk, size_t pk_len, const uint8_t eseed[XWING_ESEED_LEN])
{
    uint8_t ct_m[MLKEM768_CT_LEN], ss_m[32], ss_x[32], ct_x[32];
    const uint8_t *pk_x;

    if (pk == NULL || pk_len != XWING_PK_LEN)
        return -1;
    pk_x = pk + MLKEM768_EK_LEN;
    if (mlkem768_encaps_internal(ct_m, ss_m, pk, MLKEM768_EK_LEN, eseed) != 0)
        return -1;
    (void)x25519_pub_and_shared(ct_x, ss_x, eseed + 32, pk_x);
    /* pk and ct may not alias, but write ct only once everything is computed */
    combiner(ss, ss_m, ss_x, ct_x, pk_x);
    memcpy(ct, ct_m, MLKEM768_CT_LEN);
    memcpy(ct + MLKEM768_CT_LEN, ct_x, 32);

    crypto_wipe(ss_m, sizeof ss_m);
    crypto_wipe(ss_x, sizeof ss_x);
    return 0;
}

int
xwing_decaps(uint8_t ss[XWING_SS_LEN], const uint8_t *ct, size_t ct_len,
                 const uint8_t seed[XWING_SEED_LEN])
{
    uint8_t expanded[96], ss_m[32], ss_x[32], pk_x[32];
    const uint8_t *ct_x;

    if (ct == NULL || ct_len != XWING_CT_LEN)
        return -1;
    ct_x = ct + MLKEM768_CT_LEN;
    shake256(expanded, sizeof expanded, seed, XWING_SEED_LEN);
    /* expanded[0..64) is exactly the ML-KEM seed d || z */
    (void)mlkem768_decaps_seed(ss_m, expanded, MLKEM768_SEED_LEN, ct, MLKEM768_CT_LEN);
    (void)x25519_pub_and_shared(pk_x, ss_x, expanded + 64, ct_x);
    combiner(ss, ss_m, ss_x, ct_x, pk_x);

    crypto_wipe(expanded, sizeof expanded);
    crypto_wipe(ss_m, sizeof ss_m);
    crypto_wipe(ss_x, sizeof ss_x);
    return 0;
}
