/* fuzz_chart_read.c — chart_read, chart_read_meta and chart_each_file on
 * an upload.
 *
 * Input that starts with the gzip magic is the archive as uploaded.  Any
 * other input is taken as the tar stream itself and wrapped here in gzip
 * "stored" blocks (RFC 1951 section 3.2.4, RFC 1952 with a correct CRC), so
 * the fuzzer mutates tar headers and file contents directly instead of
 * compressed bytes it cannot see through. */
#include "fuzz.h"
#include "chart.h"

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	if (table[1] == 0)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++)
		c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* data as a gzip member of stored deflate blocks; *out is malloc'd. */
static size_t gzip_stored(const uint8_t *data, size_t size, uint8_t **out)
{
	size_t nblocks = size / 65535 + 1;
	size_t len = 10 + nblocks * 5 + size + 8;
	uint8_t *g = malloc(len), *p = g;
	if (g == NULL)
		abort();
	static const uint8_t hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	memcpy(p, hdr, 10), p += 10;
	size_t off = 0;
	for (size_t b = 0; b < nblocks; b++) {
		size_t n = size - off > 65535 ? 65535 : size - off;
		*p++ = b + 1 == nblocks; /* BFINAL, BTYPE 00 */
		*p++ = (uint8_t)n, *p++ = (uint8_t)(n >> 8);
		*p++ = (uint8_t)~n, *p++ = (uint8_t)(~n >> 8);
		if (n)
			memcpy(p, data + off, n);
		p += n, off += n;
	}
	put_le32(p, crc32_ieee(data, size)), p += 4;
	put_le32(p, (uint32_t)size), p += 4;
	*out = g;
	return (size_t)(p - g);
}

struct each_state {
	size_t files;
	unsigned sum;
	size_t stop_after;
};

static int each_file(const char *path, const void *data, size_t len, void *vctx)
{
	struct each_state *st = vctx;
	const unsigned char *d = data;
	FUZZ_CHECK(path != NULL && path[0] != '\0' && path[0] != '/' && strchr(path, '\\') == NULL);
	/* Every segment of the path is clean: no "", "." or "..". */
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");
		FUZZ_CHECK(n > 0 && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.'));
		s += n + (s[n] == '/');
	}
	FUZZ_CHECK(len <= CHART_MAX_FILE);
	for (size_t i = 0; i < len; i++) /* touch every byte */
		st->sum += d[i];
	return ++st->files == st->stop_after;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	size_t len;
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		buf = malloc(size ? size : 1);
		if (buf == NULL)
			abort();
		memcpy(buf, data, size);
		len = size;
	} else {
		len = gzip_stored(data, size, &buf);
	}

	struct chart_info ci;
	cd_err err;
	cd_rc rc = chart_read(buf, len, &ci, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	if (rc == CD_OK) {
		FUZZ_CHECK(ci.name != NULL && ci.version != NULL && ci.meta != NULL);
		FUZZ_CHECK(ci.name[0] != '\0' && strchr(ci.name, '/') == NULL);
		FUZZ_CHECK(strcmp(ci.name, ".") != 0 && strcmp(ci.name, "..") != 0);
		FUZZ_CHECK(chart_validate_meta(ci.meta, &err) == CD_OK);
		char *file = chart_filename(ci.name, ci.version);
		FUZZ_CHECK(file != NULL);
		free(file);
		chart_info_free(&ci);
	} else {
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
	}

	/* The indexer's read: it accepts whatever chart_read accepts, with the
	 * same name and version unless the archive repeats Chart.yaml, and
	 * fails only with chart_read's own error. */
	struct chart_info full, fast;
	cd_err ef, em;
	cd_rc rf = chart_read(buf, len, &full, &ef);
	cd_rc rm = chart_read_meta(buf, len, &fast, &em);
	FUZZ_CHECK(rm == CD_OK || rm == CD_EINVAL);
	FUZZ_CHECK(rf != CD_OK || rm == CD_OK);
	if (rm != CD_OK)
		FUZZ_CHECK(rf == rm && strcmp(ef.msg, em.msg) == 0);
	if (rm == CD_OK) {
		FUZZ_CHECK(fast.name != NULL && fast.name[0] != '\0' && strchr(fast.name, '/') == NULL);
		FUZZ_CHECK(chart_validate_meta(fast.meta, &em) == CD_OK);
		chart_info_free(&fast);
	}
	if (rf == CD_OK)
		chart_info_free(&full);

	struct each_state st = { 0, 0, 1 + size % 4 };
	rc = chart_each_file(buf, len, each_file, &st, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	st.stop_after = 0; /* never stop: the whole walk */
	(void)chart_each_file(buf, len, each_file, &st, &err);
	free(buf);
	return 0;
}
