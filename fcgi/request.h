/* request.h — one FastCGI request: parsed input, per-request memory and the
 * response helpers.  Handlers see only struct req; they never read a CGI
 * variable themselves. */
#ifndef CD_REQUEST_H
#define CD_REQUEST_H

#include <fcgiapp.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "authfail.h"
#include "cd_err.h"
#include "config.h"

#define REQ_MAX_SEGMENTS 16
#define REQ_ID_MAX 64

struct conns;
struct fcgi_options;
struct metrics;

/* What a worker holds for its whole life. */
struct app {
	const struct cd_config *cfg;
	const struct fcgi_options *opts;  /* the worker's own settings (options.h) */
	struct metrics *metrics;          /* shared counters, NULL without ENABLE_METRICS */
	struct store *store;
	struct auth *auth;
	struct authfail authfail;         /* failed logins per client address;
	                                   * zeroed is empty */
	struct conns *conns;              /* parked keep-alive connections;
	                                   * NULL in tests */
	void (*follow_db)(struct app *);  /* before a handler that reads the
	                                   * database: reopens it if the indexer
	                                   * replaced the file; NULL in tests */
	struct index_cache *index_cache;  /* the index files named lately
	                                   * (index.h); NULL: none kept */
};

enum req_method {
	M_GET = 1 << 0,
	M_HEAD = 1 << 1,
	M_POST = 1 << 2,
	M_PUT = 1 << 3,
	M_DELETE = 1 << 4,
	M_OTHER = 1 << 5,
};

struct req_cleanup;

struct req {
	struct app *app;
	const struct cd_config *cfg;
	FCGX_Request *fx;

	/* Input, copied out of libfcgi and validated by req_parse. */
	enum req_method method;
	const char *method_name;
	char *path;                     /* raw path of REQUEST_URI, no query */
	char *query;                    /* raw query after '?', "" when none */
	char *seg[REQ_MAX_SEGMENTS];    /* decoded segments after CONTEXT_PATH */
	int nseg;
	const char *authorization;      /* NULL when absent */
	const char *content_type;       /* "" when absent */
	const char *accept;             /* "" when absent */
	const char *accept_encoding;    /* "" when absent */
	const char *remote_addr;        /* REMOTE_ADDR, printable; "" when absent */
	long long content_length;       /* -1 when absent */
	char request_id[REQ_ID_MAX + 1];

	/* Filled by the router for the matched route. */
	int route;                      /* its index in the table, -1 for none */
	unsigned route_flags;           /* its enum route_flag bits */
	char *repo;                     /* "" at depth 0, else "a" or "a/b" ... */
	char *param[3];                 /* the ":name" parts of the pattern, in order */
	bool trusted;                   /* auth is off, or the credentials were verified */

	/* The body, once req_read_body has run. */
	char *body;
	size_t body_len;
	bool body_read;

	/* Response state, for the log line. */
	int status;
	bool responded;
	bool accel;                     /* X-Accel-Redirect: nginx drops the
	                                 * connection after it */
	char error[160];                /* the error message sent, for 5xx logs */
	int retry_after;                /* seconds, sent as Retry-After with a 429 */

	struct req_cleanup *cleanups;   /* everything freed by req_end */
};

/* Sets r up for fx; every later allocation is released by req_end. */
void req_init(struct req *r, struct app *app, FCGX_Request *fx);

/* One CGI variable by name (RFC 3875 section 4.1), NULL when absent. */
typedef const char *(*req_param_fn)(const char *name, void *ctx);

/* Copies method, path, query, headers and the client address out of the
 * CGI environment that param(name, ctx) looks up, then strips CONTEXT_PATH
 * and splits and decodes the path.  Touches nothing but r and its memory
 * (the fuzz harness drives it).  CD_ENOTFOUND for a path outside
 * CONTEXT_PATH; CD_EINVAL for a bad Content-Length or request path, empty,
 * ".", ".." or undecodable segments (err says which). */
cd_rc req_parse_env(struct req *r, req_param_fn param, void *ctx, cd_err *err);

/* req_parse_env on the FastCGI request's parameters. */
cd_rc req_parse(struct req *r, cd_err *err);

/* Drains unread input, frees every per-request allocation. */
void req_end(struct req *r);

/* Per-request memory: released by req_end, never by the caller. */
void *req_alloc(struct req *r, size_t n);
char *req_strdup(struct req *r, const char *s);
char *req_printf(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands ownership of a malloc'd pointer (free) or a json reference to r;
 * returns p for chaining.  NULL is accepted and ignored. */
void *req_own(struct req *r, void *p);
json_t *req_own_json(struct req *r, json_t *j);
/* Runs fn(p) at req_end: for library structs with their own free function. */
void req_defer(struct req *r, void (*fn)(void *), void *p);

/* Reads the whole body, at most cfg->max_upload_size bytes: CD_ETOOBIG
 * past it, CD_EINVAL when shorter than CONTENT_LENGTH. */
cd_rc req_read_body(struct req *r, cd_err *err);

/* True when the query string has key (with or without a value). */
bool req_query(struct req *r, const char *key, char *out, size_t out_sz);

/* Responses.  Each sends Status, X-Request-Id and, for bodies, Content-Type
 * and Content-Length; HEAD requests get the headers only. */
void respond_json(struct req *r, int status, json_t *body);  /* steals body */
void respond_error(struct req *r, cd_rc rc, const char *msg);
void respond_body(struct req *r, int status, const char *content_type,
                  const char *body, size_t len);
/* Hands the request to nginx's internal location uri (X-Accel-Redirect). */
void respond_accel(struct req *r, const char *uri);
/* A stored file's bytes as a 200 body, with the validators nginx's static
 * handler would send for it (ETag "<mtime hex>-<size hex>", Last-Modified)
 * and Cache-Control: no-cache, so that a client cannot tell this from an
 * X-Accel-Redirect to the same file. */
void respond_file(struct req *r, const char *content_type, const void *data, size_t len,
                  int64_t mtime_ns);
/* A response whose body follows in pieces: respond_start sends the status
 * and headers (no Content-Length), respond_write each piece (nothing for
 * HEAD).  A failure after respond_start can only cut the body short. */
void respond_start(struct req *r, int status, const char *content_type);
void respond_write(struct req *r, const char *data, size_t len);

#endif
