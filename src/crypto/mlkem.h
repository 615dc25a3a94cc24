/*
 * mlkem.h - ML-KEM-768 (FIPS 203, final, August 2024).
 *
 * Deterministic "internal" entry points: the caller supplies the randomness
 * (d, z for key generation, m for encapsulation), drawn from rand_bytes() in
 * production and from test vectors in tests.  No allocation; all buffers are
 * caller-owned and must not overlap unless a function says otherwise.
 *
 * Constant time: no branch and no memory index depends on secret data (d, z,
 * m, the secret vector inside dk, the decrypted message, the shared key).  The
 * only data-dependent control flow is on public values: key and ciphertext
 * lengths, the public key's coefficients (§7.2 check), the matrix seed rho
 * (rejection sampling) and the dk hash check of public data (§7.3).
 *
 * Byte layouts (FIPS 203):
 *   ek = ByteEncode12(t_hat) || rho                           (1184 bytes)
 *   dk = ByteEncode12(s_hat) || ek || H(ek) || z              (2400 bytes)
 *   c  = ByteEncode10(Compress10(u)) || ByteEncode4(Compress4(v))  (1088 bytes)
 */
#ifndef MTE_MLKEM_H
#define MTE_MLKEM_H

#include <stddef.h>
#include <stdint.h>

#define MLKEM768_EK_LEN     1184
#define MLKEM768_DK_LEN     2400
#define MLKEM768_CT_LEN     1088
#define MLKEM768_SS_LEN     32
#define MLKEM768_SEED_LEN   64      /* d || z */
#define MLKEM768_SYM_LEN    32      /* length of d, z, m, rho, H(ek) */

/*
 * ML-KEM.KeyGen_internal(d, z) (FIPS 203 Algorithm 16): writes the
 * encapsulation key ek and the decapsulation key dk.  Cannot fail.
 * dk and the inputs are secret: wipe them when done.
 */
void mlkem768_keygen_internal(uint8_t ek[MLKEM768_EK_LEN], uint8_t dk[MLKEM768_DK_LEN],
                              const uint8_t d[MLKEM768_SYM_LEN],
                              const uint8_t z[MLKEM768_SYM_LEN]);

/*
 * Encapsulation key check (FIPS 203 §7.2): ek_len must be MLKEM768_EK_LEN and
 * every 12-bit coefficient of the encoded vector must be < q = 3329 (i.e.
 * ByteEncode12(ByteDecode12(ek)) == ek).  Returns 0 if ek passes, -1 if not.
 * ek is public; ek may be NULL only if ek_len != MLKEM768_EK_LEN.
 */
int mlkem768_ek_check(const uint8_t *ek, size_t ek_len);

/*
 * Decapsulation key check (FIPS 203 §7.3): dk_len must be MLKEM768_DK_LEN and
 * the H(ek) stored in dk must equal SHA3-256 of the ek stored in dk.
 * Returns 0 if dk passes, -1 if not.  Time depends only on dk_len.
 */
int mlkem768_dk_check(const uint8_t *dk, size_t dk_len);

/*
 * ML-KEM.Encaps_internal(ek, m) (FIPS 203 Algorithm 17) preceded by the §7.2
 * check of ek.  On success writes the ciphertext c and the shared key k and
 * returns 0; if ek fails the check returns -1 and leaves c and k untouched.
 * m (32 bytes) must be fresh uniform randomness in production; m and k are secret.
 */
int mlkem768_encaps_internal(uint8_t c[MLKEM768_CT_LEN], uint8_t k[MLKEM768_SS_LEN],
                             const uint8_t *ek, size_t ek_len,
                             const uint8_t m[MLKEM768_SYM_LEN]);

/*
 * ML-KEM.Decaps(dk, c) (FIPS 203 Algorithm 18) preceded by the §7.3 checks
 * (c_len == MLKEM768_CT_LEN, dk_len == MLKEM768_DK_LEN, H(ek) inside dk).
 * Returns -1 if a check fails (k untouched).  Otherwise returns 0 and writes
 * k: the shared key if c is a valid encapsulation, else the implicit-rejection
 * key J(z || c).  The caller cannot tell which (by design); the re-encryption
 * comparison and the selection run in constant time.
 */
int mlkem768_decaps(uint8_t k[MLKEM768_SS_LEN], const uint8_t *dk, size_t dk_len,
                    const uint8_t *c, size_t c_len);

/*
 * Decapsulation from the 64-byte seed d || z (the "seed" key format): the
 * same as mlkem768_keygen_internal(d, z) followed by mlkem768_decaps, but the
 * expanded key never leaves this function and the matrix is sampled once.
 * Returns -1 if seed_len != MLKEM768_SEED_LEN or c_len != MLKEM768_CT_LEN
 * (k untouched), else 0 with k as for mlkem768_decaps.
 */
int mlkem768_decaps_seed(uint8_t k[MLKEM768_SS_LEN], const uint8_t *seed, size_t seed_len,
                         const uint8_t *c, size_t c_len);

#endif /* MTE_MLKEM_H */
