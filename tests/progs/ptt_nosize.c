/* A function whose symbol has no size (as hand-written assembly may have): a
 * uprobe's offset into it cannot be checked before attaching. */
__asm__(".text\n"
	".globl ptt_nosize\n"
	".type ptt_nosize, @function\n"
	"ptt_nosize:\n"
	"\tret\n");

void ptt_nosize(void);

int main(void)
{
	ptt_nosize();
	return 0;
}
