/* Renames itself to argv[1] with prctl(PR_SET_NAME) (at most 15 characters),
 * so that a probe can filter on a comm no other test uses, then performs each
 * following action in order: "ppid:N" calls getppid() N times, "write:N"
 * writes N bytes (at most 1 MiB) to /dev/null once. One task:task_rename
 * event, then one sys_enter_getppid or sys_enter_write event per call, all
 * with comm argv[1]. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[1 << 20];

int main(int argc, char **argv)
{
	if (argc < 2 || prctl(PR_SET_NAME, argv[1], 0, 0, 0) < 0)
		return 2;
	int fd = open("/dev/null", O_WRONLY);
	if (fd < 0)
		return 1;
	for (int i = 2; i < argc; i++) {
		const char *colon = strchr(argv[i], ':');
		if (!colon)
			return 2;
		long n = atol(colon + 1);
		if (!strncmp(argv[i], "ppid:", 5)) {
			for (long j = 0; j < n; j++)
				syscall(SYS_getppid);
		} else if (!strncmp(argv[i], "write:", 6)) {
			if (n < 0 || n > (long)sizeof(buf))
				return 2;
			if (write(fd, buf, (size_t)n) < 0)
				return 1;
		} else {
			return 2;
		}
	}
	return 0;
}
