#!/bin/sh
# Test b: the BigCache's bounds in bytes and in age, the cache switched off, and the purge of
# cached mappings' pages after the delay, and a smaller cached mapping grown for a request of
# 8 MiB or more, or for a smaller request once the cache is past half its bound
# (tiers_bigcache.c).
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_bigcache)
sub "MAX_MB=8" env HAKMEM_BIGCACHE_MAX_MB=8 $HAK_EMULATOR "$p" max 8
sub "MAX_MB=3" env HAKMEM_BIGCACHE_MAX_MB=3 $HAK_EMULATOR "$p" max 3
sub "TTL_MS=300" env HAKMEM_BIGCACHE_TTL_MS=300 HAKMEM_BIGCACHE_MAX_MB=256 $HAK_EMULATOR "$p" ttl 300
sub "MAX_MB=0" env HAKMEM_BIGCACHE_MAX_MB=0 $HAK_EMULATOR "$p" off
keep="HAKMEM_BIGCACHE_MAX_MB=256 HAKMEM_BIGCACHE_TTL_MS=600000"
sub grow env HAKMEM_BIGCACHE_MAX_MB=256 $HAK_EMULATOR "$p" grow
sub "full, MAX_MB=16" env HAKMEM_BIGCACHE_MAX_MB=16 $HAK_EMULATOR "$p" full 1
sub "half full, MAX_MB=64" env HAKMEM_BIGCACHE_MAX_MB=64 $HAK_EMULATOR "$p" full 0
sub "PURGE_MS=200" env $keep HAKMEM_SLAB_PURGE_MS=200 HAKMEM_EMPTY_MAX_MB=1024 $HAK_EMULATOR "$p" purge 200
tt_done
