/* fcgi_stub.c — libfcgi and the route handlers, stubbed for the harnesses
 * that compile fcgi/request.c and fcgi/route.c (scripts/fuzz and
 * scripts/fuzz-replay link it to those targets only). */
#include "fcgi_stub.h"

#include <fcgiapp.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "handlers.h"

#define FUZZ_ENV_MAX 64

static struct {
	char *name, *value;
} env[FUZZ_ENV_MAX];
static size_t nenv;

void fuzz_env_parse(const uint8_t *data, size_t size)
{
	nenv = 0;
	while (size > 0 && nenv < FUZZ_ENV_MAX) {
		char *line = fuzz_take_line(&data, &size);
		char *eq = strchr(line, '=');
		if (eq == NULL) {
			free(line);
			continue;
		}
		*eq = '\0';
		env[nenv].name = line; /* value shares the allocation */
		env[nenv].value = eq + 1;
		nenv++;
	}
}

const char *fuzz_env_get(const char *name, void *ctx)
{
	const char *v = NULL;
	(void)ctx;
	for (size_t i = 0; i < nenv; i++)
		if (strcmp(env[i].name, name) == 0)
			v = env[i].value;
	return v;
}

void fuzz_env_free(void)
{
	for (size_t i = 0; i < nenv; i++)
		free(env[i].name);
	nenv = 0;
}

char fuzz_out[FUZZ_OUT_MAX + 1];
size_t fuzz_out_len;
int fuzz_handler_calls;

void fuzz_stub_reset(void)
{
	fuzz_out_len = 0;
	fuzz_out[0] = '\0';
	fuzz_handler_calls = 0;
}

/* The harnesses pass parameters to req_parse_env themselves. */
char *FCGX_GetParam(const char *name, FCGX_ParamArray envp)
{
	(void)name;
	(void)envp;
	return NULL;
}

int FCGX_GetStr(char *str, int n, FCGX_Stream *stream)
{
	(void)str;
	(void)n;
	(void)stream;
	return 0;
}

int FCGX_PutStr(const char *str, int n, FCGX_Stream *stream)
{
	(void)stream;
	if (n < 0)
		return -1;
	size_t take = (size_t)n;
	if (take > FUZZ_OUT_MAX - fuzz_out_len)
		take = FUZZ_OUT_MAX - fuzz_out_len;
	memcpy(fuzz_out + fuzz_out_len, str, take);
	fuzz_out_len += take;
	fuzz_out[fuzz_out_len] = '\0';
	return n;
}

int FCGX_PutS(const char *str, FCGX_Stream *stream)
{
	return FCGX_PutStr(str, (int)strlen(str), stream);
}

#define STUB(fn)                                                               \
	cd_rc fn(struct req *r, cd_err *err)                                       \
	{                                                                          \
		(void)r;                                                               \
		fuzz_handler_calls++;                                                  \
		return cd_fail(err, FUZZ_HANDLER_RC, "%s", #fn);                       \
	}
STUB(h_root)
STUB(h_health)
STUB(h_info)
STUB(h_metrics)
STUB(h_index)
STUB(h_chart_file)
STUB(h_artifacthub)
STUB(h_api_list)
STUB(h_api_chart)
STUB(h_api_version)
STUB(h_api_delete)
STUB(h_api_templates)
STUB(h_api_values)
STUB(h_upload_chart)
STUB(h_upload_prov)
