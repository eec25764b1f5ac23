/*
 * store_resident.c: the environment's shared regions, taken into the
 * process whole when it opens them.
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
 * that mapped it before.  So the open that creates the environment grows
 * it at once, by pinning new pages of a temporary in-memory file until
 * the region is nearly its maximum, then dropping them: the region keeps
 * its size, and its buffers are free for the databases.
 */
#define STORE_FILL_PAGE	4096

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
	if (st->env->memp_fcreate(st->env, &mf, 0) != 0) {
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

void
store_regions_resident(const struct store *st)
{
	char		 dir[PATH_MAX], prefix[PATH_MAX + 8];
	char		 line[PATH_MAX + 128];
	char		*path, *nl;
	unsigned long	 lo, hi, off, page, len;
	struct stat	 sb;
	size_t		 plen;
	FILE		*maps;

	if (realpath(st->dir, dir) == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "%s/__db.", dir);
	plen = strlen(prefix);
	page = (unsigned long)sysconf(_SC_PAGESIZE);
	if ((maps = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), maps) != NULL) {
		if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &off) != 3 ||
		    (path = strchr(line, '/')) == NULL ||
		    strncmp(path, prefix, plen) != 0)
			continue;
		if ((nl = strchr(path, '\n')) != NULL)
			*nl = '\0';
		/* Never past the file's end: a page there is SIGBUS. */
		if (stat(path, &sb) == -1 || (unsigned long)sb.st_size <= off)
			continue;
		len = hi - lo;
		if (len > (unsigned long)sb.st_size - off)
			len = (unsigned long)sb.st_size - off;
		(void)store_touch(lo, len, page);
	}
	(void)fclose(maps);
}
