# Seed inputs for fuzz_blk: well-formed read, write, flush + GET_ID,
# discard, write-zeroes and indirect requests in its input layout
# (header: flags byte, last_avail_idx; see fuzz_blk.c).
import os, struct, sys
out = sys.argv[1] if len(sys.argv) > 1 else '.'
os.makedirs(out, exist_ok=True)
MEM=0x1000
def desc(a,l,f,n): return struct.pack('<QIHH',a,l,f,n)
def build(flags, descs, heads, mem):
    ring=bytearray(0x200)
    for i,d in enumerate(descs): ring[i*16:i*16+16]=desc(*d)
    struct.pack_into('<HH',ring,0x100,0,len(heads))
    for i,h in enumerate(heads): struct.pack_into('<H',ring,0x104+2*i,h)
    m=bytearray(0x400)
    for off,b in mem: m[off:off+len(b)]=b
    return bytes([flags,0,0])+bytes(ring)+bytes(m)
hdr=lambda t,s: struct.pack('<IIQ',t,0,s)
N,W,I=1,2,4
seeds={
 'read': build(0,[(MEM,16,N,1),(MEM+0x100,1024,W|N,2),(MEM+0x80,1,W,0)],[0],[(0,hdr(0,4))]),
 'write': build(2,[(MEM,16,N,1),(MEM+0x100,1024,N,2),(MEM+0x80,1,W,0)],[0],[(0,hdr(1,4))]),
 'flush_getid': build(4,[(MEM,16,N,1),(MEM+0x80,1,W,0),(MEM+0x20,16,N,3),(MEM+0x100,20,W|N,4),(MEM+0x81,1,W,0)],[0,2],[(0,hdr(4,0)),(0x20,hdr(8,0))]),
 'discard': build(0,[(MEM,16,N,1),(MEM+0x40,32,N,2),(MEM+0x80,1,W,0)],[0],[(0,hdr(11,0)),(0x40,struct.pack('<QII',8,8,0)+struct.pack('<QII',32,4,0))]),
 'wz': build(4,[(MEM,16,N,1),(MEM+0x40,16,N,2),(MEM+0x80,1,W,0)],[0],[(0,hdr(13,0)),(0x40,struct.pack('<QII',8,8,1))]),
 'indirect': build(1,[(MEM+0x200,48,I,0)],[0],[(0,hdr(0,2)),(0x200,desc(MEM,16,N,1)+desc(0x2f00,0x200,W|N,2)+desc(MEM+0x80,1,W,0))]),
}
# the same read with the table at the end of MEM2 and avail read-only
r=bytearray(seeds['read']); r[0]=8; seeds['read_placed']=bytes(r)
# a chain whose data buffer crosses from MEM into MEM2
seeds['cross']=build(0,[(MEM,16,N,1),(0x2f00,0x200,W|N,2),(MEM+0x80,1,W,0)],[0],[(0,hdr(0,0))])
for k,v in seeds.items(): open(os.path.join(out, k),'wb').write(v)
