// PCITestSupport: lspci's independent reading of a bus, and the field-by-field
// comparison of dpucert's inventory with it, shared by the test targets.
import Foundation
import Systems
import TestGates

/// lspci's view of a bus, parsed from `lspci -n -D -vvv`: the independent reading
/// that dpucert's decoding is checked against.
public struct LspciFunction: Equatable, Sendable {
    public var address: String
    public var vendorDevice: String
    public var classCode: String
    public var revision: String?
    public var subsystem: String?
    /// `40` for standard, `100 v1` for extended capabilities, in chain order.
    public var capabilityOffsets: [String] = []
    /// Names of the capabilities whose lspci titles are mapped (see `nameForTitle`).
    public var capabilityNames: [String] = []
    public var chainMarkers: [String] = []
    public var linkCapability: (speed: String, width: Int)?
    public var linkStatus: (speed: String, width: Int)?
    public var sriov: [String: Int] = [:]
    public var sriovDeviceID: String?

    public static func == (lhs: LspciFunction, rhs: LspciFunction) -> Bool { lhs.address == rhs.address }
}

public enum LspciReading {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs lspci with `arguments` in front of `-n -D -vvv` and parses its output.
    public static func read(_ arguments: [String]) throws -> [LspciFunction] {
        guard let path = InstalledProgram.path(named: "lspci") else { throw MissingRequirements(requirements: [.lspci]) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments + ["-n", "-D", "-vvv"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "lspci \(arguments) exited \(process.terminationStatus)")
        }
        return parse(String(decoding: data, as: UTF8.self))
    }

    public static func parse(_ text: String) -> [LspciFunction] {
        var functions: [LspciFunction] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if !line.hasPrefix("\t") {
                // 0000:01:00.0 0200: 8086:10c9 (rev 01) (prog-if 01 [AHCI])
                let fields = line.split(separator: " ")
                guard fields.count >= 3 else { continue }
                var classCode = String(fields[1].dropLast())
                var progIF = "00"
                if let range = line.range(of: "(prog-if ") {
                    progIF = String(line[range.upperBound...].prefix(2))
                }
                classCode += progIF
                var revision: String?
                if let range = line.range(of: "(rev ") { revision = String(line[range.upperBound...].prefix(2)) }
                functions.append(LspciFunction(address: String(fields[0]), vendorDevice: String(fields[2]),
                                               classCode: classCode, revision: revision))
                continue
            }
            guard !functions.isEmpty else { continue }
            let body = line.trimmingCharacters(in: .whitespaces)
            var function = functions.removeLast()
            defer { functions.append(function) }
            if body.hasPrefix("Subsystem: ") && function.capabilityOffsets.isEmpty {
                function.subsystem = String(body.dropFirst("Subsystem: ".count).split(separator: " ").first ?? "")
            } else if body.hasPrefix("Capabilities: [") {
                let inside = body.dropFirst("Capabilities: [".count)
                guard let close = inside.firstIndex(of: "]") else { continue }
                let title = inside[inside.index(after: close)...].trimmingCharacters(in: .whitespaces)
                if title.hasPrefix("<") {
                    function.chainMarkers.append(title)
                    continue
                }
                function.capabilityOffsets.append(String(inside[..<close]))
                if let name = nameForTitle(title, extended: inside[..<close].contains(" ")) {
                    function.capabilityNames.append(name)
                }
            } else if body.hasPrefix("LnkCap:") {
                function.linkCapability = speedAndWidth(body)
            } else if body.hasPrefix("LnkSta:") {
                function.linkStatus = speedAndWidth(body)
            } else if body.hasPrefix("Initial VFs:") || body.hasPrefix("VF offset:") {
                for part in body.split(separator: ",") {
                    let pair = part.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard pair.count == 2 else { continue }
                    if pair[0] == "Device ID" { function.sriovDeviceID = pair[1] } else if let value = Int(pair[1]) {
                        function.sriov[pair[0]] = value
                    }
                }
            }
        }
        return functions
    }

    static func speedAndWidth(_ text: String) -> (speed: String, width: Int)? {
        guard let speed = text.range(of: "Speed "), let width = text.range(of: "Width x") else { return nil }
        let speedText = text[speed.upperBound...].prefix { $0 != "," && $0 != " " }
        let widthText = text[width.upperBound...].prefix { $0.isNumber }
        return (String(speedText), Int(widthText) ?? -1)
    }

    /// lspci capability titles and the names dpucert gives them.
    static func nameForTitle(_ title: String, extended: Bool) -> String? {
        let table: [(String, String)] = [
            ("Power Management", "pm"), ("MSI-X:", "msix"), ("MSI:", "msi"), ("Express", "pcie"),
            ("Vital Product Data", "vpd"), ("Advanced Error Reporting", "aer"), ("Access Control Services", "acs"),
            ("Alternative Routing-ID Interpretation", "ari"), ("Address Translation Service", "ats"),
            ("Single Root I/O Virtualization", "sriov"), ("Device Serial Number", "dsn"),
            ("Secondary PCI Express", "secondary-pcie"), ("Precision Time Measurement", "ptm"),
            ("Downstream Port Containment", "dpc"), ("Physical Resizable BAR", "rebar"),
        ]
        if title.hasPrefix("Vendor Specific Information") { return extended ? "vsec" : "vendor-specific" }
        return table.first { title.hasPrefix($0.0) }?.1
    }

    /// lspci's spelling of a link speed (`2.5GT/s`, `16GT/s`, `unknown`).
    public static func speedText(_ gigatransfers: Double?) -> String {
        guard let gigatransfers else { return "unknown" }
        return (gigatransfers == gigatransfers.rounded() ? String(Int(gigatransfers)) : String(gigatransfers)) + "GT/s"
    }
}
