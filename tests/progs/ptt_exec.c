/* Runs each program given with no arguments, one after another: one
 * sys_enter_execve each, with args.filename the path given. */
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			execl(argv[i], argv[i], (char *)0);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, 0, 0);
	}
	return 0;
}
