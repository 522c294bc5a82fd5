#!/bin/sh
# Test j: a consumer frees an idle producer's burst; the emptied slabs come back at the last free
# (tiers_exchange.c).  The LRU cache keeps 4 empty SuperSlabs and no thread keeps full slabs,
# so that the bound the test checks is small; the default bounds are tested by lru.sh.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_exchange)
sub default env HAKMEM_SUPERSLAB_MAX_CACHED=4 HAKMEM_KEPT_FULL_SLABS=0 $HAK_EMULATOR "$p"
# A region unmapped by the free that empties it (none cached, not even as address space), the
# statistics on: nothing may look at the slab after that.
sub gone env HAKMEM_SUPERSLAB_MAX_CACHED=0 HAKMEM_SUPERSLAB_MAX_MEMORY_MB=0 HAKMEM_STATS=1 HAKMEM_STATS_FILE=/dev/null $HAK_EMULATOR "$p" gone
tt_done
