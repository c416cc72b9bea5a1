/* Opens /dev/null (read-only) and calls lseek(fd, OFFSET, SEEK_CUR) for each
 * argument: sys_enter_lseek events whose args.offset is each offset (a
 * signed off_t, so "-5" is -5), args.whence 1 and args.fd the descriptor
 * (3, as 0-2 are open). */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		return 1;
	for (int i = 1; i < argc; i++)
		lseek(fd, (off_t)atoll(argv[i]), SEEK_CUR);
	return 0;
}
