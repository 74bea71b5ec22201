import Glibc

/// Where dpucert keeps runtime state and reads its configuration. Both come from the
/// environment, read here and nowhere else, so an unprivileged install or a test moves
/// them without touching /run or /etc.
public enum DPUCertDirectories {
    /// Runtime state (lab state files, generated tokens, agent logs): `DPUCERT_RUN_DIR`.
    public static let runVariable = "DPUCERT_RUN_DIR"
    /// Configuration (the agent's token file): `DPUCERT_CONFIG_DIR`.
    public static let configurationVariable = "DPUCERT_CONFIG_DIR"

    /// `$DPUCERT_RUN_DIR`, or /run/dpucert when it is unset or empty.
    public static var run: String { value(of: runVariable) ?? "/run/dpucert" }

    /// `$DPUCERT_CONFIG_DIR`, or /etc/dpucert when it is unset or empty.
    public static var configuration: String { value(of: configurationVariable) ?? "/etc/dpucert" }

    private static func value(of variable: String) -> String? {
        guard let pointer = getenv(variable) else { return nil }
        let text = String(cString: pointer)
        return text.isEmpty ? nil : text
    }
}
