#!/bin/sh
# Test f: blocks outlive their threads; dead threads' slabs are adopted and reused
# (tiers_thread_exit.c), with the default options and with no kept full slabs and batch 1.
# The caches' bounds are set beyond what the run needs: the test counts regions mapped to see
# reuse, and what a bound makes the allocator unmap and map again (a generation that outlasts a
# TTL under an emulator, more empty SuperSlabs at once than the LRU cache keeps) is not the
# thread-exit behaviour under test; tests/tiers/lru.sh and bigcache.sh test the bounds.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_thread_exit)
ages="HAKMEM_BIGCACHE_TTL_MS=600000 HAKMEM_SUPERSLAB_TTL_SEC=600 HAKMEM_SUPERSLAB_MAX_CACHED=256
  HAKMEM_SUPERSLAB_MAX_MEMORY_MB=1024"
sub default env $ages $HAK_EMULATOR "$p"
sub "no kept full slabs" env $ages HAKMEM_KEPT_FULL_SLABS=0 HAKMEM_TINY_BATCH=1 HAKMEM_POOL_REFILL_BATCH=1 \
  $HAK_EMULATOR "$p"
tt_done
