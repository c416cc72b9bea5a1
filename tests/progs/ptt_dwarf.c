/* Functions for debug information (built with -g -O0, see tests/conftest.py):
 * for each argument, ptt_point_sum(&point, tag, color) with point.x the
 * argument's position, point.name the argument, then ptt_many(1, ..., 8) and
 * ptt_scaled(0.5, point, 3), ptt_paired({ x, 2x }) and ptt_linked.
 * ptt_point_sum's code includes ptt_twice's, always inlined. With "linger" as
 * its last argument it stays alive 0.5 s more, for its stacks to be read. */
#include <string.h>
#include <unistd.h>

enum ptt_color { PTT_RED, PTT_GREEN = 5 };

struct ptt_point {
	int x;
	char name[8];
	long values[2];
	struct ptt_point *next;
};

static inline __attribute__((always_inline)) int ptt_twice(int value)
{
	return value * 2;
}

__attribute__((noinline)) int ptt_point_sum(struct ptt_point *point, char tag,
					    enum ptt_color color)
{
	int sum = point->x + tag;
	return ptt_twice(sum) + (int)color;
}

__attribute__((noinline)) long ptt_many(int a, int b, int c, int d, int e, int f, int g,
					long h)
{
	return a + b + c + d + e + f + g + h;
}

__attribute__((noinline)) long ptt_scaled(double factor, struct ptt_point point, int count)
{
	return (long)(factor * point.x) + count;
}

struct ptt_pair {
	int first, second;
};

__attribute__((noinline)) int ptt_paired(struct ptt_pair pair)
{
	return pair.first + pair.second;
}

struct ptt_links { /* to the point, and to a copy with x 100 */
	struct ptt_point *to[2];
};

__attribute__((noinline)) long ptt_linked(struct ptt_links *links)
{
	return links->to[0]->x + links->to[1]->x;
}

int main(int argc, char **argv)
{
	long total = 0;
	for (int i = 1; i < argc; i++) {
		struct ptt_point point = { .x = i, .values = { i, 10 * i } };
		strncpy(point.name, argv[i], sizeof(point.name) - 1);
		total += ptt_point_sum(&point, 'a', PTT_GREEN);
		total += ptt_many(1, 2, 3, 4, 5, 6, 7, 8);
		total += ptt_scaled(0.5, point, 3);
		total += ptt_paired((struct ptt_pair){ i, 2 * i });
		struct ptt_point other = point;
		other.x = 100;
		total += ptt_linked(&(struct ptt_links){ { &point, &other } });
	}
	if (argc > 1 && strcmp(argv[argc - 1], "linger") == 0)
		usleep(500000);
	return total == 0;
}
