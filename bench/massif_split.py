#!/usr/bin/env python3
"""The heap of bench/async_memory.lua at its peak (valgrind massif), split
by the library that asked for each block: libcurl, the transport's C state
(socialize/curl.so), the core, the Lua heap (lua5.4's allocator), per call.
The process's /proc/self/maps (written by async_memory.lua while it holds)
names the module of each unsymbolised address (the modules are unloaded
before massif writes its file).
  massif_split.py MASSIF_OUT MAPS N
"""
import re,sys,bisect
ms,maps,N=sys.argv[1],sys.argv[2],int(sys.argv[3])
regions=[]
for l in open(maps):
    p=l.split()
    if len(p)<6: continue
    a,b=[int(x,16) for x in p[0].split('-')]
    regions.append((a,b,p[5].split('/')[-1]))
regions.sort()
starts=[r[0] for r in regions]
def lib(addr):
    i=bisect.bisect_right(starts,addr)-1
    if i>=0 and regions[i][0]<=addr<regions[i][1]: return regions[i][2]
    return '?'
lines=open(ms).read().split('\n')
snaps=[];cur=None
for i,l in enumerate(lines):
    if l.startswith('snapshot='): cur={'i':i}; snaps.append(cur)
    elif l.startswith('heap_tree=') and cur is not None: cur['tree']=l.split('=')[1]
    elif l.startswith('mem_heap_B='): cur['heap']=int(l.split('=')[1])
# last detailed snapshot before release: the peak
peak=[s for s in snaps if s.get('tree')=='peak'][0]
i=peak['i']
while not lines[i].startswith('n'): i+=1
def parse(i):
    l=lines[i].strip()
    m=re.match(r'n(\d+): (\d+) (.*)',l)
    n=int(m.group(1));b=int(m.group(2));name=m.group(3)
    kids=[];i+=1
    for _ in range(n):
        k,i=parse(i);kids.append(k)
    return (b,name,kids),i
root,_=parse(i)
tot={}
def cls(name):
    m=re.match(r'(0x[0-9A-F]+):',name)
    if not m: return None
    l=lib(int(m.group(1),16))
    if 'libcurl' in l or 'libnghttp' in l: return 'libcurl'
    if l in ('curl.so',): return 'socialize C (transport)'
    if l in ('core.so',): return 'socialize C (core)'
    if 'lua' in l: return 'Lua heap'
    if 'libc' in l and 'libcrypto' not in l: return None
    return l
def walk(node,label):
    b,name,kids=node
    c=cls(name)
    if c and not label: label=c
    if label or not kids:
        # attribute: first recognised frame from malloc upward
        tot[label or '?']=tot.get(label or '?',0)+b; return
    s=0
    for k in kids: walk(k,label); s+=k[0]
    if b-s>0: tot['(below threshold)']=tot.get('(below threshold)',0)+b-s
for k in root[2]: walk(k,None)
for k,v in sorted(tot.items(),key=lambda x:-x[1]):
    print(f"{k:28s} {v/N:8.0f} B per call")
print(f"{'heap total':28s} {root[0]/N:8.0f} B per call")
