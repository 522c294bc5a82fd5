require_relative "report"
# String churn: short strings (0..40 bytes) built and appended to arrays, one
# in fifty kept for a while, and a 100 KB string now and then.
srand(Integer(ENV.fetch("SEED", "1")))
n = Integer(ENV.fetch("N", "2000000"))
kept = []
batch = []
n.times do |i|
  s = "x" * rand(41)
  s << "!" if i.odd?
  batch << s
  kept << s if rand(50) == 0
  batch = [] if batch.size >= 1000
  kept.shift(5000) if kept.size > 50_000
  kept << ("z" * 100_000) if i % 10_000 == 0
end
BenchReport.print("ruby_strings", "kept=#{kept.size}")
