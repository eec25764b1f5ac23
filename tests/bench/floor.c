/*
 * floor.c: the least a FastCGI responder can do behind the same web
 * server, the baseline patgate's throughput is measured against: it
 * answers 200 {} to every request, like patgate with the FCGX_*_r calls.
 *
 * With FLOOR_SYNC_FILE naming a zeroed file, each request first writes a
 * 256-byte record into it and fdatasyncs, as a create's commit writes its
 * log record to Berkeley DB's zeroed log: the least a responder that makes
 * a durable write per request can do, the bound of a create.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcgiapp.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD	256

int
main(void)
{
	static const char answer[] =
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "\r\n"
	    "{}";
	static char	 record[RECORD];
	FCGX_Request	 r;
	const char	*sync = getenv("FLOOR_SYNC_FILE");
	struct stat	 sb;
	off_t		 at = 0, size = 0;
	int		 fd = -1;

	if (sync != NULL && *sync != '\0') {
		if ((fd = open(sync, O_WRONLY)) == -1 ||
		    fstat(fd, &sb) == -1 || sb.st_size < 2 * RECORD)
			return 1;
		size = sb.st_size - sb.st_size % (2 * RECORD);
		/* Workers write records of their own, side by side. */
		at = (off_t)(getpid() % 2) * RECORD;
		memset(record, 'r', sizeof(record));
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		if (fd != -1) {
			if (pwrite(fd, record, RECORD, at) != RECORD ||
			    fdatasync(fd) == -1)
				return 1;
			at = (at + 2 * RECORD) % size;
		}
		FCGX_PutStr(answer, (int)sizeof(answer) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
