require_relative "report"
# Text processing: lines built with format, split into words, counted,
# substituted and joined again, as a log report would.
srand(Integer(ENV.fetch("SEED", "1")))
rounds = Integer(ENV.fetch("N", "20"))
words = %w[alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu]
counts = Hash.new(0)
out = 0
rounds.times do
  lines = Array.new(5000) do |i|
    format("%06d %s %s=%d %s", i, words.sample, words.sample, rand(10_000), words.sample(rand(1..6)).join(" "))
  end
  lines.each do |l|
    l.split(" ").each { |w| counts[w] += 1 }
  end
  report = lines.map { |l| l.gsub(/[aeiou]/) { |c| c.upcase } }.select { |l| l.include?("A") }.join("\n")
  out += report.bytesize
end
BenchReport.print("ruby_text", "out=#{out} words=#{counts.size}")
