/// The human-readable inventory: one row per function, VFs nested under their PF,
/// findings listed under the function they concern.
extension PCIInventory {
    public func textTable() -> String {
        let header = ["ADDRESS", "ID", "CLASS", "LINK now / max", "SR-IOV", "IOMMU", "NUMA", "DRIVER", "CAPABILITIES"]
        var rows: [[String]] = []
        var notes: [Int: [String]] = [:]
        for (function, virtualFunctions) in hierarchy {
            rows.append(Self.row(function, indent: ""))
            notes[rows.count - 1] = function.findings.map(\.message)
            for (index, vf) in virtualFunctions.enumerated() {
                let branch = index == virtualFunctions.count - 1 ? "└─" : "├─"
                rows.append(Self.row(vf, indent: branch))
                notes[rows.count - 1] = vf.findings.map(\.message)
            }
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var lines = ["Source: \(source)", "Functions: \(functions.count)", "", render(header)]
        for (index, row) in rows.enumerated() {
            lines.append(render(row))
            for note in notes[index] ?? [] { lines.append("    ! " + note) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func row(_ function: PCIFunction, indent: String) -> [String] {
        let address = indent.isEmpty ? function.address.description : indent + " " + function.address.description
        var id = hex(function.vendorID, width: 4) + ":" + hex(function.deviceID, width: 4)
        if let name = function.deviceName { id += " " + String(name.prefix(40)) }
        var link = "-"
        if let pcieLink = function.link {
            link = "\(speed(pcieLink.currentSpeedGTs)) x\(pcieLink.currentWidth) / \(speed(pcieLink.maxSpeedGTs)) x\(pcieLink.maxWidth)"
        }
        var sriov = "-"
        if let capability = function.sriov {
            sriov = "\(capability.numVFs)/\(capability.totalVFs) VFs"
        }
        return [address, id, hex(function.classCode, width: 6), link, sriov,
                function.iommuGroup.map(String.init) ?? "-", function.numaNode.map(String.init) ?? "-",
                function.driver ?? "-", function.capabilityNames.joined(separator: ",")]
    }

    private static func speed(_ gigatransfers: Double?) -> String {
        guard let gigatransfers else { return "?" }
        let text = gigatransfers == gigatransfers.rounded() ? String(Int(gigatransfers)) : String(gigatransfers)
        return text + "GT/s"
    }
}
