/*
 * cache_share.c: the memory the workers of one environment share their
 * verified-token cache in, so that a secret one of them passed through
 * Argon2 costs the others none, and a worker that restarts finds the
 * table as it was.  It is a POSIX shared memory object: memory, never a
 * file on disk, gone at the next boot.  Its name holds the user and the
 * environment directory's device and inode, so that each environment (and
 * each user serving one) has its own; one found with another owner or
 * open to others is not used.
 *
 * Its head holds the key the digests are made under, from getrandom,
 * written once by whichever process finds it unset (or finds the process
 * that claimed it dead).  Any failure leaves the caller with its private
 * table, as before sharing.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "patgate.h"

/* Bump with the slot's layout: an older table is then left alone. */
#define CACHE_SHARE_LAYOUT	"1"
/* The head's state: unset, keyed, or between them the pid writing the key. */
#define CACHE_SHARE_UNSET	0
#define CACHE_SHARE_KEYED	UINT32_MAX
/* How long to wait for another process making the table, in ms. */
#define CACHE_SHARE_WAIT_MS	200

struct cache_share_head {
	_Atomic uint32_t state;
	unsigned char	 key[16];
	unsigned char	 pad[CACHE_SHARE_HEAD - 4 - 16];
};

static void
cache_share_nap(void)
{
	struct timespec ts = { 0, 1000000 };

	(void)nanosleep(&ts, NULL);
}

/* Is the object made by us, for us alone, at the size wanted (0: unsized)? */
static int
cache_share_fits(int fd, size_t size)
{
	struct stat	 sb;

	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || (sb.st_mode & 077) != 0)
		return -1;
	if (sb.st_size == 0)
		return 0;
	return (size_t)sb.st_size == size ? 1 : -1;
}

/*
 * Is the head unset, or claimed by a process that died before it wrote
 * the key (else every later process would wait, then go private, until
 * the next boot)?
 */
static int
cache_share_orphan(uint32_t state)
{
	return state == CACHE_SHARE_UNSET ||
	    (kill((pid_t)state, 0) == -1 && errno == ESRCH);
}

/* Wait for the key, or make it if no one is. */
static int
cache_share_key(struct cache_share_head *h)
{
	unsigned char	 key[sizeof(h->key)];
	uint32_t	 state;
	int		 i;

	state = atomic_load_explicit(&h->state, memory_order_acquire);
	if (state == CACHE_SHARE_KEYED)
		return 0;
	/* Drawn before the claim, so that a claim is held for a copy. */
	if (token_random(key, sizeof(key)) == -1)
		return -1;
	for (i = 0; i < CACHE_SHARE_WAIT_MS; i++) {
		if (state == CACHE_SHARE_KEYED)
			return 0;
		if (cache_share_orphan(state) &&
		    atomic_compare_exchange_strong(&h->state, &state,
		    (uint32_t)getpid())) {
			memcpy(h->key, key, sizeof(key));
			atomic_store_explicit(&h->state, CACHE_SHARE_KEYED,
			    memory_order_release);
			return 0;
		}
		cache_share_nap();
		state = atomic_load_explicit(&h->state, memory_order_acquire);
	}
	return -1;
}

void *
cache_share_map(const char *dir, size_t size, unsigned char key[16])
{
	struct stat	 sb;
	char		 name[128];
	void		*p;
	int		 fd, fits;

	if (stat(dir, &sb) == -1)
		return NULL;
	snprintf(name, sizeof(name), "/patgate-cache-" CACHE_SHARE_LAYOUT
	    "-%lu-%lu-%lu", (unsigned long)geteuid(),
	    (unsigned long)sb.st_dev, (unsigned long)sb.st_ino);
	/* glibc opens it O_NOFOLLOW and O_CLOEXEC. */
	if ((fd = shm_open(name, O_RDWR | O_CREAT, 0600)) == -1)
		return NULL;
	/*
	 * Sized by whichever process finds it unsized: the same size from
	 * each, so a race between two does no harm.
	 */
	if ((fits = cache_share_fits(fd, size)) == 0 &&
	    ftruncate(fd, (off_t)size) == 0)
		fits = cache_share_fits(fd, size);
	if (fits != 1) {
		(void)close(fd);
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	(void)close(fd);
	if (p == MAP_FAILED)
		return NULL;
	if (cache_share_key(p) == -1) {
		(void)munmap(p, size);
		return NULL;
	}
	memcpy(key, ((struct cache_share_head *)p)->key, 16);
	return p;
}
