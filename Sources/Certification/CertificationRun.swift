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
        PCISuite.tests(for: profile) + IsolationSuite.tests(for: profile) + NetworkSuite.tests(for: profile)
            + StorageSuite.tests(for: profile)
            + RDMASuite.tests(for: profile)
    }

    /// Runs `tests` (the plan, or the part of it `--only` selected) and writes down what
    /// they found, with the coverage of every requirement of the profile.
    public func execute(tests: [any CertificationTest], context: TestContext, observer: any RunObserver,
                        only: [String] = []) -> Report {
        let startedAt = Date()
        let ran = TestRunner(tests: tests).run(context: context, observer: observer)
        return conclude(ran, tests: tests, only: only, startedAt: startedAt, dut: context.pci.baseline, observer: observer)
    }

    /// The report of a run that was aborted before `tests` ran here, for `reason`: each is
    /// `skipped`, not run. The device under test is unknown.
    public func aborted(tests: [any CertificationTest], because reason: String, startedAt: Date, only: [String] = [],
                        observer: any RunObserver) -> Report {
        let ran = TestRunner(tests: tests).notRun(because: reason, observer: observer)
        return conclude(ran, tests: tests, only: only, startedAt: startedAt, dut: PCIInventory(source: .live, functions: []),
                        observer: observer)
    }

    private func conclude(_ ran: RunnerOutcome, tests: [any CertificationTest], only: [String], startedAt: Date,
                          dut: PCIInventory, observer: any RunObserver) -> Report {
        var status: RunStatus = only.isEmpty ? .completed : .partial
        if ran.abortReason != nil { status = .aborted }
        let selection = only.isEmpty ? nil : RunSelection(only: only, leftOut: Self.plan(for: profile).map(\.id)
            .filter { id in !tests.contains { $0.id == id } })
        return report(results: ran.results, status: status, selection: selection, startedAt: startedAt,
                      dut: dut, observer: observer)
    }

    /// The report of `results`. The coverage joins every requirement of the profile to
    /// the checks of the whole plan that examine it; in a whole run each requirement no
    /// check examined is added as a `skipped` result saying so.
    public func report(results: [TestResult], status: RunStatus, selection: RunSelection? = nil, startedAt: Date,
                       dut inventory: PCIInventory, observer: (any RunObserver)? = nil) -> Report {
        let plan = Self.plan(for: profile)
        var results = results
        let statusByID = results.statusByID
        let coverage = profile.requirementPaths.map { path in
            let checks = plan.filter { $0.covers(profile).contains(path) }.map(\.id)
            return CoverageEntry(requirement: path, checks: checks, outcome: .of(checks: checks, in: statusByID))
        }
        if selection == nil {
            for entry in coverage where entry.checks.isEmpty {
                let result = Self.notExamined(entry.requirement)
                observer?.testFinished(result)
                results.append(result)
            }
        }
        let system = SystemFacts.current
        let run = RunInfo(id: UUID().uuidString.lowercased(), status: status, startedAt: startedAt, finishedAt: Date(),
                          toolVersion: toolVersion, commandLine: commandLine, host: system.host, kernel: system.kernel,
                          mode: mode, profile: ProfileReference(id: profile.id, sha256: profileSHA256), faults: faults,
                          selection: selection)
        return Report(run: run, coverage: coverage, dut: dut(from: inventory), results: results)
    }

    /// The skipped result standing for a requirement no check examines:
    /// `network.minTcpThroughputGbps` becomes `network.not-examined-min-tcp-throughput-gbps`.
    static func notExamined(_ requirement: String) -> TestResult {
        let section = String(requirement.prefix { $0 != "." })
        let rest = requirement.dropFirst(section.count + 1)
        var words: [String] = []
        var word = ""
        var previousWasUppercase = false
        for character in rest {
            if character.isUppercase && !word.isEmpty && !previousWasUppercase {
                words.append(word)
                word = ""
            }
            previousWasUppercase = character.isUppercase
            if character.isLetter || character.isNumber {
                word.append(Character(character.lowercased()))
            } else if !word.isEmpty {
                words.append(word)
                word = ""
            }
        }
        if !word.isEmpty { words.append(word) }
        return TestResult(id: "\(section).not-examined-" + words.joined(separator: "-"), suite: section,
                          title: "No check examines \(requirement)", requirement: requirement, status: .skipped,
                          durationSeconds: 0,
                          message: "not examined: no check of this run examines \(requirement), so the run cannot vouch for it",
                          measurements: [], evidence: [], series: [])
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
