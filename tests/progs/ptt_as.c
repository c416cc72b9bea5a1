/* Renames itself to argv[1] with prctl(PR_SET_NAME) (at most 15 characters),
 * so that a probe can filter on a comm no other test uses, then performs each
 * following action in order: "ppid:N" calls getppid() N times, "write:N"
 * writes N bytes (at most 1 MiB) to /dev/null once, "text:S" writes the text
 * S to /dev/null, "argv:A,B,…" runs /bin/true with the arguments A B … in a
 * child (one sys_enter_execve whose argv is /bin/true A B …) and waits for
 * it. One task:task_rename event, then one sys_enter_getppid, sys_enter_write
 * or sys_enter_execve event per action, all with comm argv[1]. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
		} else if (!strncmp(argv[i], "text:", 5)) {
			if (write(fd, colon + 1, strlen(colon + 1)) < 0)
				return 1;
		} else if (!strncmp(argv[i], "argv:", 5)) {
			/* On the stack, not in .rodata: a forked child has no page
			 * table entries for file-backed pages yet, and BPF's
			 * probe_read cannot fault them in. */
			char program[] = "/bin/true";
			char *args[18] = {program};
			int count = 1;
			char *list = strdup(colon + 1);
			for (char *arg = strtok(list, ","); arg && count < 17; arg = strtok(NULL, ","))
				args[count++] = arg;
			args[count] = NULL;
			pid_t pid = fork();
			if (pid == 0) {
				execv(args[0], args);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, NULL, 0) < 0)
				return 1;
			free(list);
		} else {
			return 2;
		}
	}
	return 0;
}
