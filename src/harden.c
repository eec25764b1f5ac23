/* harden.c: keep the secrets in a process's memory out of core dumps. */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "patgate.h"

void
harden_no_core(void)
{
	const struct rlimit none = { 0, 0 };

	/*
	 * A worker's memory holds the PATs it minted or checked and the
	 * session tokens it was sent; the CLI's, the tokens it prints.  A
	 * core file would put them on disk.  The hard limit goes to 0 too, so
	 * that nothing in the process can raise it again.
	 */
	(void)setrlimit(RLIMIT_CORE, &none);
	/*
	 * Not dumpable: the kernel writes no core file even where the limit
	 * does not apply (core_pattern piping to a program), and another
	 * process of the same user can no longer ptrace this one or read its
	 * memory through /proc.
	 */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
