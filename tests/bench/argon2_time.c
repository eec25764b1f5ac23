/*
 * argon2_time.c: how long one Argon2id hash takes at a cost, measured
 * like patgate hashes a new token (40 bytes of secret, 16 of salt, 32 of
 * output).  usage: argon2_time m=19456,t=2,p=1 [COUNT]
 * Prints the median of COUNT runs (default 15) in seconds.
 */
#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct timespec	 t0, t1;
	unsigned char	 salt[16] = "patgate-bench!!";
	char		 secret[41] = "0123456789abcdefghijABCDEFGHIJ0123456789";
	char		 out[160];
	double		*runs;
	unsigned	 m, t, p;
	int		 n, i;

	if (argc < 2 || sscanf(argv[1], "m=%u,t=%u,p=%u", &m, &t, &p) != 3) {
		fprintf(stderr, "usage: argon2_time m=M,t=T,p=P [COUNT]\n");
		return 2;
	}
	n = argc > 2 ? atoi(argv[2]) : 15;
	if (n < 1 || (runs = calloc((size_t)n, sizeof(*runs))) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		salt[0] = (unsigned char)i;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (argon2id_hash_encoded(t, m, p, secret, 40, salt, sizeof(salt), 32,
		    out, sizeof(out)) != ARGON2_OK)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		runs[i] = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	qsort(runs, (size_t)n, sizeof(*runs), cmp);
	printf("%.6f\n", runs[n / 2]);
	return 0;
}
