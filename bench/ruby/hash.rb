require_relative "report"
# A cache of string keys to small arrays: inserts, lookups, deletes, with the
# cache's size swinging between two bounds.
srand(Integer(ENV.fetch("SEED", "1")))
n = Integer(ENV.fetch("N", "800000"))
h = {}
hits = 0
limit = 100_000
n.times do |i|
  k = "key-#{rand(400_000)}"
  if (v = h[k])
    hits += 1
    v << i if v.size < 8
  else
    h[k] = [i, k.size]
  end
  if h.size > limit
    h.keys.first(limit / 2).each { |d| h.delete(d) }
    limit = limit == 100_000 ? 40_000 : 100_000
  end
end
BenchReport.print("ruby_hash", "hits=#{hits}")
