/* Makes one syscall per argument, by name, in order: "pid" getpid(),
 * "ppid" getppid(), "pgid" getpgid(0), "pgrp" getpgrp(), "sid" getsid(0),
 * "uid" getuid(), "gid" getgid(), "tid" gettid(). Each is a raw syscall, so
 * exactly one sys_enter_<name> event per argument. */
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "pid"))
			syscall(SYS_getpid);
		else if (!strcmp(a, "ppid"))
			syscall(SYS_getppid);
		else if (!strcmp(a, "pgid"))
			syscall(SYS_getpgid, 0);
		else if (!strcmp(a, "pgrp"))
			syscall(SYS_getpgrp);
		else if (!strcmp(a, "sid"))
			syscall(SYS_getsid, 0);
		else if (!strcmp(a, "uid"))
			syscall(SYS_getuid);
		else if (!strcmp(a, "gid"))
			syscall(SYS_getgid);
		else if (!strcmp(a, "tid"))
			syscall(SYS_gettid);
		else
			return 2;
	}
	return 0;
}
