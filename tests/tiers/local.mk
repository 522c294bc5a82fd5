# Tests of the mid pool, L2.5, BigCache, LRU cache, trim and thread exit.
