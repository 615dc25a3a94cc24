/*
 * xwing.h - X-Wing hybrid KEM (ML-KEM-768 + X25519), draft-connolly-cfrg-xwing-kem
 * (-05 onwards: SHAKE256 key expansion, label last in the combiner); the same
 * construction as @noble/post-quantum's ml_kem768_x25519 and MLKEM768-X25519 of
 * draft-irtf-cfrg-concrete-hybrid-kems.
 *
 *   expand(seed):  (d || z || sk_X) = SHAKE256(seed, 96)
 *                  (ek_M, dk_M) = ML-KEM-768.KeyGen_internal(d, z); pk_X = X25519(sk_X, 9)
 *   pk = ek_M || pk_X                       (1184 + 32 bytes)
 *   ct = ct_M || ct_X                       (1088 + 32 bytes)
 *   ss = SHA3-256(ss_M || ss_X || ct_X || pk_X || 5c2e2f2f5e5c)
 *
 * The decapsulation key is the 32-byte seed itself.  No allocation; the caller
 * owns every buffer.  Secrets (seed, eseed, ss) never steer a branch or a
 * memory index; ML-KEM is ours (mlkem.h) and so is X25519 (x25519.h: the
 * constant-time Montgomery ladder for ss_X and its fixed-base path for pk_X
 * and ct_X, sharing one inversion).  Secret intermediates are wiped before returning.
 */
#ifndef MTE_XWING_H
#define MTE_XWING_H

#include <stddef.h>
#include <stdint.h>

#define XWING_PK_LEN    1216
#define XWING_CT_LEN    1120
#define XWING_SS_LEN    32
#define XWING_SEED_LEN  32
#define XWING_ESEED_LEN 64

/*
 * Derives the public (encapsulation) key from the secret seed.  The seed must
 * be 32 bytes of fresh randomness (rand_bytes) and is the only thing to keep
 * secret.  Cannot fail.
 */
void xwing_keygen(uint8_t pk[XWING_PK_LEN], const uint8_t seed[XWING_SEED_LEN]);

/*
 * Encapsulates to pk with the randomness eseed (64 fresh random bytes in
 * production: ML-KEM's m, then the X25519 ephemeral secret).  Returns -1 (ct
 * and ss untouched) if pk_len != XWING_PK_LEN or the ML-KEM part fails the
 * FIPS 203 §7.2 check; otherwise writes ct and the shared secret ss and
 * returns 0.  The X25519 part is not checked (X-Wing needs no check there).
 */
int xwing_encaps(uint8_t ct[XWING_CT_LEN], uint8_t ss[XWING_SS_LEN],
                 const uint8_t *pk, size_t pk_len, const uint8_t eseed[XWING_ESEED_LEN]);

/*
 * Decapsulates ct with the secret seed.  Returns -1 (ss untouched) if
 * ct_len != XWING_CT_LEN; otherwise writes ss and returns 0.  A forged or
 * corrupted ct yields an unrelated ss (ML-KEM implicit rejection), never an
 * error, so the caller learns nothing about why keys disagree.
 */
int xwing_decaps(uint8_t ss[XWING_SS_LEN], const uint8_t *ct, size_t ct_len,
                 const uint8_t seed[XWING_SEED_LEN]);

#endif /* MTE_XWING_H */
