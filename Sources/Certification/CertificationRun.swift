import Foundation
import Inventory
import Profiles
import Reports

/// One qualification: runs the plan and turns its results, the run facts and the
/// device under test into a `Report`.
public struct CertificationRun: Sendable {
    public var profile: Profile
    public var profileSHA256: String
    public var mode: RunMode
    public var faults: [String]
    public var commandLine: [String]
    public var toolVersion: String

    public init(profile: Profile, profileSHA256: String, mode: RunMode, faults: [String], commandLine: [String],
                toolVersion: String) {
        self.profile = profile
        self.profileSHA256 = profileSHA256
        self.mode = mode
        self.faults = faults
        self.commandLine = commandLine
        self.toolVersion = toolVersion
    }

    /// Every check the profile asks for, suites in order.
    public static func plan(for profile: Profile) -> [any CertificationTest] {
        PCISuite.tests(for: profile) + IsolationSuite.tests(for: profile)
    }

    public func execute(tests: [any CertificationTest], context: TestContext, observer: any RunObserver) -> Report {
        let startedAt = Date()
        let results = TestRunner(tests: tests).run(context: context, observer: observer)
        let status: RunStatus = context.isCancelled ? .aborted : .completed
        return report(results: results, status: status, startedAt: startedAt, dut: context.pci.baseline)
    }

    public func report(results: [TestResult], status: RunStatus, startedAt: Date, dut inventory: PCIInventory) -> Report {
        let system = SystemFacts.current
        let run = RunInfo(id: UUID().uuidString.lowercased(), status: status, startedAt: startedAt, finishedAt: Date(),
                          toolVersion: toolVersion, commandLine: commandLine, host: system.host, kernel: system.kernel,
                          mode: mode, profile: ProfileReference(id: profile.id, sha256: profileSHA256), faults: faults)
        return Report(run: run, dut: dut(from: inventory), results: results)
    }

    /// The functions of the inventory that the profile describes, with their roles.
    func dut(from inventory: PCIInventory) -> DUT {
        var functions: [DUTFunction] = []
        for matched in profile.matched(in: inventory) {
            for function in matched.functions {
                var facts = ["profileFunction": matched.specification.name,
                             "capabilities": function.capabilityNames.joined(separator: ",")]
                if let link = function.link {
                    facts["link"] = "\(link.currentSpeedGTs ?? 0) GT/s x\(link.currentWidth) (capable of \(link.maxSpeedGTs ?? 0) GT/s x\(link.maxWidth))"
                }
                if let sriov = function.sriov { facts["sriov"] = "\(sriov.numVFs)/\(sriov.totalVFs) VFs" }
                if let serial = function.config.deviceSerialNumber { facts["serialNumber"] = hex(serial, width: 16) }
                if let name = function.deviceName { facts["name"] = name }
                let subsystemVendor: Reports.PCIID? = function.subsystemVendorID.map { Reports.PCIID($0) }
                let subsystemDevice: Reports.PCIID? = function.subsystemDeviceID.map { Reports.PCIID($0) }
                functions.append(DUTFunction(
                    address: function.address.description, vendorID: Reports.PCIID(function.vendorID),
                    deviceID: Reports.PCIID(function.deviceID), subsystemVendorID: subsystemVendor,
                    subsystemDeviceID: subsystemDevice, classCode: PCIClassCode(function.classCode),
                    role: matched.specification.role.rawValue, driver: function.driver, firmware: nil, facts: facts))
            }
        }
        return DUT(functions: functions)
    }
}

/// Host facts recorded in a report.
struct SystemFacts {
    var host: String
    var kernel: String

    static var current: SystemFacts {
        var names = utsname()
        uname(&names)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return SystemFacts(host: field(names.nodename), kernel: "\(field(names.sysname)) \(field(names.release))")
    }
}
