/* auth.c — HTTP Basic (RFC 7617) against BASIC_AUTH_USER/PASS and an
 * htpasswd file of crypt(3) hashes.
 *
 * Secrets are compared as HMAC-SHA256 digests under a random per-process
 * key, so neither their content nor their length shows in the timing.  A
 * verified Authorization header is cached under the same keyed hash until
 * it goes unused for AUTH_CACHE_TTL seconds, and for AUTH_CACHE_MAX_AGE
 * seconds at most; the password itself is never kept.  Expiry counts from
 * the last use because a fixed one made every worker pay a bcrypt (~60 ms)
 * once a minute under steady load; revoking a user means editing the file
 * and restarting the service, which starts workers with empty caches.
 * The HMAC is keyed once per process and only re-initialised per use:
 * OpenSSL 3's one-shot HMAC() fetches the digest and sets the key on every
 * call. */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define AUTH_MAC_LEN 32
#define AUTH_CACHE_SLOTS 64
#define AUTH_CACHE_TTL 60         /* seconds a verified header is trusted unused */
#define AUTH_CACHE_MAX_AGE 900    /* seconds after which it is verified again */
#define AUTH_MAX_HEADER 4096      /* longer Authorization values are refused */
#define AUTH_USER_MAX 256
#define AUTH_PASS_MAX 1024

struct auth_user {
	char *name;
	char *hash;                          /* crypt(3) string */
	unsigned char name_mac[AUTH_MAC_LEN];
};

struct auth_cache_slot {
	unsigned char key[AUTH_MAC_LEN];
	int64_t expires;                     /* clock seconds; 0 = empty */
	int64_t verified;                    /* when the password was checked */
};

struct auth {
	EVP_MAC *mac_alg;
	EVP_MAC_CTX *mac_ctx;                /* HMAC-SHA256 keyed with a random secret */
	bool have_basic;
	unsigned char basic_user_mac[AUTH_MAC_LEN];
	unsigned char basic_pass_mac[AUTH_MAC_LEN];
	struct auth_user *users;
	size_t nusers;
	struct crypt_data *cd;               /* ~32 KiB scratch for crypt_rn */
	struct auth_cache_slot cache[AUTH_CACHE_SLOTS];
	unsigned next_slot;
	int64_t (*clock)(void);              /* monotonic seconds, never 0 */
	unsigned long hashes;                /* crypt_rn calls, for tests */
	void (*before_hash)(void *ctx);      /* auth_before_hash */
	void *before_hash_ctx;
};

/* Keys the process's HMAC-SHA256 with AUTH_MAC_LEN random bytes. */
static bool mac_key(struct auth *a)
{
	unsigned char secret[AUTH_MAC_LEN];
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	bool ok = (getrandom(secret, sizeof secret, 0) == (ssize_t)sizeof secret ||
	           RAND_bytes(secret, sizeof secret) == 1) &&
	          (a->mac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	          (a->mac_ctx = EVP_MAC_CTX_new(a->mac_alg)) != NULL &&
	          EVP_MAC_init(a->mac_ctx, secret, sizeof secret, params) == 1;
	OPENSSL_cleanse(secret, sizeof secret);
	return ok;
}

/* HMAC of data under the process key; false (and out zeroed) on failure,
 * which every caller treats as a mismatch. */
static bool mac(const struct auth *a, const void *data, size_t len,
                unsigned char out[AUTH_MAC_LEN])
{
	size_t n = 0;
	/* A NULL key re-initialises with the key already set. */
	if (EVP_MAC_init(a->mac_ctx, NULL, 0, NULL) == 1 &&
	    EVP_MAC_update(a->mac_ctx, data, len) == 1 &&
	    EVP_MAC_final(a->mac_ctx, out, &n, AUTH_MAC_LEN) == 1 && n == AUTH_MAC_LEN)
		return true;
	memset(out, 0, AUTH_MAC_LEN);
	return false;
}

/* Zero when the two MACs are equal; reads every byte whatever they hold
 * (CRYPTO_memcmp's contract, a word at a time: it runs 64 times a request). */
static uint64_t mac_diff(const unsigned char *a, const unsigned char *b)
{
	uint64_t d = 0;
	for (size_t i = 0; i < AUTH_MAC_LEN; i += sizeof d) {
		uint64_t x, y;
		memcpy(&x, a + i, sizeof x);
		memcpy(&y, b + i, sizeof y);
		d |= x ^ y;
	}
	return d;
}

static int64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec + 1; /* never 0, the empty-slot marker */
}

bool auth_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Standard base64 (RFC 4648 section 4), padding optional but only at the
 * end; returns the decoded length or -1. */
static long b64_decode(const char *src, size_t len, unsigned char *dst, size_t dst_sz)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	size_t pad = 0;

	while (len > 0 && src[len - 1] == '=' && pad < 2)
		len--, pad++;
	if (pad > 0 && (len + pad) % 4 != 0)
		return -1;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)src[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= dst_sz)
				return -1;
			dst[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, or the encoding was not canonical. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

cd_rc auth_parse_basic(const char *header, char *user, size_t user_sz,
                       char *pass, size_t pass_sz)
{
	unsigned char raw[AUTH_MAX_HEADER];
	cd_rc rc = CD_EINVAL;

	if (header == NULL || user_sz == 0 || pass_sz == 0)
		return CD_EINVAL;
	while (*header == ' ' || *header == '\t')
		header++;
	if (strncasecmp(header, "Basic", 5) != 0 || (header[5] != ' ' && header[5] != '\t'))
		return CD_EINVAL;
	const char *p = header + 5;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t len = strnlen(p, AUTH_MAX_HEADER + 1);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0 || len > AUTH_MAX_HEADER)
		return CD_EINVAL;

	long n = b64_decode(p, len, raw, sizeof raw);
	if (n < 0)
		goto out;
	unsigned char *colon = memchr(raw, ':', (size_t)n);
	if (colon == NULL || memchr(raw, '\0', (size_t)n) != NULL)
		goto out;
	size_t ulen = (size_t)(colon - raw);
	size_t plen = (size_t)n - ulen - 1;
	if (ulen >= user_sz || plen >= pass_sz)
		goto out;
	memcpy(user, raw, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, plen);
	pass[plen] = '\0';
	rc = CD_OK;
out:
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}

/* The crypt(3) methods we accept: bcrypt, yescrypt (and gost-yescrypt),
 * scrypt, sha512-crypt and sha256-crypt.  Everything else (Apache's
 * {SHA} and $apr1$, md5-crypt, DES, plain text) is refused at start. */
static const char *hash_problem(const char *hash)
{
	static const char *const ok[] = { "$2a$", "$2b$", "$2y$", "$y$", "$gy$",
		                          "$7$", "$6$", "$5$" };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strncmp(hash, ok[i], strlen(ok[i])) == 0)
			return crypt_checksalt(hash) == CRYPT_SALT_OK ? NULL
			                                                : "a malformed hash";
	if (strncmp(hash, "{SHA}", 5) == 0)
		return "an unsalted {SHA} hash (htpasswd -s)";
	if (strncmp(hash, "$apr1$", 6) == 0)
		return "an Apache MD5 ($apr1$) hash";
	if (strncmp(hash, "$1$", 3) == 0)
		return "an MD5-crypt ($1$) hash";
	return "a plain-text or DES password";
}

/* Reads "user:hash" lines; blank lines and "#" comments are skipped. */
static cd_rc load_htpasswd(struct auth *a, const char *file, cd_err *err)
{
	FILE *f = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;
	cd_rc rc = CD_OK;

	if (f == NULL)
		return cd_fail(err, CD_EINVAL, "HTPASSWD_FILE: cannot open %s: %s", file,
		               strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		char *colon = strchr(line, ':');
		if (colon == NULL || colon == line) {
			rc = cd_fail(err, CD_EINVAL,
			             "HTPASSWD_FILE %s line %d: expected \"user:hash\"", file, lineno);
			break;
		}
		*colon = '\0';
		const char *hash = colon + 1;
		const char *problem = hash_problem(hash);
		if (problem != NULL) {
			rc = cd_fail(err, CD_EINVAL,
			             "HTPASSWD_FILE %s line %d (user \"%.64s\"): %s is not accepted; "
			             "use htpasswd -B (bcrypt) or mkpasswd -m yescrypt or sha512crypt",
			             file, lineno, line, problem);
			break;
		}
		if (strlen(line) >= AUTH_USER_MAX) {
			rc = cd_fail(err, CD_EINVAL, "HTPASSWD_FILE %s line %d: user name too long",
			             file, lineno);
			break;
		}
		struct auth_user *grown = realloc(a->users, (a->nusers + 1) * sizeof *grown);
		if (grown == NULL) {
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
			break;
		}
		a->users = grown;
		struct auth_user *u = &a->users[a->nusers];
		u->name = strdup(line);
		u->hash = strdup(hash);
		if (u->name == NULL || u->hash == NULL) {
			free(u->name);
			free(u->hash);
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
			break;
		}
		a->nusers++;
		if (!mac(a, u->name, strlen(u->name), u->name_mac)) {
			rc = cd_fail(err, CD_EIO, "cannot compute the credential hash");
			break;
		}
	}
	if (rc == CD_OK && ferror(f))
		rc = cd_fail(err, CD_EIO, "HTPASSWD_FILE: cannot read %s", file);
	if (line != NULL)
		OPENSSL_cleanse(line, cap);
	free(line);
	fclose(f);
	return rc;
}

cd_rc auth_open(const char *basic_user, const char *basic_pass,
                const char *htpasswd_file, struct auth **out, cd_err *err)
{
	struct auth *a = calloc(1, sizeof *a);
	cd_rc rc = CD_OK;

	*out = NULL;
	if (a == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	a->clock = now_s;
	if (!mac_key(a))
		rc = cd_fail(err, CD_EIO, "cannot key the credential hash (no random bytes or HMAC)");
	if (rc == CD_OK && basic_user != NULL && basic_pass != NULL) {
		a->have_basic = true;
		if (!mac(a, basic_user, strlen(basic_user), a->basic_user_mac) ||
		    !mac(a, basic_pass, strlen(basic_pass), a->basic_pass_mac))
			rc = cd_fail(err, CD_EIO, "cannot compute the credential hash");
	}
	if (rc == CD_OK && htpasswd_file != NULL) {
		rc = load_htpasswd(a, htpasswd_file, err);
		if (rc == CD_OK && a->nusers == 0)
			rc = cd_fail(err, CD_EINVAL, "HTPASSWD_FILE %s has no users", htpasswd_file);
	}
	if (rc == CD_OK && a->nusers > 0) {
		a->cd = calloc(1, sizeof *a->cd);
		if (a->cd == NULL)
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
	}
	if (rc != CD_OK) {
		auth_close(a);
		return rc;
	}
	*out = a;
	return CD_OK;
}

void auth_close(struct auth *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nusers; i++) {
		free(a->users[i].name);
		OPENSSL_cleanse(a->users[i].hash, strlen(a->users[i].hash));
		free(a->users[i].hash);
	}
	free(a->users);
	EVP_MAC_CTX_free(a->mac_ctx);
	EVP_MAC_free(a->mac_alg);
	if (a->cd != NULL)
		OPENSSL_cleanse(a->cd, sizeof *a->cd);
	free(a->cd);
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
}

void auth_set_clock(struct auth *a, int64_t (*clock)(void))
{
	a->clock = clock ? clock : now_s;
}

unsigned long auth_hashes_computed(const struct auth *a)
{
	return a->hashes;
}

bool auth_disabled(const struct auth *a)
{
	return a == NULL || (!a->have_basic && a->nusers == 0);
}

/* Looks key up in every slot (no early exit) and, on a hit, extends the
 * slot's life by AUTH_CACHE_TTL, never past AUTH_CACHE_MAX_AGE. */
static bool cache_hit(struct auth *a, const unsigned char key[AUTH_MAC_LEN])
{
	int64_t now = a->clock();
	int hit = -1;
	for (int i = 0; i < AUTH_CACHE_SLOTS; i++) {
		bool live = a->cache[i].expires > now;
		bool same = mac_diff(a->cache[i].key, key) == 0;
		int match = -(int)(live & same); /* all ones on a match: no branch */
		hit = (hit & ~match) | (i & match);
	}
	if (hit < 0)
		return false;
	struct auth_cache_slot *slot = &a->cache[hit];
	int64_t renewed = now + AUTH_CACHE_TTL, last = slot->verified + AUTH_CACHE_MAX_AGE;
	slot->expires = renewed < last ? renewed : last;
	return true;
}

static void cache_add(struct auth *a, const unsigned char key[AUTH_MAC_LEN])
{
	int64_t now = a->clock();
	int slot = -1;
	for (int i = 0; i < AUTH_CACHE_SLOTS && slot < 0; i++)
		if (a->cache[i].expires <= now)
			slot = i;
	if (slot < 0) {
		slot = (int)(a->next_slot % AUTH_CACHE_SLOTS);
		a->next_slot++;
	}
	memcpy(a->cache[slot].key, key, AUTH_MAC_LEN);
	a->cache[slot].expires = now + AUTH_CACHE_TTL;
	a->cache[slot].verified = now;
}

/* Runs crypt_rn and compares with the stored hash; false on any failure. */
static bool crypt_matches(struct auth *a, const char *pass, const char *hash)
{
	const char *got = crypt_rn(pass, hash, a->cd, (int)sizeof *a->cd);
	a->hashes++;
	bool ok = got != NULL && got[0] != '*' &&
	          auth_equal(got, strlen(got), hash, strlen(hash));
	OPENSSL_cleanse(a->cd, sizeof *a->cd);
	return ok;
}

void auth_before_hash(struct auth *a, void (*fn)(void *ctx), void *ctx)
{
	a->before_hash = fn;
	a->before_hash_ctx = ctx;
}

cd_rc auth_check(struct auth *a, const char *header)
{
	unsigned char key[AUTH_MAC_LEN], umac[AUTH_MAC_LEN], pmac[AUTH_MAC_LEN];
	char user[AUTH_USER_MAX], pass[AUTH_PASS_MAX];
	bool ok = false;

	if (auth_disabled(a))
		return CD_OK;
	if (header == NULL || strnlen(header, AUTH_MAX_HEADER + 1) > AUTH_MAX_HEADER)
		return CD_EAUTH;
	if (!mac(a, header, strlen(header), key))
		return CD_EAUTH;
	if (cache_hit(a, key))
		return CD_OK;
	if (auth_parse_basic(header, user, sizeof user, pass, sizeof pass) != CD_OK)
		return CD_EAUTH;

	bool umac_ok = mac(a, user, strlen(user), umac);
	if (a->have_basic) {
		bool pmac_ok = mac(a, pass, strlen(pass), pmac);
		ok = umac_ok & pmac_ok &
		     (CRYPTO_memcmp(umac, a->basic_user_mac, AUTH_MAC_LEN) == 0) &
		     (CRYPTO_memcmp(pmac, a->basic_pass_mac, AUTH_MAC_LEN) == 0);
	}
	if (!ok && a->nusers > 0) {
		if (a->before_hash != NULL)
			a->before_hash(a->before_hash_ctx);
		size_t found = a->nusers;
		for (size_t i = 0; i < a->nusers; i++)
			if (CRYPTO_memcmp(umac, a->users[i].name_mac, AUTH_MAC_LEN) == 0 &&
			    found == a->nusers)
				found = i;
		if (found < a->nusers) {
			ok = crypt_matches(a, pass, a->users[found].hash);
		} else {
			/* An unknown user costs a hash too, so timing does not tell
			 * which user names exist. */
			(void)crypt_matches(a, pass, a->users[0].hash);
		}
	}
	OPENSSL_cleanse(pass, sizeof pass);
	if (!ok || !umac_ok)
		return CD_EAUTH;
	cache_add(a, key);
	return CD_OK;
}
