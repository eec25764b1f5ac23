/*
 * store_resident.c: the environment's shared regions, grown to their size
 * when the environment is made, and taken whole into a server's memory
 * when it opens them.
 *
 * The regions (the cache above all, but also the locks and the log
 * buffer) are memory shared by every process, mapped from the files
 * __db.NNN in the environment's directory.  A process counts a page of
 * them in its resident size only from the first time it touches it, so a
 * worker's RSS would creep up for as long as the data it reads outgrows
 * the pages it has touched (megabytes over the first minutes of a growing
 * store), which to anyone watching looks like a leak.  Touched once at
 * open, every page is counted from the start: the resident size is then
 * what it stays, and growth after the first requests is a real one.  The
 * pages are shared, so this takes no memory that was not the
 * environment's already; it costs a minor fault a page, a few
 * milliseconds.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patgate.h"
#include "store_private.h"

/*
 * The cache region starts small and grows, up to its configured size, as
 * pages are read into it: hundreds of kilobytes at first, ten megabytes
 * once the data outgrows it.  Grown later, its new pages would be neither
 * allocated on disk (store_regions_allocate) nor counted in the workers
 * that mapped it before.  So an open that finds it short of its maximum
 * (the one that creates the environment, in practice; later ones find
 * nothing to do) grows it at once, by pinning new pages of a temporary
 * in-memory file until the region is nearly its maximum, then dropping
 * them: the region keeps its size, and its buffers are free for the
 * databases.
 */
#define STORE_FILL_PAGE	4096

/*
 * The region files are shared memory mapped from the environment's
 * directory.  On a full file system, touching a page of a sparse one kills
 * the process with SIGBUS, likely holding a mutex; so every page of them
 * is allocated while there is room.  With room 0, each file's own pages
 * (after an open); otherwise room bytes past each file's end, without
 * changing its size, for the cache fill and later growth to write into
 * (which file is the cache's does not matter: each gets room).
 */
void
store_regions_allocate(const struct store *st, off_t room)
{
	char		 path[sizeof(st->dir) + 16];
	struct stat	 sb;
	int		 i, fd;

	for (i = 1; i < 100; i++) {
		snprintf(path, sizeof(path), "%s/__db.%03d", st->dir, i);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
			break;
		if (fstat(fd, &sb) == 0) {
			if (room > 0)
				(void)fallocate(fd, FALLOC_FL_KEEP_SIZE,
				    sb.st_size, room);
			else if (sb.st_size > 0)
				(void)posix_fallocate(fd, 0, sb.st_size);
		}
		(void)close(fd);
	}
}

void
store_cache_fill(struct store *st)
{
	DB_MPOOL_STAT	*sp;
	DB_MPOOLFILE	*mf;
	db_pgno_t	 pgno;
	void		**pages;
	size_t		 want, n = 0, i;

	if (st->env->memp_stat(st->env, &sp, NULL, 0) != 0)
		return;
	/* Nine tenths: the last pages the region's bookkeeping takes. */
	want = sp->st_regmax > sp->st_regsize ? (size_t)(sp->st_regmax -
	    sp->st_regsize) / 10 * 9 / (STORE_FILL_PAGE + 128) : 0;
	free(sp);
	if (want == 0 || (pages = calloc(want, sizeof(*pages))) == NULL)
		return;
	store_regions_allocate(st, (off_t)(want * (STORE_FILL_PAGE + 128)));
	/*
	 * Replicated, Berkeley DB refuses a file of no database (and says so
	 * in the log): the region there grows as pages are first used.
	 */
	if (store_repl_on() ||
	    st->env->memp_fcreate(st->env, &mf, 0) != 0) {
		free(pages);
		return;
	}
	if (mf->open(mf, NULL, DB_CREATE, 0, STORE_FILL_PAGE) == 0)
		for (n = 0; n < want; n++) {
			pgno = 0;
			if (mf->get(mf, &pgno, NULL, DB_MPOOL_NEW,
			    &pages[n]) != 0)
				break;
		}
	for (i = 0; i < n; i++)
		(void)mf->put(mf, pages[i], DB_PRIORITY_VERY_LOW, 0);
	(void)mf->close(mf, 0);
	free(pages);
}

/* Read one byte of every page of [lo, lo + len). */
static unsigned
store_touch(unsigned long lo, unsigned long len, unsigned long page)
{
	unsigned long	 at;
	unsigned	 sum = 0;

	for (at = 0; at < len; at += page)
		sum += *(volatile const unsigned char *)(lo + at);
	return sum;
}

static int store_resident_wanted;

void
store_want_resident(void)
{
	store_resident_wanted = 1;
}

void
store_regions_resident(const struct store *st)
{
	char		 dir[PATH_MAX], prefix[PATH_MAX + 8];
	char		 line[PATH_MAX + 128];
	char		*path, *nl;
	unsigned long	 lo, hi, off, ino, page, len;
	struct stat	 sb;
	size_t		 plen;
	FILE		*maps;

	if (!store_resident_wanted || realpath(st->dir, dir) == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "%s/__db.", dir);
	plen = strlen(prefix);
	page = (unsigned long)sysconf(_SC_PAGESIZE);
	if ((maps = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), maps) != NULL) {
		if (sscanf(line, "%lx-%lx %*s %lx %*s %lu", &lo, &hi, &off,
		    &ino) != 4 ||
		    (path = strchr(line, '/')) == NULL ||
		    strncmp(path, prefix, plen) != 0)
			continue;
		if ((nl = strchr(path, '\n')) != NULL)
			*nl = '\0';
		/*
		 * Never past the file's end: a page there is SIGBUS.  The
		 * same file as mapped, not one a recovery made since.
		 */
		if (stat(path, &sb) == -1 || (unsigned long)sb.st_ino != ino ||
		    (unsigned long)sb.st_size <= off)
			continue;
		len = hi - lo;
		if (len > (unsigned long)sb.st_size - off)
			len = (unsigned long)sb.st_size - off;
		(void)store_touch(lo, len, page);
	}
	(void)fclose(maps);
}
