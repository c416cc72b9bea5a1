/* A linked pair of structs for uprobes to read through a script's own
 * definition of them: padding, bitfields (one signed), a nested struct, a
 * union, a string, an enum and a pointer. Calls ptt_visit(&first) once. */
#include <stdio.h>

enum shape { CIRCLE = 1, SQUARE = 4 };

struct inner {
	short s;
	long l;
};

struct node {
	char tag;
	long value;
	unsigned int flags : 3;
	int delta : 5;
	struct inner in;
	union {
		int i;
		char c;
	} u;
	char name[12];
	enum shape shape;
	struct node *next;
};

__attribute__((noinline)) int ptt_visit(struct node *n)
{
	__asm__ volatile("" ::: "memory");
	return n->tag;
}

int main(void)
{
	struct node second = { .tag = 'b', .value = 2, .flags = 1, .delta = 15,
			       .in = { 20, 200 }, .u.i = 66, .name = "second",
			       .shape = (enum shape)3, .next = NULL };
	struct node first = { .tag = 'a', .value = -1234567890123L, .flags = 5, .delta = -3,
			      .in = { -7, 1L << 40 }, .u.i = 0x141, .name = "first",
			      .shape = SQUARE, .next = &second };
	/* Both structs escape here, so the compiler keeps every store to them. */
	__asm__ volatile("" : : "r"(&first), "r"(&second) : "memory");
	return ptt_visit(&first) == 'a' ? 0 : 1;
}
