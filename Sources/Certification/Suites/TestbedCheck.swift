import Testbed

/// A check that probes or measures through the testbed: it runs alone (its traffic
/// would disturb, or be disturbed by, other checks) and is skipped, with the reason,
/// when the run has no testbed.
protocol TestbedCheck: CertificationTest {}

extension TestbedCheck {
    var runsConcurrently: Bool { false }
    var timeout: Duration { .seconds(120) }

    func skipReason(_ context: TestContext) -> String? {
        context.testbed.available == nil ? context.testbed.unavailableReason : nil
    }

    func testbed(_ context: TestContext) throws -> any Testbed {
        guard let testbed = context.testbed.available else {
            throw PositiveControlFailure(context.testbed.unavailableReason)
        }
        return testbed
    }
}
