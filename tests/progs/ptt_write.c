/* Writes to /dev/null once for each size given: sys_enter_write events with
 * args.count equal to each size, in order. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char buf[1 << 20];

int main(int argc, char **argv)
{
	int fd = open("/dev/null", O_WRONLY);
	if (fd < 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		long size = atol(argv[i]);
		if (size < 0 || size > (long)sizeof(buf))
			return 2;
		if (write(fd, buf, (size_t)size) < 0)
			return 1;
	}
	return 0;
}
