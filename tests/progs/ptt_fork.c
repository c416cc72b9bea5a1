/* Forks N children (default 1) one after another. Each child sets its nice
 * value to 5 (so its prio is 125) and exits with status i (0, 1, ...). The
 * parent waits for each: sched:sched_process_fork (parent_comm and
 * child_comm "ptt_fork"), task:task_newtask (comm "ptt_fork"), and
 * sched:sched_process_exit (comm "ptt_fork", prio 125, group_dead true) per
 * child, then one sched_process_exit for the parent itself (prio that of the
 * caller). */
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			setpriority(PRIO_PROCESS, 0, 5);
			_exit((int)i);
		}
		if (pid < 0)
			return 1;
		waitpid(pid, 0, 0);
	}
	return 0;
}
