require_relative "report"
# Build records, turn them into JSON text and parse it back.
require "json"
srand(Integer(ENV.fetch("SEED", "1")))
rounds = Integer(ENV.fetch("N", "60"))
sum = 0
rounds.times do |r|
  recs = Array.new(2000) do |i|
    { "id" => i, "name" => "user#{rand(100_000)}", "score" => rand * 100,
      "tags" => Array.new(rand(6)) { |k| "t#{k}#{rand(100)}" },
      "addr" => { "city" => "c#{rand(500)}", "zip" => format("%05d", rand(99_999)) } }
  end
  text = JSON.generate(recs)
  back = JSON.parse(text)
  sum += back.sum { |h| h["tags"].size } + text.bytesize
end
BenchReport.print("ruby_json", "sum=#{sum}")
