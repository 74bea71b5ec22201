import Foundation
import ReportTestSupport
import Testing
@testable import Reports

@Suite("Atomic file writes")
struct AtomicFileTests {
    private func entries(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    @Test("creates missing parent directories and leaves only the target")
    func createsParents() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.path("a/b/c/report.json")
        try AtomicFile.write(Data("first".utf8), to: path)
        #expect(FileManager.default.contents(atPath: path) == Data("first".utf8))
        #expect(try entries(scratch.path("a/b/c")) == ["report.json"])
    }

    @Test("replaces an existing file whole and leaves no temporary file")
    func replaces() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.path("junit.xml")
        try AtomicFile.write(Data(repeating: 0x41, count: 100_000), to: path)
        try AtomicFile.write(Data("short".utf8), to: path)
        #expect(FileManager.default.contents(atPath: path) == Data("short".utf8))
        #expect(try entries(scratch.url.path) == ["junit.xml"])
    }

    @Test("a relative path is written relative to the working directory")
    func relativePath() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let previous = FileManager.default.currentDirectoryPath
        #expect(FileManager.default.changeCurrentDirectoryPath(scratch.url.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try AtomicFile.write(Data("x".utf8), to: "out/report.html")
        #expect(FileManager.default.contents(atPath: scratch.path("out/report.html")) == Data("x".utf8))
    }

    @Test("a parent that is a regular file is reported, not written through")
    func parentIsFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try AtomicFile.write(Data("file".utf8), to: scratch.path("blocker"))
        let error = #expect(throws: AtomicFileError.self) {
            try AtomicFile.write(Data("x".utf8), to: scratch.path("blocker/report.json"))
        }
        #expect(error?.step == .createDirectory)
        #expect(error?.description.contains("blocker") == true)
        #expect(try entries(scratch.url.path) == ["blocker"])
        #expect(FileManager.default.contents(atPath: scratch.path("blocker")) == Data("file".utf8))
    }

    @Test("a failed rename leaves the target untouched and no temporary file behind")
    func failedRename() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try AtomicFile.write(Data("keep".utf8), to: scratch.path("target/inside"))
        let error = #expect(throws: AtomicFileError.self) {
            try AtomicFile.write(Data("new".utf8), to: scratch.path("target"))
        }
        #expect(error?.step == .rename)
        #expect(try entries(scratch.url.path) == ["target"])
        #expect(FileManager.default.contents(atPath: scratch.path("target/inside")) == Data("keep".utf8))
    }

    @Test("a concurrent reader only ever sees a complete version")
    func readersSeeWholeFiles() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.path("report.json")
        let small = Data(repeating: 0x61, count: 300_000)
        let large = Data(repeating: 0x62, count: 2_000_000)
        try AtomicFile.write(small, to: path)

        let writer = Task.detached {
            for round in 0..<40 {
                try AtomicFile.write(round.isMultiple(of: 2) ? large : small, to: path)
            }
        }
        var reads = 0
        var torn = 0
        while reads < 400 {
            let content = FileManager.default.contents(atPath: path)
            if content != small && content != large { torn += 1 }
            reads += 1
            await Task.yield()
        }
        try await writer.value
        #expect(torn == 0)
        #expect(try entries(scratch.url.path) == ["report.json"])
    }

    @Test("every format writes through the atomic writer into a new folder")
    func allFormats() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let folder = scratch.path("reports/20250102T030405Z-nvidia-bluefield-3")
        for format in ReportFormat.allCases {
            try format.write(SampleReports.hardware, to: folder + "/" + format.defaultFileName)
        }
        #expect(try entries(folder) == ["junit.xml", "report.ctrf.json", "report.html", "report.json"])
        let json = try #require(FileManager.default.contents(atPath: folder + "/report.json"))
        #expect(try ReportJSON.decode(json) == SampleReports.hardware)
    }
}
