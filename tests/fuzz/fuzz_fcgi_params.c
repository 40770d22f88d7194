/* fuzz_fcgi_params.c — fcgi/request.c as the worker runs it: req_parse_env
 * on a fake CGI environment, then the error response written for the
 * result.  Input: a flags byte (CONTEXT_PATH, CORS, HEAD, a 429), then
 * NAME=value lines (fcgi_stub.h).  Checks what the handlers rely on (path,
 * segments, Content-Length, request id, client address) and that the
 * response headers cannot be split or extended by the client's bytes. */
#include "fuzz.h"
#include "fcgi_stub.h"
#include "request.h"

#include <ctype.h>
#include <jansson.h>

static const char *const contexts[] = { "", "/charts", "/a/b.c", "/x" };

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* The captured response: "Status: ..." and known headers, each a printable
 * line, a blank line, then a JSON error body of Content-Length bytes (none
 * for HEAD). */
static void check_response(const struct req *r)
{
	static const char *const known[] = {
		"Status", "X-Request-Id", "Access-Control-Allow-Origin", "WWW-Authenticate",
		"Retry-After", "Content-Type", "Content-Length",
	};
	FUZZ_CHECK(fuzz_out_len < FUZZ_OUT_MAX);
	FUZZ_CHECK(strncmp(fuzz_out, "Status: ", 8) == 0);
	char *end = strstr(fuzz_out, "\r\n\r\n");
	FUZZ_CHECK(end != NULL);
	long long clen = -1;
	for (char *line = fuzz_out; line < end + 2;) {
		char *eol = strstr(line, "\r\n");
		FUZZ_CHECK(eol != NULL && eol <= end);
		*eol = '\0';
		FUZZ_CHECK(printable(line));
		char *colon = strstr(line, ": ");
		FUZZ_CHECK(colon != NULL);
		*colon = '\0';
		bool ok = false;
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			ok = ok || strcmp(line, known[i]) == 0;
		FUZZ_CHECK(ok);
		if (strcmp(line, "Content-Length") == 0)
			clen = atoll(colon + 2);
		if (strcmp(line, "Retry-After") == 0)
			FUZZ_CHECK(r->status == 429 && atoi(colon + 2) == r->retry_after);
		*colon = ':';
		*eol = '\r';
		line = eol + 2;
	}
	const char *body = end + 4;
	size_t blen = fuzz_out_len - (size_t)(body - fuzz_out);
	FUZZ_CHECK(clen >= 0);
	if (r->method == M_HEAD) {
		FUZZ_CHECK(blen == 0);
		return;
	}
	FUZZ_CHECK((long long)blen == clen);
	json_t *j = json_loadb(body, blen, 0, NULL);
	FUZZ_CHECK(j != NULL && json_is_string(json_object_get(j, "error")));
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct app app;  /* large (the failed-login table): not on the stack */
	struct cd_config cfg;
	FCGX_Request fx;
	struct req r;
	cd_err err;

	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++, size--;
	fuzz_env_parse(data, size);
	memset(&cfg, 0, sizeof cfg);
	cfg.context_path = (char *)contexts[flags & 3];
	cfg.cors_allow_origin = flags & 4 ? "https://example.com" : NULL;
	cfg.max_upload_size = 1 << 20;
	memset(&app, 0, sizeof app);
	app.cfg = &cfg;
	memset(&fx, 0, sizeof fx);
	err.msg[0] = '\0';
	fuzz_stub_reset();

	req_init(&r, &app, &fx);
	cd_rc rc = req_parse_env(&r, fuzz_env_get, NULL, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL || rc == CD_ENOTFOUND || rc == CD_ENOMEM);
	FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);

	/* Always set, whatever the outcome. */
	size_t idlen = strlen(r.request_id);
	FUZZ_CHECK(idlen > 0 && idlen <= REQ_ID_MAX);
	for (size_t i = 0; i < idlen; i++)
		FUZZ_CHECK(isalnum((unsigned char)r.request_id[i]) ||
		           strchr("-_.:", r.request_id[i]) != NULL);
	FUZZ_CHECK(r.method_name != NULL && r.remote_addr != NULL);
	FUZZ_CHECK(printable(r.remote_addr) && strchr(r.remote_addr, ' ') == NULL);
	FUZZ_CHECK(r.content_type != NULL && r.accept != NULL);

	if (rc == CD_OK) {
		const char *uri = fuzz_env_get("REQUEST_URI", NULL);
		size_t clen = strlen(cfg.context_path);
		FUZZ_CHECK(uri != NULL && strncmp(uri, r.path, strlen(r.path)) == 0);
		FUZZ_CHECK(r.path[0] == '/' && strpbrk(r.path, "?#") == NULL);
		FUZZ_CHECK(strncmp(r.path, cfg.context_path, clen) == 0);
		FUZZ_CHECK(r.path[clen] == '\0' || r.path[clen] == '/');
		FUZZ_CHECK(strchr(r.query, '#') == NULL);
		FUZZ_CHECK(r.content_length >= -1);
		FUZZ_CHECK(r.nseg >= 0 && r.nseg <= REQ_MAX_SEGMENTS);
		for (int i = 0; i < r.nseg; i++) {
			FUZZ_CHECK(r.seg[i] != NULL && r.seg[i][0] != '\0');
			FUZZ_CHECK(strchr(r.seg[i], '/') == NULL);
			FUZZ_CHECK(strcmp(r.seg[i], ".") != 0 && strcmp(r.seg[i], "..") != 0);
		}
		char v[16];
		(void)req_query(&r, "force", NULL, 0);
		if (req_query(&r, "force", v, sizeof v))
			FUZZ_CHECK(memchr(v, '\0', sizeof v) != NULL);
		FUZZ_CHECK(req_read_body(&r, &err) == CD_OK || r.content_length > 0);
	}

	/* The error response the worker would send. */
	cd_rc answer = rc == CD_OK ? CD_ENOTFOUND : rc;
	if (flags & 8) {
		answer = CD_ERATE;
		r.retry_after = 1 + (flags >> 4);
	}
	respond_error(&r, answer, err.msg);
	FUZZ_CHECK(r.responded && r.status == cd_rc_http_status(answer));
	check_response(&r);

	req_end(&r);
	fuzz_env_free();
	return 0;
}
