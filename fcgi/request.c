/* request.c — reading one FastCGI request (RFC 3875 variables as nginx's
 * fastcgi_params sends them) and writing its response. */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "jarena.h"
#include "url.h"

/* One per-request allocation or deferred release.  For req_alloc the node
 * and the memory are one malloc (fn == NULL, the data follows the node). */
struct req_cleanup {
	struct req_cleanup *next;
	void (*fn)(void *);
	void *p;
	max_align_t data[];
};

void req_init(struct req *r, struct app *app, FCGX_Request *fx)
{
	memset(r, 0, sizeof *r);
	r->app = app;
	r->cfg = app->cfg;
	r->fx = fx;
	r->method_name = "-";
	r->route = -1;
	r->path = "";
	r->query = "";
	r->repo = "";
	r->content_type = "";
	r->accept = "";
	r->accept_encoding = "";
	r->remote_addr = "";
	r->content_length = -1;
}

void *req_alloc(struct req *r, size_t n)
{
	if (n > SIZE_MAX - sizeof(struct req_cleanup))
		return NULL;
	struct req_cleanup *c = malloc(sizeof *c + n);
	if (c == NULL)
		return NULL;
	c->fn = NULL;
	c->p = c->data;
	c->next = r->cleanups;
	r->cleanups = c;
	return c->data;
}

char *req_strdup(struct req *r, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = req_alloc(r, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

char *req_printf(struct req *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *s = req_alloc(r, (size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* On failure p is released at once and false returned. */
static bool defer(struct req *r, void (*fn)(void *), void *p)
{
	struct req_cleanup *c = malloc(sizeof *c);
	if (c == NULL) {
		fn(p);
		return false;
	}
	c->fn = fn;
	c->p = p;
	c->next = r->cleanups;
	r->cleanups = c;
	return true;
}

void *req_own(struct req *r, void *p)
{
	if (p == NULL)
		return NULL;
	return defer(r, free, p) ? p : NULL;
}

static void json_release(void *p)
{
	json_decref(p);
}

json_t *req_own_json(struct req *r, json_t *j)
{
	if (j == NULL)
		return NULL;
	return defer(r, json_release, j) ? j : NULL;
}

void req_defer(struct req *r, void (*fn)(void *), void *p)
{
	if (p != NULL)
		(void)defer(r, fn, p);
}

/* A CGI variable copied into request memory; dflt when absent. */
static const char *param_copy(struct req *r, req_param_fn param, void *ctx,
                              const char *name, const char *dflt)
{
	const char *v = param(name, ctx);
	if (v == NULL)
		return dflt;
	const char *copy = req_strdup(r, v);
	return copy ? copy : dflt;
}

static enum req_method method_of(const char *m)
{
	static const struct {
		const char *name;
		enum req_method m;
	} tbl[] = {
		{ "GET", M_GET }, { "HEAD", M_HEAD }, { "POST", M_POST },
		{ "PUT", M_PUT }, { "DELETE", M_DELETE },
	};
	for (size_t i = 0; i < sizeof tbl / sizeof tbl[0]; i++)
		if (strcmp(m, tbl[i].name) == 0)
			return tbl[i].m;
	return M_OTHER;
}

/* An incoming X-Request-Id is echoed when it is short and plain. */
static bool request_id_sane(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > REQ_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)id[i];
		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.' && ch != ':')
			return false;
	}
	return true;
}

static void request_id_new(char out[REQ_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	static uint64_t counter;
	unsigned char b[8];
	if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
		uint64_t v = (uint64_t)getpid() << 32 ^ ++counter ^ (uint64_t)(uintptr_t)&b;
		memcpy(b, &v, sizeof b);
	}
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[16] = '\0';
}

/* REMOTE_ADDR keys the failed-login counter and appears in the log: any
 * byte that is not printable ASCII becomes '?'. */
static const char *remote_addr_copy(struct req *r, req_param_fn param, void *ctx)
{
	char *a = (char *)param_copy(r, param, ctx, "REMOTE_ADDR", "");
	for (char *p = a; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			*p = '?';
	return a;
}

static const char *fcgi_param(const char *name, void *ctx)
{
	return FCGX_GetParam(name, (FCGX_ParamArray)ctx);
}

cd_rc req_parse(struct req *r, cd_err *err)
{
	return req_parse_env(r, fcgi_param, r->fx->envp, err);
}

cd_rc req_parse_env(struct req *r, req_param_fn param, void *ctx, cd_err *err)
{
	const char *id = param_copy(r, param, ctx, "HTTP_X_REQUEST_ID", "");
	if (request_id_sane(id))
		snprintf(r->request_id, sizeof r->request_id, "%s", id);
	else
		request_id_new(r->request_id);

	r->method_name = param_copy(r, param, ctx, "REQUEST_METHOD", "-");
	r->method = method_of(r->method_name);
	r->authorization = param_copy(r, param, ctx, "HTTP_AUTHORIZATION", NULL);
	r->content_type = param_copy(r, param, ctx, "CONTENT_TYPE", "");
	r->accept = param_copy(r, param, ctx, "HTTP_ACCEPT", "");
	r->accept_encoding = param_copy(r, param, ctx, "HTTP_ACCEPT_ENCODING", "");
	r->remote_addr = remote_addr_copy(r, param, ctx);
	const char *cl = param_copy(r, param, ctx, "CONTENT_LENGTH", "");
	if (cl[0] != '\0') {
		char *end;
		errno = 0;
		long long v = strtoll(cl, &end, 10);
		if (!isdigit((unsigned char)cl[0]) || *end != '\0' || errno != 0)
			return cd_fail(err, CD_EINVAL, "bad Content-Length");
		r->content_length = v;
	}

	const char *uri = param_copy(r, param, ctx, "REQUEST_URI", NULL);
	if (uri == NULL || uri[0] != '/')
		return cd_fail(err, CD_EINVAL, "bad request path");
	size_t plen = strcspn(uri, "?#");
	r->path = req_alloc(r, plen + 1);
	if (r->path == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	memcpy(r->path, uri, plen);
	r->path[plen] = '\0';
	if (uri[plen] == '?') {
		r->query = req_strdup(r, uri + plen + 1);
		if (r->query == NULL)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		r->query[strcspn(r->query, "#")] = '\0';
	}

	/* CONTEXT_PATH is matched on the raw path, whole segments only. */
	const char *rest = r->path;
	size_t clen = strlen(r->cfg->context_path);
	if (clen > 0) {
		if (strncmp(rest, r->cfg->context_path, clen) != 0 ||
		    (rest[clen] != '\0' && rest[clen] != '/'))
			return cd_fail(err, CD_ENOTFOUND, "not found");
		rest += clen;
	}

	char *work = req_strdup(r, rest);
	char *raw[REQ_MAX_SEGMENTS];
	if (work == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (url_split(work, raw, REQ_MAX_SEGMENTS, &r->nseg) != CD_OK) {
		if (strstr(rest, "//") != NULL || (rest[0] != '\0' && rest[1] != '\0' &&
		                                   rest[strlen(rest) - 1] == '/'))
			return cd_fail(err, CD_EINVAL, "empty segment in the request path");
		return cd_fail(err, CD_ENOTFOUND, "not found");
	}
	for (int i = 0; i < r->nseg; i++) {
		size_t n = strlen(raw[i]);
		char *d = req_alloc(r, n + 1);
		if (d == NULL)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		if (url_decode(raw[i], n, d, false) != CD_OK)
			return cd_fail(err, CD_EINVAL, "bad percent-encoding in the request path");
		if (strchr(d, '/') != NULL)
			return cd_fail(err, CD_EINVAL, "encoded slash in the request path");
		if (strcmp(d, ".") == 0 || strcmp(d, "..") == 0)
			return cd_fail(err, CD_EINVAL, "\".\" or \"..\" in the request path");
		r->seg[i] = d;
	}
	return CD_OK;
}

bool req_query(struct req *r, const char *key, char *out, size_t out_sz)
{
	char scratch[8];
	if (out == NULL)
		return url_query_get(r->query, key, scratch, sizeof scratch);
	return url_query_get(r->query, key, out, out_sz);
}

cd_rc req_read_body(struct req *r, cd_err *err)
{
	long long max = r->cfg->max_upload_size;

	if (r->body_read)
		return CD_OK;
	r->body_read = true;
	r->body = "";
	r->body_len = 0;
	if (r->content_length > max)
		return cd_fail(err, CD_ETOOBIG, "request body is larger than MAX_UPLOAD_SIZE");
	if (r->content_length == 0)
		return CD_OK;

	/* With a known length, one exact buffer; otherwise grow to max + 1. */
	size_t cap = r->content_length > 0 ? (size_t)r->content_length : 64 * 1024;
	size_t len = 0;
	char *buf = malloc(cap + 1);
	if (buf == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	for (;;) {
		if (len == cap) {
			if (r->content_length >= 0 || (long long)cap > max)
				break;
			size_t ncap = cap * 2;
			if ((long long)ncap > max + 1)
				ncap = (size_t)max + 1;
			char *nb = realloc(buf, ncap + 1);
			if (nb == NULL) {
				free(buf);
				return cd_fail(err, CD_ENOMEM, "out of memory");
			}
			buf = nb;
			cap = ncap;
		}
		size_t want = cap - len;
		int chunk = want > (1 << 20) ? (1 << 20) : (int)want;
		int got = FCGX_GetStr(buf + len, chunk, r->fx->in);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	if (req_own(r, buf) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if ((long long)len > max)
		return cd_fail(err, CD_ETOOBIG, "request body is larger than MAX_UPLOAD_SIZE");
	if (r->content_length >= 0 && (long long)len < r->content_length)
		return cd_fail(err, CD_EINVAL, "request body shorter than its Content-Length");
	r->body = buf;
	r->body_len = len;
	return CD_OK;
}

void req_end(struct req *r)
{
	/* Unread input is drained so nginx can finish sending the request. */
	if (r->fx != NULL && r->fx->in != NULL) {
		char scratch[16384];
		while (FCGX_GetStr(scratch, sizeof scratch, r->fx->in) > 0)
			;
	}
	while (r->cleanups != NULL) {
		struct req_cleanup *c = r->cleanups;
		r->cleanups = c->next;
		if (c->fn != NULL)
			c->fn(c->p);
		free(c);
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	}
	return "Unknown";
}

/* libfcgi's own printf lacks %zu and friends: format with the C library. */
static void out_printf(struct req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_printf(struct req *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && n < (int)sizeof line) {
		FCGX_PutStr(line, n, r->fx->out);
	} else if (n > 0) {
		char *big = NULL;
		va_start(ap, fmt);
		if (vasprintf(&big, fmt, ap) >= 0)
			FCGX_PutStr(big, n, r->fx->out);
		va_end(ap);
		free(big);
	}
}

/* Status line and the headers every response carries. */
static void send_common(struct req *r, int status)
{
	FCGX_Stream *out = r->fx->out;
	r->status = status;
	r->responded = true;
	out_printf(r, "Status: %d %s\r\n", status, reason(status));
	out_printf(r, "X-Request-Id: %s\r\n", r->request_id);
	if (r->cfg->cors_allow_origin != NULL)
		out_printf(r, "Access-Control-Allow-Origin: %s\r\n",
		             r->cfg->cors_allow_origin);
	if (status == 401)
		FCGX_PutS("WWW-Authenticate: Basic realm=\"chartdepot\"\r\n", out);
	if (status == 429 && r->retry_after > 0)
		out_printf(r, "Retry-After: %d\r\n", r->retry_after);
}

void respond_body(struct req *r, int status, const char *content_type,
                  const char *body, size_t len)
{
	if (r->responded)
		return;
	send_common(r, status);
	out_printf(r, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
	             content_type, len);
	if (r->method != M_HEAD && len > 0)
		FCGX_PutStr(body, (int)len, r->fx->out);
}

#define HTTP_DATE_FORMAT "%a, %d %b %Y %H:%M:%S GMT"

/* A request header only respond_file reads, looked up when needed. */
static const char *header_param(const struct req *r, const char *cgi_name)
{
	return r->fx != NULL ? FCGX_GetParam(cgi_name, r->fx->envp) : NULL;
}

/* Whether the entity-tag list of an If-Match / If-None-Match header names
 * etag ("*" names any).  weak: W/ prefixes are ignored (RFC 9110 8.8.3.2:
 * If-None-Match compares weakly, If-Match strongly). */
static bool etag_listed(const char *list, const char *etag, bool weak)
{
	size_t elen = strlen(etag);
	const char *p = list;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		bool is_weak = strncmp(p, "W/", 2) == 0;
		if (is_weak)
			p += 2;
		if (*p != '"')
			return false; /* not a list of entity-tags: no match */
		const char *end = strchr(p + 1, '"');
		if (end == NULL)
			return false;
		size_t n = (size_t)(end + 1 - p);
		if ((weak || !is_weak) && n == elen && memcmp(p, etag, n) == 0)
			return true;
		p = end + 1;
	}
	return false;
}

/* An HTTP-date (IMF-fixdate) as seconds since the epoch; -1 if it is not one. */
static long long http_date_parse(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = s ? strptime(s, HTTP_DATE_FORMAT, &tm) : NULL;
	if (end == NULL || *end != '\0')
		return -1;
	return (long long)timegm(&tm);
}

/* The status the request's preconditions give a file with these validators:
 * 200 to send it, 304 or 412 (RFC 9110 section 13.2.2).  As nginx's static
 * handler: If-Modified-Since must equal Last-Modified ("if_modified_since
 * exact"), and it counts only without If-None-Match. */
static int precondition_status(const struct req *r, const char *etag, long long mtime)
{
	const char *if_match = header_param(r, "HTTP_IF_MATCH");
	const char *if_unmodified = header_param(r, "HTTP_IF_UNMODIFIED_SINCE");
	const char *if_none_match = header_param(r, "HTTP_IF_NONE_MATCH");
	const char *if_modified = header_param(r, "HTTP_IF_MODIFIED_SINCE");

	if (if_match != NULL && !etag_listed(if_match, etag, false))
		return 412;
	if (if_match == NULL && if_unmodified != NULL) {
		long long t = http_date_parse(if_unmodified);
		if (t >= 0 && mtime > t)
			return 412;
	}
	if (if_none_match != NULL)
		return etag_listed(if_none_match, etag, true) ? 304 : 200;
	if (if_modified != NULL && http_date_parse(if_modified) == mtime)
		return 304;
	return 200;
}

void respond_file(struct req *r, const char *content_type, const void *data, size_t len,
                  int64_t mtime_ns)
{
	if (r->responded)
		return;
	time_t mtime = (time_t)(mtime_ns / 1000000000);
	struct tm tm;
	char date[64], etag[48];
	if (gmtime_r(&mtime, &tm) == NULL || strftime(date, sizeof date, HTTP_DATE_FORMAT, &tm) == 0)
		date[0] = '\0';
	snprintf(etag, sizeof etag, "\"%llx-%zx\"", (unsigned long long)mtime, len);

	int status = precondition_status(r, etag, (long long)mtime);
	if (status == 412) {
		static const char body[] = "{\"error\":\"precondition failed\"}";
		respond_body(r, 412, "application/json; charset=utf-8", body, sizeof body - 1);
		return;
	}
	send_common(r, status);
	if (status == 200)
		out_printf(r, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, len);
	if (date[0] != '\0')
		out_printf(r, "Last-Modified: %s\r\n", date);
	out_printf(r, "ETag: %s\r\nCache-Control: no-cache\r\n\r\n", etag);
	if (status == 200 && r->method != M_HEAD && len > 0)
		FCGX_PutStr(data, (int)len, r->fx->out);
}

void respond_start(struct req *r, int status, const char *content_type)
{
	if (r->responded)
		return;
	send_common(r, status);
	out_printf(r, "Content-Type: %s\r\n\r\n", content_type);
}

void respond_write(struct req *r, const char *data, size_t len)
{
	/* FCGX_PutStr takes an int: large pieces go in slices. */
	while (r->method != M_HEAD && len > 0) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;
		if (FCGX_PutStr(data, n, r->fx->out) != n)
			return;
		data += n;
		len -= (size_t)n;
	}
}

void respond_json(struct req *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		static const char oom[] = "{\"error\":\"internal server error\"}";
		snprintf(r->error, sizeof r->error, "ENOMEM: cannot render JSON");
		respond_body(r, 500, "application/json; charset=utf-8", oom, sizeof oom - 1);
		return;
	}
	respond_body(r, status, "application/json; charset=utf-8", text, strlen(text));
	jarena_free_text(text);
}

void respond_error(struct req *r, cd_rc rc, const char *msg)
{
	int status = cd_rc_http_status(rc);
	const char *shown = msg && msg[0] ? msg : "error";

	snprintf(r->error, sizeof r->error, "%s: %s", cd_rc_name(rc), shown);
	/* Server-side failures keep their detail for the operator log. */
	if (rc == CD_EIO || rc == CD_EDB || rc == CD_ENOMEM)
		shown = "internal server error";
	else if (rc == CD_EBUSY)
		shown = "server busy, try again";
	json_t *body = json_pack("{s:s}", "error", shown);
	respond_json(r, status, body);
}

void respond_accel(struct req *r, const char *uri)
{
	if (r->responded)
		return;
	if (uri == NULL) {
		respond_error(r, CD_ENOMEM, "out of memory");
		return;
	}
	send_common(r, 200);
	r->accel = true;
	out_printf(r, "X-Accel-Redirect: %s\r\n\r\n", uri);
}
