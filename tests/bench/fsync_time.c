/*
 * fsync_time.c: what the commit's fdatasync allows on a file system, the
 * bound a create meets once its hash is cheap.  WRITERS processes take
 * turns appending a small record (a commit's log record is a few hundred
 * bytes) to one file made and zeroed beforehand, as Berkeley DB makes its
 * log files, and each fdatasyncs after its write.
 * usage: fsync_time DIR [COUNT] [WRITERS]
 * Prints two numbers: the median time of one write + fdatasync in seconds,
 * and the syncs a second the WRITERS made together (COUNT each, default
 * 200; WRITERS default 1).  The file is removed afterwards.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD		256
#define FILE_BYTES	(8 * 1024 * 1024)

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Make path FILE_BYTES of zeros, synced.  0 or -1. */
static int
zero_file(const char *path)
{
	static char	 zeros[64 * 1024];
	int		 fd, i;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	for (i = 0; i < FILE_BYTES / (int)sizeof(zeros); i++)
		if (write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros)) {
			close(fd);
			return -1;
		}
	if (fsync(fd) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * Writer w of n: count records at offsets w, w + n, w + 2n ... (in
 * records), each followed by fdatasync; the median time of one goes to
 * the pipe fd out.  Exit status 0 or 1.
 */
static int
writer(const char *path, int w, int n, int count, int out)
{
	char		 rec[RECORD];
	double		*runs, t0, med;
	off_t		 at;
	int		 fd, i;

	if ((runs = calloc((size_t)count, sizeof(*runs))) == NULL ||
	    (fd = open(path, O_WRONLY)) == -1)
		return 1;
	memset(rec, 'x', sizeof(rec));
	for (i = 0; i < count; i++) {
		at = ((off_t)i * n + w) * RECORD % FILE_BYTES;
		t0 = now_s();
		if (pwrite(fd, rec, sizeof(rec), at) != (ssize_t)sizeof(rec) ||
		    fdatasync(fd) == -1)
			return 1;
		runs[i] = now_s() - t0;
	}
	close(fd);
	qsort(runs, (size_t)count, sizeof(*runs), cmp);
	med = runs[count / 2];
	return write(out, &med, sizeof(med)) == (ssize_t)sizeof(med) ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	char		 path[4096];
	double		 t0, wall, med, meds[64];
	pid_t		 kids[64];
	int		 count, nw, i, status, p[2], failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: fsync_time DIR [COUNT] [WRITERS]\n");
		return 2;
	}
	count = argc > 2 ? atoi(argv[2]) : 200;
	nw = argc > 3 ? atoi(argv[3]) : 1;
	if (count < 1 || nw < 1 || nw > 64)
		return 2;
	snprintf(path, sizeof(path), "%s/fsync_time.%ld", argv[1], (long)getpid());
	if (zero_file(path) == -1 || pipe(p) == -1) {
		perror(path);
		unlink(path);
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < nw; i++) {
		if ((kids[i] = fork()) == -1) {
			failed = 1;
			nw = i;
			break;
		}
		if (kids[i] == 0)
			_exit(writer(path, i, nw, count, p[1]));
	}
	for (i = 0; i < nw; i++)
		if (waitpid(kids[i], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	wall = now_s() - t0;
	unlink(path);
	close(p[1]);
	for (i = 0; i < nw && !failed; i++)
		if (read(p[0], &meds[i], sizeof(meds[i])) != (ssize_t)sizeof(meds[i]))
			failed = 1;
	if (failed) {
		fprintf(stderr, "fsync_time: a writer failed\n");
		return 1;
	}
	qsort(meds, (size_t)nw, sizeof(*meds), cmp);
	med = meds[nw / 2];
	printf("%.6f %.1f\n", med, (double)count * nw / wall);
	return 0;
}
