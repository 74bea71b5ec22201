import Foundation
import Inventory

/// Field-by-field comparison of dpucert's inventory with lspci's reading of the same
/// input; returns one line per disagreement.
public func disagreements(_ inventory: PCIInventory, _ lspci: [LspciFunction]) -> [String] {
    var problems: [String] = []
    let ours = Dictionary(uniqueKeysWithValues: inventory.functions.map { ($0.address.description, $0) })
    let theirAddresses = Set(lspci.map(\.address))
    if Set(ours.keys) != theirAddresses {
        problems.append("addresses: dpucert \(ours.keys.sorted()) lspci \(theirAddresses.sorted())")
    }
    for reference in lspci {
        guard let function = ours[reference.address] else { continue }
        func check(_ field: String, _ mine: String?, _ theirs: String?) {
            if mine != theirs { problems.append("\(reference.address) \(field): dpucert \(mine ?? "nil"), lspci \(theirs ?? "nil")") }
        }
        check("vendor:device", hex(function.vendorID, width: 4) + ":" + hex(function.deviceID, width: 4), reference.vendorDevice)
        check("class", hex(function.classCode, width: 6), reference.classCode)
        check("revision", function.revision == 0 ? nil : hex(function.revision, width: 2), reference.revision)
        if let subsystem = reference.subsystem {
            check("subsystem", function.subsystemVendorID.flatMap { vendor in
                function.subsystemDeviceID.map { hex(vendor, width: 4) + ":" + hex($0, width: 4) }
            }, subsystem)
        }
        let offsets = function.config.capabilities.map { entry in
            entry.space == .standard ? hex(entry.offset, width: 2) : "\(hex(entry.offset, width: 3)) v\(entry.version ?? 0)"
        }
        check("capability offsets", offsets.joined(separator: ","), reference.capabilityOffsets.joined(separator: ","))
        let mappedNames = function.config.capabilities.map(\.name).filter {
            Set(reference.capabilityNames).contains($0)
        }
        check("capability names", mappedNames.joined(separator: ","), reference.capabilityNames.joined(separator: ","))
        if reference.chainMarkers.contains(where: { $0.contains("looped") || $0.contains("broken") }),
           function.config.chainProblems.isEmpty {
            problems.append("\(reference.address): lspci reports \(reference.chainMarkers), dpucert reports no chain problem")
        }
        if let capability = reference.linkCapability {
            check("LnkCap", function.link.map { "\(LspciReading.speedText($0.maxSpeedGTs)) x\($0.maxWidth)" },
                  "\(capability.speed) x\(capability.width)")
        }
        if let status = reference.linkStatus {
            check("LnkSta", function.link.map { "\(LspciReading.speedText($0.currentSpeedGTs)) x\($0.currentWidth)" },
                  "\(status.speed) x\(status.width)")
        }
        if !reference.sriov.isEmpty {
            let sriov = function.sriov
            check("Initial VFs", sriov.map { "\($0.initialVFs)" }, reference.sriov["Initial VFs"].map { "\($0)" })
            check("Total VFs", sriov.map { "\($0.totalVFs)" }, reference.sriov["Total VFs"].map { "\($0)" })
            check("Number of VFs", sriov.map { "\($0.numVFs)" }, reference.sriov["Number of VFs"].map { "\($0)" })
            check("VF offset", sriov.map { "\($0.firstVFOffset)" }, reference.sriov["VF offset"].map { "\($0)" })
            check("VF stride", sriov.map { "\($0.vfStride)" }, reference.sriov["stride"].map { "\($0)" })
            check("VF Device ID", sriov.map { hex($0.vfDeviceID, width: 4) }, reference.sriovDeviceID)
        }
    }
    return problems
}

/// The repository root, found from this file's path.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A PCI address written out in a test.
public func pci(_ text: String) -> PCIAddress {
    guard let address = PCIAddress(text) else { fatalError("not a PCI address: \(text)") }
    return address
}
