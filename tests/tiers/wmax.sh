#!/bin/sh
# Test g: the waste of every mid size stays under W_MAX (tiers_wmax.c): the default (1.0, own
# class only), HAKMEM_W_MAX=1.25 and 1.2.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_wmax)
sub "W_MAX default" $HAK_EMULATOR "$p"
sub "W_MAX=1.25" env HAKMEM_W_MAX=1.25 $HAK_EMULATOR "$p"
sub "W_MAX=1.2" env HAKMEM_W_MAX=1.2 $HAK_EMULATOR "$p"
tt_done
