// dpucert-bench: the figures scripts/bench prints, for docs/benchmarks.md. It judges
// nothing.
//
// Usage: dpucert-bench reports DIR        the report writers on a 10,000-result report
//                                         (DIR is created; the report files are left there)
//        dpucert-bench network LAB RUNS   the traffic engines against iperf3 and sockperf on
//                                         a standing lab's host-to-peer path, RUNS alternations

import Foundation

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch (arguments.first, arguments.count) {
    case ("reports", 2):
        try reportBench(directory: arguments[1])
    case ("network", 3):
        guard let runs = Int(arguments[2]), runs > 0 else { throw BenchError("RUNS must be a positive number, found \(arguments[2])") }
        try networkBench(lab: arguments[1], runs: runs)
    default:
        FileHandle.standardError.write(Data("usage: dpucert-bench reports DIR | dpucert-bench network LAB RUNS\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("dpucert-bench: \(error)\n".utf8))
    exit(1)
}
