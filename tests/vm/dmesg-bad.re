WARNING:
BUG:
kernel BUG
Oops
Call Trace
general protection fault
UBSAN:
KASAN:
hung_task
blocked for more than
soft lockup
refcount_t:
list_add corruption
list_del corruption
