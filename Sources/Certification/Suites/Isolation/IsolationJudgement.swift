import Probes
import Reports

/// A positive control of an isolation check: a reading that shows the check's silence
/// means something (what it aims at is there, its probes left, the DPU saw them).
struct Control: Sendable, Hashable {
    enum State: Sendable, Hashable {
        case held
        /// It ran and did not hold, or what it reads could not be read: what that
        /// leaves unproven.
        case failed(String)
        /// This testbed does not offer it: why. It proves nothing either way.
        case unavailable(String)
    }

    /// What the control shows when it holds ("the management plane answers from the OOB network").
    var name: String
    var state: State
    /// How it was read.
    var evidence: [String] = []

    /// A control that holds when every probe in `results` got an open answer: not
    /// offered when there was nothing to probe; failed, with `failure` and the first
    /// unanswered probes, otherwise. `heading` leads the probes in the evidence.
    static func everyProbeAnswered(_ name: String, _ results: [ProbeResult], notOffered: String, failure: String,
                                   heading: String?) -> Control {
        guard !results.isEmpty else { return Control(name: name, state: .unavailable(notOffered)) }
        let failures = results.filter { $0.outcome != .open }.map(\.description)
        return Control(name: name,
                       state: failures.isEmpty ? .held : .failed(failure + failures.prefix(4).joined(separator: "; ")),
                       evidence: heading.map { [$0] + evidenceLines(results) } ?? [])
    }

    /// One evidence line with the control's state.
    var summary: String {
        switch state {
        case .held: "positive control held: \(name)"
        case .failed(let reason): "positive control failed: \(name): \(reason)"
        case .unavailable(let reason): "positive control not offered by this testbed: \(name): \(reason)"
        }
    }
}

/// What an isolation check made of its probes, and the verdict that follows from it.
struct IsolationJudgement: Sendable, Hashable {
    /// What answered that must not, one finding each.
    var findings: [String]
    /// Leads the failure message ("tenants reach one another: ").
    var findingsHeading: String
    var controls: [Control]
    /// What the check planned to examine and could not, each naming what and why.
    var unexamined: [String] = []
    /// Parts of the check this testbed does not offer (no agent where they run), each
    /// naming the part and why: what they would have examined stays unexamined.
    var notOffered: [String] = []
    var measurements: [MeasuredValue]
    /// What was probed and how it was answered (the controls' evidence is added to it).
    var evidence: [String]
    var examined: Examined
    var passMessage: String

    /// The isolation verdict rule, the same for every isolation check:
    /// - a finding fails the check whatever else was seen: something answered that must not;
    /// - else anything planned but not examined is `error`: silence that was never
    ///   listened for proves nothing;
    /// - else a failed control is `error`: a blocked probe proves nothing when what it
    ///   aims at is not there, the probe never left, or the control could not be read;
    /// - else it is `error` unless at least one control held: a control this testbed does
    ///   not offer is not a control that held;
    /// - else it is `skipped` when a part of the check is not offered: what ran found
    ///   nothing, but what that part examines was never looked at;
    /// - otherwise the check passes.
    var outcome: TestOutcome {
        let evidence = controls.flatMap(\.evidence) + evidence + unexamined.map { "not examined: \($0)" }
            + notOffered.map { "not offered by this testbed: \($0)" } + controls.map(\.summary)
        func concluded(_ status: TestStatus, _ message: String) -> TestOutcome {
            TestOutcome(status: status, message: message, measurements: measurements, evidence: evidence, examined: examined)
        }
        if !findings.isEmpty {
            return concluded(.failed, findingsHeading + findings.prefix(8).joined(separator: "; "))
        }
        if !unexamined.isEmpty {
            return concluded(.error, "incomplete: " + unexamined.prefix(4).joined(separator: "; "))
        }
        for control in controls {
            if case .failed(let reason) = control.state {
                return concluded(.error, PositiveControlFailure(reason).description)
            }
        }
        guard controls.contains(where: { $0.state == .held }) else {
            let unavailableControls = controls.compactMap { control -> String? in
                guard case .unavailable(let reason) = control.state else { return nil }
                return "\(control.name): \(reason)"
            }
            return concluded(.error, "no positive control ran: "
                             + (unavailableControls.isEmpty ? "the check has none" : unavailableControls.joined(separator: "; ")))
        }
        if !notOffered.isEmpty {
            return concluded(.skipped, "cannot conclude: " + notOffered.joined(separator: "; ")
                             + "; what ran found nothing (\(passMessage))")
        }
        return concluded(.passed, passMessage)
    }
}
