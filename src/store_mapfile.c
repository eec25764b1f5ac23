/*
 * store_mapfile.c: the small files of the environment that every process
 * maps and shares without Berkeley DB (the memo's epoch, the rate table,
 * what repd publishes, the uses a replica saw).  Each is a fixed-size
 * table; whoever may make it sizes it, and the others only map it.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "store_private.h"

void *
store_map_file(const char *dir, const char *name, size_t size, int flags)
{
	char		 path[4200];
	struct stat	 sb;
	void		*p;
	int		 create = (flags & STORE_MAP_CREATE) != 0;
	int		 write = create || (flags & STORE_MAP_WRITE) != 0;
	int		 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return NULL;
	if ((fd = open(path, (write ? O_RDWR : O_RDONLY) |
	    (create ? O_CREAT : 0) | O_CLOEXEC, STORE_FILE_MODE)) == -1)
		return NULL;
	/* A file shorter than the table is one being made, or not ours. */
	if (fstat(fd, &sb) == -1 ||
	    (sb.st_size < (off_t)size &&
	    (!create || ftruncate(fd, (off_t)size) == -1))) {
		(void)close(fd);
		return NULL;
	}
	p = mmap(NULL, size, write ? PROT_READ | PROT_WRITE : PROT_READ,
	    MAP_SHARED, fd, 0);
	(void)close(fd);
	return p == MAP_FAILED ? NULL : p;
}
