import Inventory
import Profiles

/// The inventory functions a profile function stands for: physical functions with its
/// vendor/device (and subsystem, where the profile pins it).
public struct MatchedFunctions: Sendable {
    public let specification: Profile.PCIFunction
    public let functions: [PCIFunction]

    /// `network-pf (15b3:a2d6)`: how checks name a profile function in messages.
    public var label: String {
        "\(specification.name) (\(specification.match.vendor):\(specification.match.device))"
    }
}

extension Profile.PCIFunction {
    public func matches(_ function: PCIFunction) -> Bool {
        !function.isVirtualFunction && match.matches(
            vendor: Profile.PCIID(function.vendorID), device: Profile.PCIID(function.deviceID),
            subsystemVendor: function.subsystemVendorID.map(Profile.PCIID.init),
            subsystemDevice: function.subsystemDeviceID.map(Profile.PCIID.init))
    }
}

extension Profile {
    /// Each profile function the declared management mode shows the host, with the
    /// inventory functions that match it.
    public func matched(in inventory: PCIInventory) -> [MatchedFunctions] {
        expectedFunctions.map { specification in
            MatchedFunctions(specification: specification, functions: inventory.functions.filter(specification.matches))
        }
    }
}

extension Profile {
    /// Every inventory function a profile function stands for, paired with what that
    /// profile function requires (`requirement` is nil where it asks nothing).
    public func requirements<Requirement>(in inventory: PCIInventory,
                                          _ requirement: (Profile.PCIFunction) -> Requirement?)
        -> [(required: Requirement, function: Inventory.PCIFunction)]
    {
        matched(in: inventory).flatMap { matched in
            requirement(matched.specification).map { required in matched.functions.map { (required, $0) } } ?? []
        }
    }
}

extension PCIInventory {
    /// The VFs present under `physicalFunction`.
    public func virtualFunctions(of physicalFunction: PCIAddress) -> [PCIFunction] {
        functions.filter { $0.physicalFunction == physicalFunction }
    }
}
