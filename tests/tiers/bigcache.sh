#!/bin/sh
# Test b: the BigCache's bounds in bytes and in age, and the cache switched off (tiers_bigcache.c).
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_bigcache)
sub "MAX_MB=8" env HAKMEM_BIGCACHE_MAX_MB=8 $HAK_EMULATOR "$p" max 8
sub "MAX_MB=3" env HAKMEM_BIGCACHE_MAX_MB=3 $HAK_EMULATOR "$p" max 3
sub "TTL_MS=300" env HAKMEM_BIGCACHE_TTL_MS=300 HAKMEM_BIGCACHE_MAX_MB=256 $HAK_EMULATOR "$p" ttl 300
sub "MAX_MB=0" env HAKMEM_BIGCACHE_MAX_MB=0 $HAK_EMULATOR "$p" off
tt_done
