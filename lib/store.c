/* store.c — the SQLite index of chart versions.
 *
 * Schema (user_version 4; an older db is brought up to date by the
 * idempotent CREATE ... IF NOT EXISTS statements and, from 3, by adding
 * block.gen):
 *   repo(repo PK, gen)              a repo's generation, bumped by each change
 *   chart(repo, name, version, file, size, mtime_ns, ino, digest, created,
 *         meta, entry_yaml, entry_json)
 *                                   one row per version, unique (repo, name,
 *                                   version) and (repo, file); the entry is
 *                                   kept rendered as it sits in index.yaml;
 *                                   meta is '' and the Metadata is read back
 *                                   out of entry_json, which holds all of it
 *                                   (rows written by earlier versions may
 *                                   still fill meta: either is read);
 *                                   index chart_ident covers (repo, file,
 *                                   size, mtime_ns, ino), so the indexer's
 *                                   restart scan never reads the wide rows
 *   block(repo, name, yaml, json, gen)
 *                                   all entries of one name, newest first
 *                                   (json '' unless store_set_block_json),
 *                                   and the repo generation whose change
 *                                   last rewrote them (0: before schema 4);
 *                                   index block_gen covers (repo, name,
 *                                   gen), so a render learns what changed
 *                                   since an earlier file without reading
 *                                   the texts
 *   block_stale(repo, name, gen)    names whose block is out of date since
 *                                   the change of generation gen (lazy
 *                                   writers, see below)
 *   badfile(repo, file, size, mtime_ns, ino, reason)
 *                                   invalid files, by identity
 *   setting(key PK, value)          "chart_url" the entries were rendered with
 *
 * Writers mark the (repo, name) pairs they touch in a per-connection TEMP
 * table; at commit their repos' generations are bumped and those blocks
 * rebuilt, so a batch of many versions of one name rebuilds its block once.
 * A lazy writer (store_set_lazy: the upload path, the indexer's bulk
 * loads) records the names in block_stale instead, so an upload costs its
 * own row whatever the number of versions of its chart; renders read a
 * stale name's rows directly and store_refresh_blocks (the indexer, in the
 * background) rebuilds them.
 * A new repo's generation starts at the current time in microseconds, so
 * generations keep growing across a recreated database and an index file
 * rendered from the old one is never taken for a new generation. */
#include "store.h"
#include "chart.h"
#include "index.h"
#include "log.h"
#include "semver.h"
#include "yamlout.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 5
#define BUSY_TIMEOUT_MS 10000
/* The page size of a new database.  SQLite's 4 KiB left each chart row
 * (about 4 KB of texts) and each name's block (about 26 KB) on chains of
 * overflow pages, and every page is two write calls into the WAL (frame
 * header, page) and a copy into the db file: on a cold index of 130,000
 * versions 16 KiB pages cut the indexer's system time by a quarter.  An
 * upload writes its handful of pages into the WAL without a sync, so the
 * bigger frames cost it little.  A database keeps the size it was made
 * with (changing it means a VACUUM of the whole file). */
#define NEW_DB_PAGE_SIZE 16384
/* The WAL is checkpointed once it holds this many bytes: 4 MB normally
 * (SQLite's 1000 pages of 4 KiB), 64 MB in bulk mode, so pages rewritten
 * by many batches (indexes, the right edge of the tables) are copied into
 * the db file fewer times. */
#define CHECKPOINT_BYTES (4L << 20)
#define BULK_CHECKPOINT_BYTES (64L << 20)

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS repo("
	"  repo TEXT PRIMARY KEY NOT NULL,"
	"  gen INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS chart("
	"  repo TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,"
	"  file TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
	"  ino INTEGER NOT NULL, digest TEXT NOT NULL, created TEXT NOT NULL,"
	"  meta TEXT NOT NULL, entry_yaml TEXT NOT NULL, entry_json TEXT NOT NULL,"
	"  UNIQUE(repo, name, version), UNIQUE(repo, file));"
	"CREATE INDEX IF NOT EXISTS chart_ident ON chart(repo, file, size, mtime_ns, ino);"
	"CREATE TABLE IF NOT EXISTS block("
	"  repo TEXT NOT NULL, name TEXT NOT NULL, yaml TEXT NOT NULL,"
	"  json TEXT NOT NULL, gen INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(repo, name));"
	"CREATE TABLE IF NOT EXISTS badfile("
	"  repo TEXT NOT NULL, file TEXT NOT NULL, size INTEGER NOT NULL,"
	"  mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, reason TEXT NOT NULL,"
	"  PRIMARY KEY(repo, file));"
	"CREATE TABLE IF NOT EXISTS setting("
	"  key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS block_stale("
	"  repo TEXT NOT NULL, name TEXT NOT NULL, gen INTEGER NOT NULL,"
	"  PRIMARY KEY(repo, name)) WITHOUT ROWID;";

/* Run after block has its gen column (schema 3 gains it by ALTER TABLE,
 * which leaves the rows as they are: their gen reads 0, "before schema 4",
 * older than any index file rendered with a map, all rendered since).
 * The trigger covers a chartdepot of schema 3 still running during an
 * upgrade: its block writes name no gen, and it bumps the generation after
 * rewriting the blocks, so the block belongs to the generation after the
 * current one.  Binary collation: the sqlite3 shell can check the index. */
static const char schema_v4_sql[] =
	"CREATE INDEX IF NOT EXISTS block_gen ON block(repo, name, gen);"
	"CREATE TRIGGER IF NOT EXISTS block_gen_unset AFTER INSERT ON block"
	"  WHEN NEW.gen = 0 BEGIN"
	"  UPDATE block SET gen = coalesce((SELECT gen FROM repo WHERE repo = NEW.repo), 0) + 1"
	"   WHERE rowid = NEW.rowid;"
	"  END;"
	"PRAGMA user_version = 5;";

/* The cached statements; each is reset right after use. */
enum stmt_id {
	ST_DIRTY_MARK,
	ST_DIRTY_LIST,
	ST_DIRTY_BUMP,
	ST_DIRTY_CLEAR,
	ST_REPO_ADD,
	ST_REPO_GEN,
	ST_CHART_DEL_FILE,
	ST_CHART_FILE_NAME,
	ST_CHART_INSERT,
	ST_CHART_DEL,
	ST_BLOCK_ROWS,
	ST_BLOCK_ROWS_YAML,
	ST_BLOCK_ROWS_JSON,
	ST_BLOCK_PUT,
	ST_BLOCK_DEL,
	ST_STALE_MARK,
	ST_STALE_DEL,
	ST_BAD_PUT,
	ST_BAD_DEL,
	ST_BAD_GET,
	ST_FILE_KNOWN,
	ST__COUNT
};

/* The rows of one name, in the order of its block (see render_block). */
#define BLOCK_ROWS_NEWEST_FIRST                                                   \
	" FROM chart WHERE repo = ?1 AND name = ?2"                               \
	" ORDER BY version COLLATE semver DESC, version DESC"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_DIRTY_MARK] = "INSERT OR IGNORE INTO temp.dirty(repo, name) VALUES(?1, ?2)",
	[ST_DIRTY_LIST] = "SELECT repo, name FROM temp.dirty",
	[ST_DIRTY_BUMP] = "UPDATE repo SET gen = gen + 1 WHERE repo IN "
	                  "(SELECT DISTINCT repo FROM temp.dirty)",
	[ST_DIRTY_CLEAR] = "DELETE FROM temp.dirty",
	[ST_REPO_ADD] = "INSERT OR IGNORE INTO repo(repo, gen) VALUES(?1, ?2)",
	[ST_REPO_GEN] = "SELECT gen FROM repo WHERE repo = ?1",
	[ST_CHART_DEL_FILE] = "DELETE FROM chart WHERE repo = ?1 AND file = ?2 RETURNING name",
	[ST_CHART_FILE_NAME] = "SELECT name FROM chart WHERE repo = ?1 AND file = ?2",
	[ST_CHART_INSERT] = "INSERT OR REPLACE INTO chart(repo, name, version, file, size,"
	                    " mtime_ns, ino, digest, created, meta, entry_yaml, entry_json)"
	                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_CHART_DEL] = "DELETE FROM chart WHERE repo = ?1 AND name = ?2 AND version = ?3",
	/* One text when only one is wanted: the sorter carries what is selected. */
	[ST_BLOCK_ROWS] = "SELECT entry_yaml, entry_json" BLOCK_ROWS_NEWEST_FIRST,
	[ST_BLOCK_ROWS_YAML] = "SELECT entry_yaml, ''" BLOCK_ROWS_NEWEST_FIRST,
	[ST_BLOCK_ROWS_JSON] = "SELECT '', entry_json" BLOCK_ROWS_NEWEST_FIRST,
	[ST_BLOCK_PUT] = "INSERT OR REPLACE INTO block(repo, name, yaml, json, gen)"
	                 " VALUES(?1, ?2, ?3, ?4,"
	                 " coalesce(?5, (SELECT gen FROM repo WHERE repo = ?1), 0))",
	[ST_BLOCK_DEL] = "DELETE FROM block WHERE repo = ?1 AND name = ?2",
	[ST_STALE_MARK] = "INSERT OR REPLACE INTO block_stale(repo, name, gen)"
	                  " SELECT repo, name, (SELECT gen FROM repo WHERE repo = d.repo)"
	                  " FROM temp.dirty AS d",
	[ST_STALE_DEL] = "DELETE FROM block_stale WHERE repo = ?1 AND name = ?2",
	[ST_BAD_PUT] = "INSERT OR REPLACE INTO badfile(repo, file, size, mtime_ns, ino, reason)"
	               " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_BAD_DEL] = "DELETE FROM badfile WHERE repo = ?1 AND file = ?2",
	[ST_BAD_GET] = "SELECT 1 FROM badfile WHERE repo = ?1 AND file = ?2 AND size = ?3"
	               " AND mtime_ns = ?4 AND ino = ?5",
	[ST_FILE_KNOWN] = "SELECT 1 FROM chart WHERE repo = ?1 AND file = ?2 AND size = ?3"
	                  " AND mtime_ns = ?4 AND ino = ?5",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	bool in_batch;       /* between store_begin and store_commit/rollback */
	int64_t page_size;   /* of the open database, in bytes */
	bool lazy;           /* single writes mark blocks stale (store_set_lazy) */
	bool block_json;     /* blocks keep their JSON text (store_set_block_json) */
	struct buf yaml, json; /* reused while rebuilding blocks */
	/* Within the open transaction: the repo known to have its row and the
	 * (repo, name) marked dirty last, so a batch of puts repeats neither
	 * statement.  Forgotten when the transaction ends. */
	char *txn_repo, *dirty_repo, *dirty_name;
	/* The count of committed writes shared by every process through
	 * <db>-changes (store_changes); NULL when it could not be mapped. */
	uint64_t *changes;
};

static void changes_bump(struct store *s);

static void txn_forget(struct store *s)
{
	free(s->txn_repo);
	free(s->dirty_repo);
	free(s->dirty_name);
	s->txn_repo = s->dirty_repo = s->dirty_name = NULL;
}

/* ---- errors ---------------------------------------------------------- */

/* Turns a SQLite result into the error kind callers map to HTTP: busy past
 * the timeout is 503, a full disk 507, anything else a db error. */
static cd_rc db_fail(struct store *s, int rc, cd_err *err, const char *what)
{
	int prim = rc & 0xff;
	const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		return cd_fail(err, CD_EBUSY, "database is busy, try again later");
	if (prim == SQLITE_FULL)
		return cd_fail(err, CD_ENOSPC, "not enough space for the index database");
	if (prim == SQLITE_NOMEM)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	log_error("store: %s: %s (%d)", what, msg, rc);
	return cd_fail(err, CD_EDB, "database error while trying to %s: %s", what, msg);
}

/* ---- collations ------------------------------------------------------ */

/* Copies a collation argument (not NUL-terminated) into stack space or, when
 * long, the heap; *heap is set to what must be freed. */
static const char *coll_str(const void *p, int n, char *stack, size_t cap, char **heap)
{
	char *d = stack;
	*heap = NULL;
	if ((size_t)n >= cap) {
		if ((d = *heap = malloc((size_t)n + 1)) == NULL)
			return "";
	}
	memcpy(d, p, (size_t)n);
	d[n] = '\0';
	return d;
}

/* Orders versions by SemVer precedence (semver_compare_str). */
static int coll_semver(void *ctx, int an, const void *a, int bn, const void *b)
{
	char sa[256], sb[256], *ha, *hb;
	(void)ctx;
	int r = semver_compare_str(coll_str(a, an, sa, sizeof sa, &ha),
	                           coll_str(b, bn, sb, sizeof sb, &hb));
	free(ha);
	free(hb);
	return r;
}

/* Orders chart names as Helm's YAML marshaller orders mapping keys. */
static int coll_yamlkey(void *ctx, int an, const void *a, int bn, const void *b)
{
	char sa[256], sb[256], *ha, *hb;
	(void)ctx;
	int r = yamlout_key_compare(coll_str(a, an, sa, sizeof sa, &ha),
	                            coll_str(b, bn, sb, sizeof sb, &hb));
	free(ha);
	free(hb);
	return r;
}

/* ---- statements ------------------------------------------------------ */

/* The cached statement id, prepared on first use; NULL with err set. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id, cd_err *err)
{
	if (s->st[id] == NULL) {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                            &s->st[id], NULL);
		if (rc != SQLITE_OK) {
			db_fail(s, rc, err, "prepare a statement");
			return NULL;
		}
	}
	return s->st[id];
}

/* Resets a statement so nothing stays active between calls. */
static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Steps a statement that returns no rows (or whose rows are ignored) to its
 * end and resets it. */
static cd_rc run(struct store *s, sqlite3_stmt *st, cd_err *err, const char *what)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	done(st);
	return rc == SQLITE_DONE ? CD_OK : db_fail(s, rc, err, what);
}

/* Runs literal SQL (pragmas, BEGIN/COMMIT). */
static cd_rc exec(struct store *s, const char *sql, cd_err *err, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? CD_OK : db_fail(s, rc, err, what);
}

/* Reads one integer from literal SQL such as "PRAGMA user_version". */
static cd_rc query_int(struct store *s, const char *sql, int64_t *out, cd_err *err,
                       const char *what)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(s, rc, err, what);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CD_OK : db_fail(s, rc, err, what);
}

/* ---- open and close -------------------------------------------------- */

/* Brings the schema up to date inside the caller's write transaction.
 * The version is read again there: another process may have just done it,
 * and ALTER TABLE, unlike the CREATE ... IF NOT EXISTS, cannot run twice. */
static cd_rc upgrade_schema(struct store *s, cd_err *err)
{
	int64_t version = 0, has_gen = 0;
	cd_rc rc = query_int(s, "PRAGMA user_version", &version, err, "read the schema");
	if (rc != CD_OK || version >= SCHEMA_VERSION)
		return rc;
	if ((rc = exec(s, schema_sql, err, "create the schema")) != CD_OK)
		return rc;
	rc = query_int(s, "SELECT count(*) FROM pragma_table_info('block') WHERE name = 'gen'",
	               &has_gen, err, "read the schema");
	if (rc == CD_OK && !has_gen)
		rc = exec(s, "ALTER TABLE block ADD COLUMN gen INTEGER NOT NULL DEFAULT 0", err,
		          "add the block generations");
	if (rc == CD_OK)
		rc = exec(s, schema_v4_sql, err, "create the schema");
	return rc;
}

/* Creates or checks the schema; a db written by a newer chartdepot is
 * refused rather than misread. */
static cd_rc setup_schema(struct store *s, cd_err *err)
{
	int64_t version = 0;
	cd_rc rc = query_int(s, "PRAGMA user_version", &version, err, "read the schema");
	if (rc != CD_OK)
		return rc;
	if (version > SCHEMA_VERSION)
		return cd_fail(err, CD_EDB, "database schema %lld is newer than this chartdepot",
		               (long long)version);
	if (version < SCHEMA_VERSION) {
		if ((rc = exec(s, "BEGIN IMMEDIATE", err, "create the schema")) != CD_OK)
			return rc;
		if ((rc = upgrade_schema(s, err)) != CD_OK) {
			exec(s, "ROLLBACK", NULL, "roll back");
			return rc;
		}
		if ((rc = exec(s, "COMMIT", err, "create the schema")) != CD_OK)
			return rc;
		changes_bump(s); /* a new or recreated database */
	}
	return exec(s, "CREATE TEMP TABLE IF NOT EXISTS dirty(repo TEXT NOT NULL,"
	               " name TEXT NOT NULL, PRIMARY KEY(repo, name))",
	            err, "create the work table");
}

/* SQLite's busy handler: short sleeps (50 µs doubling to 800 µs) rather
 * than sqlite3_busy_timeout's 1..100 ms steps, because a write here holds
 * the lock for about a millisecond and uploads from several workers queue
 * behind each other; gives up after BUSY_TIMEOUT_MS in all. */
static int busy_wait(void *unused, int count)
{
	(void)unused;
	long us = count < 4 ? 50L << count : 800;
	long waited_us = count < 4 ? 50L * ((1L << count) - 1) : 750 + 800L * (count - 4);
	if (waited_us >= BUSY_TIMEOUT_MS * 1000L)
		return 0;
	struct timespec ts = { 0, us * 1000 };
	nanosleep(&ts, NULL);
	return 1;
}

/* The number of s's pages that make up bytes. */
static int checkpoint_pages(const struct store *s, long bytes)
{
	return (int)(bytes / (s->page_size > 0 ? s->page_size : 4096));
}

/* WAL, NORMAL sync, busy handler; a garbage file fails here already. */
static cd_rc setup_connection(struct store *s, cd_err *err)
{
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_handler(s->db, busy_wait, NULL);
	int rc = sqlite3_create_collation(s->db, "semver", SQLITE_UTF8, NULL, coll_semver);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_collation(s->db, "yamlkey", SQLITE_UTF8, NULL, coll_yamlkey);
	if (rc != SQLITE_OK)
		return db_fail(s, rc, err, "register collations");
	int64_t n;
	cd_rc r = query_int(s, "SELECT count(*) FROM sqlite_master", &n, err, "read the schema");
	/* Before the switch to WAL, which writes the header of a new file;
	 * on a database with tables the pragma changes nothing. */
	if (r == CD_OK && n == 0) {
		char sql[48];
		snprintf(sql, sizeof sql, "PRAGMA page_size=%d", NEW_DB_PAGE_SIZE);
		r = exec(s, sql, err, "set the page size");
	}
	if (r == CD_OK)
		r = exec(s, "PRAGMA journal_mode=WAL", err, "switch to WAL mode");
	if (r == CD_OK)
		r = query_int(s, "PRAGMA page_size", &s->page_size, err, "read the page size");
	if (r == CD_OK)
		sqlite3_wal_autocheckpoint(s->db, checkpoint_pages(s, CHECKPOINT_BYTES));
	if (r == CD_OK)
		r = exec(s, "PRAGMA synchronous=NORMAL", err, "set synchronous mode");
	if (r == CD_OK)
		r = exec(s, "PRAGMA cache_size=-32768", err, "set the cache size");
	/* Statement journals (INSERT OR REPLACE keeps one) and the TEMP table
	 * of changed names in memory: on disk, what spilled of an indexer
	 * batch's journals went to a file in /var/tmp, ~9 MB per batch and
	 * 590 MB in all on a cold start of L, a pwrite per page. */
	if (r == CD_OK)
		r = exec(s, "PRAGMA temp_store=MEMORY", err, "keep temporary data in memory");
	return r;
}

/* Only a damaged file (or one from a newer chartdepot, whose schema we
 * set no SQLite error for) is CD_EDB, which tells the indexer to move it
 * aside; a file we cannot open or read at all is an I/O problem. */
static cd_rc open_failure_kind(struct store *s, cd_rc r)
{
	int ec = s->db ? sqlite3_errcode(s->db) & 0xff : SQLITE_CANTOPEN;
	if (r == CD_EDB && ec != SQLITE_OK && ec != SQLITE_NOTADB && ec != SQLITE_CORRUPT)
		return CD_EIO;
	return r;
}

/* SQLite's process-wide settings, made before its first use (sqlite3_config
 * refuses them later, harmlessly).  A store is only ever used by one thread
 * at a time, so its connection needs no mutex (SQLITE_OPEN_NOMUTEX), and
 * nothing reads SQLite's memory statistics, whose upkeep takes a global
 * mutex on every allocation: together 5 % of the writer's CPU on a cold
 * index. */
static void store_config_once(void)
{
	static bool configured;
	if (!configured) {
		configured = true;
		(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	}
}

/* <db>-changes: one page, of which the first 8 bytes count commits. */
#define CHANGES_MAP_SIZE 4096

/* Maps <path>-changes (made on first use), or NULL: without it every
 * store_changes call reports "unknown" and readers read the database. */
static uint64_t *changes_map(const char *path)
{
	char name[4200];
	struct stat st;
	snprintf(name, sizeof name, "%s-changes", path);
	int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return NULL;
	void *p = MAP_FAILED;
	/* Only ever grown, so two processes making it at once agree. */
	if (fstat(fd, &st) == 0 && (st.st_size >= CHANGES_MAP_SIZE ||
	                            ftruncate(fd, CHANGES_MAP_SIZE) == 0))
		p = mmap(NULL, CHANGES_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* After a commit, before anyone is told of it (store_changes). */
static void changes_bump(struct store *s)
{
	if (s->changes != NULL)
		__atomic_add_fetch(s->changes, 1, __ATOMIC_SEQ_CST);
}

bool store_changes(struct store *s, uint64_t *count)
{
	if (s->changes == NULL)
		return false;
	*count = __atomic_load_n(s->changes, __ATOMIC_SEQ_CST);
	return true;
}

static cd_rc store_open_once(const char *path, struct store **out, cd_err *err)
{
	struct store *s = calloc(1, sizeof *s);
	if (s == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	s->block_json = true;
	s->changes = changes_map(path);
	store_config_once();
	int rc = sqlite3_open_v2(path, &s->db,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                         NULL);
	cd_rc r = rc == SQLITE_OK ? CD_OK : db_fail(s, rc, err, "open the database");
	if (r == CD_OK)
		r = setup_connection(s, err);
	if (r == CD_OK)
		r = setup_schema(s, err);
	if (r != CD_OK) {
		r = open_failure_kind(s, r);
		store_close(s);
		return r;
	}
	*out = s;
	return CD_OK;
}

/* Several processes open a new database at the same moment when the
 * services start together; converting it to WAL can then report busy
 * without waiting on the busy handler, so opening is retried for a while. */
cd_rc store_open(const char *path, struct store **out, cd_err *err)
{
	cd_rc r = CD_EBUSY;
	for (int attempt = 0; attempt < 100 && r == CD_EBUSY; attempt++) {
		if (attempt > 0) {
			struct timespec pause = { 0, 100 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
		r = store_open_once(path, out, err);
	}
	return r;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	if (s->changes != NULL)
		munmap(s->changes, CHANGES_MAP_SIZE);
	buf_free(&s->yaml);
	buf_free(&s->json);
	txn_forget(s);
	free(s);
}

/* Renames path+suffix to path+suffix+".corrupt-<stamp>" when it exists. */
static void move_aside(const char *path, const char *suffix, const char *stamp)
{
	char from[4096], to[4200];
	snprintf(from, sizeof from, "%s%s", path, suffix);
	snprintf(to, sizeof to, "%s%s.corrupt-%s", path, suffix, stamp);
	if (rename(from, to) == 0)
		log_warn("store: moved the damaged database file aside to %s", to);
}

cd_rc store_recreate(const char *path, struct store **out, cd_err *err)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	move_aside(path, "", stamp);
	move_aside(path, "-wal", stamp);
	move_aside(path, "-shm", stamp);
	return store_open(path, out, err);
}

cd_rc store_check(struct store *s, cd_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(s, rc, err, "check the database");
	cd_rc r = CD_OK;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(st, 0);
		if (msg == NULL || strcmp(msg, "ok") != 0)
			r = cd_fail(err, CD_EDB, "database is damaged: %s", msg ? msg : "?");
	} else if (rc != SQLITE_DONE) {
		r = db_fail(s, rc, err, "check the database");
	}
	sqlite3_finalize(st);
	return r;
}

/* The page cache of every connection is 32 MiB (the indexer's batches
 * reuse it); a worker reads little and whole renders stream past it, so
 * it keeps a small one and never maps the file: the OS page cache holds
 * the db anyway, and a worker's memory stays flat at any repo size. */
cd_rc store_set_cache_kib(struct store *s, int kib, cd_err *err)
{
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d; PRAGMA mmap_size=0", kib > 0 ? kib : 1);
	return exec(s, sql, err, "set the cache size");
}

void store_release_memory(struct store *s)
{
	sqlite3_db_release_memory(s->db);
}

/* ---- transactions ---------------------------------------------------- */

void store_bulk(struct store *s, bool on)
{
	sqlite3_wal_autocheckpoint(s->db, checkpoint_pages(s, on ? BULK_CHECKPOINT_BYTES
	                                                        : CHECKPOINT_BYTES));
	if (on)
		return;
	/* The WAL file grew to the bulk interval: cut it back when it is next
	 * reset rather than keep it at its peak (during the load it is reused
	 * in place, which spares the file system new blocks each time). */
	exec(s, "PRAGMA journal_size_limit=16777216", NULL, "set the WAL size limit");
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

cd_rc store_set_unsynced(struct store *s, bool unsynced, cd_err *err)
{
	return exec(s, unsynced ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=NORMAL", err,
	            "set synchronous mode");
}

cd_rc store_read_begin(struct store *s, cd_err *err)
{
	return exec(s, "BEGIN", err, "start reading");
}

void store_read_end(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "COMMIT", NULL, "finish reading");
}

/* Starts a write unless a batch is open (its transaction is used then). */
static cd_rc write_begin(struct store *s, cd_err *err)
{
	if (s->in_batch && sqlite3_get_autocommit(s->db))
		return cd_fail(err, CD_EDB, "the batch was rolled back after an error");
	if (s->in_batch)
		return CD_OK;
	txn_forget(s);
	return exec(s, "BEGIN IMMEDIATE", err, "start a write");
}

static cd_rc flush_dirty(struct store *s, cd_err *err);

/* Ends a write begun by write_begin: on success rebuilds the touched blocks
 * and commits; on failure rolls back.  Inside a batch, does nothing. */
static cd_rc write_end(struct store *s, cd_rc rc, cd_err *err)
{
	if (s->in_batch)
		return rc;
	if (rc == CD_OK)
		rc = flush_dirty(s, err);
	if (rc == CD_OK)
		rc = exec(s, "COMMIT", err, "commit");
	if (rc == CD_OK)
		changes_bump(s);
	if (rc != CD_OK && !sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK", NULL, "roll back");
	txn_forget(s);
	return rc;
}

cd_rc store_begin(struct store *s, cd_err *err)
{
	if (s->in_batch)
		return cd_fail(err, CD_EDB, "a batch is already open");
	txn_forget(s);
	cd_rc rc = exec(s, "BEGIN IMMEDIATE", err, "start a batch");
	if (rc == CD_OK)
		s->in_batch = true;
	return rc;
}

cd_rc store_commit(struct store *s, cd_err *err)
{
	if (!s->in_batch)
		return cd_fail(err, CD_EDB, "no batch is open");
	s->in_batch = false;
	if (sqlite3_get_autocommit(s->db)) /* SQLite rolled it back (full disk, I/O) */
		return cd_fail(err, CD_EDB, "the batch was rolled back after an error");
	return write_end(s, CD_OK, err);
}

void store_rollback(struct store *s)
{
	s->in_batch = false;
	txn_forget(s);
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK", NULL, "roll back");
}

/* ---- blocks and generations ----------------------------------------- */

/* Remembers that (repo, name) changed in this transaction. */
static cd_rc mark_dirty(struct store *s, const char *repo, const char *name, cd_err *err)
{
	if (s->dirty_repo && strcmp(s->dirty_repo, repo) == 0 && strcmp(s->dirty_name, name) == 0)
		return CD_OK;
	sqlite3_stmt *st = stmt(s, ST_DIRTY_MARK, err);
	if (st == NULL)
		return CD_EDB;
	bind_text(st, 1, repo);
	bind_text(st, 2, name);
	cd_rc rc = run(s, st, err, "record a change");
	free(s->dirty_repo);
	free(s->dirty_name);
	s->dirty_repo = rc == CD_OK ? strdup(repo) : NULL;
	s->dirty_name = s->dirty_repo ? strdup(name) : NULL;
	if (s->dirty_name == NULL) {
		free(s->dirty_repo);
		s->dirty_repo = NULL;
	}
	return rc;
}

/* Makes sure repo has a row; a new one starts its generation at the time
 * in microseconds (see the file comment). */
static cd_rc ensure_repo(struct store *s, const char *repo, cd_err *err)
{
	struct timespec ts;
	if (s->txn_repo && strcmp(s->txn_repo, repo) == 0)
		return CD_OK;
	sqlite3_stmt *st = stmt(s, ST_REPO_ADD, err);
	if (st == NULL)
		return CD_EDB;
	clock_gettime(CLOCK_REALTIME, &ts);
	bind_text(st, 1, repo);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	cd_rc rc = run(s, st, err, "register the repository");
	if (rc == CD_OK && !sqlite3_get_autocommit(s->db)) {
		free(s->txn_repo);
		s->txn_repo = strdup(repo);
	}
	return rc;
}

/* Renders the block of every version of (repo, name), newest first, into
 * s->yaml and/or s->json, as asked (the other is left empty); *count
 * receives the number of versions. */
static cd_rc render_block(struct store *s, const char *repo, const char *name, bool yaml,
                          bool json, size_t *count, cd_err *err)
{
	sqlite3_stmt *st = stmt(s, yaml && json ? ST_BLOCK_ROWS
	                           : yaml  ? ST_BLOCK_ROWS_YAML : ST_BLOCK_ROWS_JSON, err);
	cd_rc rc = CD_OK;
	int r;
	if (st == NULL)
		return CD_EDB;
	s->yaml.len = s->json.len = 0;
	*count = 0;
	if ((yaml && (buf_append(&s->yaml, "  ", 2) != CD_OK ||
	              yamlout_string(&s->yaml, name, strlen(name)) != CD_OK ||
	              buf_append(&s->yaml, ":\n", 2) != CD_OK)) ||
	    (json && buf_append(&s->json, "[", 1) != CD_OK))
		return cd_fail(err, CD_ENOMEM, "out of memory");
	bind_text(st, 1, repo);
	bind_text(st, 2, name);
	while (rc == CD_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((yaml && buf_append(&s->yaml, sqlite3_column_blob(st, 0),
		                        (size_t)sqlite3_column_bytes(st, 0)) != CD_OK) ||
		    (json && *count > 0 && buf_append(&s->json, ",", 1) != CD_OK) ||
		    (json && buf_append(&s->json, sqlite3_column_blob(st, 1),
		                        (size_t)sqlite3_column_bytes(st, 1)) != CD_OK))
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
		(*count)++;
	}
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "read the versions of a chart");
	done(st);
	if (json && rc == CD_OK && buf_append(&s->json, "]", 1) != CD_OK)
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
	return rc;
}

/* Rewrites the stored block of (repo, name) from its rows, or deletes it
 * when no version is left, and clears its stale mark.  The block records
 * generation gen, or the repo's current one when gen < 0. */
static cd_rc rebuild_block(struct store *s, const char *repo, const char *name, int64_t gen,
                           cd_err *err)
{
	size_t count;
	cd_rc rc = render_block(s, repo, name, true, s->block_json, &count, err);
	if (rc != CD_OK)
		return rc;
	sqlite3_stmt *st = stmt(s, count ? ST_BLOCK_PUT : ST_BLOCK_DEL, err);
	if (st == NULL)
		return CD_EDB;
	bind_text(st, 1, repo);
	bind_text(st, 2, name);
	if (count) {
		sqlite3_bind_text(st, 3, s->yaml.data, (int)s->yaml.len, SQLITE_STATIC);
		if (s->block_json)
			sqlite3_bind_text(st, 4, s->json.data, (int)s->json.len, SQLITE_STATIC);
		else
			sqlite3_bind_text(st, 4, "", 0, SQLITE_STATIC);
		if (gen >= 0)
			sqlite3_bind_int64(st, 5, gen);
	}
	if ((rc = run(s, st, err, "store a chart's index block")) != CD_OK)
		return rc;
	if ((st = stmt(s, ST_STALE_DEL, err)) == NULL)
		return CD_EDB;
	bind_text(st, 1, repo);
	bind_text(st, 2, name);
	return run(s, st, err, "clear a stale mark");
}

/* Bumps the generation of each repo touched, rebuilds every block marked
 * dirty and forgets the marks — the last step of every write.  The bump
 * comes first so each rebuilt block records the generation its change
 * produces (ST_BLOCK_PUT reads it): every path that rewrites a block, be it
 * a put, a removal, a batch or a CHART_URL re-render, ends here. */
static cd_rc flush_dirty(struct store *s, cd_err *err)
{
	sqlite3_stmt *list = stmt(s, ST_DIRTY_LIST, err);
	sqlite3_stmt *bump = list ? stmt(s, ST_DIRTY_BUMP, err) : NULL;
	cd_rc rc = CD_OK;
	int r = SQLITE_DONE;
	if (list == NULL || bump == NULL)
		return CD_EDB;
	rc = run(s, bump, err, "bump the generation");
	if (rc == CD_OK && s->lazy) {
		sqlite3_stmt *mark = stmt(s, ST_STALE_MARK, err);
		rc = mark ? run(s, mark, err, "mark blocks stale") : CD_EDB;
		done(list);
		list = NULL;
	}
	while (list && rc == CD_OK && (r = sqlite3_step(list)) == SQLITE_ROW) {
		char *repo = strdup((const char *)sqlite3_column_text(list, 0));
		char *name = strdup((const char *)sqlite3_column_text(list, 1));
		if (repo == NULL || name == NULL)
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
		else
			rc = rebuild_block(s, repo, name, -1, err);
		free(repo);
		free(name);
	}
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "list changed charts");
	if (list)
		done(list);
	sqlite3_stmt *clear = rc == CD_OK ? stmt(s, ST_DIRTY_CLEAR, err) : NULL;
	if (rc == CD_OK)
		rc = clear ? run(s, clear, err, "clear the change list") : CD_EDB;
	free(s->dirty_repo);
	free(s->dirty_name);
	s->dirty_repo = s->dirty_name = NULL;
	return rc;
}

/* ---- writes ---------------------------------------------------------- */

/* Room reserved for each of the two texts store_prepare renders: most
 * entries fit, so each is one malloc instead of a chain of reallocs (the
 * indexer prepares 130,000 of them on a cold start). */
#define PREPARED_TEXT_GUESS 2000 /* buf_reserve then allocates 2 KiB */

/* The entry of c rendered for the chart row: YAML (a sequence item at
 * indent 2) into *yaml, compact JSON into *json. */
static cd_rc render_entry(const struct store_chart *c, const char *chart_url,
                          struct buf *yaml, struct buf *json, cd_err *err)
{
	json_t *entry = index_entry(c->meta, c->repo, c->file, c->digest, c->created,
	                            chart_url ? chart_url : "");
	if (entry == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory building the index entry");
	cd_rc rc = yamlout_seq_item(yaml, entry, 2);
	if (rc == CD_OK)
		rc = yamlout_json(json, entry, true);
	json_decref(entry);
	if (rc == CD_OK && (yaml->data == NULL || json->data == NULL))
		rc = CD_ENOMEM;
	if (rc != CD_OK)
		return cd_fail(err, CD_ENOMEM, "out of memory rendering the index entry");
	return CD_OK;
}

void store_prepared_free(struct store_prepared *p)
{
	if (p == NULL)
		return;
	free(p->entry_json);
	free(p->entry_yaml);
	memset(p, 0, sizeof *p);
}

cd_rc store_prepare(const struct store_chart *c, const char *chart_url,
                    struct store_prepared *out, cd_err *err)
{
	struct buf yaml = { 0 }, json = { 0 };
	memset(out, 0, sizeof *out);
	if (c->repo == NULL || c->name == NULL || c->version == NULL || c->file == NULL ||
	    c->meta == NULL)
		return cd_fail(err, CD_EINVAL, "incomplete chart record");
	(void)buf_reserve(&yaml, PREPARED_TEXT_GUESS); /* a failure shows below */
	(void)buf_reserve(&json, PREPARED_TEXT_GUESS);
	cd_rc rc = render_entry(c, chart_url, &yaml, &json, err);
	if (rc != CD_OK) {
		buf_free(&yaml);
		buf_free(&json);
		return rc;
	}
	out->entry_yaml = yaml.data;
	out->entry_yaml_len = yaml.len;
	out->entry_json = json.data;
	out->entry_json_len = json.len;
	return CD_OK;
}

/* Deletes the row of repo+file (if any) and marks its name dirty. */
static cd_rc delete_file_row(struct store *s, const char *repo, const char *file,
                             cd_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_CHART_DEL_FILE, err);
	char *name = NULL;
	cd_rc rc = CD_OK;
	int r;
	if (st == NULL)
		return CD_EDB;
	bind_text(st, 1, repo);
	bind_text(st, 2, file);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if (name == NULL && (name = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
	done(st);
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "delete a chart file's row");
	if (rc == CD_OK && name != NULL)
		rc = mark_dirty(s, repo, name, err);
	free(name);
	return rc;
}

/* Forgets that repo+file was invalid (it is valid or gone now). */
static cd_rc forget_bad(struct store *s, const char *repo, const char *file, cd_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_BAD_DEL, err);
	if (st == NULL)
		return CD_EDB;
	bind_text(st, 1, repo);
	bind_text(st, 2, file);
	return run(s, st, err, "forget an invalid file");
}

/* Marks dirty the name of the row that holds repo+file now, when it is
 * not name: the insert that follows replaces that row (UNIQUE(repo, file)),
 * and the name it carried must get its block rebuilt. */
static cd_rc mark_file_owner(struct store *s, const char *repo, const char *file,
                             const char *name, cd_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_CHART_FILE_NAME, err);
	char *old = NULL;
	cd_rc rc = CD_OK;
	if (st == NULL)
		return CD_EDB;
	bind_text(st, 1, repo);
	bind_text(st, 2, file);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		if (n != NULL && strcmp(n, name) != 0 && (old = strdup(n)) == NULL)
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
	} else if (r != SQLITE_DONE) {
		rc = db_fail(s, r, err, "look up a chart file's row");
	}
	done(st);
	if (rc == CD_OK && old != NULL)
		rc = mark_dirty(s, repo, old, err);
	free(old);
	return rc;
}

/* Writes the chart row with its rendered entry; a row for the same
 * repo+file or repo+name+version is replaced. */
static cd_rc insert_row(struct store *s, const struct store_chart *c,
                        const struct store_prepared *p, cd_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_CHART_INSERT, err);
	if (st == NULL)
		return CD_EDB;
	bind_text(st, 1, c->repo);
	bind_text(st, 2, c->name);
	bind_text(st, 3, c->version);
	bind_text(st, 4, c->file);
	sqlite3_bind_int64(st, 5, c->st.size);
	sqlite3_bind_int64(st, 6, c->st.mtime_ns);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)c->st.ino);
	bind_text(st, 8, c->digest);
	bind_text(st, 9, c->created ? c->created : "");
	bind_text(st, 10, ""); /* the Metadata is read out of entry_json */
	sqlite3_bind_text(st, 11, p->entry_yaml, (int)p->entry_yaml_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, p->entry_json, (int)p->entry_json_len, SQLITE_STATIC);
	return run(s, st, err, "store the chart version");
}

cd_rc store_put_prepared(struct store *s, const struct store_chart *c,
                         const struct store_prepared *p, cd_err *err)
{
	if (c->repo == NULL || c->name == NULL || c->version == NULL || c->file == NULL ||
	    p->entry_json == NULL || p->entry_yaml == NULL)
		return cd_fail(err, CD_EINVAL, "incomplete chart record");
	cd_rc rc = write_begin(s, err);
	if (rc != CD_OK)
		return rc;
	rc = ensure_repo(s, c->repo, err);
	if (rc == CD_OK)
		rc = mark_file_owner(s, c->repo, c->file, c->name, err);
	if (rc == CD_OK)
		rc = insert_row(s, c, p, err);
	if (rc == CD_OK)
		rc = forget_bad(s, c->repo, c->file, err);
	if (rc == CD_OK)
		rc = mark_dirty(s, c->repo, c->name, err);
	return write_end(s, rc, err);
}

cd_rc store_put(struct store *s, const struct store_chart *c, const char *chart_url,
                cd_err *err)
{
	struct store_prepared p;
	cd_rc rc = store_prepare(c, chart_url, &p, err);
	if (rc == CD_OK)
		rc = store_put_prepared(s, c, &p, err);
	store_prepared_free(&p);
	return rc;
}

cd_rc store_remove(struct store *s, const char *repo, const char *name,
                   const char *version, const char *chart_url, cd_err *err)
{
	(void)chart_url; /* entries are stored rendered; nothing to re-render */
	sqlite3_stmt *st;
	cd_rc rc = write_begin(s, err);
	if (rc != CD_OK)
		return rc;
	if ((st = stmt(s, ST_CHART_DEL, err)) == NULL)
		return write_end(s, CD_EDB, err);
	bind_text(st, 1, repo);
	bind_text(st, 2, name);
	bind_text(st, 3, version);
	rc = run(s, st, err, "delete the chart version");
	if (rc == CD_OK && sqlite3_changes(s->db) == 0)
		rc = cd_fail(err, CD_ENOTFOUND, "chart version not found");
	if (rc == CD_OK)
		rc = mark_dirty(s, repo, name, err);
	return write_end(s, rc, err);
}

cd_rc store_remove_file(struct store *s, const char *repo, const char *file,
                        const char *chart_url, cd_err *err)
{
	(void)chart_url;
	cd_rc rc = write_begin(s, err);
	if (rc != CD_OK)
		return rc;
	rc = delete_file_row(s, repo, file, err);
	if (rc == CD_OK)
		rc = forget_bad(s, repo, file, err);
	return write_end(s, rc, err);
}

cd_rc store_add_repo(struct store *s, const char *repo, cd_err *err)
{
	return ensure_repo(s, repo, err);
}

/* ---- reads ----------------------------------------------------------- */

/* strdup of a column, "" for NULL; NULL only when out of memory. */
static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return strdup(v ? v : "");
}

void store_chart_free(struct store_chart *c)
{
	if (c == NULL)
		return;
	free(c->repo);
	free(c->name);
	free(c->version);
	free(c->file);
	free(c->created);
	json_decref(c->meta);
	memset(c, 0, sizeof *c);
}

/* The columns chart_from_row reads.  The Metadata comes out of the entry
 * (meta is only filled in rows of earlier versions): storing it apart made
 * the database a sixth bigger and cost the indexer a render per file. */
#define CHART_COLUMNS "repo, name, version, file, size, mtime_ns, ino, digest, created," \
                      " coalesce(nullif(meta, ''), entry_json)"

/* Fills c from a row of CHART_COLUMNS starting at column first. */
static cd_rc chart_from_row(sqlite3_stmt *st, int first, struct store_chart *c, cd_err *err)
{
	const char *digest = (const char *)sqlite3_column_text(st, first + 7);
	const char *meta = (const char *)sqlite3_column_text(st, first + 9);
	memset(c, 0, sizeof *c);
	c->repo = col_dup(st, first);
	c->name = col_dup(st, first + 1);
	c->version = col_dup(st, first + 2);
	c->file = col_dup(st, first + 3);
	c->st.size = sqlite3_column_int64(st, first + 4);
	c->st.mtime_ns = sqlite3_column_int64(st, first + 5);
	c->st.ino = (uint64_t)sqlite3_column_int64(st, first + 6);
	snprintf(c->digest, sizeof c->digest, "%s", digest ? digest : "");
	c->created = col_dup(st, first + 8);
	if (!c->repo || !c->name || !c->version || !c->file || !c->created) {
		store_chart_free(c);
		return cd_fail(err, CD_ENOMEM, "out of memory reading a chart record");
	}
	cd_rc rc = chart_meta_from_entry(meta ? meta : "{}", &c->meta, err);
	if (rc != CD_OK)
		store_chart_free(c);
	return rc;
}

cd_rc store_get(struct store *s, const char *repo, const char *name,
                const char *version, struct store_chart *out, cd_err *err)
{
	static const char sql[] =
		"SELECT " CHART_COLUMNS " FROM chart WHERE repo = ?1 AND name = ?2 AND version = ?3";
	sqlite3_stmt *st;
	int r = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "look up a chart version");
	bind_text(st, 1, repo);
	bind_text(st, 2, name);
	bind_text(st, 3, version);
	cd_rc rc;
	if ((r = sqlite3_step(st)) == SQLITE_ROW)
		rc = chart_from_row(st, 0, out, err);
	else if (r == SQLITE_DONE)
		rc = cd_fail(err, CD_ENOTFOUND, "chart version not found");
	else
		rc = db_fail(s, r, err, "look up a chart version");
	sqlite3_finalize(st);
	return rc;
}

cd_rc store_generation(struct store *s, const char *repo, int64_t *gen, cd_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_REPO_GEN, err);
	if (st == NULL)
		return CD_EDB;
	bind_text(st, 1, repo);
	int r = sqlite3_step(st);
	*gen = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	done(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return db_fail(s, r, err, "read the generation");
	return CD_OK;
}

cd_rc store_data_version(struct store *s, int64_t *version, cd_err *err)
{
	sqlite3_stmt *st;
	int r = sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "read the data version");
	r = sqlite3_step(st);
	*version = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (r != SQLITE_ROW)
		return db_fail(s, r, err, "read the data version");
	return CD_OK;
}

cd_rc store_count(struct store *s, const char *repo, int64_t *names, int64_t *versions,
                  cd_err *err)
{
	/* Reads only the (repo, name, version) index, never the wide rows. */
	sqlite3_stmt *st;
	int r = sqlite3_prepare_v2(s->db, "SELECT count(DISTINCT name), count(*) FROM chart"
	                                  " WHERE repo = ?1", -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "count the charts");
	bind_text(st, 1, repo);
	r = sqlite3_step(st);
	*names = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	*versions = r == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
	sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return db_fail(s, r, err, "count the charts");
	return CD_OK;
}

/* Collected rows of a short query, so callbacks may write to the store. */
struct str_list {
	char **v;
	struct storage_stat *st;
	size_t n, cap;
};

static void str_list_free(struct str_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->st);
}

/* Appends a copy of s (and its identity, when st) to l. */
static bool str_list_push(struct str_list *l, const char *s, const struct storage_stat *st)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			return false;
		l->v = v;
		struct storage_stat *sv = realloc(l->st, cap * sizeof *sv);
		if (sv == NULL)
			return false;
		l->st = sv;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(s ? s : "")) == NULL)
		return false;
	if (st)
		l->st[l->n] = *st;
	l->n++;
	return true;
}

cd_rc store_each_repo(struct store *s, int (*fn)(const char *repo, void *ctx),
                      void *ctx, cd_err *err)
{
	sqlite3_stmt *st;
	struct str_list l = { 0 };
	int r = sqlite3_prepare_v2(s->db, "SELECT repo FROM repo ORDER BY repo", -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "list repositories");
	cd_rc rc = CD_OK;
	while (rc == CD_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
		if (!str_list_push(&l, (const char *)sqlite3_column_text(st, 0), NULL))
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "list repositories");
	sqlite3_finalize(st);
	for (size_t i = 0; rc == CD_OK && i < l.n; i++)
		if (fn(l.v[i], ctx) != 0)
			break;
	str_list_free(&l);
	return rc;
}

/* The files of a repo with their identities, read before any callback:
 * names packed in one buffer (a repo may hold 130,000 of them). */
struct file_list {
	struct buf names;          /* NUL-terminated names, back to back */
	size_t *off;               /* where each name starts in names */
	struct storage_stat *st;
	size_t n, cap;
};

static bool file_list_push(struct file_list *l, const char *name, size_t len,
                           const struct storage_stat *st)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		size_t *off = realloc(l->off, cap * sizeof *off);
		if (off == NULL)
			return false;
		l->off = off;
		struct storage_stat *sv = realloc(l->st, cap * sizeof *sv);
		if (sv == NULL)
			return false;
		l->st = sv;
		l->cap = cap;
	}
	l->off[l->n] = l->names.len;
	if (buf_append(&l->names, name, len + 1) != CD_OK)
		return false;
	l->st[l->n++] = *st;
	return true;
}

/* Reads only columns of the chart_ident index (SQLite picks the covering
 * index scan): a restart compares 130,000 files without reading the wide
 * rows. */
cd_rc store_each_file(struct store *s, const char *repo,
                      int (*fn)(const char *file, const struct storage_stat *st, void *ctx),
                      void *ctx, cd_err *err)
{
	sqlite3_stmt *st;
	struct file_list l = { 0 };
	int r = sqlite3_prepare_v2(s->db, "SELECT file, size, mtime_ns, ino FROM chart"
	                                  " WHERE repo = ?1 ORDER BY file", -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "list files");
	bind_text(st, 1, repo);
	cd_rc rc = CD_OK;
	while (rc == CD_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct storage_stat id = {
			.size = sqlite3_column_int64(st, 1),
			.mtime_ns = sqlite3_column_int64(st, 2),
			.ino = (uint64_t)sqlite3_column_int64(st, 3),
		};
		const char *name = (const char *)sqlite3_column_text(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (!file_list_push(&l, name ? name : "", name ? len : 0, &id))
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
	}
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "list files");
	sqlite3_finalize(st);
	for (size_t i = 0; rc == CD_OK && i < l.n; i++)
		if (fn(l.names.data + l.off[i], &l.st[i], ctx) != 0)
			break;
	buf_free(&l.names);
	free(l.off);
	free(l.st);
	return rc;
}

/* Walks the rows of table (block or chart) that order_sql lists, one
 * rowid a row in the order wanted, fetching each row with row_sql
 * ("... WHERE rowid = ?1").  SQLite's sorter then carries only the sort
 * keys and rowids, never the wide rows (a repo's blocks are 170 MB at
 * 130,000 versions); both statements read in one implicit transaction,
 * so the walk sees one state of the db.  row_fn returns non-zero to stop
 * (*rc set when it failed). */
static cd_rc each_ordered(struct store *s, const char *order_sql, const char *row_sql,
                          const char *repo,
                          int (*row_fn)(sqlite3_stmt *row, void *ctx, cd_rc *rc),
                          void *ctx, cd_err *err, const char *what)
{
	sqlite3_stmt *order = NULL, *row = NULL;
	cd_rc rc = CD_OK;
	int r = sqlite3_prepare_v2(s->db, order_sql, -1, &order, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_prepare_v2(s->db, row_sql, -1, &row, NULL);
	if (r != SQLITE_OK) {
		sqlite3_finalize(order);
		return db_fail(s, r, err, what);
	}
	bind_text(order, 1, repo);
	while ((r = sqlite3_step(order)) == SQLITE_ROW) {
		sqlite3_bind_int64(row, 1, sqlite3_column_int64(order, 0));
		int rr = sqlite3_step(row);
		int stop = rr == SQLITE_ROW ? row_fn(row, ctx, &rc) : 0;
		sqlite3_reset(row);
		if (rr != SQLITE_ROW && rr != SQLITE_DONE) {
			r = rr;
			break;
		}
		if (stop) {
			r = SQLITE_DONE;
			break;
		}
	}
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, what);
	sqlite3_finalize(row);
	sqlite3_finalize(order);
	return rc;
}

struct block_walk {
	int (*fn)(const char *name, const char *text, size_t len, void *ctx);
	void *ctx;
};

static int block_all(const char *name, int64_t gen, const char *text, size_t len, void *ctx)
{
	struct block_walk *w = ctx;
	(void)gen;
	return w->fn(name, text, len, w->ctx);
}

cd_rc store_each_block(struct store *s, const char *repo, enum store_format fmt,
                       int (*fn)(const char *name, const char *text, size_t len, void *ctx),
                       void *ctx, cd_err *err)
{
	struct block_walk w = { fn, ctx };
	return store_each_block_since(s, repo, fmt, INT64_MIN, block_all, &w, err);
}

/* The names and generations come from the block_gen index and the small
 * block_stale table alone (SQLite sorts those rows by yamlkey); a text is
 * read only for a block changed after since: by rowid from block, or, for
 * a stale name, rendered from its chart rows (a name left without rows is
 * skipped: it was deleted).  So is a JSON text that was not kept (empty:
 * written without store_set_block_json). */
cd_rc store_each_block_since(struct store *s, const char *repo, enum store_format fmt,
                             int64_t since,
                             int (*fn)(const char *name, int64_t gen, const char *text,
                                       size_t len, void *ctx),
                             void *ctx, cd_err *err)
{
	sqlite3_stmt *order = NULL, *row = NULL, *any = NULL;
	cd_rc rc = CD_OK;
	int r = sqlite3_prepare_v2(s->db,
		"SELECT name, gen, rowid, 0 FROM block WHERE repo = ?1 AND NOT EXISTS"
		" (SELECT 1 FROM block_stale AS z WHERE z.repo = ?1 AND z.name = block.name)"
		" UNION ALL SELECT name, gen, 0, 1 FROM block_stale WHERE repo = ?1"
		" ORDER BY 1 COLLATE yamlkey", -1, &order, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_prepare_v2(s->db, fmt == STORE_JSON ? "SELECT json FROM block WHERE rowid = ?1"
		                                                : "SELECT yaml FROM block WHERE rowid = ?1",
		                       -1, &row, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_prepare_v2(s->db, "SELECT 1 FROM chart WHERE repo = ?1 AND name = ?2",
		                       -1, &any, NULL);
	if (r != SQLITE_OK) {
		sqlite3_finalize(order);
		sqlite3_finalize(row);
		return db_fail(s, r, err, "read the index blocks");
	}
	bind_text(order, 1, repo);
	while (rc == CD_OK && (r = sqlite3_step(order)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(order, 0);
		int64_t gen = sqlite3_column_int64(order, 1);
		bool stale = sqlite3_column_int(order, 3) != 0;
		const char *text = NULL;
		size_t len = 0, count = 1;
		int rr = SQLITE_ROW;
		if (name == NULL)
			name = "";
		if (gen > since && stale) {
			if ((rc = render_block(s, repo, name, fmt == STORE_YAML, fmt == STORE_JSON,
			                       &count, err)) != CD_OK)
				break;
			const struct buf *b = fmt == STORE_JSON ? &s->json : &s->yaml;
			text = b->data ? b->data : "";
			len = b->len;
		} else if (stale) {
			/* Unchanged since; but a name deleted before since is gone. */
			bind_text(any, 1, repo);
			bind_text(any, 2, name);
			if ((rr = sqlite3_step(any)) == SQLITE_DONE)
				count = 0;
			sqlite3_reset(any);
			rr = rr == SQLITE_DONE ? SQLITE_ROW : rr;
		} else if (gen > since) {
			sqlite3_bind_int64(row, 1, sqlite3_column_int64(order, 2));
			if ((rr = sqlite3_step(row)) == SQLITE_ROW) {
				text = (const char *)sqlite3_column_text(row, 0);
				len = (size_t)sqlite3_column_bytes(row, 0);
				if (text == NULL)
					text = "";
			}
			if (rr == SQLITE_ROW && len == 0 && fmt == STORE_JSON) {
				sqlite3_reset(row);
				if ((rc = render_block(s, repo, name, false, true, &count, err)) != CD_OK)
					break;
				text = s->json.data ? s->json.data : "";
				len = s->json.len;
			}
		}
		int stop = rr == SQLITE_ROW && count > 0 ? fn(name, gen, text, len, ctx) : 0;
		sqlite3_reset(row);
		if (rr != SQLITE_ROW && rr != SQLITE_DONE) {
			r = rr;
			break;
		}
		if (stop) {
			r = SQLITE_DONE;
			break;
		}
	}
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "read the index blocks");
	sqlite3_finalize(any);
	sqlite3_finalize(row);
	sqlite3_finalize(order);
	return rc;
}

void store_set_lazy(struct store *s, bool lazy)
{
	s->lazy = lazy;
}

void store_set_block_json(struct store *s, bool keep)
{
	s->block_json = keep;
}

/* One short write transaction for up to max names: each block gets the
 * generation it went stale at, the change it shows, so an index file
 * rendered since (whose map may list the name) stays a valid base. */
cd_rc store_refresh_blocks(struct store *s, int max, int *refreshed, cd_err *err)
{
	struct stale { char *repo, *name; int64_t gen; } *v = NULL;
	int n = 0;
	int64_t any = 0;
	sqlite3_stmt *st = NULL;
	*refreshed = 0;
	/* Mostly there is nothing to do: find out without the write lock. */
	cd_rc rc = query_int(s, "SELECT EXISTS(SELECT 1 FROM block_stale)", &any, err,
	                     "list stale blocks");
	if (rc != CD_OK || !any)
		return rc;
	rc = write_begin(s, err);
	if (rc != CD_OK)
		return rc;
	int r = sqlite3_prepare_v2(s->db, "SELECT repo, name, gen FROM block_stale LIMIT ?1", -1,
	                           &st, NULL);
	if (r != SQLITE_OK)
		rc = db_fail(s, r, err, "list stale blocks");
	else if ((v = calloc((size_t)(max > 0 ? max : 1), sizeof *v)) == NULL)
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
	if (rc == CD_OK) {
		sqlite3_bind_int(st, 1, max);
		while (rc == CD_OK && n < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
			v[n].repo = strdup((const char *)sqlite3_column_text(st, 0));
			v[n].name = strdup((const char *)sqlite3_column_text(st, 1));
			v[n].gen = sqlite3_column_int64(st, 2);
			if (v[n].repo == NULL || v[n].name == NULL)
				rc = cd_fail(err, CD_ENOMEM, "out of memory");
			n++;
		}
		if (rc == CD_OK && r != SQLITE_DONE && r != SQLITE_ROW)
			rc = db_fail(s, r, err, "list stale blocks");
	}
	sqlite3_finalize(st);
	for (int i = 0; rc == CD_OK && i < n; i++)
		rc = rebuild_block(s, v[i].repo, v[i].name, v[i].gen, err);
	/* Not write_end: nothing changed that a reader sees, so no new
	 * generation (and rebuild_block marked nothing dirty). */
	if (rc == CD_OK)
		rc = exec(s, "COMMIT", err, "commit");
	if (rc != CD_OK && !sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK", NULL, "roll back");
	txn_forget(s);
	if (rc == CD_OK)
		*refreshed = n;
	for (int i = 0; i < n; i++) {
		free(v[i].repo);
		free(v[i].name);
	}
	free(v);
	return rc;
}

struct chart_walk {
	int (*fn)(const struct store_chart *c, void *ctx);
	void *ctx;
	cd_err *err;
};

static int chart_row(sqlite3_stmt *st, void *vctx, cd_rc *rc)
{
	struct chart_walk *w = vctx;
	struct store_chart c;
	if ((*rc = chart_from_row(st, 0, &c, w->err)) != CD_OK)
		return 1;
	int stop = w->fn(&c, w->ctx);
	store_chart_free(&c);
	return stop;
}

#define CHART_ORDER "ORDER BY name COLLATE yamlkey, version COLLATE semver DESC, version DESC"

/* One name is a range of the (repo, name, version) index, sorted in
 * place; a whole repo is sorted by key and fetched row by row. */
cd_rc store_each_chart(struct store *s, const char *repo, const char *name,
                       int (*fn)(const struct store_chart *c, void *ctx), void *ctx,
                       cd_err *err)
{
	struct chart_walk w = { fn, ctx, err };
	if (name == NULL)
		return each_ordered(s, "SELECT rowid FROM chart WHERE repo = ?1 " CHART_ORDER,
		                    "SELECT " CHART_COLUMNS " FROM chart WHERE rowid = ?1", repo,
		                    chart_row, &w, err, "list chart versions");
	sqlite3_stmt *st;
	int r = sqlite3_prepare_v2(s->db, "SELECT " CHART_COLUMNS " FROM chart"
	                           " WHERE repo = ?1 AND name = ?2 " CHART_ORDER, -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "list chart versions");
	bind_text(st, 1, repo);
	bind_text(st, 2, name);
	cd_rc rc = CD_OK;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if (chart_row(st, &w, &rc) != 0) {
			r = SQLITE_DONE;
			break;
		}
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "list chart versions");
	sqlite3_finalize(st);
	return rc;
}

/* ---- settings -------------------------------------------------------- */

/* The recorded setting key into *value (malloc'd, NULL when unset). */
cd_rc store_setting_get(struct store *s, const char *key, char **value, cd_err *err)
{
	sqlite3_stmt *st;
	int r = sqlite3_prepare_v2(s->db, "SELECT value FROM setting WHERE key = ?1", -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "read a setting");
	bind_text(st, 1, key);
	cd_rc rc = CD_OK;
	*value = NULL;
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((*value = col_dup(st, 0)) == NULL)
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
	} else if (r != SQLITE_DONE) {
		rc = db_fail(s, r, err, "read a setting");
	}
	sqlite3_finalize(st);
	return rc;
}

cd_rc store_setting_put(struct store *s, const char *key, const char *value, cd_err *err)
{
	sqlite3_stmt *st;
	int r = sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO setting(key, value) VALUES(?1, ?2)",
	                           -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "record a setting");
	bind_text(st, 1, key);
	bind_text(st, 2, value);
	cd_rc rc = run(s, st, err, "record a setting");
	sqlite3_finalize(st);
	return rc;
}

#define RERENDER_CHUNK 256

/* Re-renders the entries of up to RERENDER_CHUNK rows after *rowid (read
 * first, then updated, so no statement reads the table it writes);
 * *n receives how many rows were done. */
static cd_rc rerender_chunk(struct store *s, const char *chart_url, sqlite3_int64 *rowid,
                            int *n, cd_err *err)
{
	static const char sql[] =
		"SELECT " CHART_COLUMNS ", rowid FROM chart WHERE rowid > ?1 ORDER BY rowid LIMIT ?2";
	struct store_chart rows[RERENDER_CHUNK];
	sqlite3_int64 ids[RERENDER_CHUNK];
	sqlite3_stmt *st;
	cd_rc rc = CD_OK;
	int r = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (r != SQLITE_OK)
		return db_fail(s, r, err, "re-render the index entries");
	sqlite3_bind_int64(st, 1, *rowid);
	sqlite3_bind_int(st, 2, RERENDER_CHUNK);
	*n = 0;
	while (rc == CD_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = chart_from_row(st, 0, &rows[*n], err)) == CD_OK)
			ids[(*n)++] = sqlite3_column_int64(st, 10);
	}
	if (rc == CD_OK && r != SQLITE_DONE)
		rc = db_fail(s, r, err, "re-render the index entries");
	sqlite3_finalize(st);
	st = NULL;
	if (rc == CD_OK && (r = sqlite3_prepare_v2(s->db, "UPDATE chart SET entry_yaml = ?1,"
	                                           " entry_json = ?2 WHERE rowid = ?3",
	                                           -1, &st, NULL)) != SQLITE_OK)
		rc = db_fail(s, r, err, "re-render the index entries");
	for (int i = 0; rc == CD_OK && i < *n; i++) {
		struct buf yaml = { 0 }, json = { 0 };
		rc = render_entry(&rows[i], chart_url, &yaml, &json, err);
		if (rc == CD_OK) {
			sqlite3_bind_text(st, 1, yaml.data, (int)yaml.len, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, json.data, (int)json.len, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, ids[i]);
			rc = run(s, st, err, "re-render the index entries");
		}
		if (rc == CD_OK)
			rc = mark_dirty(s, rows[i].repo, rows[i].name, err);
		buf_free(&yaml);
		buf_free(&json);
		*rowid = ids[i];
	}
	sqlite3_finalize(st);
	for (int i = 0; i < *n; i++)
		store_chart_free(&rows[i]);
	return rc;
}

cd_rc store_sync_chart_url(struct store *s, const char *chart_url, cd_err *err)
{
	char *old = NULL;
	const char *url = chart_url ? chart_url : "";
	cd_rc rc = store_setting_get(s, "chart_url", &old, err);
	bool same = rc == CD_OK && old != NULL && strcmp(old, url) == 0;
	free(old);
	if (rc != CD_OK || same)
		return rc;
	if ((rc = write_begin(s, err)) != CD_OK)
		return rc;
	sqlite3_int64 rowid = 0;
	int n = RERENDER_CHUNK;
	while (rc == CD_OK && n == RERENDER_CHUNK)
		rc = rerender_chunk(s, url, &rowid, &n, err);
	if (rc == CD_OK)
		rc = store_setting_put(s, "chart_url", url, err);
	if (rc == CD_OK && rowid > 0)
		log_info("store: re-rendered the index entries for a new CHART_URL");
	return write_end(s, rc, err);
}

/* ---- invalid files --------------------------------------------------- */

cd_rc store_put_bad_file(struct store *s, const char *repo, const char *file,
                         const struct storage_stat *st, const char *reason, cd_err *err)
{
	sqlite3_stmt *q = stmt(s, ST_BAD_PUT, err);
	if (q == NULL)
		return CD_EDB;
	bind_text(q, 1, repo);
	bind_text(q, 2, file);
	sqlite3_bind_int64(q, 3, st->size);
	sqlite3_bind_int64(q, 4, st->mtime_ns);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)st->ino);
	bind_text(q, 6, reason ? reason : "");
	return run(s, q, err, "remember an invalid file");
}

/* Whether statement id (repo, file, size, mtime_ns, ino) finds a row. */
static bool identity_known(struct store *s, enum stmt_id id, const char *repo,
                           const char *file, const struct storage_stat *st)
{
	sqlite3_stmt *q = stmt(s, id, NULL);
	if (q == NULL)
		return false;
	bind_text(q, 1, repo);
	bind_text(q, 2, file);
	sqlite3_bind_int64(q, 3, st->size);
	sqlite3_bind_int64(q, 4, st->mtime_ns);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)st->ino);
	bool known = sqlite3_step(q) == SQLITE_ROW;
	done(q);
	return known;
}

bool store_has_file(struct store *s, const char *repo, const char *file,
                    const struct storage_stat *st)
{
	return identity_known(s, ST_FILE_KNOWN, repo, file, st);
}

bool store_is_known_bad(struct store *s, const char *repo, const char *file,
                        const struct storage_stat *st)
{
	return identity_known(s, ST_BAD_GET, repo, file, st);
}
