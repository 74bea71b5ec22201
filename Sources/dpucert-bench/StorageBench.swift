// The storage bench: our block I/O engine against fio on the same file (1 GiB of real
// data, not on tmpfs), the same engine, block size, queue depth, jobs, warm-up and
// duration, direct I/O, run alternately: sequential read and write in 1 MiB blocks at
// queue depth 8, random read and write in 4 KiB blocks at queue depth 32. fio runs the
// command line our result gives (`BlockIOResult.fioArguments`), so the bench also shows
// that line does what our job did. Prints each run, the medians and the ratios.

import Foundation
import Probes
import Systems

func storageBench(file: String, runs: Int, engine: BlockIOEnginePreference) throws {
    let size = 1 << 30
    try prepareBenchFile(file, size: size)
    let warmUp = Duration.seconds(1), duration = Duration.seconds(3)
    let cases: [(label: String, job: BlockIOJob)] = [
        ("seq read 1 MiB QD 8", BlockIOJob(path: file, direction: .read, pattern: .sequential, blockSize: 1 << 20, queueDepth: 8,
                                           length: size, duration: duration, warmUp: warmUp, engine: engine)),
        ("seq write 1 MiB QD 8", BlockIOJob(path: file, direction: .write, pattern: .sequential, blockSize: 1 << 20, queueDepth: 8,
                                            length: size, duration: duration, warmUp: warmUp, engine: engine)),
        ("rand read 4 KiB QD 32", BlockIOJob(path: file, direction: .read, pattern: .random, blockSize: 4096, queueDepth: 32,
                                             length: size, duration: duration, warmUp: warmUp, engine: engine)),
        ("rand write 4 KiB QD 32", BlockIOJob(path: file, direction: .write, pattern: .random, blockSize: 4096, queueDepth: 32,
                                              length: size, duration: duration, warmUp: warmUp, engine: engine)),
    ]
    print("file: \(file) (1 GiB, \(fileSystemType(of: file) ?? "unknown file system")); \(duration.seconds) s measured after "
          + "\(warmUp.seconds) s warm-up; direct I/O; \(runs) alternations")
    var summary: [String] = []
    for (label, job) in cases {
        let sequential = job.pattern == .sequential
        let unit = sequential ? "MiB/s" : "IOPS"
        var ours: [Double] = [], fio: [Double] = [], oursP99: [Double] = [], fioP99: [Double] = []
        var fioLine = ""
        print("\n\(label)")
        print("run   ours \(unit.padding(toLength: 6, withPad: " ", startingAt: 0))  fio \(unit.padding(toLength: 6, withPad: " ", startingAt: 0))"
              + "  ours p99 us   fio p99 us   engine")
        for run in 1...runs {
            var ourResult: BlockIOResult?
            var fioFigures: FioFigures?
            // Alternate which goes first, so neither always follows the other's writes.
            for tool in run % 2 == 1 ? ["ours", "fio"] : ["fio", "ours"] {
                if tool == "ours" {
                    ourResult = try job.run()
                } else {
                    // The fio line of the job as our engine ran it (first run: as it would run).
                    var template = job
                    template.length = size
                    let arguments = ourResult?.fioArguments ?? template.fioArguments()
                    fioLine = ourResult?.fioCommandLine ?? template.fioCommandLine
                    fioFigures = try runFio(arguments, direction: job.direction, duration: duration + warmUp)
                }
            }
            guard let ourResult, let fioFigures else { continue }
            if ourResult.errors > 0 { throw BenchError("our engine counted \(ourResult.errors) errors: \(ourResult)") }
            ours.append(sequential ? ourResult.mibPerSecond : ourResult.iops)
            fio.append(sequential ? fioFigures.mibPerSecond : fioFigures.iops)
            oursP99.append(ourResult.latencyMicroseconds(at: 99))
            fioP99.append(fioFigures.p99Microseconds)
            print(String(format: "%3d   %11.1f  %10.1f  %11.1f  %11.1f   ", run, ours.last!, fio.last!, oursP99.last!, fioP99.last!)
                  + ourResult.engine.rawValue + (ourResult.fallbackReason.map { " (fell back: \($0))" } ?? ""))
        }
        let ratio = median(ours) / median(fio)
        // Each round's two runs share the machine's load of the moment: the median of the
        // rounds' ratios shows the engines apart from drifts between rounds.
        let pairedRatio = median(zip(ours, fio).map { $0 / $1 })
        print(String(format: "median %10.1f  %10.1f  %11.1f  %11.1f", median(ours), median(fio), median(oursP99), median(fioP99)))
        print("fio: \(fioLine) --output-format=json")
        summary.append(String(format: "%@ %@ ratio ours/fio: %.3f (target >= 0.95), median of rounds' ratios %.3f; "
                              + "p99 ours %.1f us, fio %.1f us", label, unit, ratio, pairedRatio, median(oursP99), median(fioP99)))
    }
    print("")
    summary.forEach { print($0) }
}

/// What fio reported for the one direction a job moves (its `--group_reporting` total).
private struct FioFigures {
    var mibPerSecond: Double
    var iops: Double
    /// fio's completion latency p99 (`clat_ns`); ours counts from queueing, which adds the
    /// submission time fio reports apart (`slat_ns`).
    var p99Microseconds: Double
}

private func runFio(_ arguments: [String], direction: BlockIODirection, duration: Duration) throws -> FioFigures {
    let result = try CommandRunner.run(arguments + ["--output-format=json"], timeout: duration + .seconds(60))
    guard let data = result.standardOutput.data(using: .utf8),
          let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
          let job = (json["jobs"] as? [[String: Any]])?.first,
          let figures = job[direction.rawValue] as? [String: Any],
          let bandwidth = (figures["bw_bytes"] as? NSNumber)?.doubleValue,
          let iops = (figures["iops"] as? NSNumber)?.doubleValue else {
        throw BenchError("fio printed no jobs[0].\(direction.rawValue).bw_bytes and iops: \(result.standardOutput.prefix(400))")
    }
    let percentiles = (figures["clat_ns"] as? [String: Any])?["percentile"] as? [String: Any]
    let p99 = (percentiles?["99.000000"] as? NSNumber)?.doubleValue ?? .nan
    if let errors = (job["error"] as? NSNumber)?.intValue, errors != 0 {
        throw BenchError("fio reported error \(errors) running \(arguments.joined(separator: " "))")
    }
    return FioFigures(mibPerSecond: bandwidth / 1_048_576, iops: iops, p99Microseconds: p99 / 1000)
}

/// Lays out `size` bytes of non-zero data at `path` (reads of holes never reach the
/// device), unless a file that large is there already; refuses tmpfs.
private func prepareBenchFile(_ path: String, size: Int) throws {
    if fileSystemType(of: (path as NSString).deletingLastPathComponent) == "tmpfs" {
        throw BenchError("\(path) is on tmpfs: direct I/O there measures memory, not a device")
    }
    let existing = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    if let existing, existing >= size { return }
    guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BenchError("cannot create \(path)") }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var generator = SystemRandomNumberGenerator()
    let chunk = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 1...255, using: &generator) })
    for _ in 0..<(size >> 20) { try handle.write(contentsOf: chunk) }
    try handle.synchronize()
}

/// The type of the file system `path` is on, from the longest mount point above it.
private func fileSystemType(of path: String) -> String? {
    let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return nil }
    let entries = mounts.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count >= 3 }
    let above = entries.filter { resolved == String($0[1]) || resolved.hasPrefix($0[1] == "/" ? "/" : String($0[1]) + "/") }
    return above.max { $0[1].count < $1[1].count }.map { String($0[2]) }
}

