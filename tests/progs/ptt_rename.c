/* Sets its oom_score_adj to argv[1] (0..1000: raising it needs no
 * privilege), then renames itself with prctl(PR_SET_NAME) to each following
 * argument in turn: one task:task_rename event each, with oldcomm the name
 * before (first "ptt_rename"), newcomm the argument (truncated to 15
 * characters) and oom_score_adj argv[1]. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	FILE *f = fopen("/proc/self/oom_score_adj", "w");
	if (!f || fprintf(f, "%d\n", atoi(argv[1])) < 0 || fclose(f) != 0)
		return 1;
	for (int i = 2; i < argc; i++)
		if (prctl(PR_SET_NAME, argv[i], 0, 0, 0) < 0)
			return 1;
	return 0;
}
