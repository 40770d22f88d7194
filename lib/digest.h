/* digest.h — SHA-256 through OpenSSL's EVP interface. */
#ifndef CD_DIGEST_H
#define CD_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64

/* Writes the lower-case hex SHA-256 of buf[0..len) and a NUL into hex. */
void digest_sha256_hex(const void *buf, size_t len, char hex[DIGEST_HEX_LEN + 1]);

#endif
