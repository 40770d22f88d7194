/* fuzz_prov.c — prov_parse on a whole .prov file.  On success the fields
 * must be terminated and the digest 64 lower-case hex digits. */
#include "fuzz.h"
#include "prov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prov_info info;
	cd_err err;
	/* An exact-size copy: prov_parse takes a length, not a string. */
	char *buf = malloc(size ? size : 1);
	if (buf == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	cd_rc rc = prov_parse(buf, size, &info, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	if (rc == CD_OK) {
		FUZZ_CHECK(info.name[0] != '\0' && memchr(info.name, '\0', sizeof info.name));
		FUZZ_CHECK(info.version[0] != '\0' && memchr(info.version, '\0', sizeof info.version));
		FUZZ_CHECK(info.file[0] != '\0' && memchr(info.file, '\0', sizeof info.file));
		FUZZ_CHECK(strlen(info.sha256) == 64 &&
		           strspn(info.sha256, "0123456789abcdef") == 64);
	} else {
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
	}
	free(buf);
	return 0;
}
