# The result line every hakmem benchmark prints, for bench/compare.py: wall time of the
# workload, peak and final RSS, which allocator is mapped, and the collector's counts.
module BenchReport
  START = Process.clock_gettime(Process::CLOCK_MONOTONIC)

  def self.status_kb(field)
    File.foreach("/proc/self/status") { |l| return l.split[1].to_i if l.start_with?(field) }
    -1
  end

  def self.allocator
    maps = File.read("/proc/self/maps")
    %w[hakmem mimalloc jemalloc tcmalloc].find { |n| maps.include?("lib#{n}") } || "glibc"
  end

  def self.print(name, extra = "")
    t = Process.clock_gettime(Process::CLOCK_MONOTONIC) - START
    st = GC.stat
    $stdout.puts format("bench=%s time_s=%.4f maxrss_kb=%d final_rss_kb=%d malloc=%s " \
                        "gc=%d minor=%d major=%d %s",
                        name, t, status_kb("VmHWM:"), status_kb("VmRSS:"), allocator,
                        st[:count], st[:minor_gc_count], st[:major_gc_count], extra)
  end
end
