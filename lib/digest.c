/* digest.c — SHA-256 through OpenSSL's EVP interface. */
#include "digest.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static EVP_MD *sha256_md; /* fetched once: EVP_sha256() is looked up on every use */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* One-shot EVP digest; a failure of EVP (never expected) yields "" so the
 * caller stores an empty digest instead of random bytes. */
void digest_sha256_hex(const void *buf, size_t len, char hex[DIGEST_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (EVP_Digest(buf, len, md, &n, sha256_md ? sha256_md : EVP_sha256(), NULL) != 1 ||
	    n != 32) {
		hex[0] = '\0';
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[DIGEST_HEX_LEN] = '\0';
}
