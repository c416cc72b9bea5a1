/* Arrays in a struct for uprobes: of structs, of two dimensions, of pointers,
 * of bools, and a flexible array at the end. Calls ptt_arrays(&a) once. */
#include <stdbool.h>
#include <stdlib.h>

struct point {
	int x;
	short y;
};

struct arrays {
	struct point points[3];
	int grid[2][3];
	int *refs[2];
	bool flags[3];
	char names[2][4];
	int count;
	int extra[];
};

__attribute__((noinline)) int ptt_arrays(struct arrays *a)
{
	__asm__ volatile("" ::: "memory");
	return a->count;
}

int main(void)
{
	static int one = 11, two = 22;
	struct arrays *a = calloc(1, sizeof(*a) + 2 * sizeof(int));
	if (a == NULL)
		return 1;
	for (int i = 0; i < 3; i++)
		a->points[i] = (struct point){ 10 * i + 1, (short)-i };
	for (int i = 0; i < 6; i++)
		a->grid[i / 3][i % 3] = i + 1;
	a->refs[0] = &one;
	a->refs[1] = &two;
	a->flags[1] = true;
	a->names[0][0] = 'a';
	a->names[1][0] = 'b';
	a->names[1][1] = 'c';
	a->count = 2;
	a->extra[0] = 100;
	a->extra[1] = 200;
	int result = ptt_arrays(a);
	free(a);
	return result == 2 ? 0 : 1;
}
