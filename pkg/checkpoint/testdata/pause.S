# A process with next to no memory for CRIU test images: it dirties one
# page of .bss (so the dump holds a private anonymous page besides the
# stack), forks once, and both processes wait in pause(2) forever.
	.globl _start
	.text
_start:
	movb $1, buf(%rip)
	mov $57, %eax          # fork
	syscall
1:	mov $34, %eax          # pause
	syscall
	jmp 1b
	.bss
buf:	.skip 4096
