/* Sealing of secrets: AES-256-GCM (OpenSSL EVP), a random 96-bit nonce per
 * value, the record identity and the field name as associated data, the
 * key id in front of every ciphertext:
 *     sz1.<kid>.<base64(nonce[12] || ciphertext || tag[16])>
 * Without a key and with plaintext = true a value is kept as
 *     plain.<base64(value)>
 * Keys and plaintexts are wiped (OPENSSL_cleanse) once used. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sz_store_int.h"

#define NONCE 12
#define TAG 16

void sz_wipe_free(void *p, size_t n)
{
    if (!p) return;
    OPENSSL_cleanse(p, n);
    free(p);
}

int sz_random(unsigned char *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

/* Base64 (standard alphabet, padded); out must hold 4 * ceil(n / 3) + 1. */
static size_t b64_enc(const unsigned char *in, size_t n, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Strict decoding: length a multiple of 4, the alphabet only; returns the
 * decoded length or -1. out must hold 3 * n / 4. */
static long b64_dec(const char *in, size_t n, unsigned char *out)
{
    size_t i, pad = 0;
    if (n % 4 || n > 1u << 26) return -1;
    for (i = 0; i < n; i++) {
        char c = in[i];
        if (c == '=') {
            if (i < n - 2) return -1;
            pad++;
        } else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                             c == '+' || c == '/')) {
            return -1;
        }
    }
    if (n == 0) return 0;
    int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (r < 0) return -1;
    return (long)r - (long)pad;
}

static void key_id(const unsigned char key[32], char id[9])
{
    unsigned char d[EVP_MAX_MD_SIZE], buf[19 + 32];
    static const char hex[] = "0123456789abcdef";
    memcpy(buf, "socialize-store-key", 19);
    memcpy(buf + 19, key, 32);
    EVP_Digest(buf, sizeof buf, d, NULL, EVP_sha256(), NULL);
    OPENSSL_cleanse(buf, sizeof buf);
    for (int i = 0; i < 4; i++) {
        id[2 * i] = hex[d[i] >> 4];
        id[2 * i + 1] = hex[d[i] & 15];
    }
    id[8] = 0;
    OPENSSL_cleanse(d, sizeof d);
}

int sz_keys_load(sz_store *st, const char *const *b64, size_t n, sz_store_err *err)
{
    if (n > SZ_STORE_MAX_KEYS)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "keys: %zu given, at most %d", n, SZ_STORE_MAX_KEYS);
    for (size_t i = 0; i < n; i++) {
        unsigned char buf[64];
        size_t len = b64[i] ? strlen(b64[i]) : 0;
        long k = len <= 64 ? b64_dec(b64[i], len, buf) : -1;
        if (k != 32) {
            OPENSSL_cleanse(buf, sizeof buf);
            sz_keys_wipe(st);
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT,
                                   "keys[%zu] (store.keys or SOCIALIZE_STORE_KEY): not the Base64 of 32 bytes "
                                   "(openssl rand -base64 32)", i + 1);
        }
        memcpy(st->keys[i].key, buf, 32);
        OPENSSL_cleanse(buf, sizeof buf);
        key_id(st->keys[i].key, st->keys[i].id);
        st->nkeys = i + 1;
    }
    return 0;
}

void sz_keys_wipe(sz_store *st)
{
    OPENSSL_cleanse(st->keys, sizeof st->keys);
    st->nkeys = 0;
}

/* AAD: "socialize-store-v1" then each identity part and the field, each as
 * a 4-byte big-endian length and its bytes (absent parts: length 0xffffffff). */
static int aad_feed(EVP_CIPHER_CTX *c, const char *const ident[4], const char *field)
{
    int outl;
    if (EVP_CipherUpdate(c, NULL, &outl, (const unsigned char *)"socialize-store-v1", 18) != 1) return -1;
    for (int i = 0; i < 5; i++) {
        const char *s = i < 4 ? ident[i] : field;
        size_t n = s ? strlen(s) : 0;
        unsigned char len[4];
        uint32_t v = s ? (uint32_t)n : 0xffffffffu;
        len[0] = (unsigned char)(v >> 24), len[1] = (unsigned char)(v >> 16);
        len[2] = (unsigned char)(v >> 8), len[3] = (unsigned char)v;
        if (EVP_CipherUpdate(c, NULL, &outl, len, 4) != 1) return -1;
        if (n && EVP_CipherUpdate(c, NULL, &outl, (const unsigned char *)s, (int)n) != 1) return -1;
    }
    return 0;
}

int sz_seal(const sz_store *st, const char *const ident[4], const char *field, const char *val, size_t n,
            char **out, sz_store_err *err)
{
    *out = NULL;
    if (n > SZ_STORE_MAX_SECRET)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "secret %s: %zu bytes, at most %d", field, n,
                               SZ_STORE_MAX_SECRET);
    if (st->nkeys == 0) {
        if (!st->plaintext)
            return sz_store_seterr(err, SZ_STORE_NO_KEY,
                                   "secret %s: no store key (SOCIALIZE_STORE_KEY or keys), and plaintext is "
                                   "not set",
                                   field);
        char *o = malloc(6 + 4 * ((n + 2) / 3) + 1);
        if (!o) return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
        memcpy(o, "plain.", 6);
        b64_enc((const unsigned char *)val, n, o + 6);
        *out = o;
        return 0;
    }
    size_t raw_n = NONCE + n + TAG;
    unsigned char *raw = malloc(raw_n);
    char *o = malloc(4 + 9 + 4 * ((raw_n + 2) / 3) + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl, ok = raw && o && c;
    ok = ok && sz_random(raw, NONCE) == 0;
    ok = ok && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1;
    ok = ok && EVP_EncryptInit_ex(c, NULL, NULL, st->keys[0].key, raw) == 1;
    ok = ok && aad_feed(c, ident, field) == 0;
    ok = ok && (n == 0 || EVP_EncryptUpdate(c, raw + NONCE, &outl, (const unsigned char *)val, (int)n) == 1);
    ok = ok && EVP_EncryptFinal_ex(c, raw + NONCE + n, &outl) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, raw + NONCE + n) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        free(raw);
        free(o);
        return sz_store_seterr(err, SZ_STORE_INTERNAL, "secret %s: sealing failed", field);
    }
    memcpy(o, "sz1.", 4);
    memcpy(o + 4, st->keys[0].id, 8);
    o[12] = '.';
    b64_enc(raw, raw_n, o + 13);
    free(raw);
    *out = o;
    return 0;
}

int sz_unseal(const sz_store *st, const char *const ident[4], const char *field, const char *text,
              size_t tlen, char **out, size_t *olen, sz_store_err *err)
{
    *out = NULL;
    *olen = 0;
    if (tlen >= 6 && memcmp(text, "plain.", 6) == 0) {
        unsigned char *p = malloc(3 * (tlen - 6) / 4 + 1);
        if (!p) return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
        long k = b64_dec(text + 6, tlen - 6, p);
        if (k < 0) {
            free(p);
            return sz_store_seterr(err, SZ_STORE_SEAL, "secret %s: damaged plaintext value", field);
        }
        p[k] = 0;
        *out = (char *)p;
        *olen = (size_t)k;
        return 0;
    }
    if (tlen < 13 || memcmp(text, "sz1.", 4) != 0 || text[12] != '.')
        return sz_store_seterr(err, SZ_STORE_SEAL, "secret %s: not a sealed value", field);
    const sz_key *key = NULL;
    for (size_t i = 0; i < st->nkeys; i++)
        if (memcmp(st->keys[i].id, text + 4, 8) == 0) key = &st->keys[i];
    if (!key)
        return sz_store_seterr(err, st->nkeys ? SZ_STORE_KEY_MISMATCH : SZ_STORE_KEY_MISSING,
                               "secret %s: sealed with key id %.8s, which is not among the configured keys", field,
                               text + 4);
    size_t bn = tlen - 13;
    unsigned char *raw = malloc(3 * bn / 4 + 1);
    if (!raw) return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    long rn = b64_dec(text + 13, bn, raw);
    if (rn < NONCE + TAG) {
        free(raw);
        return sz_store_seterr(err, SZ_STORE_SEAL, "secret %s: damaged sealed value", field);
    }
    size_t n = (size_t)rn - NONCE - TAG;
    unsigned char *p = malloc(n + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl, ok = p && c;
    ok = ok && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1;
    ok = ok && EVP_DecryptInit_ex(c, NULL, NULL, key->key, raw) == 1;
    ok = ok && aad_feed(c, ident, field) == 0;
    ok = ok && (n == 0 || EVP_DecryptUpdate(c, p, &outl, raw + NONCE, (int)n) == 1);
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, raw + NONCE + n) == 1;
    ok = ok && EVP_DecryptFinal_ex(c, p + n, &outl) == 1;
    EVP_CIPHER_CTX_free(c);
    free(raw);
    if (!ok) {
        sz_wipe_free(p, n + 1);
        return sz_store_seterr(err, SZ_STORE_SEAL,
                               "secret %s: the sealed value does not open (tampered, or moved to another record)",
                               field);
    }
    p[n] = 0;
    *out = (char *)p;
    *olen = n;
    return 0;
}

int sz_seal_stale(const sz_store *st, const char *text)
{
    if (st->nkeys == 0) return 0;
    if (strncmp(text, "sz1.", 4) != 0) return 1;
    return strncmp(text + 4, st->keys[0].id, 8) != 0;
}
